#include "agent/flow/defaults.h"

#include <gtest/gtest.h>

#include "agent/flow/schema.h"
#include "agent/yaml/yaml_to_json.h"

namespace {

using agent::template_::Value;

Value yaml(const std::string& text) {
  auto j = agent::yaml_to_json(text, "t.yaml");
  EXPECT_TRUE(j.ok());
  auto v = agent::template_::parse_json(*j);
  EXPECT_TRUE(v.ok());
  return *v;
}

Value apply(const Value& flow, const std::string& global_yaml = "[]",
            std::vector<std::string>* warnings = nullptr) {
  auto global = agent::flow::parse_plugin_defaults(yaml(global_yaml), "pluginDefaults");
  EXPECT_TRUE(global.ok()) << global.error().describe();
  auto r = agent::flow::apply_plugin_defaults(
      flow, *global, [](std::string_view t) { return agent::flow::canonical_type(t); }, warnings,
      [](std::string_view type, std::string_view prop) {
        const auto* spec = agent::flow::find_type(type);
        return spec == nullptr || spec->prop(prop) != nullptr;
      });
  EXPECT_TRUE(r.ok());
  return *r;
}

std::string json(const Value& v) { return agent::template_::to_json(v); }

TEST(FlowDefaults, PrefixMatchTaskValuesWinAndNestedTasks) {
  Value f = apply(yaml(R"Y(
id: f
namespace: n
pluginDefaults:
  - type: io.kestra.plugin.scripts
    values:
      taskRunner: {type: io.kestra.plugin.core.runner.Process}
      env: {A: default, B: default}
      beforeCommands: [echo default]
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: t
        type: io.kestra.plugin.scripts.shell.Commands
        env: {A: own}
        beforeCommands: [echo own]
        commands: [x]
)Y"));
  const Value& t = f.find("tasks")->as_list()[0].find("tasks")->as_list()[0];
  EXPECT_EQ(json(*t.find("taskRunner")), R"({"type":"io.kestra.plugin.core.runner.Process"})");
  EXPECT_EQ(json(*t.find("env")), R"({"A":"own","B":"default"})");
  EXPECT_EQ(json(*t.find("beforeCommands")), R"(["echo default","echo own"])");
  EXPECT_EQ(f.find("pluginDefaults"), nullptr);
  // The WorkingDirectory itself has no taskRunner property: nothing injected.
  EXPECT_EQ(f.find("tasks")->as_list()[0].find("taskRunner"), nullptr);
}

TEST(FlowDefaults, FlowBeatsGlobalAndForcedBeatsTheTask) {
  Value flow = yaml(R"Y(
id: f
namespace: n
pluginDefaults:
  - type: io.kestra.plugin.scripts.shell.Commands
    values: {containerImage: from-flow}
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    commands: [x]
    failFast: false
)Y");
  Value f = apply(flow, R"Y(
- type: io.kestra.plugin.scripts
  values: {containerImage: from-global, interpreter: [/bin/bash, -c]}
- type: io.kestra.plugin.scripts.shell
  forced: true
  values: {failFast: true}
)Y");
  const Value& t = f.find("tasks")->as_list()[0];
  ASSERT_NE(t.find("interpreter"), nullptr) << json(f);
  EXPECT_EQ(t.find("containerImage")->as_string(), "from-flow");
  EXPECT_EQ(t.find("interpreter")->as_list().size(), 2u);
  EXPECT_TRUE(t.find("failFast")->as_bool());  // forced wins over the task
}

TEST(FlowDefaults, ForcedTaskRunnerReplacesTheTasksAndLegacyKeysApply) {
  std::vector<std::string> warnings;
  Value f = apply(yaml(R"Y(
id: f
namespace: n
taskDefaults:
  - type: io.kestra.core.tasks.log.Log
    values: {level: WARN}
tasks:
  - id: t
    type: io.kestra.plugin.scripts.python.Commands
    taskRunner: {type: io.kestra.plugin.scripts.runner.docker.Docker}
    commands: [x]
  - id: l
    type: io.kestra.plugin.core.log.Log
    message: hi
)Y"),
                  R"Y(
- type: io.kestra.plugin.scripts.python
  forced: true
  values:
    taskRunner: {type: io.kestra.plugin.core.runner.Process}
)Y",
                  &warnings);
  EXPECT_EQ(f.find("tasks")->as_list()[0].find("taskRunner")->find("type")->as_string(),
            "io.kestra.plugin.core.runner.Process");
  EXPECT_EQ(f.find("tasks")->as_list()[1].find("level")->as_string(), "WARN");  // alias copy
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("pluginDefaults"), std::string::npos);
}

TEST(FlowDefaults, MalformedDefaultsNameThePath) {
  auto bad = agent::flow::parse_plugin_defaults(yaml("[{type: x, valuse: {}}]"), "pluginDefaults");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().path(), "pluginDefaults[0].valuse");
  EXPECT_NE(bad.error().message().find("did you mean 'values'"), std::string::npos);
  EXPECT_FALSE(agent::flow::parse_plugin_defaults(yaml("[{values: {}}]"), "p").ok());
  EXPECT_FALSE(agent::flow::parse_plugin_defaults(yaml("{type: x}"), "p").ok());
}

}  // namespace
