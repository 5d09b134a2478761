#include <gtest/gtest.h>

#include <string>

#include "agent/template/template.h"
#include "agent/template/value.h"

namespace {

using agent::template_::Context;
using agent::template_::Value;

Context context() {
  Context ctx;
  auto vars = agent::template_::parse_json(R"({
    "s": "  Hello World  ", "name": "kestra flow", "csv": "a,b,,c,,",
    "list": [3, 1, 2], "words": ["b", "a"], "map": {"x": 1, "y": "two"},
    "neg": -4, "negd": -1.5, "num": "42", "dbl": "2.5",
    "ts": "2024-03-05T10:20:30.123Z", "zoned": "2024-03-05T23:59:59+02:00",
    "json": "{\"a\":[1,{\"b\":null}],\"c\":1.5}"
  })");
  EXPECT_TRUE(vars.ok());
  ctx.vars = *vars;
  return ctx;
}

std::string r(std::string_view tmpl, const Context& ctx = context()) {
  auto out = agent::template_::render(tmpl, ctx);
  EXPECT_TRUE(out.ok()) << tmpl << " -> " << (out.ok() ? "" : out.error().message());
  return out.ok() ? *out : "<error>";
}

std::string err(std::string_view tmpl, const Context& ctx = context()) {
  auto out = agent::template_::render(tmpl, ctx);
  EXPECT_FALSE(out.ok()) << tmpl;
  return out.ok() ? "" : out.error().message();
}

TEST(TemplateFilters, Strings) {
  EXPECT_EQ(r("{{ s | trim | upper }}|{{ s | trim | lower }}"), "HELLO WORLD|hello world");
  EXPECT_EQ(r("{{ name | capitalize }}|{{ name | title }}"), "Kestra flow|Kestra Flow");
  EXPECT_EQ(r("{{ name | replace({'kestra': 'K', ' ': '_'}) }}"), "K_flow");
  EXPECT_EQ(r("{{ name | startsWith('kes') }} {{ name | endsWith('x') }}"), "true false");
  EXPECT_EQ(r("{{ name | length }} {{ list | length }} {{ map | length }}"), "11 3 2");
}

TEST(TemplateFilters, SplitJoinFirstLast) {
  EXPECT_EQ(r("{{ csv | split(',') }}"), R"(["a","b","","c"])");
  EXPECT_EQ(r("{{ csv | split(',', 2) }}"), R"(["a","b,,c,,"])");
  EXPECT_EQ(r("{{ list | join(', ') }}|{{ words | join }}"), "3, 1, 2|ba");
  EXPECT_EQ(r("{{ list | first }}{{ list | last }}{{ name | first }}"), "32k");
  EXPECT_EQ(r("{{ list | sort }} {{ words | sort | reverse }}"), R"([1,2,3] ["b","a"])");
}

TEST(TemplateFilters, MapsAndJson) {
  EXPECT_EQ(r("{{ map | keys }} {{ map | values }}"), R"(["x","y"] [1,"two"])");
  EXPECT_EQ(r("{{ map | json }} {{ 'a\"b' | toJson }}"), R"({"x":1,"y":"two"} "a\"b")");
  EXPECT_EQ(r("{{ (json | fromJson).a[1] | json }} {{ (json | fromJson).c }}"),
            R"({"b":null} 1.5)");
  EXPECT_NE(err("{{ 'not json' | fromJson }}").find("'fromJson': invalid JSON"), std::string::npos);
}

TEST(TemplateFilters, Numbers) {
  EXPECT_EQ(r("{{ neg | abs }} {{ negd | abs }}"), "4 1.5");
  EXPECT_EQ(r("{{ num | number + 1 }} {{ dbl | number * 2 }}"), "43 5.0");
  EXPECT_NE(err("{{ 'x1' | number }}").find("cannot parse 'x1' as a number"), std::string::npos);
}

TEST(TemplateFilters, Dates) {
  EXPECT_EQ(r("{{ ts | date('yyyy-MM-dd HH:mm:ss.SSS') }}"), "2024-03-05 10:20:30.123");
  EXPECT_EQ(r("{{ ts | date(\"yyyyMMdd'T'HHmm 'o''clock'\") }}"), "20240305T1020 o'clock");
  EXPECT_EQ(r("{{ ts | date }}"), "2024-03-05T10:20:30.123Z");
  EXPECT_EQ(r("{{ zoned | date('yyyy-MM-dd HH:mm XXX') }}"), "2024-03-05 23:59 +02:00");
  EXPECT_EQ(r("{{ zoned | date('yyyy-MM-dd HH:mm', timeZone='UTC') }}"), "2024-03-05 21:59");
  EXPECT_EQ(r("{{ 0 | date('yyyy-MM-dd EEE MMM') }}"), "1970-01-01 Thu Jan");
  EXPECT_EQ(r("{{ '1969-12-31' | date('yyyy-MM-dd HH:mm') }}"), "1969-12-31 00:00");
  EXPECT_NE(err("{{ ts | date('yyyy QQ') }}").find("unsupported date format letter 'QQ'"),
            std::string::npos);
  EXPECT_NE(err("{{ 'yesterday' | date }}").find("cannot parse 'yesterday'"), std::string::npos);
  EXPECT_NE(err("{{ ts | date('yyyy', timeZone='Europe/Paris') }}").find("unsupported timeZone"),
            std::string::npos);
}

TEST(TemplateFilters, TestsEvenOdd) {
  EXPECT_EQ(r("{{ 2 is even }} {{ 3 is odd }} {{ 3 is not odd }} {{ map is map }}"),
            "true true false true");
}

TEST(TemplateErrors, NamesExpressionAndPlace) {
  EXPECT_EQ(err("a\nhello {{ name | uppr }}"),
            "line 2, column 17: unknown filter 'uppr' in {{ name | uppr }}");
  EXPECT_EQ(err("{{ nope(1) }}"), "line 1, column 4: unknown function 'nope' in {{ nope(1) }}");
  EXPECT_EQ(err("{{ 1 is weird }}"), "line 1, column 9: unknown test 'weird' in {{ 1 is weird }}");
  EXPECT_EQ(err("x\n  {% set a = 1 %}"), "line 2, column 6: unknown tag 'set' in {% set a = 1 %}");
  EXPECT_EQ(err("{{ 1 + }}"), "line 1, column 8: expected an expression, found '}}' in {{ 1 + }}");
  EXPECT_EQ(err("{% if true %}x"),
            "line 1, column 1: missing 'elseif' or 'else' or 'endif' for "
            "{% if true %}");
  EXPECT_EQ(err("ab {{ x"), "line 1, column 4: unclosed tag '{{'");
  EXPECT_EQ(err("{{ 'abc }}"), "line 1, column 4: unterminated string");
  EXPECT_EQ(err("{{ a ; b }}"), "line 1, column 6: unexpected character ';'");
  EXPECT_EQ(err("{# never closed"), "line 1, column 1: unclosed comment '{#'");
  EXPECT_EQ(err("{% endif %}"), "line 1, column 4: unknown tag 'endif' in {% endif %}");
  EXPECT_EQ(err("{{ list.size() }}"),
            "line 1, column 13: method calls are not supported in {{ list.size() }}");
}

TEST(TemplateErrors, RuntimeErrors) {
  EXPECT_NE(err("{{ 1 / 0 }}").find("division by zero in '1 / 0'"), std::string::npos);
  EXPECT_NE(err("{{ 'a' - 1 }}").find("operator '-' needs numbers"), std::string::npos);
  EXPECT_NE(err("{{ map < 1 }}").find("cannot compare a map and an integer"), std::string::npos);
  EXPECT_NE(err("{% for x in 5 %}{% endfor %}").find("cannot iterate over an integer in {% for"),
            std::string::npos);
  EXPECT_NE(err("{{ list | keys }}").find("'keys' needs a map, found a list"), std::string::npos);
  EXPECT_NE(err("{{ name | upper(1) }}").find("too many arguments for 'upper'"), std::string::npos);
  EXPECT_NE(err("{{ name | split }}").find("'split' needs the argument 'delimiter'"),
            std::string::npos);
  EXPECT_EQ(r("{% if true %}ok{% elseif nope %}{% endif %}"), "ok");
  EXPECT_NE(err("{% if false %}{% elseif nope %}{% endif %}")
                .find("unable to find variable 'nope' in {% elseif nope %}"),
            std::string::npos);
}

TEST(TemplateValue, JsonRoundTripKeepsOrderAndTypes) {
  auto v = agent::template_::parse_json(R"({"z":1,"a":[true,null,1.5,"s"],"m":{}})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(agent::template_::to_json(*v), R"({"z":1,"a":[true,null,1.5,"s"],"m":{}})");
  EXPECT_TRUE(v->find("z")->is_int());
  EXPECT_EQ(v->find("nope"), nullptr);
  EXPECT_TRUE(agent::template_::equals(Value(1), Value(1.0)));
  EXPECT_FALSE(agent::template_::equals(Value("1"), Value(1)));
  EXPECT_FALSE(agent::template_::parse_json("{").ok());
}

}  // namespace
