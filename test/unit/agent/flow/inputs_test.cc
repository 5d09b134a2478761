#include "agent/flow/inputs.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "agent/common/base64.h"

namespace {

using agent::flow::InputDef;
using agent::template_::Value;

std::vector<InputDef> defs(const std::string& json, std::vector<std::string>* warnings = nullptr) {
  static simdjson::dom::parser parser;
  simdjson::dom::element e;
  EXPECT_EQ(parser.parse(json).get(e), simdjson::SUCCESS);
  auto d = agent::flow::parse_inputs(e, "flow.inputs", warnings);
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().describe());
  return d.ok() ? *d : std::vector<InputDef>{};
}

agent::Result<Value> resolve(const std::vector<InputDef>& d, const std::string& supplied,
                             std::vector<std::string>* secrets = nullptr) {
  auto v = agent::template_::parse_json(supplied);
  EXPECT_TRUE(v.ok());
  return agent::flow::resolve_inputs(
      d, *v,
      [](std::string_view id, std::string_view name, std::string_view bytes) -> agent::Result<std::string> {
        return "kestra:///stored/" + std::string(id) + "/" + std::string(name) + "#" + std::to_string(bytes.size());
      },
      secrets);
}

TEST(FlowInputs, StringsAreConvertedToTheirTypes) {
  auto d = defs(R"([{"id":"n","type":"INT"},{"id":"f","type":"FLOAT"},{"id":"b","type":"BOOLEAN"},
    {"id":"j","type":"JSON"},{"id":"dt","type":"DATETIME"},{"id":"d","type":"DATE"},
    {"id":"dur","type":"DURATION"},{"id":"arr","type":"ARRAY","itemType":"INT"},
    {"id":"s","type":"SELECT","values":["a","b"]},{"id":"u","type":"URI"}])");
  auto v = resolve(d, R"({"n":"42","f":"2.5","b":"TRUE","j":"{\"k\":[1,2]}","dt":"2024-01-31T10:00:00+02:00",
    "d":"2024-01-31","dur":"PT5M","arr":"1,2,3","s":"b","u":"https://x.invalid/a"})");
  ASSERT_TRUE(v.ok()) << v.error().describe();
  EXPECT_EQ(v->find("n")->as_int(), 42);
  EXPECT_DOUBLE_EQ(v->find("f")->as_double(), 2.5);
  EXPECT_TRUE(v->find("b")->as_bool());
  EXPECT_EQ(v->find("j")->find("k")->as_list().size(), 2u);
  EXPECT_EQ(v->find("dt")->as_string(), "2024-01-31T08:00:00Z");
  EXPECT_EQ(v->find("arr")->as_list()[2].as_int(), 3);
  EXPECT_EQ(v->find("s")->as_string(), "b");
}

TEST(FlowInputs, DefaultsRequiredAndOptional) {
  auto d = defs(R"([{"id":"a","type":"STRING","defaults":"x"},{"id":"b","type":"INT","required":false},
    {"id":"c","type":"STRING"}])");
  auto missing = resolve(d, "{}");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().path(), "inputs.c");
  auto v = resolve(d, R"({"c":"given"})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->find("a")->as_string(), "x");
  EXPECT_TRUE(v->find("b")->is_null());
  auto unknown = resolve(d, R"({"c":"x","zzz":1})");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().path(), "inputs.zzz");
}

TEST(FlowInputs, ValidationNamesTheInput) {
  auto d = defs(R"([{"id":"n","type":"INT","min":1,"max":10},{"id":"s","type":"STRING","validator":"^[a-z]+$"},
    {"id":"sel","type":"SELECT","values":["x","y"]},{"id":"e","type":"EMAIL","required":false}])");
  struct Case { std::string json, path, part; };
  for (const auto& c : std::vector<Case>{
           {R"({"n":"0","s":"ok","sel":"x"})", "inputs.n", "at least 1"},
           {R"({"n":"11","s":"ok","sel":"x"})", "inputs.n", "at most 10"},
           {R"({"n":"x","s":"ok","sel":"x"})", "inputs.n", "integer"},
           {R"({"n":"5","s":"NO","sel":"x"})", "inputs.s", "validator"},
           {R"({"n":"5","s":"ok","sel":"z"})", "inputs.sel", "not one of"},
           {R"({"n":"5","s":"ok","sel":"x","e":"nope"})", "inputs.e", "email"}}) {
    auto v = resolve(d, c.json);
    ASSERT_FALSE(v.ok()) << c.json;
    EXPECT_EQ(v.error().path(), c.path) << c.json;
    EXPECT_NE(v.error().message().find(c.part), std::string::npos) << v.error().message();
  }
}

TEST(FlowInputs, FilesSecretsAndLegacyForms) {
  std::vector<std::string> warnings;
  auto d = defs(R"([{"name":"f","type":"FILE"},{"id":"p","type":"SECRET"},{"id":"e","type":"ENUM","values":["a"]}])",
                &warnings);
  EXPECT_EQ(warnings.size(), 2u);
  EXPECT_EQ(d[2].type, "SELECT");
  std::vector<std::string> secrets;
  auto v = resolve(d, R"({"f":{"filename":"data.txt","contentBase64":")" + agent::base64_encode("hello") +
                          R"("},"p":"pw","e":"a"})", &secrets);
  ASSERT_TRUE(v.ok()) << v.error().describe();
  EXPECT_EQ(v->find("f")->as_string(), "kestra:///stored/f/data.txt#5");
  EXPECT_EQ(secrets, std::vector<std::string>{"pw"});
  EXPECT_FALSE(resolve(d, R"({"f":"/etc/passwd","p":"x","e":"a"})").ok());
  EXPECT_FALSE(resolve(d, R"({"f":{"filename":"../x","contentBase64":""},"p":"x","e":"a"})").ok());
}

TEST(FlowInputs, DeclarationErrors) {
  static simdjson::dom::parser parser;
  for (std::string bad : {R"([{"id":"a","type":"NOPE"}])", R"([{"id":"a"}])", R"([{"type":"STRING"}])",
                          R"([{"id":"a","type":"STRING"},{"id":"a","type":"INT"}])",
                          R"([{"id":"a","type":"STRING","validator":"("}])",
                          R"([{"id":"a","type":"STRING","colour":1}])"}) {
    simdjson::dom::element e;
    ASSERT_EQ(parser.parse(bad).get(e), simdjson::SUCCESS);
    auto d = agent::flow::parse_inputs(e, "flow.inputs", nullptr);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_TRUE(d.error().path().starts_with("flow.inputs[")) << d.error().describe();
  }
}

}  // namespace
