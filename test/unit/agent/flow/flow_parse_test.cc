#include <gtest/gtest.h>
#include <simdjson.h>

#include "agent/flow/flow.h"

namespace {

agent::Result<agent::flow::Flow> parse(const std::string& json) {
  static simdjson::dom::parser parser;
  simdjson::dom::element e;
  EXPECT_EQ(parser.parse(json).get(e), simdjson::SUCCESS) << json;
  return agent::flow::parse_flow(e, "flow");
}

std::string task(const std::string& props) {
  return R"J({"id":"f","namespace":"dev.team","tasks":[{"id":"t","type":"io.kestra.plugin.scripts.shell.Commands")J" +
         props + "}]}";
}

TEST(FlowParse, AcceptsAFullShellTask) {
  auto f = parse(task(R"J(,"commands":["echo a"],"beforeCommands":["x"],"interpreter":["/bin/bash","-c"],
    "failFast":false,"env":{"A":"1","B":2},"timeout":"PT5M","containerImage":"alpine",
    "taskRunner":{"type":"io.kestra.plugin.core.runner.Process"},"description":"d")J"));
  ASSERT_TRUE(f.ok()) << f.error().describe();
  const auto& t = f->tasks[0];
  EXPECT_EQ(f->namespace_, "dev.team");
  EXPECT_EQ(t.language->name, "shell");
  EXPECT_EQ(t.commands, std::vector<std::string>{"echo a"});
  EXPECT_FALSE(t.fail_fast);
  ASSERT_EQ(t.env.size(), 2u);
  EXPECT_EQ(t.env[1].second, "2");
  EXPECT_EQ(t.timeout->count(), 300000);
  EXPECT_EQ(t.runner_type, "io.kestra.plugin.core.runner.Process");
  EXPECT_EQ(t.container_image, "alpine");
}

TEST(FlowParse, DefaultsComeFromTheLanguageTable) {
  auto f = parse(R"J({"id":"f","namespace":"n","tasks":[{"id":"p","type":"io.kestra.plugin.scripts.python.Script","script":"print(1)"}]})J");
  ASSERT_TRUE(f.ok()) << f.error().describe();
  EXPECT_EQ(f->tasks[0].kind, agent::flow::ScriptKind::kScript);
  EXPECT_EQ(f->tasks[0].container_image, "python:3.13-slim");
  EXPECT_TRUE(f->tasks[0].fail_fast);
}

TEST(FlowParse, LegacyRunnerIsMappedWithAWarning) {
  auto f = parse(task(R"J(,"commands":["x"],"runner":"PROCESS")J"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->tasks[0].runner_type, "io.kestra.plugin.core.runner.Process");
  ASSERT_EQ(f->tasks[0].warnings.size(), 1u);
  EXPECT_NE(f->tasks[0].warnings[0].find("deprecated"), std::string::npos);
}

struct BadCase {
  std::string json;
  std::string path;
  std::string message_part;
};

TEST(FlowParse, ErrorsNameThePathAndWhatWasFound) {
  std::vector<BadCase> cases = {
      {R"J({"namespace":"n","tasks":[]})J", "flow.id", "required"},
      {R"J({"id":"f","tasks":[]})J", "flow.namespace", "required"},
      {R"J({"id":"f","namespace":"N","tasks":[]})J", "flow.namespace", "must match"},
      {R"J({"id":"f","namespace":"n","tasks":[]})J", "flow.tasks", "at least one"},
      {R"J({"id":"f","namespace":"n","tasks":{}})J", "flow.tasks", "found an object"},
      {R"J({"id":"f","namespace":"n","inputs":[],"tasks":[]})J", "flow.inputs", "not supported"},
      {R"J({"id":"f","namespace":"n","colour":1,"tasks":[]})J", "flow.colour", "unknown property"},
      {task(R"J()J"), "flow.tasks[0].commands", "required"},
      {task(R"J(,"commands":[])J"), "flow.tasks[0].commands", "at least one"},
      {task(R"J(,"commands":[1])J"), "flow.tasks[0].commands[0]", "found a number"},
      {task(R"J(,"commands":["x"],"script":"y")J"), "flow.tasks[0].script", "not 'script'"},
      {task(R"J(,"commands":["x"],"timeout":"10s")J"), "flow.tasks[0].timeout", "ISO-8601"},
      {task(R"J(,"commands":["x"],"env":{"A":[1]})J"), "flow.tasks[0].env.A", "found an array"},
      {task(R"J(,"commands":["x"],"taskRunner":{})J"), "flow.tasks[0].taskRunner.type", "required"},
      {task(R"J(,"commands":["x"],"runner":"K8S")J"), "flow.tasks[0].runner", "PROCESS or DOCKER"},
      {task(R"J(,"commands":["x"],"retry":{})J"), "flow.tasks[0].retry", "not supported"},
      {task(R"J(,"commands":["x"],"comands":["y"])J"), "flow.tasks[0].comands", "unknown property"},
      {task(R"J(,"commands":["x"],"interpreter":[],"beforeCommands":["a"])J"),
       "flow.tasks[0].interpreter", "empty interpreter"},
      {R"J({"id":"f","namespace":"n","tasks":[{"id":"t","type":"io.kestra.plugin.core.log.Log"}]})J",
       "flow.tasks[0].type", "not supported"},
      {R"J({"id":"f","namespace":"n","tasks":[{"id":"a b","type":"x"}]})J", "flow.tasks[0].id",
       "must match"},
      {R"J({"id":"f","namespace":"n","tasks":[
          {"id":"a","type":"io.kestra.plugin.scripts.shell.Commands","commands":["x"]},
          {"id":"a","type":"io.kestra.plugin.scripts.shell.Commands","commands":["x"]}]})J",
       "flow.tasks[1].id", "duplicate"},
  };
  for (const auto& c : cases) {
    auto f = parse(c.json);
    ASSERT_FALSE(f.ok()) << c.json;
    EXPECT_EQ(f.error().path(), c.path) << c.json << " -> " << f.error().describe();
    EXPECT_NE(f.error().message().find(c.message_part), std::string::npos)
        << c.json << " -> " << f.error().describe();
  }
}

}  // namespace
