// Resolution beneath a directory (agent/files/beneath.h, tree.h): names are
// checked for clear errors, and the opens themselves never leave the
// directory nor follow a symlink, with openat2 and with the O_NOFOLLOW walk.
#include "agent/files/beneath.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/files/tree.h"
#include "test/unit/agent/files/files_fixture.h"

namespace {

using agent::files::create_file_beneath;
using agent::files::open_beneath;
using agent::files::open_regular_beneath;
using agent::files::split_relative;

TEST(FilesBeneath, SplitRelativeNamesWhyAPathIsRefused) {
  struct Case {
    std::string path;
    std::string why;  // empty: accepted
  };
  std::vector<Case> cases = {
      {"a", ""},
      {"a//b/./c", ""},
      {"./a", ""},
      {"a\\b", ""},                  // a backslash is a name byte
      {"\xff\xfe", ""},              // so is a byte that is not UTF-8
      {"...", ""},
      {"..a/b..", ""},
      {std::string(255, 'n'), ""},
      {"", "is empty"},
      {"/etc/passwd", "is absolute"},
      {"..", "'..'"},
      {"a/../b", "'..'"},
      {"a/..", "'..'"},
      {".", "names no file"},
      {"./", "ends with '/'"},
      {"a/", "ends with '/'"},
      {std::string("a\0b", 3), "NUL"},
      {"a\nb", "control character"},
      {"a\tb", "control character"},
      {std::string(256, 'n'), "longer than 255"},
      {std::string(5000, 'a'), "longer than 4095"},
  };
  std::string deep;
  for (int i = 0; i < 65; i++) deep += "d/";
  cases.push_back({deep + "x", "deeper than 64"});
  for (const auto& c : cases) {
    auto r = split_relative(c.path);
    if (c.why.empty()) {
      EXPECT_TRUE(r.ok()) << c.path << ": " << (r.ok() ? "" : r.error().message());
    } else {
      ASSERT_FALSE(r.ok()) << c.path;
      EXPECT_NE(r.error().message().find(c.why), std::string::npos) << c.path << ": " << r.error().message();
    }
  }
  EXPECT_EQ(*split_relative("a//b/./c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(split_relative("a/", true).ok());
}

class FilesBeneathOpen : public files_test::Dir, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    Dir::SetUp();
    agent::files::force_component_walk_for_tests(GetParam());
    write("wd/sub/file.txt", "inside");
    write("outside/secret", "CANARY");
    ASSERT_EQ(symlink((root + "/outside").c_str(), (root + "/wd/dirlink").c_str()), 0);
    ASSERT_EQ(symlink("../outside/secret", (root + "/wd/filelink").c_str()), 0);
    ASSERT_EQ(symlink("sub", (root + "/wd/innerlink").c_str()), 0);
    ASSERT_EQ(mkfifo((root + "/wd/fifo").c_str(), 0600), 0);
    auto fd = agent::files::open_dir(root + "/wd");
    ASSERT_TRUE(fd.ok());
    wd = std::move(fd).value();
  }
  void TearDown() override {
    agent::files::force_component_walk_for_tests(false);
    Dir::TearDown();
  }
  agent::files::UniqueFd wd;
};

TEST_P(FilesBeneathOpen, OpensInsideAndRefusesEverySymlink) {
  auto ok = open_regular_beneath(wd.get(), "sub/file.txt");
  ASSERT_TRUE(ok.ok()) << ok.error().describe();
  EXPECT_EQ(*agent::files::read_fd(ok->get()), "inside");
  // Even a link that stays inside is refused: no symlink is ever followed.
  for (std::string rel : {"dirlink/secret", "filelink", "innerlink/file.txt", "dirlink"}) {
    auto r = open_beneath(wd.get(), rel, O_RDONLY);
    ASSERT_FALSE(r.ok()) << rel;
    EXPECT_NE(r.error().message().find("symbolic link"), std::string::npos) << rel << ": " << r.error().message();
  }
  for (std::string rel : {"../outside/secret", "/etc/passwd", "sub/../../outside/secret"}) {
    EXPECT_FALSE(open_beneath(wd.get(), rel, O_RDONLY).ok()) << rel;
  }
  // A FIFO is refused without blocking.
  auto fifo = open_regular_beneath(wd.get(), "fifo");
  ASSERT_FALSE(fifo.ok());
  EXPECT_NE(fifo.error().message().find("not a regular file"), std::string::npos);
  EXPECT_FALSE(open_beneath(wd.get(), "missing", O_RDONLY).ok());
  EXPECT_EQ(open_beneath(wd.get(), "missing", O_RDONLY).error().code(), agent::Errc::kNotFound);
}

TEST_P(FilesBeneathOpen, CreatingNeverWritesThroughALink) {
  auto made = create_file_beneath(wd.get(), {"new", "deep", "f.txt"});
  ASSERT_TRUE(made.ok()) << made.error().describe();
  ASSERT_TRUE(agent::files::write_all(made->get(), "data").ok());
  EXPECT_EQ(read("wd/new/deep/f.txt"), "data");
  for (std::vector<std::string> parts : std::vector<std::vector<std::string>>{
           {"filelink"}, {"dirlink", "x"}, {"innerlink", "x"}, {"fifo"}}) {
    auto r = create_file_beneath(wd.get(), parts);
    EXPECT_FALSE(r.ok()) << parts[0];
  }
  EXPECT_EQ(read("outside/secret"), "CANARY");
  EXPECT_EQ(read("outside/x"), "<missing>");
  // A hard link to a file elsewhere is replaced, never truncated through.
  ASSERT_EQ(link((root + "/outside/secret").c_str(), (root + "/wd/hard").c_str()), 0);
  auto hard = create_file_beneath(wd.get(), {"hard"});
  ASSERT_TRUE(hard.ok()) << hard.error().describe();
  ASSERT_TRUE(agent::files::write_all(hard->get(), "new").ok());
  EXPECT_EQ(read("outside/secret"), "CANARY");
  EXPECT_EQ(read("wd/hard"), "new");
}

TEST_P(FilesBeneathOpen, WriteFileBeneathIsTheScriptFilesWay) {
  ASSERT_TRUE(agent::files::write_file_beneath(root + "/wd", "script.py", "print(1)").ok());
  EXPECT_EQ(read("wd/script.py"), "print(1)");
  auto through = agent::files::write_file_beneath(root + "/wd", "filelink", "x");
  ASSERT_FALSE(through.ok());
  EXPECT_EQ(read("outside/secret"), "CANARY");
}

TEST_P(FilesBeneathOpen, WalkSeesRegularFilesOnlyAndChownTreeSkipsHardLinks) {
  std::vector<std::string> seen;
  auto st = agent::files::walk_regular_files(wd.get(), {}, [&](const std::string& rel, const struct stat&) {
    seen.push_back(rel);
    return agent::Status();
  });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(seen, std::vector<std::string>{"sub/file.txt"});
  if (geteuid() != 0) GTEST_SKIP() << "chown needs root";
  ASSERT_EQ(link((root + "/outside/secret").c_str(), (root + "/wd/hard").c_str()), 0);
  ASSERT_TRUE(agent::files::chown_tree(root + "/wd", 65534, 65534).ok());
  struct stat s;
  ASSERT_EQ(lstat((root + "/wd/sub/file.txt").c_str(), &s), 0);
  EXPECT_EQ(s.st_uid, 65534u);
  ASSERT_EQ(lstat((root + "/wd/filelink").c_str(), &s), 0);
  EXPECT_EQ(s.st_uid, 65534u);  // the link itself
  ASSERT_EQ(lstat((root + "/outside/secret").c_str(), &s), 0);
  EXPECT_EQ(s.st_uid, 0u);      // neither its target nor a hard link's file
}

INSTANTIATE_TEST_SUITE_P(Resolvers, FilesBeneathOpen, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "walk" : "openat2"; });

TEST(FilesBeneath, TheKernelHereHasOpenat2) { EXPECT_TRUE(agent::files::openat2_available()); }

}  // namespace
