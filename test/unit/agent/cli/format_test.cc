#include "agent/cli/format.h"

#include <gtest/gtest.h>

#include "agent/cli/exit_codes.h"
#include "agent/common/time.h"

namespace agent::cli {
namespace {

class CliFormatTest : public ::testing::Test {
 protected:
  json::Element parse(const std::string& text) {
    json::Element e;
    EXPECT_EQ(parser_.parse(text).get(e), simdjson::SUCCESS) << text;
    return e;
  }
  static int64_t at(std::string_view iso) {
    int64_t ms = 0;
    EXPECT_TRUE(parse_iso8601(iso, ms)) << iso;
    return ms;
  }
  simdjson::dom::parser parser_;
};

constexpr const char* kExecution = R"({
  "id": "4kd9aa", "namespace": "dev", "flowId": "hello", "state": "FAILED",
  "createdAt": "2026-11-23T21:30:00.000Z", "startedAt": "2026-11-23T21:30:00.100Z",
  "endedAt": "2026-11-23T21:30:01.300Z", "durationMs": 1200, "tasks": 2,
  "error": "task py failed",
  "submittedBy": {"uid": 1000, "pid": 4242},
  "taskRuns": [
    {"id": "tr1", "taskId": "hello", "type": "io.kestra.plugin.scripts.shell.Commands",
     "runner": "io.kestra.plugin.core.runner.Process", "attempt": 1, "state": "SUCCESS",
     "exitCode": 0, "pid": 4250, "durationMs": 3, "logLines": 2},
    {"id": "tr2", "taskId": "py", "type": "io.kestra.plugin.scripts.python.Script",
     "runner": "io.kestra.plugin.core.runner.Process", "attempt": 1, "state": "FAILED",
     "exitCode": 1, "pid": 4251, "durationMs": 1100, "logLines": 5,
     "error": "exited with code 1"}]})";

TEST_F(CliFormatTest, LogLine) {
  EXPECT_EQ(format_log_line("2026-11-23T21:30:00.123Z", "INFO", "hello", "hi there"),
            "2026-11-23T21:30:00.123Z INFO  [hello] hi there\n");
  EXPECT_EQ(format_log_line("T", "ERROR", "t", "boom\n"), "T ERROR [t] boom\n");
  EXPECT_EQ(format_log_line("T", "WARN", "t", ""), "T WARN  [t] \n");
}

TEST_F(CliFormatTest, LogEvent) {
  json::Element e = parse(R"({"id":6,"event":"logs","taskRunId":"tr1","taskId":"hello","lines":[
      {"seq":0,"ts":"2026-11-23T21:30:00.123Z","level":"INFO","message":"hello"},
      {"seq":1,"ts":"2026-11-23T21:30:00.124Z","level":"ERROR","message":"oops"}]})");
  EXPECT_EQ(format_log_event(e),
            "2026-11-23T21:30:00.123Z INFO  [hello] hello\n"
            "2026-11-23T21:30:00.124Z ERROR [hello] oops\n");
}

TEST_F(CliFormatTest, Table) {
  EXPECT_EQ(format_table({{"A", "BB", "C"}, {"aaa", "b", ""}, {"x", "yyyy", "z"}}),
            (std::vector<std::string>{"A    BB    C", "aaa  b", "x    yyyy  z"}));
  EXPECT_TRUE(format_table({}).empty());
}

TEST_F(CliFormatTest, SmallPieces) {
  EXPECT_EQ(runner_short_name("io.kestra.plugin.core.runner.Process"), "Process");
  EXPECT_EQ(runner_short_name("Docker"), "Docker");
  EXPECT_EQ(runner_short_name(""), "-");
  int64_t now = at("2026-11-23T21:31:00.000Z");
  EXPECT_EQ(time_ago("2026-11-23T21:30:00.000Z", now), "1m0s ago");
  EXPECT_EQ(time_ago("garbage", now), "garbage");
  EXPECT_EQ(run_duration(parse(R"({"durationMs":1500})"), now), "1.5s");
  EXPECT_EQ(
      run_duration(parse(R"({"state":"RUNNING","startedAt":"2026-11-23T21:30:58.000Z"})"), now),
      "2.0s");
  EXPECT_EQ(run_duration(parse(R"({"state":"CREATED"})"), now), "-");
  EXPECT_EQ(human_bytes(512), "512 B");
  EXPECT_EQ(human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(human_bytes(3 * 1024 * 1024), "3.0 MiB");
}

TEST_F(CliFormatTest, ExitCodes) {
  EXPECT_EQ(exit_code_for_state("SUCCESS"), 0);
  EXPECT_EQ(exit_code_for_state("WARNING"), 0);
  EXPECT_EQ(exit_code_for_state("FAILED"), 1);
  EXPECT_EQ(exit_code_for_state("KILLED"), 2);
  EXPECT_EQ(exit_code_for_state("RUNNING"), 3);
}

TEST_F(CliFormatTest, Ps) {
  std::string list = std::string(R"({"executions":[)") + kExecution + R"(,
      {"id":"77ab","namespace":"prod.etl","flowId":"load","state":"RUNNING","tasks":3,
       "createdAt":"2026-11-23T21:30:50.000Z","startedAt":"2026-11-23T21:30:55.000Z",
       "taskRuns":[{"id":"t3","taskId":"extract",
                    "runner":"io.kestra.plugin.scripts.runner.docker.Docker","attempt":2,
                    "state":"RUNNING","startedAt":"2026-11-23T21:30:55.000Z"},
                   {"id":"t4","taskId":"load","state":"CREATED"}]}]})";
  json::Element e = parse(list);
  int64_t now = at("2026-11-23T21:31:00.000Z");
  EXPECT_EQ(format_ps(e, false, now),
            "EXECUTION  FLOW           STATE    TASKS  RUNNER   DURATION  CREATED\n"
            "4kd9aa     dev.hello      FAILED   2/2    Process  1.2s      1m0s ago\n"
            "77ab       prod.etl.load  RUNNING  0/3    Docker   5.0s      10.0s ago\n");
  EXPECT_EQ(format_ps(e, true, now),
            "EXECUTION  FLOW           STATE    TASKS  RUNNER   DURATION  CREATED\n"
            "4kd9aa     dev.hello      FAILED   2/2    Process  1.2s      1m0s ago\n"
            "  hello    SUCCESS  attempt 1  Process  exit 0  3ms\n"
            "  py       FAILED   attempt 1  Process  exit 1  1.1s\n"
            "77ab       prod.etl.load  RUNNING  0/3    Docker   5.0s      10.0s ago\n"
            "  extract  RUNNING  attempt 2  Docker   -       5.0s\n"
            "  load     CREATED  attempt 1  -        -       -\n");
  EXPECT_EQ(format_ps(parse(R"({"executions":[]})"), true, now),
            "EXECUTION  FLOW  STATE  TASKS  RUNNER  DURATION  CREATED\n");
}

TEST_F(CliFormatTest, Summary) {
  EXPECT_EQ(format_summary(parse(kExecution), 0),
            "execution 4kd9aa FAILED in 1.2s\n"
            "  error: task py failed\n"
            "  hello  SUCCESS  exit 0  3ms\n"
            "  py     FAILED   exit 1  1.1s  error: exited with code 1\n");
}

TEST_F(CliFormatTest, Execution) {
  EXPECT_EQ(format_execution(parse(kExecution), 0),
            "execution     4kd9aa\n"
            "flow          dev.hello\n"
            "state         FAILED\n"
            "created       2026-11-23T21:30:00.000Z\n"
            "started       2026-11-23T21:30:00.100Z\n"
            "ended         2026-11-23T21:30:01.300Z\n"
            "duration      1.2s\n"
            "tasks         2\n"
            "error         task py failed\n"
            "submitted by  uid 1000, pid 4242\n"
            "\n"
            "TASK   STATE    ATTEMPT  RUNNER   EXIT  PID   DURATION  LOG  TASKRUN\n"
            "hello  SUCCESS  1        Process  0     4250  3ms       2    tr1\n"
            "py     FAILED   1        Process  1     4251  1.1s      5    tr2\n"
            "\n"
            "error in py: exited with code 1\n");
}

TEST_F(CliFormatTest, Outputs) {
  json::Element e = parse(R"({"executionId":"4kd9","state":"SUCCESS","taskRuns":[
      {"taskId":"hello","taskRunId":"tr1","attempt":1,"state":"SUCCESS","exitCode":0,
       "vars":{"greeting":"hello","n":3,"deep":{"a":[1,true,null]}},
       "metrics":[{"name":"rows","type":"counter","value":3,"tags":{"table":"users","shard":2}},
                  {"name":"took","type":"timer","value":1.5,"tags":{}}],
       "outputFiles":{"report.csv":"file:///var/lib/runnerd/x/report.csv"}},
      {"taskId":"quiet","taskRunId":"tr2","attempt":2,"state":"FAILED","exitCode":1,
       "vars":{},"metrics":[],"outputFiles":{}}]})");
  EXPECT_EQ(format_outputs(e),
            "execution 4kd9 SUCCESS\n"
            "\n"
            "hello (SUCCESS, exit 0)\n"
            "  vars:\n"
            "    greeting = \"hello\"\n"
            "    n = 3\n"
            "    deep = {\"a\":[1,true,null]}\n"
            "  metrics:\n"
            "    rows{table=users,shard=2} counter 3\n"
            "    took timer 1.5\n"
            "  output files:\n"
            "    report.csv -> file:///var/lib/runnerd/x/report.csv\n"
            "\n"
            "quiet (FAILED, exit 1, attempt 2)\n"
            "  (no outputs)\n");
}

TEST_F(CliFormatTest, StatsAndHello) {
  EXPECT_EQ(format_stats(parse(R"({"uptimeMs":61000,"clients":2,
      "executions":{"CREATED":0,"RUNNING":1},"logBytesIn":2048,"version":"0.1.0"})")),
            "uptimeMs    1m1s\n"
            "clients     2\n"
            "executions  CREATED=0 RUNNING=1\n"
            "logBytesIn  2.0 KiB\n"
            "version     0.1.0\n");
  EXPECT_EQ(format_hello(parse(
                R"({"version":1,"agent":"runnerd","agentVersion":"0.1.0","pid":1234,"ops":[]})")),
            "runnerctl " RUNNERD_VERSION "\nrunnerd 0.1.0 (pid 1234)\nprotocol version 1\n");
}

}  // namespace
}  // namespace agent::cli
