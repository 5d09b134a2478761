// Kestra flows through the real runnerd: task order, the errors branch,
// WorkingDirectory, Log and Return, templates across tasks, inputs, retries,
// allowFailure, disabled tasks, files in and out, secrets, plugin defaults
// and legacy forms.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include <gtest/gtest.h>

#include "agent/common/base64.h"
#include "agent/yaml/yaml_to_json.h"
#include "test/helpers/agent_harness.h"
#include "test/helpers/flow_test.h"

namespace {

using test::Client;

// Every script task defaults to the Process runner, through the agent's
// global pluginDefaults (the issue's example for hosts without Docker).
constexpr const char* kConfig = R"Y(killGracePeriod: PT2S
pluginDefaults:
  - type: io.kestra.plugin.scripts
    values:
      taskRunner:
        type: io.kestra.plugin.core.runner.Process
)Y";

class Flows : public test::FlowTest {
 protected:
  Flows() : FlowTest(kConfig) {}
};

TEST_F(Flows, OutputsOfOneTaskAreTemplatesOfTheNext) {
  std::string id;
  EXPECT_EQ(run(R"Y(
id: chain
namespace: dev.flows
variables:
  greeting: hello
tasks:
  - id: first
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo '::{"outputs":{"n":41,"who":"world"}}::'
  - id: second
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "{{ vars.greeting | upper }} {{ outputs.first.vars.who }} {{ outputs.first.vars.n + 1 }} {{ outputs.first.exitCode }}"
      - echo "{{ flow.namespace }}/{{ flow.id }} {{ task.id }} {{ taskrun.attemptsCount }}"
  - id: back
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.first.vars.who }}!"
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "returned {{ outputs.back.value }}"
)Y",
                &id),
            "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  EXPECT_TRUE(contains(lines, "INFO HELLO world 42 0")) << ::testing::PrintToString(lines);
  EXPECT_TRUE(contains(lines, "INFO dev.flows/chain second 0"));
  EXPECT_TRUE(contains(lines, "INFO returned world!"));
  auto o = outputs(id);
  EXPECT_EQ(o.str("/result/taskRuns/2/outputs/value"), "world!");
}

// Tasks that end at once (Return, Log) loop in the walk instead of recursing,
// and each sees every earlier output: thousands of them must neither exhaust
// the agent's stack nor grow quadratically slow (no timing asserted here).
TEST_F(Flows, AFlowOfThousandsOfInAgentTasks) {
  std::string yaml = "id: many\nnamespace: dev\ntasks:\n";
  for (int i = 0; i < 5000; i++) {
    yaml += "  - id: r" + std::to_string(i) + "\n    type: io.kestra.plugin.core.debug.Return\n";
    yaml += i == 0 ? "    format: \"0\"\n"
                   : "    format: \"{{ outputs.r" + std::to_string(i - 1) + ".value | number + 1 }}\"\n";
  }
  std::string id;
  EXPECT_EQ(run(yaml, &id), "SUCCESS");
  auto o = outputs(id);
  EXPECT_EQ(o.str("/result/taskRuns/4999/outputs/value"), "4999");
}

// The walk goes on from a run's end before its record is stored (the next
// run's record comes after it anyway), but a watcher still sees each run end
// before the next one is created, and the execution's end last.
TEST_F(Flows, AWatcherSeesEachRunEndBeforeTheNextOneBegins) {
  std::string gate = agent_->dir() + "/gate";
  std::string flow = json(R"Y(
id: order
namespace: dev
tasks:
  - id: first
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - while [ ! -e )Y" + gate + R"Y( ]; do sleep 0.01; done
  - id: back
    type: io.kestra.plugin.core.debug.Return
    format: done
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: logged
  - id: last
    type: io.kestra.plugin.scripts.shell.Commands
    commands: [echo last]
)Y");
  std::string id = test::submit_flow(*client_, flow);
  auto w = client_->call("{\"op\":\"watch\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(w && w->truth("/ok")) << (w ? w->text : "no answer");
  std::ofstream(gate) << "go";
  auto events = client_->read_stream(w->num("/id"));
  std::vector<std::string> seen;  // "taskId STATE", or "STATE" for the execution
  for (const auto& e : events) {
    if (e.str("/event") != "state") continue;
    seen.push_back(e.has("/taskId") ? e.str("/taskId") + " " + e.str("/state") : e.str("/state"));
  }
  auto at = [&](const std::string& s) {
    auto it = std::find(seen.begin(), seen.end(), s);
    return it == seen.end() ? -1 : static_cast<int>(it - seen.begin());
  };
  SCOPED_TRACE(::testing::PrintToString(seen));
  ASSERT_GE(at("first SUCCESS"), 0);
  EXPECT_LT(at("first SUCCESS"), at("back CREATED"));
  EXPECT_LT(at("back CREATED"), at("back SUCCESS"));
  EXPECT_LT(at("back SUCCESS"), at("log CREATED"));
  EXPECT_LT(at("log CREATED"), at("log SUCCESS"));
  EXPECT_LT(at("log SUCCESS"), at("last CREATED"));
  EXPECT_LT(at("last CREATED"), at("last RUNNING"));
  EXPECT_LT(at("last RUNNING"), at("last SUCCESS"));
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back(), "SUCCESS");
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "SUCCESS"), 1);
  for (const char* task : {"first", "back", "log", "last"}) {
    EXPECT_EQ(std::count(seen.begin(), seen.end(), std::string(task) + " SUCCESS"), 1) << task;
  }
}

TEST_F(Flows, AnUndefinedVariableFailsTheTaskNamingIt) {
  std::string id;
  EXPECT_EQ(run(R"Y(
id: undefined
namespace: dev
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo {{ outputs.nope.vars.x }}
)Y",
                &id),
            "FAILED");
  auto g = get(id);
  EXPECT_NE(g.str("/result/taskRuns/0/error").find("nope"), std::string::npos)
      << g.text;
}

TEST_F(Flows, AFailureSkipsTheRestAndRunsTheErrorsBranch) {
  std::string id;
  EXPECT_EQ(run(R"Y(
id: errors
namespace: dev
tasks:
  - id: ok
    type: io.kestra.plugin.scripts.shell.Commands
    commands: [echo one]
  - id: boom
    type: io.kestra.plugin.scripts.shell.Commands
    commands: [exit 3]
  - id: never
    type: io.kestra.plugin.scripts.shell.Commands
    commands: [echo never]
errors:
  - id: handler
    type: io.kestra.plugin.core.log.Log
    message: "handling {{ outputs.boom.exitCode }}"
)Y",
                &id),
            "FAILED");
  auto g = get(id);
  EXPECT_EQ(g.str("/result/taskRuns/0/taskId"), "ok");
  EXPECT_EQ(g.str("/result/taskRuns/1/taskId"), "boom");
  EXPECT_EQ(g.str("/result/taskRuns/2/taskId"), "handler");
  EXPECT_FALSE(g.has("/result/taskRuns/3"));
  EXPECT_TRUE(contains(test::log_lines(*client_, id), "INFO handling 3"));
}

TEST_F(Flows, AllowFailureWarnsAndDisabledTasksDoNotRun) {
  std::string id;
  EXPECT_EQ(run(R"Y(
id: allow
namespace: dev
tasks:
  - id: soft
    type: io.kestra.plugin.scripts.shell.Commands
    allowFailure: true
    commands: [exit 1]
  - id: off
    type: io.kestra.plugin.scripts.shell.Commands
    disabled: true
    commands: [exit 1]
  - id: after
    type: io.kestra.plugin.scripts.shell.Commands
    commands: [echo after]
)Y",
                &id),
            "WARNING");
  auto g = get(id);
  EXPECT_EQ(g.str("/result/taskRuns/0/state"), "FAILED");
  EXPECT_EQ(g.str("/result/taskRuns/1/taskId"), "after");
  EXPECT_FALSE(g.has("/result/taskRuns/2"));
}

// Kestra's documented retry example: succeeds on the 5th attempt.
TEST_F(Flows, RetriesAreNewAttemptsCountedByAttemptsCount) {
  std::string id;
  EXPECT_EQ(run(R"Y(
id: retry
namespace: company.team
tasks:
- id: failed
  type: io.kestra.plugin.scripts.shell.Commands
  taskRunner:
    type: io.kestra.plugin.core.runner.Process
  commands:
  - 'if [ "{{taskrun.attemptsCount}}" -eq 4 ]; then exit 0; else exit 1; fi'
  retry:
    type: constant
    interval: PT0.25S
    maxAttempts: 5
    maxDuration: PT1M
    warningOnRetry: true
errors:
  - id: never_happen
    type: io.kestra.plugin.core.debug.Return
    format: Never happened {{task.id}}
)Y",
                &id),
            "WARNING");
  auto g = get(id);
  for (int i = 0; i < 5; i++) {
    std::string p = "/result/taskRuns/" + std::to_string(i);
    EXPECT_EQ(g.str(p + "/taskId"), "failed");
    EXPECT_EQ(g.num(p + "/attempt"), i + 1);
    EXPECT_EQ(g.str(p + "/state"), i < 4 ? "FAILED" : "WARNING");
  }
  EXPECT_FALSE(g.has("/result/taskRuns/5"));  // the errors branch did not run
}

TEST_F(Flows, RetriesStopAtMaxAttempts) {
  std::string id;
  EXPECT_EQ(run(R"Y(
id: retry_out
namespace: dev
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    commands: [exit 2]
    retry: {type: exponential, interval: PT0.01S, maxInterval: PT0.05S, maxAttempt: 3}
)Y",
                &id),
            "FAILED");
  auto g = get(id);
  EXPECT_EQ(g.num("/result/taskRuns/2/attempt"), 3);
  EXPECT_FALSE(g.has("/result/taskRuns/3"));
}

TEST_F(Flows, WorkingDirectoryTasksShareOneDirectory) {
  std::string id;
  EXPECT_EQ(run(R"Y(
id: wd
namespace: dev
tasks:
  - id: wdir
    type: io.kestra.core.tasks.flows.WorkingDirectory
    tasks:
      - id: write
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo shared > file.txt
          - echo "::{\"outputs\":{\"dir\":\"$PWD\"}}::"
      - id: read
        type: io.kestra.plugin.scripts.python.Script
        outputFiles: ["*.txt"]
        script: |
          import os
          print(open("file.txt").read().strip(), os.getcwd() == "{{ outputs.write.vars.dir }}")
  - id: after
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - test ! -e file.txt
)Y",
                &id),
            "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  EXPECT_TRUE(contains(lines, "INFO shared True")) << ::testing::PrintToString(lines);
  // The legacy type name is accepted with one deprecation warning.
  EXPECT_TRUE(contains(lines, "WARN task type 'io.kestra.core.tasks.flows.WorkingDirectory' is "
                              "deprecated; use 'io.kestra.plugin.core.flow.WorkingDirectory'"));
  auto g = get(id);
  std::string wd_run = g.str("/result/taskRuns/0/id");
  EXPECT_EQ(g.str("/result/taskRuns/1/parentId"), wd_run);
  EXPECT_EQ(g.str("/result/taskRuns/2/parentId"), wd_run);
  auto o = outputs(id);
  EXPECT_EQ(read_file(o.str("/result/taskRuns/2/outputFiles/file.txt")), "shared\n");
}

TEST_F(Flows, InputFilesOutputFilesAndTheOutputDirectory) {
  std::string id;
  EXPECT_EQ(run(R"Y(
id: files
namespace: dev
tasks:
  - id: produce
    type: io.kestra.plugin.scripts.shell.Commands
    outputDirectory: true
    inputFiles:
      data.txt: "hello {{ flow.id }}"
      sub/inner.txt: inner
    outputFiles:
      - "**.csv"
      - out.txt
    commands:
      - cat data.txt sub/inner.txt > out.txt
      - mkdir -p a b && echo 1 > a/x.csv && echo 2 > b/x.csv
      - echo dir > "$OUTPUT_DIR/report.txt"
      - test "{{ outputFiles['out.txt'] }}" = "$WORKING_DIR/out.txt"
  - id: consume
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "$(cat {{ outputs.produce.outputFiles['out.txt'] }})"
      - cat {{ outputs.produce.outputFiles['report.txt'] }}
)Y",
                &id),
            "SUCCESS");
  auto o = outputs(id);
  EXPECT_EQ(read_file(o.str("/result/taskRuns/0/outputFiles/out.txt")), "hello filesinner");
  EXPECT_EQ(read_file(o.str("/result/taskRuns/0/outputFiles/a~1x.csv")), "1\n");
  EXPECT_EQ(read_file(o.str("/result/taskRuns/0/outputFiles/b~1x.csv")), "2\n");
  EXPECT_EQ(read_file(o.str("/result/taskRuns/0/outputFiles/report.txt")), "dir\n");
  auto lines = test::log_lines(*client_, id);
  EXPECT_TRUE(contains(lines, "INFO hello filesinner"));
  EXPECT_TRUE(contains(lines, "INFO dir"));
}

TEST_F(Flows, NamespaceFilesAndReadComeFromTheStateDirectory) {
  std::string ns = agent_->state_dir() + "/namespaces/dev.team";
  ASSERT_EQ(test::run_command("mkdir -p " + ns + "/scripts && echo 'print(\"from ns\")' > " + ns +
                              "/scripts/main.py && echo tmp > " + ns + "/scripts/skip.tmp && "
                              "printf 'GREETING' > " + ns + "/word.txt").status, 0);
  std::string id;
  EXPECT_EQ(run(R"Y(
id: nsfiles
namespace: dev.team
tasks:
  - id: t
    type: io.kestra.plugin.scripts.python.Commands
    namespaceFiles:
      enabled: true
      exclude: ["**.tmp"]
    inputFiles:
      copy.py: "nsfile:///scripts/main.py"
    commands:
      - python scripts/main.py
      - python copy.py
      - test ! -e scripts/skip.tmp
      - echo "{{ read('word.txt') | lower }}"
)Y",
                &id),
            "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "INFO from ns"), 2) << ::testing::PrintToString(lines);
  EXPECT_TRUE(contains(lines, "INFO greeting"));
  EXPECT_TRUE(contains(lines, "INFO Loaded 2 namespace files from 'dev.team'"));
}

TEST_F(Flows, AnInputFileThatEscapesTheWorkingDirectoryFailsTheTask) {
  std::string id;
  EXPECT_EQ(run(R"Y(
id: escape
namespace: dev
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      ../../evil.txt: x
    commands: [echo never]
)Y",
                &id),
            "FAILED");
  auto g = get(id);
  EXPECT_NE(g.str("/result/taskRuns/0/error").find("escapes"), std::string::npos) << g.text;
}

TEST_F(Flows, TypedInputsWithDefaultsAndAnUploadedFile) {
  std::string id;
  std::string inputs = R"J({"count":"3","file":{"filename":"data.txt","contentBase64":")J" +
                       agent::base64_encode("uploaded\n") + R"J("}})J";
  EXPECT_EQ(run(R"Y(
id: inputs
namespace: dev
inputs:
  - id: count
    type: INT
  - id: name
    type: STRING
    defaults: kestra
  - id: file
    type: FILE
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    inputFiles:
      data.txt: "{{ inputs.file }}"
    outputFiles: [out.txt]
    commands:
      - echo "{{ inputs.count * 2 }} {{ inputs.name }}"
      - cp data.txt out.txt
)Y",
                &id, inputs),
            "SUCCESS");
  EXPECT_TRUE(contains(test::log_lines(*client_, id), "INFO 6 kestra"));
  auto o = outputs(id);
  EXPECT_EQ(read_file(o.str("/result/taskRuns/0/outputFiles/out.txt")), "uploaded\n");

  std::string bad = refused(R"Y(
id: inputs
namespace: dev
inputs:
  - id: count
    type: INT
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: x
)Y",
                            R"J({"count":"three"})J");
  EXPECT_NE(bad.find("inputs.count"), std::string::npos) << bad;
}

TEST_F(Flows, SecretInputsAreMaskedInTheLog) {
  std::string id;
  EXPECT_EQ(run(R"Y(
id: secret
namespace: dev
inputs:
  - id: token
    type: SECRET
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "token is {{ inputs.token }}"
)Y",
                &id, R"J({"token":"s3cr3t-value"})J"),
            "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  for (const auto& l : lines) EXPECT_EQ(l.find("s3cr3t-value"), std::string::npos) << l;
  EXPECT_TRUE(contains(lines, "INFO token is "));
}

TEST_F(Flows, FlowPluginDefaultsAndLegacyRunnerForms) {
  std::string id;
  EXPECT_EQ(run(R"Y(
id: defaults
namespace: dev
taskDefaults:
  - type: io.kestra.plugin.scripts.shell.Commands
    values:
      env:
        GREETING: from-defaults
tasks:
  - id: legacy
    type: io.kestra.plugin.scripts.shell.Commands
    runner: PROCESS
    commands:
      - echo "$GREETING"
  - id: old_runner_type
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.core.models.script.types.ProcessTaskRunner
    env:
      GREETING: own
    commands:
      - echo "$GREETING"
)Y",
                &id),
            "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  EXPECT_TRUE(contains(lines, "INFO from-defaults"));
  EXPECT_TRUE(contains(lines, "INFO own"));
  // The agent's global default gives the task a taskRunner, which wins over
  // the deprecated `runner` (newest Kestra), with a warning saying so.
  EXPECT_TRUE(contains(lines, "WARN both 'taskRunner' and the deprecated 'runner' are set; "
                              "'taskRunner' wins"));
  EXPECT_TRUE(contains(lines, "WARN taskRunner type 'io.kestra.core.models.script.types."
                              "ProcessTaskRunner' is deprecated"));
}

TEST_F(Flows, UnknownPropertiesAreRefusedWithASuggestion) {
  std::string err = refused(R"Y(
id: typo
namespace: dev
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    comands: [echo]
)Y");
  EXPECT_NE(err.find("flow.tasks[0].comands"), std::string::npos) << err;
  EXPECT_NE(err.find("commands"), std::string::npos) << err;
}

TEST_F(Flows, GitCloneInsideAWorkingDirectory) {
  // A local repository stands in for GitHub: no network here.
  test::TempDir repo;
  std::string r = repo.path() + "/repo";
  auto made = test::run_command(
      "set -e; git init -q -b main " + r + " && cd " + r +
      " && mkdir etl && echo 'print(\"from the repo\")' > etl/hello.py && git add . && "
      "git -c user.email=t@t -c user.name=t commit -q -m init && echo ok");
  ASSERT_EQ(made.status, 0) << made.out;
  std::string id;
  EXPECT_EQ(run(R"Y(
id: clone
namespace: dev
tasks:
  - id: wdir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: clone_repository
        type: io.kestra.plugin.git.Clone
        url: file://)Y" + r + R"Y(
        branch: main
      - id: run
        type: io.kestra.plugin.scripts.python.Commands
        commands:
          - python etl/hello.py
)Y",
                &id),
            "SUCCESS");
  EXPECT_TRUE(contains(test::log_lines(*client_, id), "INFO from the repo"));
}

TEST_F(Flows, CancelInsideAWorkingDirectoryKillsEverything) {
  std::string req = "{\"op\":\"submit\",\"flow\":" + json(R"Y(
id: cancel
namespace: dev
tasks:
  - id: wdir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: sleep
        type: io.kestra.plugin.scripts.shell.Commands
        commands: [sleep 30]
      - id: never
        type: io.kestra.plugin.scripts.shell.Commands
        commands: [echo never]
  - id: never2
    type: io.kestra.plugin.core.log.Log
    message: never
)Y") + "}";
  auto r = client_->call(req);
  ASSERT_TRUE(r && r->truth("/ok")) << (r ? r->text : "");
  std::string id = r->str("/result/executionId");
  // Wait for the sleep to run, then cancel.
  for (int i = 0; i < 200; i++) {
    auto g = get(id);
    if (g.str("/result/taskRuns/1/state") == "RUNNING") break;
    usleep(20000);
  }
  auto c = client_->call("{\"op\":\"cancel\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(c && c->truth("/ok"));
  EXPECT_EQ(test::wait_final(*client_, id), "KILLED");
  auto g = get(id);
  EXPECT_EQ(g.str("/result/taskRuns/0/state"), "KILLED");
  EXPECT_EQ(g.str("/result/taskRuns/1/state"), "KILLED");
  EXPECT_FALSE(g.has("/result/taskRuns/2"));
}

}  // namespace
