// The agent's own life: restart with stored logs, graceful stop, a 1 GiB
// writer stored byte for byte, and the CLI end to end.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "agent/logstream/log_file.h"
#include "test/helpers/agent_harness.h"

namespace {

using test::Client;

bool exited_zero(const std::optional<int>& status) {
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

TEST(Lifecycle, LogsOutputsAndStatesSurviveARestart) {
  test::TempDir state;
  std::string id;
  {
    auto agent = test::AgentProcess::start(RUNNERD_BIN, "", state.path() + "/s");
    ASSERT_TRUE(agent);
    Client c(agent->socket());
    id = test::submit_flow(c, test::shell_flow({"echo one", "echo two",
                                                R"(echo '::{"outputs":{"k":"v"}}::')"}));
    ASSERT_EQ(test::wait_final(c, id), "SUCCESS");
    EXPECT_TRUE(exited_zero(agent->stop(SIGTERM, std::chrono::seconds(20))));
  }
  auto agent = test::AgentProcess::start(RUNNERD_BIN, "", state.path() + "/s");
  ASSERT_TRUE(agent);
  Client c(agent->socket());
  auto r = c.call("{\"op\":\"get\",\"executionId\":\"" + id.substr(0, 8) + "\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str("/result/id"), id);
  EXPECT_EQ(r->str("/result/state"), "SUCCESS");
  EXPECT_EQ(test::log_lines(c, id), (std::vector<std::string>{"INFO one", "INFO two"}));
  r = c.call("{\"op\":\"outputs\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str("/result/taskRuns/0/vars/k"), "v");
}

TEST(Lifecycle, SigtermLetsRunningTasksFinishWithinTheGrace) {
  auto agent = test::AgentProcess::start(RUNNERD_BIN, "terminationGracePeriod: PT30S\n");
  ASSERT_TRUE(agent);
  Client c(agent->socket());
  std::string gate = agent->dir() + "/gate";
  std::string id = test::submit_flow(
      c, test::shell_flow({"echo started", "while [ ! -e " + gate + " ]; do sleep 0.01; done",
                           "echo finished"}));
  auto r = c.call("{\"op\":\"watch\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(r);
  // Wait until the task runs, then ask the agent to stop.
  for (int i = 0; i < 500; i++) {
    auto g = c.call("{\"op\":\"get\",\"executionId\":\"" + id + "\"}");
    if (g && g->str("/result/taskRuns/0/state") == "RUNNING") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(agent->pid(), SIGTERM);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // The socket no longer accepts, but the running task goes on.
  Client late(agent->socket());
  EXPECT_FALSE(late.connected());
  std::ofstream(gate) << "go";
  auto events = c.read_stream(r->num("/id"));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().str("/state"), "SUCCESS");
  EXPECT_TRUE(exited_zero(agent->stop(0, std::chrono::seconds(20))));
}

// A task still running when the termination grace is over is killed, and
// recorded RESUBMITTED: the next start runs it again as a new attempt (Kestra
// resubmits the tasks of a worker that stopped).
TEST(Lifecycle, SigtermKillsTasksStillRunningAfterTheGraceAndTheNextStartRunsThemAgain) {
  auto agent = test::AgentProcess::start(RUNNERD_BIN,
                                         "terminationGracePeriod: PT0.2S\nkillGracePeriod: PT1S\n");
  ASSERT_TRUE(agent);
  std::string pidfile = agent->dir() + "/task.pid";
  std::string second = agent->dir() + "/second";
  std::string id;
  {
    Client c(agent->socket());
    id = test::submit_flow(
        c, test::shell_flow({"echo $$ > " + pidfile,
                             "if [ -e " + second + " ]; then echo again; exit 0; fi",
                             "touch " + second, "sleep 300"}));
    for (int i = 0; i < 500 && access(second.c_str(), F_OK) != 0; i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  EXPECT_TRUE(exited_zero(agent->stop(SIGTERM, std::chrono::seconds(20)))) << agent->log();
  pid_t first_pid = 0;
  std::ifstream(pidfile) >> first_pid;
  ASSERT_GT(first_pid, 0);
  EXPECT_NE(kill(first_pid, 0), 0) << "the first attempt outlived the agent";
  auto again = test::AgentProcess::start(RUNNERD_BIN, "", agent->state_dir());
  ASSERT_TRUE(again);
  Client c(again->socket());
  std::optional<test::Message> r;
  for (int i = 0; i < 1000; i++) {
    r = c.call("{\"op\":\"get\",\"executionId\":\"" + id + "\"}");
    if (r && r->str("/result/state") == "SUCCESS") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str("/result/state"), "SUCCESS");
  EXPECT_EQ(r->str("/result/taskRuns/0/state"), "RESUBMITTED");
  EXPECT_EQ(r->num("/result/taskRuns/1/attempt"), 2);
  EXPECT_EQ(r->str("/result/taskRuns/1/state"), "SUCCESS");
}

TEST(Lifecycle, ASecondAgentOnTheSameSocketRefusesToStartAndTheFirstCarriesOn) {
  auto first = test::AgentProcess::start(RUNNERD_BIN);
  ASSERT_TRUE(first);
  test::TempDir other;
  std::string cmd = std::string(RUNNERD_BIN) + " --socket " + first->socket() + " --state-dir " +
                    other.path() + "/s 2>&1";
  auto [status, out] = test::run_command(cmd);
  ASSERT_NE(status, -1) << "runnerd crashed instead of exiting: " << out;
  EXPECT_EQ(status, 1);
  EXPECT_NE(out.find("another runnerd is already listening on " + first->socket()),
            std::string::npos)
      << out;
  Client c(first->socket());
  auto r = c.call(R"({"op":"stats"})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->truth("/ok"));
  EXPECT_TRUE(exited_zero(first->stop(SIGTERM, std::chrono::seconds(20))));
}

// Every byte a fast writer prints is stored: the task is slowed, never truncated.
TEST(Lifecycle, AOneGibibyteWriterIsStoredByteForByte) {
  uint64_t bytes = 1ull << 30;
  if (const char* env = std::getenv("RUNNERD_TEST_LOG_BYTES")) bytes = std::strtoull(env, nullptr, 10);
  auto agent = test::AgentProcess::start(RUNNERD_BIN);
  ASSERT_TRUE(agent);
  Client c(agent->socket());
  // 64-byte lines; `head -c` cuts the last one short, without a newline.
  const std::string line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQ";
  std::string id = test::submit_flow(
      c, test::shell_flow({"yes '" + line + "' | head -c " + std::to_string(bytes)}));
  ASSERT_EQ(test::wait_final(c, id, std::chrono::seconds(600)), "SUCCESS");
  auto r = c.call("{\"op\":\"get\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(r);
  std::string run_id = r->str("/result/taskRuns/0/id");
  uint64_t full = bytes / (line.size() + 1);
  uint64_t tail = bytes % (line.size() + 1);
  EXPECT_EQ(static_cast<uint64_t>(r->num("/result/taskRuns/0/logLines")), full + (tail ? 1 : 0));
  // Read the stored log back and account for every byte.
  std::string path = agent->state_dir() + "/logs/" + run_id + ".log.zst";
  uint64_t seq = 0, offset = 0, total = 0, wrong = 0;
  while (true) {
    auto rr = agent::logstream::read_log(path, seq, 8u << 20, offset);
    ASSERT_TRUE(rr.ok()) << rr.error().message();
    for (const auto& l : rr->lines) {
      bool last = l.seq == full && tail != 0;
      if (last ? l.text != line.substr(0, tail) : l.text != line) wrong++;
      total += l.text.size() + (last ? 0 : 1);
      EXPECT_EQ(l.level, agent::logstream::Level::kInfo);
    }
    if (rr->lines.empty()) break;
    seq = rr->next_seq;
    offset = rr->next_offset;
  }
  EXPECT_EQ(total, bytes);
  EXPECT_EQ(wrong, 0u);
}

}  // namespace
