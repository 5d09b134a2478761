#include "agent/files/storage.h"

#include "agent/files/collect.h"
#include "agent/files/kestra_uris.h"
#include "test/unit/agent/files/files_fixture.h"

namespace {

using agent::files::Storage;
using agent::files::TaskFileKey;

class FilesStorage : public files_test::Dir {};

TEST_F(FilesStorage, PutAndResolveRoundTripWithoutCollisions) {
  write("wd/a/out.txt", "A");
  write("wd/b/out.txt", "B");
  write("wd/we ird%.txt", "W");
  Storage s(root + "/storage");
  TaskFileKey key{"company.team", "flow", "exec1", "task", "run1"};
  auto a = s.put_task_file(root + "/wd/a/out.txt", key, "a/out.txt");
  auto b = s.put_task_file(root + "/wd/b/out.txt", key, "b/out.txt");
  auto w = s.put_task_file(root + "/wd/we ird%.txt", key, "we ird%.txt");
  ASSERT_TRUE(a.ok() && b.ok() && w.ok());
  EXPECT_TRUE(a->starts_with("kestra:///company/team/flow/executions/exec1/tasks/task/run1/")) << *a;
  EXPECT_NE(*a, *b);
  EXPECT_EQ(*agent::fs::read_file(*s.resolve(*a)), "A");
  EXPECT_EQ(*agent::fs::read_file(*s.resolve(*b)), "B");
  EXPECT_EQ(*agent::fs::read_file(*s.resolve(*w)), "W");
  EXPECT_EQ(w->find(' '), std::string::npos);
  auto in = s.put_execution_input("dev", "f", "exec1", "file", "data.txt", "bytes");
  ASSERT_TRUE(in.ok());
  EXPECT_EQ(*in, "kestra:///dev/f/executions/exec1/inputs/file/data.txt");
  EXPECT_EQ(*agent::fs::read_file(*s.resolve(*in)), "bytes");
}

TEST_F(FilesStorage, ResolveRefusesEscapes) {
  write("secret.txt", "no");
  Storage s(root + "/storage");
  for (std::string uri : {"kestra:///../secret.txt", "kestra:///a/../../secret.txt",
                          "kestra:///a//b", "kestra://host/x", "file:///etc/passwd"}) {
    auto r = s.resolve(uri);
    ASSERT_FALSE(r.ok()) << uri;
    EXPECT_EQ(r.error().code(), agent::Errc::kInvalidArgument) << uri;
  }
  // Encoded dots are names, not parents: nothing there.
  EXPECT_EQ(s.resolve("kestra:///%2E%2E/secret.txt").error().code(), agent::Errc::kNotFound);
  EXPECT_EQ(s.resolve("kestra:///no/such").error().code(), agent::Errc::kNotFound);
}

TEST_F(FilesStorage, FindMatchingSkipsSymlinksAndTheOutputDir) {
  write("wd/top.txt", "1");
  write("wd/sub/deep.txt", "2");
  write("wd/outdir/skip.txt", "3");
  write("outside.txt", "4");
  ASSERT_EQ(symlink((root + "/outside.txt").c_str(), (root + "/wd/link.txt").c_str()), 0);
  ASSERT_EQ(symlink(root.c_str(), (root + "/wd/loop").c_str()), 0);
  std::vector<agent::files::PathMatcher> ms;
  ms.push_back(*agent::files::PathMatcher::compile("**.txt", root + "/wd"));
  auto found = agent::files::find_matching(root + "/wd", ms, root + "/wd/outdir");
  ASSERT_TRUE(found.ok());
  // `**.txt` also matches top-level files (** may be empty), as in Java.
  EXPECT_EQ(*found, (std::vector<std::string>{"sub/deep.txt", "top.txt"}));
  ms.clear();
  ms.push_back(*agent::files::PathMatcher::compile("*.txt", root + "/wd"));
  found = agent::files::find_matching(root + "/wd", ms, root + "/wd/outdir");
  EXPECT_EQ(*found, (std::vector<std::string>{"top.txt"}));
  auto all = agent::files::list_regular_files(root + "/wd/outdir");
  EXPECT_EQ(*all, (std::vector<std::string>{"skip.txt"}));
}

TEST_F(FilesStorage, KestraUrisInCommandsBecomeLocalCopies) {
  write("src.txt", "payload");
  write("wd/.keep", "");
  Storage s(root + "/storage");
  auto uri = s.put_task_file(root + "/src.txt", {"dev", "f", "e", "t", "r"}, "src.txt");
  ASSERT_TRUE(uri.ok());
  auto out = agent::files::localize_kestra_uris("cat " + *uri + " && wc -c " + *uri + ";", s,
                                                root + "/wd");
  ASSERT_TRUE(out.ok()) << out.error().describe();
  EXPECT_EQ(out->find("kestra://"), std::string::npos);
  std::string local = out->substr(4, out->find(' ', 4) - 4);
  EXPECT_TRUE(local.starts_with(root + "/wd/"));
  EXPECT_EQ(*agent::fs::read_file(local), "payload");
  EXPECT_NE(out->find("wc -c " + local + ";"), std::string::npos);  // one copy for both
  EXPECT_FALSE(agent::files::localize_kestra_uris("cat kestra:///nope", s, root + "/wd").ok());
}

}  // namespace
