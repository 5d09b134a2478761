// Script tasks on the Process runner, through the real runnerd: exit codes,
// output protocol, levels, cancel, timeout, and the whole process tree.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "test/helpers/agent_harness.h"
#include "test/helpers/proc_probe.h"

namespace {

using test::alive;
using test::wait_dead;

using test::Client;
using test::shell_flow;

class ProcessTasks : public test::AgentTest {
 protected:
  ProcessTasks() : AgentTest("killGracePeriod: PT2S\n") {}
  std::string run(const std::string& flow, std::string* exec_id = nullptr) {
    std::string id = test::submit_flow(*client_, flow);
    if (exec_id != nullptr) *exec_id = id;
    return test::wait_final(*client_, id);
  }
};

TEST_F(ProcessTasks, ExitZeroIsSuccessAndNonZeroIsFailedWithItsCode) {
  std::string ok, bad;
  EXPECT_EQ(run(shell_flow({"true"}), &ok), "SUCCESS");
  EXPECT_EQ(run(shell_flow({"echo before", "exit 7", "echo never"}), &bad), "FAILED");
  auto r = client_->call("{\"op\":\"get\",\"executionId\":\"" + bad + "\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->num("/result/taskRuns/0/exitCode"), 7);
  EXPECT_EQ(r->str("/result/taskRuns/0/state"), "FAILED");
  EXPECT_EQ(r->str("/result/taskRuns/0/runner"), "io.kestra.plugin.core.runner.Process");
  EXPECT_EQ(test::log_lines(*client_, bad), std::vector<std::string>{"INFO before"});
}

TEST_F(ProcessTasks, FailFastStopsAtTheFirstFailingCommandAndCanBeTurnedOff) {
  std::string a, b;
  EXPECT_EQ(run(shell_flow({"false", "echo after"}), &a), "FAILED");
  EXPECT_EQ(test::log_lines(*client_, a).size(), 0u);
  EXPECT_EQ(run(shell_flow({"false", "echo after"}, ",\"failFast\":false"), &b), "SUCCESS");
  EXPECT_EQ(test::log_lines(*client_, b), std::vector<std::string>{"INFO after"});
}

TEST_F(ProcessTasks, StdoutIsInfoStderrIsErrorAndBeforeCommandsAreDebug) {
  std::string id;
  EXPECT_EQ(run(shell_flow({"echo out", "echo err >&2"},
                           ",\"beforeCommands\":[\"echo preparing\"]"),
                &id),
            "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "DEBUG preparing");
  // stdout and stderr are separate pipes: only per-stream order is guaranteed.
  EXPECT_TRUE((lines[1] == "INFO out" && lines[2] == "ERROR err") ||
              (lines[2] == "INFO out" && lines[1] == "ERROR err"));
}

TEST_F(ProcessTasks, OutputsMetricsAndLogsFromTheLineProtocol) {
  std::string id;
  EXPECT_EQ(run(shell_flow({
                    R"J(echo '::{"outputs":{"greeting":"hello","n":2,"obj":{"a":[1,2]}}}::')J",
                    R"J(echo '::{"outputs":{"n":3}}::')J",
                    R"J(echo '::{"metrics":[{"name":"rows","type":"counter","value":2,"tags":{"f":"a"}}]}::')J",
                    R"J(echo '::{"metrics":[{"name":"rows","type":"counter","value":3,"tags":{"f":"a"}}]}::')J",
                    R"J(echo '::{"metrics":[{"name":"dur","type":"timer","value":"PT1.5S"}]}::')J",
                    R"J(echo '::{"logs":[{"level":"WARN","message":"careful"}]}::')J",
                    R"J(echo '::{"logs":[{"level":"WARNING","message":"bad level"}]}::')J",
                    R"J(echo '::{not json}::')J",
                    R"J(echo ' ::{"outputs":{"x":1}}::')J"}),
                &id),
            "SUCCESS");
  auto r = client_->call("{\"op\":\"outputs\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str("/result/taskRuns/0/vars/greeting"), "hello");
  EXPECT_EQ(r->num("/result/taskRuns/0/vars/n"), 3);  // last write wins
  EXPECT_EQ(r->num("/result/taskRuns/0/vars/obj/a/1"), 2);
  EXPECT_FALSE(r->has("/result/taskRuns/0/vars/x"));
  EXPECT_EQ(r->str("/result/taskRuns/0/metrics/0/name"), "rows");
  double rows = 0, dur = 0;
  ASSERT_EQ(r->at("/result/taskRuns/0/metrics/0/value").get_double().get(rows), simdjson::SUCCESS);
  EXPECT_EQ(rows, 5.0);  // merged by name, type and tags
  ASSERT_EQ(r->at("/result/taskRuns/0/metrics/1/value").get_double().get(dur), simdjson::SUCCESS);
  EXPECT_EQ(dur, 1.5);
  auto lines = test::log_lines(*client_, id);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "WARN careful");
  EXPECT_EQ(lines[1].rfind("WARN Invalid outputs", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2].rfind("WARN Invalid outputs", 0), 0u) << lines[2];
  EXPECT_EQ(lines[3], R"J(INFO  ::{"outputs":{"x":1}}::)J");
}

TEST_F(ProcessTasks, TheLastLineIsKeptWithOrWithoutANewline) {
  std::string id;
  EXPECT_EQ(run(shell_flow({R"J(printf 'first\nlast')J"}), &id), "SUCCESS");
  EXPECT_EQ(test::log_lines(*client_, id), (std::vector<std::string>{"INFO first", "INFO last"}));
  // kestra#19720: the final outputs line, printed without a newline, is not lost.
  EXPECT_EQ(run(shell_flow({R"J(printf '::{"outputs":{"final":true}}::')J"}), &id), "SUCCESS");
  auto r = client_->call("{\"op\":\"outputs\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->truth("/result/taskRuns/0/vars/final")) << r->text;
}

TEST_F(ProcessTasks, EnvironmentHasTheAgentsTaskEnvAndWorkingDir) {
  std::string id;
  EXPECT_EQ(run(shell_flow({"echo \"$GREETING $WORKING_DIR\"", "pwd", "test -n \"$PATH\""},
                           ",\"env\":{\"GREETING\":\"hi\"}"),
                &id),
            "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  ASSERT_EQ(lines.size(), 2u);
  std::string wd = lines[1].substr(5);
  EXPECT_EQ(lines[0], "INFO hi " + wd);
  EXPECT_EQ(wd.rfind(agent_->state_dir() + "/work/", 0), 0u) << wd;
  // Removed on the thread pool once the task ended (never blocking the loop):
  // soon after the result, not necessarily before it.
  struct stat st;
  for (int i = 0; i < 500 && stat(wd.c_str(), &st) == 0; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(stat(wd.c_str(), &st), 0) << "the working directory is removed after the task";
}

TEST_F(ProcessTasks, PythonAndNodeScriptsAndCommands) {
  std::string id;
  std::string flow = R"J({"id":"langs","namespace":"test","tasks":[
    {"id":"py","type":"io.kestra.plugin.scripts.python.Script",
     "taskRunner":{"type":"io.kestra.plugin.core.runner.Process"},
     "script":"import os\nprint('py', os.environ['PYTHONUNBUFFERED'])\nprint('::{\"outputs\":{\"lang\":\"python\"}}::')\n"},
    {"id":"node","type":"io.kestra.plugin.scripts.node.Commands",
     "taskRunner":{"type":"io.kestra.plugin.core.runner.Process"},
     "commands":["node -e \"console.log('node', 1 + 1)\""]},
    {"id":"nodescript","type":"io.kestra.plugin.scripts.node.Script",
     "taskRunner":{"type":"io.kestra.plugin.core.runner.Process"},
     "script":"console.error('to stderr')"}]})J";
  EXPECT_EQ(run(flow, &id), "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  EXPECT_EQ(lines, (std::vector<std::string>{"INFO py true", "INFO node 2", "ERROR to stderr"}));
  auto r = client_->call("{\"op\":\"outputs\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str("/result/taskRuns/0/vars/lang"), "python");
  EXPECT_EQ(r->str("/result/taskRuns/2/taskId"), "nodescript");
}

TEST_F(ProcessTasks, KestraLibrariesWorkWithNothingInstalled) {
  std::string id;
  std::string flow = R"J({"id":"libs","namespace":"test","tasks":[
    {"id":"py","type":"io.kestra.plugin.scripts.python.Script",
     "taskRunner":{"type":"io.kestra.plugin.core.runner.Process"},
     "script":"from kestra import Kestra\nKestra.outputs({'rows': 3})\nKestra.counter('rows', 3, {'src': 'py'})\nKestra.logger().warning('careful')\n"},
    {"id":"js","type":"io.kestra.plugin.scripts.node.Script",
     "taskRunner":{"type":"io.kestra.plugin.core.runner.Process"},
     "script":"const Kestra = require('@kestra-io/libs');\nKestra.outputs({lang: 'node'});\nKestra.gauge('g', 1.5);\n"}]})J";
  EXPECT_EQ(run(flow, &id), "SUCCESS");
  auto r = client_->call("{\"op\":\"outputs\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->num("/result/taskRuns/0/vars/rows"), 3) << r->text;
  EXPECT_EQ(r->str("/result/taskRuns/0/metrics/0/name"), "rows");
  EXPECT_EQ(r->str("/result/taskRuns/0/metrics/0/tags/src"), "py");
  EXPECT_EQ(r->str("/result/taskRuns/1/vars/lang"), "node") << r->text;
  EXPECT_EQ(r->str("/result/taskRuns/1/metrics/0/type"), "gauge");
  auto lines = test::log_lines(*client_, id);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].rfind("WARN ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("careful"), std::string::npos) << lines[0];
}

TEST_F(ProcessTasks, TasksRunInOrderAndAFailureStopsTheFlow) {
  std::string flow = R"J({"id":"seq","namespace":"test","tasks":[
    {"id":"a","type":"io.kestra.plugin.scripts.shell.Commands","taskRunner":{"type":"io.kestra.plugin.core.runner.Process"},"commands":["echo a"]},
    {"id":"b","type":"io.kestra.plugin.scripts.shell.Commands","taskRunner":{"type":"io.kestra.plugin.core.runner.Process"},"commands":["echo b; exit 3"]},
    {"id":"c","type":"io.kestra.plugin.scripts.shell.Commands","taskRunner":{"type":"io.kestra.plugin.core.runner.Process"},"commands":["echo c"]}]})J";
  std::string id;
  EXPECT_EQ(run(flow, &id), "FAILED");
  auto r = client_->call("{\"op\":\"get\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str("/result/taskRuns/0/state"), "SUCCESS");
  EXPECT_EQ(r->str("/result/taskRuns/1/state"), "FAILED");
  EXPECT_FALSE(r->has("/result/taskRuns/2"));
  EXPECT_EQ(test::log_lines(*client_, id), (std::vector<std::string>{"INFO a", "INFO b"}));
}

// Waits until `path` holds a pid, and returns it.
pid_t wait_pid_file(const std::string& path) {
  for (int i = 0; i < 2000; i++) {
    std::ifstream in(path);
    pid_t pid = 0;
    if (in >> pid && pid > 0) return pid;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return -1;
}

TEST_F(ProcessTasks, CancelKillsTheWholeTreeIncludingASetsidGrandchild) {
  std::string pidfile = agent_->dir() + "/grandchild.pid";
  std::string childfile = agent_->dir() + "/child.pid";
  // A double-forked grandchild in its own session, and a plain background child.
  std::string id = test::submit_flow(
      *client_, shell_flow({"sleep 300 & echo $! > " + childfile,
                            "setsid sh -c 'sleep 301 & echo $! > " + pidfile + "; wait' &",
                            "echo started", "wait"}));
  pid_t grandchild = wait_pid_file(pidfile);
  pid_t child = wait_pid_file(childfile);
  ASSERT_GT(grandchild, 0);
  ASSERT_GT(child, 0);
  EXPECT_TRUE(alive(grandchild));
  auto r = client_->call("{\"op\":\"cancel\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->truth("/ok")) << r->text;
  EXPECT_EQ(test::wait_final(*client_, id), "KILLED");
  EXPECT_TRUE(wait_dead(child)) << "background child " << child << " survived";
  EXPECT_TRUE(wait_dead(grandchild)) << "setsid grandchild " << grandchild << " survived";
}

TEST_F(ProcessTasks, CancelEscalatesToSigkillWhenSigtermIsIgnored) {
  std::string pidfile = agent_->dir() + "/stubborn.pid";
  std::string id = test::submit_flow(
      *client_, shell_flow({"trap '' TERM", "echo $$ > " + pidfile, "while true; do sleep 0.05; done"}));
  pid_t pid = wait_pid_file(pidfile);
  ASSERT_GT(pid, 0);
  auto r = client_->call("{\"op\":\"cancel\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(test::wait_final(*client_, id), "KILLED");
  EXPECT_TRUE(wait_dead(pid));
  auto lines = test::log_lines(*client_, id);
  ASSERT_FALSE(lines.empty());
  EXPECT_NE(lines.back().find("sending SIGKILL"), std::string::npos) << lines.back();
}

TEST_F(ProcessTasks, TimeoutKillsTheTaskAndFailsIt) {
  std::string id;
  EXPECT_EQ(run(shell_flow({"echo start", "sleep 60"}, ",\"timeout\":\"PT0.3S\""), &id), "FAILED");
  auto r = client_->call("{\"op\":\"get\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(r);
  EXPECT_NE(r->str("/result/taskRuns/0/error").find("Timeout"), std::string::npos) << r->text;
  EXPECT_LT(r->num("/result/taskRuns/0/durationMs"), 30000);
}

TEST_F(ProcessTasks, ChildrenLeftRunningAfterTheMainProcessExitsAreKilled) {
  std::string pidfile = agent_->dir() + "/orphan.pid";
  std::string id;
  EXPECT_EQ(run(shell_flow({"sleep 300 > /dev/null 2>&1 & echo $! > " + pidfile}), &id),
            "SUCCESS");
  pid_t pid = wait_pid_file(pidfile);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(wait_dead(pid));
}

TEST_F(ProcessTasks, AMissingInterpreterFailsTheTaskWithTheReason) {
  std::string id;
  EXPECT_EQ(run(shell_flow({"echo"}, ",\"interpreter\":[\"/nonexistent/shell\",\"-c\"]"), &id),
            "FAILED");
  auto lines = test::log_lines(*client_, id);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("/nonexistent/shell"), std::string::npos) << lines[0];
}

TEST_F(ProcessTasks, FollowingLogsDeliversLinesWhileTheTaskRuns) {
  std::string gate = agent_->dir() + "/gate";
  std::string id = test::submit_flow(
      *client_, shell_flow({"echo waiting", "while [ ! -e " + gate + " ]; do sleep 0.01; done",
                            "echo released"}));
  auto r = client_->call("{\"op\":\"logs\",\"executionId\":\"" + id + "\",\"follow\":true}");
  ASSERT_TRUE(r);
  int64_t sid = r->num("/id");
  // The first line arrives while the task is still blocked on the gate.
  auto m = client_->read_message(std::chrono::seconds(10));
  while (m && m->num("/id") != sid) m = client_->read_message(std::chrono::seconds(10));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->str("/event"), "logs");
  EXPECT_EQ(m->str("/lines/0/message"), "waiting");
  std::ofstream(gate) << "go";
  auto rest = client_->read_stream(sid);
  ASSERT_GE(rest.size(), 2u);
  EXPECT_EQ(rest[rest.size() - 2].str("/lines/0/message"), "released");
  EXPECT_EQ(rest.back().str("/state"), "SUCCESS");
}

}  // namespace
