// The state directory's filesystem full (a 2 MiB tmpfs, filled): submissions
// that cannot be stored are refused with an error that says so, the task that
// runs goes on with nothing of its log lost, and once space returns the
// agent stores again by itself (reliability catalogue D2, D3; systemd#3968:
// journald did not notice the space come back).
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "test/helpers/agent_harness.h"

namespace {

using namespace std::chrono_literals;

class Tmpfs {
 public:
  explicit Tmpfs(const std::string& dir) : dir_(dir) {
    mkdir(dir.c_str(), 0750);
    ok_ = mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=2m,mode=0750") == 0;
  }
  ~Tmpfs() {
    if (ok_) umount2(dir_.c_str(), MNT_DETACH);
  }
  bool ok() const { return ok_; }

 private:
  std::string dir_;
  bool ok_ = false;
};

std::string task_flow(const std::string& commands_json) {
  return "{\"id\":\"t\",\"namespace\":\"test\",\"tasks\":[{\"id\":\"sh\",\"type\":"
         "\"io.kestra.plugin.scripts.shell.Commands\",\"taskRunner\":{\"type\":"
         "\"io.kestra.plugin.core.runner.Process\"},\"commands\":" +
         commands_json + "}]}";
}

// Lines in the task's log file (what `logs` reads), not lines produced.
uint64_t logged_lines(test::Client& c, const std::string& id) {
  return test::log_lines(c, id).size();
}

TEST(StateFull, SubmissionsAreRefusedClearlyTasksCarryOnAndStoringResumesWhenSpaceReturns) {
  test::TempDir dir;
  Tmpfs fs(dir.path() + "/state");
  ASSERT_TRUE(fs.ok()) << "mounting a tmpfs needs root (make test runs as root): " << strerror(errno);
  auto agent = test::AgentProcess::start(RUNNERD_BIN, "workDir: " + dir.path() + "/work\n",
                                         dir.path() + "/state");
  ASSERT_TRUE(agent);
  test::Client c(agent->socket());
  // 600 numbered lines over about 6 s, then "end".
  std::string writer = test::submit_flow(
      c, task_flow(R"(["for i in $(seq 1 600); do echo line $i; sleep 0.01; done", "echo end"])"));
  for (int i = 0; i < 500 && logged_lines(c, writer) < 20; i++) std::this_thread::sleep_for(10ms);
  ASSERT_GE(logged_lines(c, writer), 20u);

  std::string filler = dir.path() + "/state/filler";
  std::system(("dd if=/dev/zero of=" + filler + " bs=16k 2>/dev/null").c_str());
  // Until one cannot be stored: the database's log may still have room for a few.
  std::string refusal;
  std::vector<std::string> accepted;
  for (int i = 0; i < 200 && refusal.empty(); i++) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = c.call("{\"op\":\"submit\",\"flow\":" + task_flow(R"(["echo queued"])") + "}");
    ASSERT_TRUE(r);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "a submission waited for the disk";
    if (r->truth("/ok")) {
      accepted.push_back(r->str("/result/executionId"));
    } else {
      refusal = r->str("/error/message");
    }
  }
  ASSERT_FALSE(refusal.empty()) << "no submission was refused on a full state directory";
  EXPECT_NE(refusal.find("could not be stored"), std::string::npos) << refusal;
  EXPECT_NE(refusal.find("full"), std::string::npos) << refusal;
  // The agent still answers, and says what is wrong.
  auto stats = c.call(R"({"op":"stats"})");
  ASSERT_TRUE(stats);
  // What the refusal gave back (a rolled-back write of the database, a torn
  // log frame cut again) is filled too, until the log stops growing: the
  // task's output then waits in the agent and in its pipe.
  uint64_t before = 0;
  bool stalled = false;
  for (int round = 0; round < 5 && !stalled; round++) {
    std::system(("dd if=/dev/zero of=" + filler + "." + std::to_string(round) + " bs=4k 2>/dev/null").c_str());
    std::this_thread::sleep_for(500ms);
    before = logged_lines(c, writer);
    std::this_thread::sleep_for(1000ms);
    stalled = logged_lines(c, writer) == before;
  }
  ASSERT_TRUE(stalled) << "the log kept growing on a full file system";

  unlink(filler.c_str());
  for (int round = 0; round < 5; round++) unlink((filler + "." + std::to_string(round)).c_str());
  auto freed = std::chrono::steady_clock::now();
  while (logged_lines(c, writer) <= before && std::chrono::steady_clock::now() - freed < 10s) {
    std::this_thread::sleep_for(20ms);
  }
  auto resumed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - freed);
  std::printf("logging resumed %lld ms after space returned\n", static_cast<long long>(resumed.count()));
  EXPECT_LT(resumed, 5s);

  EXPECT_EQ(test::wait_final(c, writer), "SUCCESS");
  // Every line, in order: the task was never cut, nothing was dropped.
  auto lines = test::log_lines(c, writer);
  std::vector<std::string> want;
  for (int i = 1; i <= 600; i++) want.push_back("INFO line " + std::to_string(i));
  want.push_back("INFO end");
  EXPECT_EQ(lines, want);
  for (const auto& id : accepted) EXPECT_EQ(test::wait_final(c, id), "SUCCESS") << id;
  auto again = c.call("{\"op\":\"submit\",\"flow\":" + task_flow(R"(["echo after"])") + "}");
  ASSERT_TRUE(again && again->truth("/ok")) << (again ? again->text : "");
  EXPECT_EQ(test::wait_final(c, again->str("/result/executionId")), "SUCCESS");
  EXPECT_TRUE(agent->stop(SIGTERM, 30s));
}

}  // namespace
