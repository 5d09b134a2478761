// Worker groups against the real runnerd: routing by workerGroup.key, one
// queue per group (a full group never holds up another), the fallbacks of a
// key the agent does not serve (WAIT, FAIL, CANCEL), the per-group queue
// bound, the runners a group allows and its default runner, and what
// `list` / `runnerctl ps` and `stats` say about queued tasks.
#include <csignal>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "test/helpers/agent_harness.h"

namespace {

using test::Client;

constexpr const char* kGroups =
    "maxRunning: 1\n"
    "workerGroups:\n"
    "  - key: slow\n"
    "    maxRunning: 1\n"
    "    maxQueued: 2\n"
    "  - key: fast\n"
    "    maxRunning: 2\n"
    "  - key: boxed\n"
    "    taskRunner: io.kestra.plugin.core.runner.Process\n"
    "    runners: [io.kestra.plugin.core.runner.Process]\n";

class WorkerGroups : public test::AgentTest {
 protected:
  WorkerGroups() : AgentTest(kGroups) {}

  std::string gate() const { return agent_->dir() + "/gate"; }
  std::string wait_gate() const { return "while [ ! -e " + gate() + " ]; do sleep 0.01; done"; }
  static std::string in_group(const std::string& key, const std::string& fallback = "") {
    return ",\"workerGroup\":{\"key\":\"" + key + "\"" +
           (fallback.empty() ? "" : ",\"fallback\":\"" + fallback + "\"") + "}";
  }
  std::optional<test::Message> get(const std::string& id) {
    return client_->call("{\"op\":\"get\",\"executionId\":\"" + id + "\"}");
  }
  // Waits until the execution's task is RUNNING.
  void wait_running(const std::string& id) {
    for (int i = 0; i < 1000; i++) {
      auto g = get(id);
      if (g && g->str("/result/taskRuns/0/state") == "RUNNING") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << id << " never ran";
  }
};

TEST_F(WorkerGroups, AFullGroupNeverHoldsUpAnotherAndQueuedTasksShowTheirPlace) {
  // `slow` runs one task at a time: the first holds it, two wait.
  std::string first = test::submit_flow(*client_, test::shell_flow({wait_gate()}, in_group("slow")));
  wait_running(first);
  std::string second = test::submit_flow(*client_, test::shell_flow({"echo second"}, in_group("slow")));
  std::string third = test::submit_flow(*client_, test::shell_flow({"echo third"}, in_group("slow")));

  // Its queue is bounded (maxQueued 2): a fourth is refused, with the group named.
  auto refused = client_->call("{\"op\":\"submit\",\"flow\":" +
                               test::shell_flow({"true"}, in_group("slow")) + "}");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->str("/error/code"), "resource_exhausted") << refused->text;
  EXPECT_NE(refused->str("/error/message").find("worker group 'slow' is full"), std::string::npos)
      << refused->text;
  EXPECT_EQ(refused->str("/error/path"), "flow.tasks[0].workerGroup");

  // The other groups go on: `fast` and the default group run at once.
  std::string fast = test::submit_flow(*client_, test::shell_flow({"echo fast"}, in_group("fast")));
  std::string plain = test::submit_flow(*client_, test::shell_flow({"echo plain"}));
  EXPECT_EQ(test::wait_final(*client_, fast, std::chrono::seconds(20)), "SUCCESS");
  EXPECT_EQ(test::wait_final(*client_, plain, std::chrono::seconds(20)), "SUCCESS");
  auto f = get(fast);
  EXPECT_EQ(f->str("/result/taskRuns/0/workerGroup"), "fast");
  EXPECT_EQ(get(plain)->str("/result/taskRuns/0/workerGroup"), "default");

  // The queued ones say where they wait and behind how many.
  auto g2 = get(second);
  EXPECT_EQ(g2->str("/result/state"), "CREATED");
  EXPECT_EQ(g2->str("/result/queued/workerGroup"), "slow");
  EXPECT_EQ(g2->num("/result/queued/position"), 1);
  EXPECT_EQ(g2->str("/result/queued/taskId"), "sh");
  EXPECT_EQ(g2->str("/result/queued/waitingFor"), "a slot");
  EXPECT_EQ(get(third)->num("/result/queued/position"), 2);
  auto ps = test::run_command("RUNNERD_SOCKET=" + agent_->socket() + " " + RUNNERCTL_BIN + " ps 2>&1");
  EXPECT_EQ(ps.status, 0) << ps.out;
  EXPECT_NE(ps.out.find("QUEUED slow #1"), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("QUEUED slow #2"), std::string::npos) << ps.out;

  auto stats = client_->call(R"({"op":"stats"})");
  ASSERT_TRUE(stats);
  bool seen = false;
  for (int i = 0; stats->has("/result/workerGroups/" + std::to_string(i)); i++) {
    std::string p = "/result/workerGroups/" + std::to_string(i);
    if (stats->str(p + "/key") != "slow") continue;
    seen = true;
    EXPECT_EQ(stats->num(p + "/running"), 1);
    EXPECT_EQ(stats->num(p + "/queued"), 2);
    EXPECT_EQ(stats->num(p + "/maxQueued"), 2);
  }
  EXPECT_TRUE(seen) << stats->text;

  // A cancel takes one out of the queue; the one behind moves up.
  ASSERT_TRUE(client_->call("{\"op\":\"cancel\",\"executionId\":\"" + second + "\"}"));
  EXPECT_EQ(test::wait_final(*client_, second), "KILLED");
  EXPECT_EQ(get(third)->num("/result/queued/position"), 1);

  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::ofstream(gate()) << "go";
  EXPECT_EQ(test::wait_final(*client_, first), "SUCCESS");
  EXPECT_EQ(test::wait_final(*client_, third), "SUCCESS");
  EXPECT_EQ(test::log_lines(*client_, third), std::vector<std::string>{"INFO third"});
  EXPECT_FALSE(get(third)->has("/result/queued"));

  // Submit-to-running counts the time in the queue: `third` waited 300 ms
  // and more for its slot.
  auto prom = client_->call(R"({"op":"stats","format":"prometheus"})");
  ASSERT_TRUE(prom);
  std::istringstream text(prom->str("/result/text"));
  double waited = -1;
  for (std::string line; std::getline(text, line);) {
    if (line.rfind("runnerd_task_submit_to_running_seconds_sum{", 0) == 0 &&
        line.find("group=\"slow\"") != std::string::npos) {
      waited = std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  EXPECT_GE(waited, 0.3) << prom->str("/result/text");
}

TEST_F(WorkerGroups, AKeyNotServedFailsCancelsOrWaitsAsItsFallbackSays) {
  std::string fail = test::submit_flow(*client_, test::shell_flow({"echo never"}, in_group("gpu", "FAIL")));
  EXPECT_EQ(test::wait_final(*client_, fail), "FAILED");
  auto g = get(fail);
  std::string error = g->str("/result/taskRuns/0/error");
  EXPECT_NE(error.find("worker group 'gpu' is not served by this agent (it serves: default, slow, fast, boxed)"),
            std::string::npos)
      << g->text;
  EXPECT_NE(error.find("fallback is FAIL"), std::string::npos) << error;
  EXPECT_FALSE(g->has("/result/taskRuns/0/pid")) << "it never ran";
  auto logs = test::log_lines(*client_, fail);
  ASSERT_FALSE(logs.empty());
  EXPECT_EQ(logs[0].rfind("ERROR worker group 'gpu'", 0), 0u) << logs[0];

  std::string cancel = test::submit_flow(*client_, test::shell_flow({"echo never"}, in_group("gpu", "CANCEL")));
  EXPECT_EQ(test::wait_final(*client_, cancel), "KILLED");
  EXPECT_EQ(get(cancel)->str("/result/taskRuns/0/state"), "KILLED");

  // WAIT, Kestra's default: the task waits, and says for what, until cancelled.
  std::string wait = test::submit_flow(*client_, test::shell_flow({"echo never"}, in_group("gpu")));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  g = get(wait);
  EXPECT_EQ(g->str("/result/state"), "CREATED") << g->text;
  EXPECT_EQ(g->str("/result/queued/workerGroup"), "gpu");
  EXPECT_EQ(g->str("/result/queued/waitingFor"), "an agent that serves its worker group");
  // Other work is not held up by it.
  std::string plain = test::submit_flow(*client_, test::shell_flow({"true"}));
  EXPECT_EQ(test::wait_final(*client_, plain), "SUCCESS");
  ASSERT_TRUE(client_->call("{\"op\":\"cancel\",\"executionId\":\"" + wait + "\"}"));
  EXPECT_EQ(test::wait_final(*client_, wait), "KILLED");
}

TEST_F(WorkerGroups, AGroupRunsOnlyItsRunnersAndGivesItsDefaultRunner) {
  // No taskRunner: the group's (Process), not the agent's (Docker).
  std::string flow =
      "{\"id\":\"t\",\"namespace\":\"test\",\"tasks\":[{\"id\":\"sh\",\"type\":"
      "\"io.kestra.plugin.scripts.shell.Commands\",\"commands\":[\"echo $$\"]" +
      in_group("boxed") + "}]}";
  std::string id = test::submit_flow(*client_, flow);
  EXPECT_EQ(test::wait_final(*client_, id), "SUCCESS");
  EXPECT_EQ(get(id)->str("/result/taskRuns/0/runner"), "io.kestra.plugin.core.runner.Process");

  // A runner the group does not allow is refused at submission.
  std::string docker =
      "{\"id\":\"t\",\"namespace\":\"test\",\"tasks\":[{\"id\":\"sh\",\"type\":"
      "\"io.kestra.plugin.scripts.shell.Commands\",\"commands\":[\"true\"],\"taskRunner\":{\"type\":"
      "\"io.kestra.plugin.scripts.runner.docker.Docker\"}" +
      in_group("boxed") + "}]}";
  auto r = client_->call("{\"op\":\"submit\",\"flow\":" + docker + "}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str("/error/code"), "invalid_argument") << r->text;
  EXPECT_EQ(r->str("/error/path"), "flow.tasks[0].taskRunner.type");
  EXPECT_NE(r->str("/error/message").find("worker group 'boxed' does not run "
                                          "io.kestra.plugin.scripts.runner.docker.Docker tasks"),
            std::string::npos)
      << r->text;
}

// GPUs from a configured inventory of (fake) ids: each task of the group is
// given one (gpusPerTask) to itself, a third waits until one is given back,
// and a task of a group without GPUs is told of none.
class GpuGroup : public test::AgentTest {
 protected:
  GpuGroup()
      : AgentTest(
            "workerGroups:\n"
            "  - key: gpu\n"
            "    maxRunning: 4\n"
            "    gpus: [GPU-a, GPU-b]\n"
            "    gpusPerTask: 1\n") {}
};

TEST_F(GpuGroup, EachTaskHasItsOwnGpuAThirdWaitsAndGetsOneBack) {
  std::string dir = agent_->dir();
  auto task = [&](const std::string& name) {
    // Writes the GPUs it sees, then holds them until its gate opens.
    std::string gate = dir + "/gate-" + name;
    return test::shell_flow({"echo \"$CUDA_VISIBLE_DEVICES/$NVIDIA_VISIBLE_DEVICES\" > " + dir + "/seen-" + name,
                             "while [ ! -e " + gate + " ]; do sleep 0.01; done"},
                            ",\"workerGroup\":{\"key\":\"gpu\"}");
  };
  auto seen = [&](const std::string& name) {
    for (int i = 0; i < 2000; i++) {
      std::ifstream in(dir + "/seen-" + name);
      std::string line;
      if (std::getline(in, line) && !line.empty()) return line;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return std::string();
  };
  std::string a = test::submit_flow(*client_, task("a"));
  std::string b = test::submit_flow(*client_, task("b"));
  std::string seen_a = seen("a"), seen_b = seen("b");
  ASSERT_FALSE(seen_a.empty());
  ASSERT_FALSE(seen_b.empty());
  // Exclusive: one each, the same id for CUDA and the NVIDIA runtime.
  std::set<std::string> got = {seen_a, seen_b};
  EXPECT_EQ(got, (std::set<std::string>{"GPU-a/GPU-a", "GPU-b/GPU-b"}));

  // Both GPUs are out: a third task waits although the group has slots.
  std::string c = test::submit_flow(*client_, task("c"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto g = client_->call("{\"op\":\"get\",\"executionId\":\"" + c + "\"}");
  EXPECT_EQ(g->str("/result/queued/workerGroup"), "gpu") << g->text;
  auto stats = client_->call(R"({"op":"stats"})");
  std::string p = "/result/workerGroups/1";
  ASSERT_EQ(stats->str(p + "/key"), "gpu") << stats->text;
  EXPECT_EQ(stats->num(p + "/running"), 2);
  EXPECT_EQ(stats->num(p + "/queued"), 1);
  EXPECT_TRUE(stats->has(p + "/gpusBusy/1")) << stats->text;
  auto prom = client_->call(R"({"op":"stats","format":"prometheus"})");
  ASSERT_TRUE(prom);
  std::string text = prom->str("/result/text");
  for (const char* line : {"runnerd_worker_group_gpus{group=\"gpu\"} 2", "runnerd_worker_group_gpus_used{group=\"gpu\"} 2",
                           "runnerd_queue_depth{group=\"gpu\"} 1", "runnerd_task_slots_used{group=\"gpu\"} 2",
                           "runnerd_task_slots{group=\"gpu\"} 4"}) {
    EXPECT_NE(text.find(std::string("\n") + line + "\n"), std::string::npos) << line << " in:\n" << text;
  }

  // The first ends: its GPU goes to the third.
  std::ofstream(dir + "/gate-a") << "go";
  EXPECT_EQ(test::wait_final(*client_, a), "SUCCESS");
  EXPECT_EQ(seen("c"), seen_a);
  std::ofstream(dir + "/gate-b") << "go";
  std::ofstream(dir + "/gate-c") << "go";
  EXPECT_EQ(test::wait_final(*client_, b), "SUCCESS");
  EXPECT_EQ(test::wait_final(*client_, c), "SUCCESS");
  stats = client_->call(R"({"op":"stats"})");
  EXPECT_FALSE(stats->has(p + "/gpusBusy/0")) << "every GPU is given back: " << stats->text;
  EXPECT_EQ(stats->num(p + "/running"), 0);

  // A task of the default group (no GPUs) is told of none.
  std::string plain = test::submit_flow(
      *client_, test::shell_flow({"echo \"[${CUDA_VISIBLE_DEVICES-unset}]\""}));
  EXPECT_EQ(test::wait_final(*client_, plain), "SUCCESS");
  EXPECT_EQ(test::log_lines(*client_, plain), std::vector<std::string>{"INFO [unset]"});
}

// WAIT: a task for a key this agent does not serve stays queued across a
// stop, and the agent started again with that group runs it.
// A group that hands out 1 GiB: two tasks asking 600 MiB each run one after
// the other, the limit is enforced on each, and one asking more than the
// group has is refused at submission.
class MemoryGroup : public test::AgentTest {
 protected:
  MemoryGroup()
      : AgentTest(
            "workerGroups:\n"
            "  - key: mem\n"
            "    maxRunning: 4\n"
            "    memory: 1GiB\n"
            "    cpus: 2\n") {}
  static std::string task(const std::string& command, const std::string& memory) {
    return "{\"id\":\"t\",\"namespace\":\"test\",\"tasks\":[{\"id\":\"sh\",\"type\":"
           "\"io.kestra.plugin.scripts.shell.Commands\",\"taskRunner\":{\"type\":"
           "\"io.kestra.plugin.core.runner.Process\",\"resources\":{\"memory\":\"" + memory +
           "\",\"cpus\":1}},\"commands\":[" + test::json_quote(command) +
           "],\"workerGroup\":{\"key\":\"mem\"}}]}";
  }
};

TEST_F(MemoryGroup, RequestsWaitForMemoryTheGroupHasOutAndBeyondItAreRefused) {
  std::string gate = agent_->dir() + "/gate";
  std::string first = test::submit_flow(*client_, task("while [ ! -e " + gate + " ]; do sleep 0.01; done", "600MiB"));
  std::string second = test::submit_flow(*client_, task("echo second", "600MiB"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto g = client_->call("{\"op\":\"get\",\"executionId\":\"" + second + "\"}");
  EXPECT_EQ(g->str("/result/queued/workerGroup"), "mem") << "600 + 600 MiB > 1 GiB: " << g->text;
  auto stats = client_->call(R"({"op":"stats"})");
  std::string p = "/result/workerGroups/1";
  ASSERT_EQ(stats->str(p + "/key"), "mem") << stats->text;
  EXPECT_EQ(stats->num(p + "/memoryBytesUsed"), 600 << 20);
  EXPECT_EQ(stats->num(p + "/milliCpusUsed"), 1000);
  std::ofstream(gate) << "go";
  EXPECT_EQ(test::wait_final(*client_, first), "SUCCESS");
  EXPECT_EQ(test::wait_final(*client_, second), "SUCCESS");
  stats = client_->call(R"({"op":"stats"})");
  EXPECT_EQ(stats->num(p + "/memoryBytesUsed"), 0);

  // Over its own limit: killed by the kernel, and said so.
  std::string hog = test::submit_flow(*client_, task("head -c 300000000 /dev/zero | tail", "32MiB"));
  EXPECT_EQ(test::wait_final(*client_, hog), "FAILED");
  g = client_->call("{\"op\":\"get\",\"executionId\":\"" + hog + "\"}");
  EXPECT_EQ(g->str("/result/taskRuns/0/error"), "killed by the kernel: the task hit its memory limit (32 MiB)")
      << g->text;

  auto r = client_->call("{\"op\":\"submit\",\"flow\":" + task("true", "2GiB") + "}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str("/error/code"), "invalid_argument") << r->text;
  EXPECT_EQ(r->str("/error/path"), "flow.tasks[0].taskRunner");
  EXPECT_EQ(r->str("/error/message"), "asks 2048 MiB of memory; worker group 'mem' hands out 1024 MiB in all");
}

TEST(WorkerGroupWait, AWaitingTaskRunsOnceTheAgentServesItsGroup) {
  test::TempDir state;
  std::string state_dir = state.path() + "/state";
  std::string id;
  {
    auto agent = test::AgentProcess::start(RUNNERD_BIN, "", state_dir);
    ASSERT_TRUE(agent);
    Client c(agent->socket());
    id = test::submit_flow(c, test::shell_flow({"echo ran in $CUDA_VISIBLE_DEVICES"},
                                               ",\"workerGroup\":{\"key\":\"gpu\"}"));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto g = c.call("{\"op\":\"get\",\"executionId\":\"" + id + "\"}");
    EXPECT_EQ(g->str("/result/queued/workerGroup"), "gpu") << g->text;
    EXPECT_EQ(agent->stop(SIGTERM, std::chrono::seconds(20)), std::optional<int>(0)) << agent->log();
  }
  auto agent = test::AgentProcess::start(
      RUNNERD_BIN, "workerGroups:\n  - key: gpu\n    gpus: [G7]\n    gpusPerTask: 1\n", state_dir);
  ASSERT_TRUE(agent);
  Client c(agent->socket());
  EXPECT_EQ(test::wait_final(c, id), "SUCCESS");
  EXPECT_EQ(test::log_lines(c, id), std::vector<std::string>{"INFO ran in G7"});
  EXPECT_EQ(agent->stop(SIGTERM, std::chrono::seconds(20)), std::optional<int>(0)) << agent->log();
}

TEST(WorkerGroupConfig, BadGroupsStopTheAgentWithTheOptionNamed) {
  struct Case {
    std::string yaml, path, want;
  };
  std::vector<Case> cases = {
      {"workerGroups:\n  - maxRunning: 2\n", "workerGroups[0].key", "required option missing"},
      {"workerGroups:\n  - key: -x\n", "workerGroups[0].key", "'-x' must match"},
      {"workerGroups:\n  - key: a\n  - key: a\n", "workerGroups[1].key", "worker group 'a' is declared twice"},
      {"workerGroups:\n  - key: a\n    gpus: ['0']\n  - key: b\n    gpus: ['1', '0']\n", "workerGroups[1].gpus[1]",
       "GPU '0' is already handed out by worker group 'a'"},
      {"workerGroups:\n  - key: a\n    cpus: lots\n", "workerGroups[0].cpus", "expected a number of CPUs"},
      {"workerGroups:\n  - key: a\n    memory: 12XB\n", "workerGroups[0].memory", "invalid size '12XB'"},
      {"workerGroups:\n  - key: a\n    taskRunner: no.such.Runner\n", "workerGroups[0].taskRunner",
       "unknown task runner 'no.such.Runner'"},
      {"workerGroups:\n  - key: a\n    runners: [io.kestra.plugin.core.runner.Process]\n", "workerGroups[0].runners",
       "the group's default runner 'io.kestra.plugin.scripts.runner.docker.Docker' is not among its runners"},
      {"workerGroups:\n  - key: a\n    colour: blue\n", "workerGroups[0].colour", "unknown option"},
      {"workerGroups:\n  - key: a\n    gpus: ['0']\n    gpusPerTask: 2\n", "workerGroups[0].gpusPerTask",
       "gives 2 GPUs per task; the group has 1"},
  };
  for (const auto& c : cases) {
    test::TempDir t;
    std::ofstream(t.path() + "/c.yaml") << c.yaml;
    auto r = test::run_command("timeout 10 " + std::string(RUNNERD_BIN) + " --socket " + t.path() +
                               "/s.sock --state-dir " + t.path() + "/state --config " + t.path() +
                               "/c.yaml 2>&1");
    EXPECT_EQ(r.status, 1) << c.yaml << r.out;
    EXPECT_NE(r.out.find(c.path + ":"), std::string::npos) << c.yaml << "\n" << r.out;
    EXPECT_NE(r.out.find(c.want), std::string::npos) << c.yaml << "\n" << r.out;
  }
}

}  // namespace
