#include "agent/files/input_files.h"

#include "agent/files/namespace_files.h"
#include "agent/files/tree.h"
#include "test/unit/agent/files/files_fixture.h"

namespace {

using agent::files::write_input_files;

class FilesInput : public files_test::Dir {
 protected:
  agent::Status put(const std::string& name, const std::string& value) {
    return write_input_files(root + "/wd", {{name, value}}, [this](std::string_view uri) {
      if (uri == "kestra:///x") return agent::Result<std::string>(root + "/src.txt");
      return agent::Result<std::string>(agent::Error(agent::Errc::kNotFound, "no " + std::string(uri)));
    });
  }
};

TEST_F(FilesInput, ContentAndUrisAreWritten) {
  write("wd/.keep", "");
  write("src.txt", "from storage");
  ASSERT_TRUE(put("a.txt", "inline").ok());
  ASSERT_TRUE(put("sub/dir/b.txt", "kestra:///x").ok());
  ASSERT_TRUE(put("c.txt", "kestra:///x and more words").ok());  // not one URI: content
  EXPECT_EQ(read("wd/a.txt"), "inline");
  EXPECT_EQ(read("wd/sub/dir/b.txt"), "from storage");
  EXPECT_EQ(read("wd/c.txt"), "kestra:///x and more words");
  EXPECT_FALSE(put("d.txt", "kestra:///missing").ok());
}

TEST_F(FilesInput, EveryEscapeIsRefused) {
  write("wd/.keep", "");
  write("outside/.keep", "");
  ASSERT_EQ(symlink((root + "/outside").c_str(), (root + "/wd/link").c_str()), 0);
  ASSERT_EQ(symlink((root + "/outside/f").c_str(), (root + "/wd/filelink").c_str()), 0);
  for (std::string name : {"../x", "/etc/x", "a/../../x", "link/x", "filelink", ""}) {
    auto st = put(name, "evil");
    ASSERT_FALSE(st.ok()) << name;
    EXPECT_EQ(st.error().path(), "inputFiles." + name) << name;
  }
  EXPECT_EQ(read("outside/x"), "<missing>");
  EXPECT_EQ(read("outside/f"), "<missing>");
}

TEST_F(FilesInput, FileAndNamespaceUris) {
  write("allowed/data.csv", "1,2");
  write("private/key", "k");
  auto ok = agent::files::resolve_file_uri("file://" + root + "/allowed/data.csv", {root + "/allowed"});
  ASSERT_TRUE(ok.ok()) << ok.error().describe();
  EXPECT_FALSE(agent::files::resolve_file_uri("file://" + root + "/private/key", {root + "/allowed"}).ok());
  EXPECT_FALSE(agent::files::resolve_file_uri("file://" + root + "/allowed/../private/key", {root + "/allowed"}).ok());
  auto none = agent::files::resolve_file_uri("file://" + root + "/allowed/data.csv", {});
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("allowedPaths"), std::string::npos);

  write("ns/company.team/scripts/main.py", "print(1)");
  write("ns/other/x.txt", "x");
  EXPECT_TRUE(agent::files::resolve_nsfile_uri("nsfile:///scripts/main.py", "company.team", root + "/ns").ok());
  EXPECT_TRUE(agent::files::resolve_nsfile_uri("nsfile://other/x.txt", "company.team", root + "/ns").ok());
  EXPECT_FALSE(agent::files::resolve_nsfile_uri("nsfile:///../other/x.txt", "company.team", root + "/ns").ok());
  EXPECT_EQ(agent::files::resolve_nsfile_uri("nsfile:///nope", "company.team", root + "/ns").error().code(),
            agent::Errc::kNotFound);
}

TEST_F(FilesInput, NamespaceFilesIncludeExcludeAndIfExists) {
  write("ns/a/main.py", "a");
  write("ns/a/data/x.csv", "x");
  write("ns/a/data/y.tmp", "y");
  write("ns/b/main.py", "b");
  write("wd/.keep", "");
  using Spec = agent::files::NamespaceFilesSpec;
  Spec spec;
  spec.namespaces = {"a", "b"};
  spec.exclude = {"**.tmp"};
  auto loaded = agent::files::load_namespace_files(root + "/ns", spec, root + "/wd");
  ASSERT_TRUE(loaded.ok()) << loaded.error().describe();
  EXPECT_EQ(read("wd/main.py"), "b");  // OVERWRITE: the later namespace wins
  EXPECT_EQ(read("wd/data/x.csv"), "x");
  EXPECT_EQ(read("wd/data/y.tmp"), "<missing>");

  spec.if_exists = Spec::IfExists::kWarn;
  spec.include = {"main.py"};
  ASSERT_TRUE(agent::files::remove_tree(root + "/wd").ok());
  write("wd/.keep", "");
  loaded = agent::files::load_namespace_files(root + "/ns", spec, root + "/wd");
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(read("wd/main.py"), "a");
  EXPECT_EQ(loaded->warnings.size(), 1u);

  spec.if_exists = Spec::IfExists::kFail;
  ASSERT_TRUE(agent::files::remove_tree(root + "/wd").ok());
  write("wd/.keep", "");
  EXPECT_FALSE(agent::files::load_namespace_files(root + "/ns", spec, root + "/wd").ok());

  spec.if_exists = Spec::IfExists::kOverwrite;
  spec.folder_per_namespace = true;
  ASSERT_TRUE(agent::files::remove_tree(root + "/wd").ok());
  write("wd/.keep", "");
  ASSERT_TRUE(agent::files::load_namespace_files(root + "/ns", spec, root + "/wd").ok());
  EXPECT_EQ(read("wd/a/main.py"), "a");
  EXPECT_EQ(read("wd/b/main.py"), "b");
  spec.namespaces = {"missing"};
  EXPECT_TRUE(agent::files::load_namespace_files(root + "/ns", spec, root + "/wd").ok());
}

}  // namespace
