#include "agent/yaml/yaml_to_json.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace agent::yaml {
namespace {

std::string convert(std::string_view yaml) {
  auto r = yaml_to_json(yaml, "flow.yaml");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : std::string();
}

std::string error_of(std::string_view yaml) {
  auto r = yaml_to_json(yaml, "flow.yaml");
  EXPECT_FALSE(r.ok()) << "converted to " << (r.ok() ? *r : "");
  return r.ok() ? std::string() : r.error().message();
}

bool valid_json(const std::string& text) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  return parser.parse(text).get(e) == simdjson::SUCCESS;
}

TEST(YamlToJsonTest, FlowWithTasks) {
  std::string out = convert(R"(id: hello
namespace: dev
tasks:
  - id: t1
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo hello
      - echo "::{\"outputs\":{\"a\":1}}::"
)");
  EXPECT_EQ(out, R"({"id":"hello","namespace":"dev","tasks":[{"id":"t1",)"
                 R"("type":"io.kestra.plugin.scripts.shell.Commands","commands":["echo hello",)"
                 R"("echo \"::{\\\"outputs\\\":{\\\"a\\\":1}}::\""]}]})");
  EXPECT_TRUE(valid_json(out));
}

TEST(YamlToJsonScalarTest, PlainScalarsFollowTheCoreSchema) {
  EXPECT_EQ(convert("[1, -2, +3, 007, 0, -0]"), "[1,-2,3,7,0,0]");
  EXPECT_EQ(convert("[1.5, -0.25, .5, 1., 1e3, 2.5E-3, +1.0e+2]"),
            "[1.5,-0.25,0.5,1.0,1e3,2.5E-3,1.0e+2]");
  EXPECT_EQ(convert("[true, True, TRUE, false, False, FALSE]"),
            "[true,true,true,false,false,false]");
  EXPECT_EQ(convert("[null, Null, NULL, ~]"), "[null,null,null,null]");
  EXPECT_EQ(convert("a:\nb: ~\n"), R"({"a":null,"b":null})");
}

TEST(YamlToJsonScalarTest, NonCoreValuesStayStrings) {
  EXPECT_EQ(convert("[yes, no, on, off, y, n]"), R"(["yes","no","on","off","y","n"])");
  EXPECT_EQ(convert("[0x1F, 0o17, .inf, -.inf, .nan, .NaN]"),
            R"(["0x1F","0o17",".inf","-.inf",".nan",".NaN"])");
  EXPECT_EQ(convert("[1_000, 1:30, 2026-01-01, tRUE, nULL, 1e, e3, ., -]"),
            R"(["1_000","1:30","2026-01-01","tRUE","nULL","1e","e3",".","-"])");
  // Too large for 64 bits or for a double: kept, as text.
  EXPECT_EQ(convert("[123456789012345678901234567890, 1e999]"),
            R"(["123456789012345678901234567890","1e999"])");
  EXPECT_EQ(convert("[18446744073709551615, -9223372036854775808]"),
            "[18446744073709551615,-9223372036854775808]");
}

TEST(YamlToJsonScalarTest, QuotedAndBlockScalarsStayStrings) {
  EXPECT_EQ(convert(R"(["1", '2', "true", 'null', "", '~'])"), R"(["1","2","true","null","","~"])");
  EXPECT_EQ(convert("a: |\n  42\nb: >\n  true\n"), R"({"a":"42\n","b":"true\n"})");
}

TEST(YamlToJsonScalarTest, ExplicitTags) {
  EXPECT_EQ(convert("[!!str 12, !!str true, !!int \"12\", !!float '1.5', !!bool 'false', "
                    "!!null '']"),
            R"(["12","true",12,1.5,false,null])");
  // Other tags: yaml-cpp does not say whether the scalar was quoted; a string is safe.
  EXPECT_EQ(convert("[!custom 12, !custom abc]"), R"(["12","abc"])");
  EXPECT_EQ(convert("[!!float 12, !!float '-1.5e3', !!int 0012]"), "[12,-1.5e3,12]");
  EXPECT_EQ(error_of("a: !!int abc\n"), "flow.yaml:1:4: 'abc' is not a valid !!int");
  EXPECT_EQ(error_of("a: !!float .inf\n"), "flow.yaml:1:4: '.inf' is not a valid !!float");
  EXPECT_EQ(error_of("a: !!bool yes\n"), "flow.yaml:1:4: 'yes' is not a valid !!bool");
}

TEST(YamlToJsonScalarTest, MultiLineStringsArePreservedExactly) {
  std::string out = convert(R"(script: |
  import json
  for i in range(3):
      print(f"line {i}\t")

  print('::{"outputs":{"n":3}}::')
folded: >
  one
  two

  three
keep: |+
  kept

strip: |-
  stripped
quoted: "tab\there\nnewline \u00e9 \"q\""
plain: first
  second
)");
  EXPECT_EQ(out, R"({"script":"import json\nfor i in range(3):\n    print(f\"line {i}\\t\")\n\n)"
                 R"(print('::{\"outputs\":{\"n\":3}}::')\n","folded":"one two\nthree\n",)"
                 R"("keep":"kept\n\n","strip":"stripped","quoted":"tab\there\nnewline é \"q\"",)"
                 R"("plain":"first second"})");
  EXPECT_TRUE(valid_json(out));
}

TEST(YamlToJsonTest, AnchorsAliasesAndMerges) {
  EXPECT_EQ(convert(R"(base: &base
  type: io.kestra.plugin.scripts.shell.Commands
  env: &env {A: "1"}
tasks:
  - <<: *base
    id: t1
    commands: [echo]
  - <<: [*base, {id: ignored, extra: x}]
    id: t2
    env: *env
)"),
            R"({"base":{"type":"io.kestra.plugin.scripts.shell.Commands","env":{"A":"1"}},)"
            R"("tasks":[{"type":"io.kestra.plugin.scripts.shell.Commands","env":{"A":"1"},)"
            R"("id":"t1","commands":["echo"]},)"
            R"({"type":"io.kestra.plugin.scripts.shell.Commands","extra":"x","id":"t2",)"
            R"("env":{"A":"1"}}]})");
  EXPECT_EQ(convert("a: &x 5\nb: *x\n"), R"({"a":5,"b":5})");
  // A quoted "<<" is an ordinary key.
  EXPECT_EQ(convert("'<<': {a: 1}\n"), R"({"<<":{"a":1}})");
  EXPECT_NE(error_of("<<: 5\n").find("merge key"), std::string::npos);
}

TEST(YamlToJsonTest, KeysAreTheirTextAsWritten) {
  EXPECT_EQ(convert("1: a\ntrue: b\n\"x y\": c\n"), R"({"1":"a","true":"b","x y":"c"})");
}

TEST(YamlToJsonErrorTest, DuplicateKeysAreErrors) {
  EXPECT_EQ(error_of("id: a\nnamespace: dev\nid: b\n"),
            "flow.yaml:3:1: duplicate key 'id' (first at line 1)");
  EXPECT_EQ(error_of("tasks:\n  - id: a\n    type: x\n    id: b\n"),
            "flow.yaml:4:5: duplicate key 'id' (first at line 2)");
  EXPECT_EQ(error_of("{a: 1, a: 2}"), "flow.yaml:1:8: duplicate key 'a' (first at line 1)");
  // The same key in sibling mappings is fine.
  EXPECT_EQ(convert("- {a: 1}\n- {a: 2}\n"), R"([{"a":1},{"a":2}])");
}

// Keys are compared as written: bytes that are not UTF-8 become U+FFFD, so
// two keys that differ only there would be one JSON key twice.
TEST(YamlToJsonErrorTest, KeysEqualOnceWrittenAreDuplicates) {
  std::string error = error_of("\"k\xff\": 1\n\"k\xfe\": 2\n");
  EXPECT_NE(error.find("duplicate key"), std::string::npos) << error;
}

TEST(YamlToJsonErrorTest, SyntaxErrorsNameTheirPlace) {
  std::string err = error_of("id: hello\ntasks:\n  - id: [unclosed\n");
  EXPECT_EQ(err.rfind("flow.yaml:", 0), 0u) << err;
  err = error_of("a: b: c\n");
  EXPECT_EQ(err.rfind("flow.yaml:1:", 0), 0u) << err;
  err = error_of("a: *nowhere\n");
  EXPECT_EQ(err.rfind("flow.yaml:1:4: ", 0), 0u) << err;
  err = error_of("a:\n\tb: 1\n");
  EXPECT_EQ(err, "flow.yaml:2:3: illegal map value (tabs may not be used for indentation)");
}

TEST(YamlToJsonErrorTest, NonScalarKeysAreErrors) {
  EXPECT_NE(error_of("? [a, b]\n: c\n").find("a mapping key must be a scalar"), std::string::npos);
  EXPECT_NE(error_of("{[a]: 1}").find("a mapping key must be a scalar"), std::string::npos);
}

TEST(YamlToJsonErrorTest, OneDocumentOnly) {
  EXPECT_EQ(error_of("a: 1\n---\nb: 2\n"),
            "flow.yaml:2:1: content after the end of the document (expected exactly one YAML "
            "document)");
  EXPECT_EQ(convert("---\na: 1\n...\n"), R"({"a":1})");
}

TEST(YamlToJsonTest, EmptyAndScalarDocuments) {
  EXPECT_EQ(convert(""), "null");
  EXPECT_EQ(convert("# only a comment\n"), "null");
  EXPECT_EQ(convert("hello"), R"("hello")");
  EXPECT_EQ(convert("42"), "42");
}

TEST(YamlToJsonTest, JsonIsYaml) {
  std::string json = R"({"id":"x","n":[1,2.5,true,null,"s\n"],"o":{}})";
  EXPECT_EQ(convert(json), json);
}

TEST(YamlToJsonTest, InvalidUtf8IsReplaced) {
  std::string out = convert("a: \"\xff\"\n");
  EXPECT_TRUE(valid_json(out)) << out;
}

TEST(YamlToJsonTest, AliasBombsAreBounded) {
  std::string yaml = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'k'; c++) {
    yaml += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; i++) yaml += std::string(i ? ", *" : "*") + prev;
    yaml += "]\n";
    prev = c;
  }
  auto r = yaml_to_json(yaml, "bomb.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("MiB"), std::string::npos);
}

TEST(YamlToJsonFileTest, ReadsFilesAndNamesThemInErrors) {
  std::string path = ::testing::TempDir() + "yaml_to_json_test.yaml";
  {
    std::ofstream f(path);
    f << "id: x\nid: y\n";
  }
  auto r = yaml_file_to_json(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), path + ":2:1: duplicate key 'id' (first at line 1)");
  std::remove(path.c_str());
  auto missing = yaml_file_to_json(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find(path), std::string::npos);
  EXPECT_EQ(missing.error().code(), Errc::kNotFound);
}

}  // namespace
}  // namespace agent::yaml
