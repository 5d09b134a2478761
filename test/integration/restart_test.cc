// The agent killed with SIGKILL and started again on the same state directory:
// what was accepted runs, nothing runs twice, nothing of a dead agent's tasks
// survives, containers are followed again (reliability catalogue, section A).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "agent/state/state_db.h"
#include "test/helpers/agent_harness.h"
#include "test/helpers/engine_client.h"
#include "test/helpers/proc_probe.h"

namespace {

using test::lines_in;
using test::alive;

using namespace std::chrono_literals;
using test::AgentProcess;
using test::Client;

constexpr const char* kProcessConfig = "defaultRunner: io.kestra.plugin.core.runner.Process\n";

bool wait_for_file(const std::string& path, std::chrono::milliseconds timeout = 20s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (access(path.c_str(), F_OK) == 0) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

pid_t read_pid(const std::string& path) {
  pid_t pid = 0;
  std::ifstream(path) >> pid;
  return pid;
}

std::string json_str(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// A flow of Process tasks, one per command list.
std::string flow_of(const std::vector<std::vector<std::string>>& tasks, const std::string& id = "t") {
  std::string list;
  for (size_t i = 0; i < tasks.size(); i++) {
    std::string cmds;
    for (const auto& c : tasks[i]) cmds += (cmds.empty() ? "" : ",") + json_str(c);
    list += std::string(i == 0 ? "" : ",") + "{\"id\":\"t" + std::to_string(i) +
            "\",\"type\":\"io.kestra.plugin.scripts.shell.Commands\",\"commands\":[" + cmds + "]}";
  }
  return "{\"id\":\"" + id + "\",\"namespace\":\"test\",\"tasks\":[" + list + "]}";
}

std::optional<test::Message> get(Client& c, const std::string& id) {
  return c.call("{\"op\":\"get\",\"executionId\":\"" + id + "\"}");
}

// A Process task running when the agent is killed: its whole tree dies (also a
// setsid grandchild), the attempt is recorded RESUBMITTED and the task runs
// again; the task that had ended is not run again. The second task runs in
// the cgroup the first one left empty, which stayed named to the task reaper.
TEST(Restart, AProcessTaskRunningAtAKillIsResubmittedAndNothingOfItSurvives) {
  auto agent = AgentProcess::start(RUNNERD_BIN, kProcessConfig);
  ASSERT_TRUE(agent);
  const std::string d = agent->dir();
  std::string id;
  {
    Client c(agent->socket());
    id = test::submit_flow(
        c, flow_of({{"echo once >> " + d + "/first"},
                    {"echo run >> " + d + "/second",
                     "if [ $(wc -l < " + d + "/second) -gt 1 ]; then echo again; exit 0; fi",
                     "setsid sh -c 'echo $$ > " + d + "/grandchild; exec sleep 300' &",
                     "echo $$ > " + d + "/main", "sleep 300"}}));
  }
  ASSERT_TRUE(wait_for_file(d + "/grandchild"));
  ASSERT_TRUE(wait_for_file(d + "/main"));
  pid_t grandchild = read_pid(d + "/grandchild");
  pid_t main_pid = read_pid(d + "/main");
  ASSERT_TRUE(agent->stop(SIGKILL, 10s));
  // Killed with the agent, before any restart: the task reaper sees the agent
  // go and kills the task's cgroup.
  for (int i = 0; i < 200 && (alive(grandchild) || alive(main_pid)); i++) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_FALSE(alive(grandchild)) << "a setsid grandchild outlived the agent";
  EXPECT_FALSE(alive(main_pid));
  auto again = AgentProcess::start(RUNNERD_BIN, kProcessConfig, agent->state_dir());
  ASSERT_TRUE(again);
  Client c(again->socket());
  EXPECT_EQ(test::wait_final(c, id), "SUCCESS");
  EXPECT_FALSE(alive(grandchild)) << "a setsid grandchild of the dead agent's task survived";
  EXPECT_FALSE(alive(main_pid));
  auto g = get(c, id);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->str("/result/taskRuns/0/state"), "SUCCESS");
  EXPECT_EQ(g->str("/result/taskRuns/1/state"), "RESUBMITTED");
  EXPECT_EQ(g->num("/result/taskRuns/1/attempt"), 1);
  EXPECT_EQ(g->str("/result/taskRuns/2/state"), "SUCCESS");
  EXPECT_EQ(g->num("/result/taskRuns/2/attempt"), 2);
  EXPECT_FALSE(g->has("/result/taskRuns/3"));
  EXPECT_EQ(lines_in(d + "/first"), 1) << "an ended task ran again";
  EXPECT_EQ(lines_in(d + "/second"), 2);
  auto lines = test::log_lines(c, id);
  bool said = false;
  for (const auto& l : lines) said = said || l.find("runs again as attempt 2") != std::string::npos;
  EXPECT_TRUE(said) << ::testing::PrintToString(lines);
}

// Executions waiting for a slot when the agent is killed run after the restart,
// in order, each once.
TEST(Restart, QueuedExecutionsRunAfterAKill) {
  std::string config = std::string(kProcessConfig) + "maxRunning: 1\n";
  auto agent = AgentProcess::start(RUNNERD_BIN, config);
  ASSERT_TRUE(agent);
  const std::string d = agent->dir();
  std::vector<std::string> ids;
  {
    Client c(agent->socket());
    for (int i = 0; i < 4; i++) {
      ids.push_back(test::submit_flow(
          c, flow_of({{"touch " + d + "/started" + std::to_string(i), "sleep 1",
                       "echo " + std::to_string(i) + " >> " + d + "/done"}})));
    }
  }
  ASSERT_TRUE(wait_for_file(d + "/started0"));
  ASSERT_TRUE(agent->stop(SIGKILL, 10s));
  auto again = AgentProcess::start(RUNNERD_BIN, config, agent->state_dir());
  ASSERT_TRUE(again);
  Client c(again->socket());
  for (const auto& id : ids) EXPECT_EQ(test::wait_final(c, id), "SUCCESS");
  std::ifstream in(d + "/done");
  std::vector<std::string> done;
  for (std::string l; std::getline(in, l);) done.push_back(l);
  EXPECT_EQ(done, (std::vector<std::string>{"0", "1", "2", "3"}));
}

// A cancel that was answered is durable: killed after the restart, never run
// again (Kestra #19722: a resubmitted task of a KILLED execution).
TEST(Restart, AnAnsweredCancelIsCarriedOutAfterAKill) {
  auto agent = AgentProcess::start(RUNNERD_BIN, std::string(kProcessConfig) + "killGracePeriod: PT30S\n");
  ASSERT_TRUE(agent);
  const std::string d = agent->dir();
  std::string id;
  {
    Client c(agent->socket());
    // The task ignores SIGTERM: the agent is killed while the cancel waits.
    id = test::submit_flow(c, flow_of({{"trap '' TERM", "echo x >> " + d + "/runs", "sleep 300"}}));
    ASSERT_TRUE(wait_for_file(d + "/runs"));
    auto r = c.call("{\"op\":\"cancel\",\"executionId\":\"" + id + "\"}");
    ASSERT_TRUE(r && r->truth("/ok"));
  }
  ASSERT_TRUE(agent->stop(SIGKILL, 10s));
  auto again = AgentProcess::start(RUNNERD_BIN, kProcessConfig, agent->state_dir());
  ASSERT_TRUE(again);
  Client c(again->socket());
  EXPECT_EQ(test::wait_final(c, id), "KILLED");
  auto g = get(c, id);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->str("/result/taskRuns/0/state"), "KILLED");
  EXPECT_FALSE(g->has("/result/taskRuns/1"));
  EXPECT_EQ(lines_in(d + "/runs"), 1);
}

// A submission retried with its executionId (its answer was lost, the agent
// restarted) gets the execution already accepted: it runs once.
TEST(Restart, ASubmissionRetriedWithItsIdRunsOnce) {
  auto agent = AgentProcess::start(RUNNERD_BIN, kProcessConfig);
  ASSERT_TRUE(agent);
  const std::string d = agent->dir();
  std::string req = "{\"op\":\"submit\",\"executionId\":\"ledger-42\",\"flow\":" +
                    flow_of({{"echo x >> " + d + "/runs", "sleep 1"}}) + "}";
  {
    Client c(agent->socket());
    auto first = c.call(req);
    ASSERT_TRUE(first && first->truth("/ok")) << (first ? first->text : "");
    EXPECT_EQ(first->str("/result/executionId"), "ledger-42");
    auto second = c.call(req);
    ASSERT_TRUE(second && second->truth("/ok"));
    EXPECT_TRUE(second->truth("/result/existing"));
  }
  ASSERT_TRUE(wait_for_file(d + "/runs"));
  ASSERT_TRUE(agent->stop(SIGKILL, 10s));
  auto again = AgentProcess::start(RUNNERD_BIN, kProcessConfig, agent->state_dir());
  ASSERT_TRUE(again);
  Client c(again->socket());
  auto third = c.call(req);
  ASSERT_TRUE(third && third->truth("/ok"));
  EXPECT_TRUE(third->truth("/result/existing"));
  EXPECT_EQ(test::wait_final(c, "ledger-42"), "SUCCESS");
  // Once before the kill (resubmitted), once after it: never a second execution.
  auto list = c.call(R"({"op":"list"})");
  ASSERT_TRUE(list);
  EXPECT_FALSE(list->has("/result/executions/1")) << list->text;
  auto bad = c.call("{\"op\":\"submit\",\"executionId\":\"../x\",\"flow\":" + flow_of({{"true"}}) + "}");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->str("/error/path"), "executionId");
}

TEST(Restart, AStateDirectoryTakesOneAgent) {
  auto first = AgentProcess::start(RUNNERD_BIN, kProcessConfig);
  ASSERT_TRUE(first);
  test::TempDir other;
  std::string cmd = std::string(RUNNERD_BIN) + " --socket " + other.path() + "/s.sock --state-dir " +
                    first->state_dir() + " 2>&1";
  auto [status, out] = test::run_command(cmd);
  EXPECT_EQ(status, 1) << out;
  EXPECT_NE(out.find("is locked by pid " + std::to_string(first->pid())), std::string::npos) << out;
}

// A state database that is not one (random bytes over it) is moved aside; the
// agent starts empty and says so. A single unreadable record is left out.
TEST(Restart, AnUnusableStateDatabaseIsMovedAsideAndOneBadRecordLeftOut) {
  std::string state_dir, id;
  test::TempDir keep;
  {
    auto agent = AgentProcess::start(RUNNERD_BIN, kProcessConfig);
    ASSERT_TRUE(agent);
    Client c(agent->socket());
    id = test::submit_flow(c, flow_of({{"echo hi"}}));
    EXPECT_EQ(test::wait_final(c, id), "SUCCESS");
    test::submit_flow(c, flow_of({{"echo other"}}));
    ASSERT_TRUE(agent->stop(SIGTERM, 20s));
    state_dir = keep.path() + "/state";
    ASSERT_EQ(std::system(("cp -a " + agent->state_dir() + " " + state_dir).c_str()), 0);
  }
  // One record damaged in place.
  std::string sql = "sqlite3 " + state_dir + "/state.db \"UPDATE executions SET record = '{not json' WHERE id = '" +
                    id + "'\"";
  ASSERT_EQ(std::system(sql.c_str()), 0);
  {
    auto agent = AgentProcess::start(RUNNERD_BIN, kProcessConfig, state_dir);
    ASSERT_TRUE(agent);
    Client c(agent->socket());
    auto list = c.call(R"({"op":"list"})");
    ASSERT_TRUE(list);
    EXPECT_TRUE(list->has("/result/executions/0"));
    EXPECT_FALSE(list->has("/result/executions/1")) << list->text;
    ASSERT_TRUE(agent->stop(SIGTERM, 20s));
    EXPECT_NE(agent->log().find("execution " + id + " is unreadable and left out"), std::string::npos)
        << agent->log();
  }
  // The whole file overwritten.
  ASSERT_EQ(std::system(("head -c 65536 /dev/urandom > " + state_dir + "/state.db; rm -f " +
                         state_dir + "/state.db-wal " + state_dir + "/state.db-shm")
                            .c_str()),
            0);
  auto agent = AgentProcess::start(RUNNERD_BIN, kProcessConfig, state_dir);
  ASSERT_TRUE(agent);
  Client c(agent->socket());
  std::string id2 = test::submit_flow(c, flow_of({{"echo fresh"}}));
  EXPECT_EQ(test::wait_final(c, id2), "SUCCESS");
  ASSERT_TRUE(agent->stop(SIGTERM, 20s));
  EXPECT_NE(agent->log().find("is unusable"), std::string::npos) << agent->log();
  auto [st, out] = test::run_command("ls " + state_dir + " | grep -c 'state.db.corrupt-'");
  EXPECT_EQ(out.substr(0, 1), "1") << out;
}

// A state database of the earlier version, keyed by id, is keyed by row at
// the next start: what it held is served, the task that ran at a kill is
// taken up in its own row, and each execution and task run keeps one row.
TEST(Restart, AStateDatabaseKeyedByIdIsKeyedByRowAndTakenUp) {
  test::TempDir keep;
  const std::string state_dir = keep.path() + "/state";
  std::string done, cut;
  {
    auto agent = AgentProcess::start(RUNNERD_BIN, kProcessConfig);
    ASSERT_TRUE(agent);
    const std::string up = keep.path() + "/up";  // the second attempt ends at once
    Client c(agent->socket());
    done = test::submit_flow(c, flow_of({{"echo hi"}}));
    EXPECT_EQ(test::wait_final(c, done), "SUCCESS");
    cut = test::submit_flow(
        c, flow_of({{"echo once"}, {"if [ -e " + up + " ]; then exit 0; fi", "touch " + up, "sleep 300"}}));
    ASSERT_TRUE(wait_for_file(up));
    ASSERT_TRUE(agent->stop(SIGKILL, 10s));
    ASSERT_EQ(std::system(("cp -a " + agent->state_dir() + " " + state_dir).c_str()), 0);
  }
  // The tables as the earlier version made them.
  const std::string db = state_dir + "/state.db";
  std::string sql =
      "sqlite3 " + db + " \"BEGIN;"
      "CREATE TABLE e(id TEXT PRIMARY KEY, ord INTEGER NOT NULL, final INTEGER NOT NULL DEFAULT 0,"
      " record TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '');"
      "INSERT INTO e SELECT id, ord, final, record, source FROM executions;"
      "DROP TABLE executions; ALTER TABLE e RENAME TO executions;"
      "CREATE TABLE r(id TEXT PRIMARY KEY, execution_id TEXT NOT NULL, ord INTEGER NOT NULL,"
      " record TEXT NOT NULL);"
      "INSERT INTO r SELECT id, execution_id, ord, record FROM task_runs;"
      "DROP TABLE task_runs; ALTER TABLE r RENAME TO task_runs; COMMIT;\"";
  ASSERT_EQ(std::system(sql.c_str()), 0);
  {
    auto agent = AgentProcess::start(RUNNERD_BIN, kProcessConfig, state_dir);
    ASSERT_TRUE(agent);
    Client c(agent->socket());
    EXPECT_EQ(test::wait_final(c, cut), "SUCCESS");
    auto g = get(c, done);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->str("/result/state"), "SUCCESS");
    g = get(c, cut);
    ASSERT_TRUE(g);
    EXPECT_EQ(g->str("/result/taskRuns/0/state"), "SUCCESS");
    EXPECT_EQ(g->str("/result/taskRuns/1/state"), "RESUBMITTED");
    EXPECT_EQ(g->str("/result/taskRuns/2/state"), "SUCCESS");
    ASSERT_TRUE(agent->stop(SIGTERM, 20s));
  }
  auto [st, out] = test::run_command(
      "sqlite3 " + db +
      " \"SELECT count(*), count(DISTINCT id) FROM executions;"
      " SELECT count(*), count(DISTINCT id) FROM task_runs;"
      " SELECT sql LIKE '%ord INTEGER PRIMARY KEY%' FROM sqlite_master WHERE name = 'executions';\"");
  EXPECT_EQ(out, "2|2\n4|4\n1\n");
}

// 10,000 ended executions in the state database: the socket serves, and all
// of them are listed. The time to serve is printed (make bench has the figure).
TEST(Restart, TenThousandRecordedExecutionsLoad) {
  test::TempDir dir;
  std::string state_dir = dir.path() + "/state";
  ASSERT_EQ(mkdir(state_dir.c_str(), 0750), 0);
  {
    uv_loop_t loop;
    uv_loop_init(&loop);
    agent::state::StateDb db(&loop);
    std::vector<std::string> warnings;
    ASSERT_TRUE(db.open(state_dir + "/state.db", warnings).ok());
    ASSERT_TRUE(db.start().ok());
    uint64_t last = 0;
    for (int i = 0; i < 10000; i++) {
      std::string id = "e" + std::to_string(i);
      std::string run = "r" + std::to_string(i);
      uint64_t exec_row = 0, run_row = 0;
      db.put_submission(exec_row, id, R"({"definition":null})", "{}");
      db.put_run(run_row, run, id,
                 R"({"id":")" + run + R"(","taskId":"t","type":"io.kestra.plugin.scripts.shell.Commands","runner":"io.kestra.plugin.core.runner.Process","attempt":1,"state":"SUCCESS","exitCode":0,"createdAt":"2026-11-24T00:00:00.000Z","logLines":0,"vars":{"i":)" +
                     std::to_string(i) + "}}");
      last = db.put_execution(exec_row, id, true,
                              R"({"id":")" + id + R"(","namespace":"test","flowId":"t","state":"SUCCESS","tasks":1,"createdAt":"2026-11-24T00:00:00.000Z"})");
    }
    bool stored = false;
    db.when_stored(last, [&](agent::Status st) { stored = st.ok(); });
    while (!stored) uv_run(&loop, UV_RUN_ONCE);
    bool closed = false;
    db.close([&] { closed = true; });
    while (!closed) uv_run(&loop, UV_RUN_ONCE);
    ASSERT_EQ(uv_loop_close(&loop), 0);
  }
  auto t0 = std::chrono::steady_clock::now();
  auto agent = AgentProcess::start(RUNNERD_BIN, kProcessConfig, state_dir);
  ASSERT_TRUE(agent);
  Client c(agent->socket());
  auto stats = c.call(R"({"op":"stats"})");
  ASSERT_TRUE(stats);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  std::printf("restart with 10,000 recorded executions: first answer after %lld ms\n",
              static_cast<long long>(ms.count()));
  EXPECT_EQ(stats->num("/result/executions/SUCCESS"), 10000) << stats->text;
  auto g = get(c, "e9999");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->str("/result/taskRuns/0/state"), "SUCCESS");
}

size_t containers_of(const std::string& id) {
  auto list = test::containers_with_label("kestra.io/execution-id", id);
  simdjson::dom::array arr;
  if (!list || list->root.get_array().get(arr) != simdjson::SUCCESS) return 999;
  return arr.size();
}

// A container task is followed again after the agent is killed: the same
// container (never a second), its real exit code, and each log line once,
// whether the container still ran at the restart or exited meanwhile.
class RestartDocker : public ::testing::TestWithParam<bool> {};

TEST_P(RestartDocker, AContainerTaskIsFollowedAgainWithEachLineOnceAndItsExitCode) {
  const bool exits_while_down = GetParam();
  auto missing = test::engine_missing();
  ASSERT_FALSE(missing) << *missing;
  auto agent = AgentProcess::start(RUNNERD_BIN, test::docker_agent_config());
  ASSERT_TRUE(agent);
  std::string id;
  {
    Client c(agent->socket());
    id = test::submit_flow(
        c, "{\"id\":\"t\",\"namespace\":\"test\",\"tasks\":[{\"id\":\"c\",\"type\":"
           "\"io.kestra.plugin.scripts.shell.Commands\",\"containerImage\":\"busybox\","
           "\"commands\":[\"echo one\",\"sleep 3\",\"echo two\",\"exit 7\"]}]}");
    for (int i = 0; i < 2000 && containers_of(id) != 1; i++) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(containers_of(id), 1u);
    std::this_thread::sleep_for(500ms);  // "one" is written
  }
  ASSERT_TRUE(agent->stop(SIGKILL, 10s));
  if (exits_while_down) std::this_thread::sleep_for(4s);
  EXPECT_EQ(containers_of(id), 1u) << "the container must outlive the agent";
  auto again = AgentProcess::start(RUNNERD_BIN, test::docker_agent_config(), agent->state_dir());
  ASSERT_TRUE(again);
  Client c(again->socket());
  EXPECT_EQ(test::wait_final(c, id), "FAILED");
  auto g = get(c, id);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->num("/result/taskRuns/0/exitCode"), 7) << g->text;
  EXPECT_EQ(g->num("/result/taskRuns/0/attempt"), 1);
  EXPECT_FALSE(g->has("/result/taskRuns/1"));
  auto lines = test::log_lines(c, id);
  int ones = 0, twos = 0;
  for (const auto& l : lines) {
    ones += l == "INFO one";
    twos += l == "INFO two";
  }
  EXPECT_EQ(ones, 1) << ::testing::PrintToString(lines);
  EXPECT_EQ(twos, 1) << ::testing::PrintToString(lines);
  EXPECT_EQ(containers_of(id), 0u);
  test::remove_containers_with_label("kestra.io/execution-id", id);
}

INSTANTIATE_TEST_SUITE_P(Restart, RestartDocker, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "ExitedWhileDown" : "StillRunning"; });

}  // namespace
