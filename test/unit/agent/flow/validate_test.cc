#include "agent/flow/validate.h"

#include <gtest/gtest.h>

#include "agent/common/fs.h"
#include "agent/flow/did_you_mean.h"
#include "agent/flow/schema.h"
#include "agent/flow/schema_doc.h"
#include "agent/yaml/yaml_to_json.h"

namespace {

std::vector<agent::flow::Diagnostic> check(const std::string& yaml_text, bool with_lines = true) {
  auto j = agent::yaml_to_json(yaml_text, "t.yaml");
  EXPECT_TRUE(j.ok());
  auto v = agent::template_::parse_json(*j);
  auto lines = agent::yaml::yaml_line_map(yaml_text);
  return agent::flow::validate_flow(*v, with_lines ? &lines : nullptr);
}

TEST(FlowValidate, ReportsEveryProblemAtOnceWithLines) {
  auto d = check(R"Y(id: f
namespace: n
tasks:
  - id: a
    type: io.kestra.plugin.scripts.shell.Comands
  - id: b
    type: io.kestra.plugin.scripts.shell.Commands
    commands: echo
    failFast: "yes"
    targetOS: MAC
    timeout: 5s
  - id: b
    type: io.kestra.core.tasks.debugs.Return
    formt: x
)Y");
  std::vector<std::string> got;
  for (const auto& x : d) got.push_back(std::to_string(x.line) + " " + x.path + ": " + x.message);
  auto has = [&](const std::string& part) {
    return std::any_of(got.begin(), got.end(), [&](const std::string& s) { return s.find(part) != std::string::npos; });
  };
  EXPECT_TRUE(has("5 tasks[0].type: task type 'io.kestra.plugin.scripts.shell.Comands' is not supported by runnerd; did you mean 'io.kestra.plugin.scripts.shell.Commands'?")) << ::testing::PrintToString(got);
  EXPECT_TRUE(has("8 tasks[1].commands: expected a list of strings, found a string"));
  EXPECT_TRUE(has("9 tasks[1].failFast: expected true or false"));
  EXPECT_TRUE(has("10 tasks[1].targetOS: expected one of LINUX, WINDOWS, AUTO"));
  EXPECT_TRUE(has("11 tasks[1].timeout: invalid duration '5s'"));
  EXPECT_TRUE(has("14 tasks[2].formt: unknown property; did you mean 'format'?"));
  EXPECT_TRUE(has("tasks[2].id: duplicate task id 'b'"));
  EXPECT_TRUE(has("tasks[2].type: task type 'io.kestra.core.tasks.debugs.Return' is deprecated"));
}

TEST(FlowValidate, TemplatesAreAcceptedWhereKestraRendersThem) {
  auto d = check(R"Y(id: f
namespace: n
tasks:
  - id: a
    type: io.kestra.plugin.scripts.shell.Commands
    commands: [x]
    timeout: "{{ inputs.t }}"
    inputFiles: "{{ outputs.x.vars.files }}"
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
)Y");
  EXPECT_TRUE(d.empty()) << d[0].path << ": " << d[0].message;
}

TEST(FlowValidate, PluginDefaultFragments) {
  auto j = agent::yaml_to_json(R"Y(
- type: io.kestra.plugin.scripts
  values:
    taskRunner:
      type: io.kestra.plugin.kubernetes.runner.KubernetesTaskRunner
      namespace: default
- type: io.kestra.plugin.core.log.Log
  values: {levle: WARN}
)Y", "d.yaml");
  auto v = agent::template_::parse_json(*j);
  auto d = agent::flow::validate_defaults(*v, "taskDefaults", nullptr);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].path, "taskDefaults[1].values.levle");
}

TEST(FlowValidate, CatalogDidYouMeanAndJsonSchema) {
  EXPECT_EQ(agent::flow::did_you_mean("comands", {"commands", "script"}), "commands");
  EXPECT_EQ(agent::flow::did_you_mean("xyz", {"commands", "script"}), "");
  EXPECT_EQ(agent::flow::canonical_type("io.kestra.core.tasks.flows.WorkingDirectory"),
            "io.kestra.plugin.core.flow.WorkingDirectory");
  int scripts = 0;
  for (const auto& t : agent::flow::all_types()) scripts += t.kind == agent::flow::TypeKind::kScriptTask;
  EXPECT_EQ(scripts, 28);  // 14 languages x Commands and Script
  std::string schema = agent::flow::flow_json_schema();
  auto parsed = agent::template_::parse_json(schema);
  ASSERT_TRUE(parsed.ok());
  EXPECT_NE(schema.find("io.kestra.plugin.scripts.groovy.Script"), std::string::npos);
  EXPECT_NE(agent::flow::type_doc_text(*agent::flow::find_type("io.kestra.plugin.git.Clone")).find("depth"),
            std::string::npos);
}

// proto/schema/flow.schema.json is this output, committed: regenerate it with
// `runnerctl schema --json-schema > proto/schema/flow.schema.json`.
TEST(FlowValidate, TheCommittedFlowSchemaIsTheGeneratedOne) {
  std::string here = __FILE__;  // <root>/test/unit/agent/flow/validate_test.cc
  std::string root = here.substr(0, here.rfind("/test/unit/"));
  auto committed = agent::fs::read_file(root + "/proto/schema/flow.schema.json");
  ASSERT_TRUE(committed.ok());
  EXPECT_EQ(*committed, agent::flow::flow_json_schema());
}

}  // namespace
