// H7: a process swaps a task's output between a regular file and a symlink to
// a canary outside, as fast as it can, while the agent's own collection code
// (agent::collect_files: the output directory, then the globs) runs over and
// over; not one canary byte may ever be stored. The same racer also swaps a
// directory of the walk and the output directory itself for links.
// H4: staging into a working directory where an earlier task left symlinks
// (a file link, a directory link, `.kestra` as a link) never writes through
// them: input files, namespace files, kestra:// copies and archive members.
// RUNNERD_RACE_SECONDS sets the race's length (default 5 s).
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fcntl.h>
#include <ftw.h>
#include <cstdlib>

#include "agent/files/beneath.h"
#include "agent/files/storage.h"
#include "agent/files/tree.h"
#include "agent/supervisor/task_files.h"
#include "runners/docker/archive.h"
#include "test/unit/agent/security/sandbox.h"

namespace {

using security_test::kCanary;

class Race : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    agent::files::force_component_walk_for_tests(GetParam());
    char tmpl[] = "/tmp/rdr.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    wd_ = root_ + "/wd";
    security_test::put(root_ + "/canary/secret.txt", std::string(kCanary));
    security_test::put(root_ + "/canary/sub/secret.txt", std::string(kCanary));
    security_test::put(wd_ + "/out", "regular output\n");
    security_test::put(wd_ + "/sub/secret.txt", "regular too\n");
    security_test::put(wd_ + "/outdir/secret.txt", "in the output dir\n");
  }
  void TearDown() override {
    agent::files::force_component_walk_for_tests(false);
    (void)agent::files::remove_tree(root_);
  }
  std::string root_, wd_;
};

// The racer: a separate process that swaps, atomically (RENAME_EXCHANGE),
// the output file, a directory of the walk and the output directory with
// symlinks to the canaries (the directory ones hold a secret.txt too), and in
// between does the anchors' `ln -sfn canary o.tmp && mv -T o.tmp out`.
[[noreturn]] void race(const std::string& wd, const std::string& canary_dir) {
  std::string secret = canary_dir + "/secret.txt";
  std::vector<std::pair<std::string, std::string>> pairs = {
      {wd + "/out", wd + "/out.link"}, {wd + "/sub", wd + "/sub.link"}, {wd + "/outdir", wd + "/od.link"}};
  (void)!symlink(secret.c_str(), pairs[0].second.c_str());
  (void)!symlink(canary_dir.c_str(), pairs[1].second.c_str());
  (void)!symlink(canary_dir.c_str(), pairs[2].second.c_str());
  std::string tmp = wd + "/o.tmp", reg = wd + "/o2", plain = wd + "/plain";
  for (unsigned long i = 0;; i++) {
    for (const auto& [a, b] : pairs) renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE);
    if (i % 8 == 0) {
      unlink(tmp.c_str());
      if (symlink(secret.c_str(), tmp.c_str()) == 0) rename(tmp.c_str(), plain.c_str());
      FILE* f = std::fopen(reg.c_str(), "w");
      if (f != nullptr) {
        std::fputs("regular output\n", f);
        std::fclose(f);
        rename(reg.c_str(), plain.c_str());
      }
    }
  }
}

TEST_P(Race, NoCanaryByteIsEverCollected) {
  double seconds = 5;
  if (const char* s = std::getenv("RUNNERD_RACE_SECONDS")) seconds = std::atof(s);
  agent::files::Storage storage(root_ + "/storage");
  pid_t racer = fork();
  ASSERT_GE(racer, 0);
  if (racer == 0) race(wd_, root_ + "/canary");
  size_t rounds = 0, collected = 0, refused = 0, canary_bytes = 0;
  auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    agent::CollectJob job;
    job.working_dir = wd_;
    job.output_dir = wd_ + "/outdir";
    job.skip_dir = wd_ + "/outdir";
    job.globs = {"out", "plain", "**", "sub/*", "glob:" + wd_ + "/**", "regex:.*secret.*"};
    job.key = {"dev", "f", "exec", "task", "run" + std::to_string(rounds % 4)};
    job.storage = &storage;
    agent::collect_files(job);
    rounds++;
    refused += job.errors.size();
    for (const auto& [key, uri] : job.files) {
      collected++;
      auto local = storage.resolve(uri);
      if (!local.ok()) continue;
      std::string data = security_test::slurp(*local);
      if (data.find(kCanary) != std::string::npos) canary_bytes += kCanary.size();
    }
  }
  kill(racer, SIGKILL);
  waitpid(racer, nullptr, 0);
  canary_bytes += security_test::canary_bytes_under(root_ + "/storage");
  std::printf("[ figures ] symlink race (%s): %.0f s, %zu collections, %zu files stored, %zu refused, "
              "canary bytes collected %zu\n",
              GetParam() ? "O_NOFOLLOW walk" : "openat2", seconds, rounds, collected, refused, canary_bytes);
  EXPECT_GT(rounds, 10u);
  EXPECT_GT(collected, 0u);
  EXPECT_EQ(canary_bytes, 0u);
  EXPECT_EQ(security_test::slurp(root_ + "/canary/secret.txt"), kCanary);
}

// H4: what an earlier task of a WorkingDirectory left behind.
TEST_P(Race, StagingNeverWritesThroughALinkLeftInTheDirectory) {
  std::string canary_dir = root_ + "/canary";
  ASSERT_EQ(symlink((canary_dir + "/secret.txt").c_str(), (wd_ + "/data.txt").c_str()), 0);
  ASSERT_EQ(symlink("/", (wd_ + "/in").c_str()), 0);
  ASSERT_EQ(symlink(canary_dir.c_str(), (wd_ + "/.kestra").c_str()), 0);
  ASSERT_EQ(symlink(canary_dir.c_str(), (wd_ + "/nsdir").c_str()), 0);
  security_test::put(root_ + "/ns/team/data.txt", "namespace data");
  security_test::put(root_ + "/ns/team/nsdir/x.txt", "namespace data");
  security_test::put(root_ + "/storage/dev/file.txt", "stored");
  agent::files::Storage storage(root_ + "/storage");
  auto before = security_test::snapshot(root_, {wd_, root_ + "/storage"});

  auto t = [&] {
    agent::PreparedTask p;
    p.working_dir = wd_;
    p.reuse_dir = true;
    p.namespace_ = "team";
    p.namespaces_root = root_ + "/ns";
    p.storage = &storage;
    return p;
  };
  std::vector<std::pair<std::string, agent::Status>> results;
  for (std::string key : {"data.txt", "in/etc/pwn", ".kestra/x", "nsdir/x"}) {
    auto p = t();
    p.input_files = {{key, "PWN"}};
    results.emplace_back("inputFiles " + key, agent::prepare_files(p));
  }
  {
    auto p = t();
    p.load_namespace_files = true;
    p.namespace_files.namespaces = {"team"};
    results.emplace_back("namespaceFiles", agent::prepare_files(p));
  }
  {
    auto p = t();
    p.argv = {"cat", "kestra:///dev/file.txt"};
    results.emplace_back("kestra:// copy into .kestra", agent::prepare_files(p));
  }
  for (const auto& [what, st] : results) {
    ASSERT_FALSE(st.ok()) << what << " wrote through a link";
    EXPECT_NE(st.error().message().find("symbolic link"), std::string::npos) << what << ": " << st.error().describe();
  }
  // Archive members at the links' names replace the links; members through
  // them are skipped.
  std::string tar = security_test::TarBuilder()
                        .file("wd/data.txt", "from the container")
                        .file("wd/in/etc/pwn", "PWN")
                        .file("wd/.kestra/x", "PWN")
                        .finish();
  auto r = runners::docker::unpack_into(tar, wd_);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->files, 1u);
  EXPECT_EQ(r->skipped.size(), 2u);
  EXPECT_EQ(security_test::slurp(wd_ + "/data.txt"), "from the container");
  struct stat st;
  EXPECT_NE(lstat("/etc/pwn", &st), 0);
  EXPECT_EQ(security_test::snapshot(root_, {wd_, root_ + "/storage"}), before);
  EXPECT_EQ(security_test::slurp(canary_dir + "/secret.txt"), kCanary);
}

// Removing a working directory while a directory in it is swapped for a link
// to the canaries' directory: the descriptor-based removal (the supervisor's)
// never empties the canaries. A path-based nftw removal is measured alongside
// as the baseline that shows the racer wins against path resolution.
size_t canary_files(const std::string& dir) {
  size_t n = 0;
  for (int i = 0; i < 20; i++) n += access((dir + "/c" + std::to_string(i)).c_str(), F_OK) == 0;
  return n;
}

// rm -rf by path, FTW_PHYS: each name resolved again from the top.
void remove_by_path(const std::string& dir) {
  (void)nftw(
      dir.c_str(), [](const char* p, const struct stat*, int, FTW*) noexcept -> int { return remove(p), 0; }, 64,
      FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

// Removal resolves nothing by path, so it runs with one resolver only.
class RemovalRace : public Race {};

TEST_P(RemovalRace, RemovingAWorkingDirectoryNeverFollowsASwappedDirectory) {
  std::string canaries = root_ + "/canaries";
  auto refill = [&] {
    for (int i = 0; i < 20; i++) security_test::put(canaries + "/c" + std::to_string(i), std::string(kCanary));
  };
  refill();
  pid_t racer = fork();
  ASSERT_GE(racer, 0);
  if (racer == 0) {
    std::string sub = wd_ + "/sub", link = wd_ + "/sub.link";
    while (true) {
      (void)!symlink(canaries.c_str(), link.c_str());
      renameat2(AT_FDCWD, sub.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE);
    }
  }
  size_t rounds = 0, lost_by_descriptor = 0, lost_by_nftw = 0;
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < end) {
    for (bool by_descriptor : {true, false}) {
      for (int i = 0; i < 20; i++) security_test::put(wd_ + "/sub/f" + std::to_string(i), "task file");
      if (by_descriptor) {
        (void)agent::files::remove_tree(wd_);
      } else {
        remove_by_path(wd_);
      }
      size_t left = canary_files(canaries);
      (by_descriptor ? lost_by_descriptor : lost_by_nftw) += 20 - left;
      if (left != 20) refill();
      rounds++;
    }
  }
  kill(racer, SIGKILL);
  waitpid(racer, nullptr, 0);
  std::printf("[ figures ] removal race: %zu removals; canary files removed: by descriptor %zu, by nftw %zu\n",
              rounds, lost_by_descriptor, lost_by_nftw);
  EXPECT_EQ(lost_by_descriptor, 0u);
}

INSTANTIATE_TEST_SUITE_P(Resolvers, Race, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "walk" : "openat2"; });
INSTANTIATE_TEST_SUITE_P(Descriptors, RemovalRace, ::testing::Values(false),
                         [](const auto&) { return std::string("unlinkat"); });

}  // namespace
