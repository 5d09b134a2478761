// The whole submit path of a flow: plugin defaults, validation, compilation.
#include <gtest/gtest.h>
#include <simdjson.h>

#include "agent/flow/load.h"
#include "agent/yaml/yaml_to_json.h"

namespace {

using agent::flow::Flow;
using agent::flow::TaskKind;

agent::Result<Flow> load(const std::string& json,
                         const std::vector<agent::flow::PluginDefault>* global = nullptr) {
  static simdjson::dom::parser parser;
  simdjson::dom::element e;
  EXPECT_EQ(parser.parse(json).get(e), simdjson::SUCCESS) << json;
  return agent::flow::load_flow(e, "flow", {.global_defaults = global}, nullptr);
}

agent::Result<Flow> load_yaml(const std::string& yaml) {
  auto j = agent::yaml_to_json(yaml, "t.yaml");
  EXPECT_TRUE(j.ok());
  return load(*j);
}

std::string task(const std::string& props) {
  return R"J({"id":"f","namespace":"dev.team","tasks":[{"id":"t","type":"io.kestra.plugin.scripts.shell.Commands")J" +
         props + "}]}";
}

TEST(FlowLoad, AcceptsAFullShellTask) {
  auto f = load(task(R"J(,"commands":["echo a"],"beforeCommands":["x"],"interpreter":["/bin/bash","-c"],
    "failFast":false,"env":{"A":"1","B":2},"timeout":"PT5M","containerImage":"alpine",
    "taskRunner":{"type":"io.kestra.plugin.core.runner.Process"},"description":"d",
    "inputFiles":{"a.txt":"x"},"outputFiles":["*.csv"],"targetOS":"LINUX","allowFailure":true,
    "retry":{"type":"constant","interval":"PT1S","maxAttempts":2})J"));
  ASSERT_TRUE(f.ok()) << f.error().describe();
  const auto& t = f->tasks[0];
  EXPECT_EQ(f->namespace_, "dev.team");
  EXPECT_EQ(t.kind, TaskKind::kScript);
  EXPECT_EQ(t.language->name, "shell");
  EXPECT_EQ(t.commands, std::vector<std::string>{"echo a"});
  EXPECT_FALSE(t.fail_fast);
  ASSERT_EQ(t.env.size(), 2u);
  EXPECT_EQ(t.env[1].second, "2");
  EXPECT_EQ(t.timeout->count(), 300000);
  EXPECT_EQ(t.runner_type, "io.kestra.plugin.core.runner.Process");
  EXPECT_EQ(t.container_image, "alpine");
  EXPECT_EQ(t.input_files.size(), 1u);
  EXPECT_EQ(t.output_files, std::vector<std::string>{"*.csv"});
  EXPECT_TRUE(t.allow_failure);
  EXPECT_EQ(*t.retry->max_attempts, 2);
}

TEST(FlowLoad, DefaultsComeFromTheLanguageTable) {
  auto f = load(R"J({"id":"f","namespace":"n","tasks":[{"id":"p","type":"io.kestra.plugin.scripts.python.Script","script":"print(1)"}]})J");
  ASSERT_TRUE(f.ok()) << f.error().describe();
  EXPECT_EQ(f->tasks[0].script_kind, agent::flow::ScriptKind::kScript);
  EXPECT_EQ(f->tasks[0].container_image, "python:3.13-slim");
  EXPECT_TRUE(f->tasks[0].fail_fast);
}

TEST(FlowLoad, LegacyRunnerAndDockerOptionsAreMappedWithWarnings) {
  auto f = load(task(R"J(,"commands":["x"],"runner":"PROCESS")J"));
  ASSERT_TRUE(f.ok()) << f.error().describe();
  EXPECT_EQ(f->tasks[0].runner_type, "io.kestra.plugin.core.runner.Process");
  EXPECT_TRUE(f->tasks[0].output_directory);  // a legacy runner turns it on
  ASSERT_EQ(f->tasks[0].warnings.size(), 1u);
  EXPECT_NE(f->tasks[0].warnings[0].find("deprecated"), std::string::npos);

  auto d = load(task(R"J(,"commands":["x"],"runner":"DOCKER","docker":{"image":"python:3.11","networkMode":"host"})J"));
  ASSERT_TRUE(d.ok()) << d.error().describe();
  EXPECT_EQ(d->tasks[0].container_image, "python:3.11");
  EXPECT_EQ(d->tasks[0].runner_type, "io.kestra.plugin.scripts.runner.docker.Docker");
  EXPECT_NE(d->tasks[0].runner_json.find("\"networkMode\":\"host\""), std::string::npos);
  EXPECT_EQ(d->tasks[0].runner_json.find("image"), std::string::npos);
}

TEST(FlowLoad, CoreTasksAndNesting) {
  auto f = load_yaml(R"Y(
id: f
namespace: dev
inputs:
  - id: who
    type: STRING
    defaults: me
variables:
  x: 1
tasks:
  - id: wd
    type: io.kestra.core.tasks.flows.WorkingDirectory
    tasks:
      - id: clone
        type: io.kestra.plugin.git.Clone
        url: https://example.invalid/repo
        branch: main
      - id: log
        type: io.kestra.core.tasks.log.Log
        message: [a, b]
        level: WARN
  - id: ret
    type: io.kestra.core.tasks.debugs.Return
    format: "{{ inputs.who }}"
errors:
  - id: handler
    type: io.kestra.plugin.core.log.Log
    message: failed
)Y");
  ASSERT_TRUE(f.ok()) << f.error().describe();
  ASSERT_EQ(f->tasks.size(), 2u);
  const auto& wd = f->tasks[0];
  EXPECT_EQ(wd.kind, TaskKind::kWorkingDirectory);
  EXPECT_EQ(wd.canonical_type, "io.kestra.plugin.core.flow.WorkingDirectory");
  ASSERT_EQ(wd.tasks.size(), 2u);
  EXPECT_EQ(wd.tasks[0].kind, TaskKind::kClone);
  EXPECT_EQ(wd.tasks[0].branch, "main");
  EXPECT_EQ(wd.tasks[0].depth, 1);
  EXPECT_EQ(wd.tasks[1].kind, TaskKind::kLog);
  EXPECT_EQ(wd.tasks[1].messages.size(), 2u);
  EXPECT_EQ(wd.tasks[1].level, "WARN");
  EXPECT_FALSE(wd.tasks[1].warnings.empty());  // legacy type name
  EXPECT_EQ(f->tasks[1].kind, TaskKind::kReturn);
  ASSERT_EQ(f->errors.size(), 1u);
  ASSERT_EQ(f->inputs.size(), 1u);
  EXPECT_TRUE(f->variables.is_map());
}

TEST(FlowLoad, GlobalPluginDefaultsGiveEveryScriptTaskARunner) {
  auto defaults_yaml = agent::yaml_to_json(R"Y(
- type: io.kestra.plugin.scripts
  values:
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
)Y", "d.yaml");
  ASSERT_TRUE(defaults_yaml.ok());
  auto list = agent::template_::parse_json(*defaults_yaml);
  ASSERT_TRUE(list.ok());
  auto global = agent::flow::parse_plugin_defaults(*list, "pluginDefaults");
  ASSERT_TRUE(global.ok()) << global.error().describe();
  auto f = load(R"J({"id":"f","namespace":"n","tasks":[
      {"id":"a","type":"io.kestra.plugin.scripts.shell.Commands","commands":["x"]},
      {"id":"b","type":"io.kestra.plugin.scripts.python.Commands","commands":["x"],
       "taskRunner":{"type":"io.kestra.plugin.scripts.runner.docker.Docker"}}]})J",
                &*global);
  ASSERT_TRUE(f.ok()) << f.error().describe();
  EXPECT_EQ(f->tasks[0].runner_type, "io.kestra.plugin.core.runner.Process");
  EXPECT_EQ(f->tasks[1].runner_type, "io.kestra.plugin.scripts.runner.docker.Docker");
}

struct BadCase {
  std::string json;
  std::string path;
  std::string message_part;
};

TEST(FlowLoad, ErrorsNameThePathAndWhatWasWrong) {
  std::vector<BadCase> cases = {
      {R"J({"namespace":"n","tasks":[{"id":"t","type":"io.kestra.plugin.core.log.Log","message":"x"}]})J", "flow.id", "required"},
      {R"J({"id":"f","tasks":[{"id":"t","type":"io.kestra.plugin.core.log.Log","message":"x"}]})J", "flow.namespace", "required"},
      {R"J({"id":"f","namespace":"N","tasks":[{"id":"t","type":"io.kestra.plugin.core.log.Log","message":"x"}]})J", "flow.namespace", "must match"},
      {R"J({"id":"f","namespace":"n","colour":1,"tasks":[{"id":"t","type":"io.kestra.plugin.core.log.Log","message":"x"}]})J", "flow.colour", "unknown"},
      {task(R"J()J"), "flow.tasks[0].commands", "required"},
      {task(R"J(,"commands":[])J"), "flow.tasks[0].commands", "at least one"},
      {task(R"J(,"commands":["x"],"script":"y")J"), "flow.tasks[0].script", ""},
      {task(R"J(,"commands":["x"],"timeout":"10s")J"), "flow.tasks[0].timeout", ""},
      {task(R"J(,"commands":["x"],"taskRunner":{})J"), "flow.tasks[0].taskRunner.type", "required"},
      {task(R"J(,"commands":["x"],"runner":"K8S")J"), "flow.tasks[0].runner", ""},
      {task(R"J(,"commands":["x"],"retry":{"type":"constant"})J"), "flow.tasks[0].retry", ""},
      {task(R"J(,"commands":["x"],"comands":["y"])J"), "flow.tasks[0].comands", "commands"},
      {task(R"J(,"commands":["x"],"workerGroup":{"key":"gpu","fallback":"LATER"})J"),
       "flow.tasks[0].workerGroup.fallback", "expected WAIT, FAIL or CANCEL"},
      {task(R"J(,"commands":["x"],"workerGroup":{"key":"-gpu"})J"), "flow.tasks[0].workerGroup.key",
       "must match"},
      {task(R"J(,"commands":["x"],"workerGroup":{"fallback":"FAIL"})J"), "flow.tasks[0].workerGroup.key",
       "required"},
      {task(R"J(,"commands":["x"],"workerGroup":{"key":"gpu","queue":"x"})J"),
       "flow.tasks[0].workerGroup.queue", "unknown"},
      {task(R"J(,"commands":["x"],"interpreter":[],"beforeCommands":["a"])J"),
       "flow.tasks[0].interpreter", "empty interpreter"},
      {R"J({"id":"f","namespace":"n","tasks":[{"id":"t","type":"io.kestra.plugin.core.log.Log"}]})J",
       "flow.tasks[0].message", "required"},
      {R"J({"id":"f","namespace":"n","tasks":[{"id":"t","type":"io.kestra.plugin.core.flow.Parallel","tasks":[]}]})J",
       "flow.tasks[0].type", ""},
      {R"J({"id":"f","namespace":"n","tasks":[
          {"id":"a","type":"io.kestra.plugin.scripts.shell.Commands","commands":["x"]},
          {"id":"a","type":"io.kestra.plugin.scripts.shell.Commands","commands":["x"]}]})J",
       "flow.tasks", "duplicate"},
  };
  for (const auto& c : cases) {
    auto f = load(c.json);
    ASSERT_FALSE(f.ok()) << c.json;
    EXPECT_TRUE(f.error().path().starts_with(c.path))
        << c.json << " -> " << f.error().describe();
    EXPECT_NE(f.error().message().find(c.message_part), std::string::npos)
        << c.json << " -> " << f.error().describe();
  }
}

TEST(FlowLoad, ASingleTaskIsAFlowOfItsOwn) {
  static simdjson::dom::parser parser;
  simdjson::dom::element e;
  ASSERT_EQ(parser.parse(std::string(R"J({"id":"t","type":"io.kestra.plugin.scripts.shell.Commands"})J")).get(e),
            simdjson::SUCCESS);
  auto f = agent::flow::load_single_task(e, "dev", "task", {}, nullptr);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().path(), "task.commands");
}

}  // namespace
