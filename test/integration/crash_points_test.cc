// The agent killed at each of its crash points (agent/common/crash_point.h:
// RUNNERD_CRASH_AT), then started again and the submission sent again with
// its executionId, as a client whose answer was lost does: the execution ends
// once, its task's user code ran to completion no more often than
// 1 + its RESUBMITTED attempts, and nothing of the dead agent's tasks is left.
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "test/helpers/agent_harness.h"
#include "test/helpers/proc_probe.h"

namespace {

using test::lines_in;

using namespace std::chrono_literals;

constexpr const char* kCrashConfig = "defaultRunner: io.kestra.plugin.core.runner.Process\n";
constexpr int kRounds = 3;  // per point; the soak's crash loop adds random points

class CrashPoint : public ::testing::TestWithParam<const char*> {};

TEST_P(CrashPoint, TheExecutionEndsOnceAfterARestart) {
  const std::string point = GetParam();
  for (int round = 0; round < kRounds; round++) {
    SCOPED_TRACE("round " + std::to_string(round));
    setenv("RUNNERD_CRASH_AT", point.c_str(), 1);
    auto agent = test::AgentProcess::start(RUNNERD_BIN, kCrashConfig);
    unsetenv("RUNNERD_CRASH_AT");
    ASSERT_TRUE(agent);
    const std::string effects = agent->dir() + "/effects";
    const std::string token = "crashpoint" + std::to_string(getpid()) + point;
    std::string id = "cp-" + std::to_string(round);
    std::string req = "{\"op\":\"submit\",\"executionId\":\"" + id +
                      "\",\"flow\":{\"id\":\"t\",\"namespace\":\"test\",\"tasks\":[{\"id\":\"a\","
                      "\"type\":\"io.kestra.plugin.scripts.shell.Commands\",\"commands\":[\": " +
                      token + "\",\"sleep 0.2\",\"echo done >> " + effects + "\"]}]}}";
    {
      test::Client c(agent->socket());
      c.send_raw("{\"id\":1," + req.substr(1) + "\n");
      (void)c.read_line(20s);  // the answer, or nothing: the agent died first
    }
    auto status = agent->stop(0, 30s);
    ASSERT_TRUE(status) << "the agent never reached crash point " << point;
    ASSERT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << agent->log();

    auto again = test::AgentProcess::start(RUNNERD_BIN, kCrashConfig, agent->state_dir());
    ASSERT_TRUE(again);
    test::Client c(again->socket());
    auto r = c.call(req);
    ASSERT_TRUE(r && r->truth("/ok")) << (r ? r->text : "no answer");
    EXPECT_EQ(test::wait_final(c, id), "SUCCESS");
    auto g = c.call("{\"op\":\"get\",\"executionId\":\"" + id + "\"}");
    ASSERT_TRUE(g);
    int resubmitted = 0, runs = 0;
    simdjson::dom::array arr;
    if (g->at("/result/taskRuns").get_array().get(arr) == simdjson::SUCCESS) {
      for (auto run : arr) {
        runs++;
        std::string_view state;
        if (run["state"].get_string().get(state) == simdjson::SUCCESS && state == "RESUBMITTED") {
          resubmitted++;
        }
      }
    }
    int completions = lines_in(effects);
    EXPECT_GE(completions, 1);
    EXPECT_LE(completions, 1 + resubmitted) << g->text;
    EXPECT_EQ(runs, 1 + resubmitted) << g->text;
    auto list = c.call(R"({"op":"list"})");
    ASSERT_TRUE(list);
    EXPECT_FALSE(list->has("/result/executions/1")) << list->text;
    // "[c]rashpoint...": the pattern does not match pgrep's own shell.
    auto [st, ps] = test::run_command("pgrep -f '[" + token.substr(0, 1) + "]" + token.substr(1) +
                                      "' || true");
    EXPECT_EQ(ps, "") << "processes of the dead agent's task are left";
  }
}

INSTANTIATE_TEST_SUITE_P(Restart, CrashPoint,
                         ::testing::Values("submission_received", "submission_stored",
                                           "run_created", "task_started", "task_exited",
                                           "run_stored", "execution_stored"));

}  // namespace
