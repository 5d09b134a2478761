#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/template/template.h"
#include "agent/template/value.h"

namespace {

using agent::template_::Context;
using agent::template_::Value;

Context kestra_context() {
  Context ctx;
  auto vars = agent::template_::parse_json(R"({
    "inputs": {"name": "world", "count": 3, "flag": true, "nothing": null, "csv": "a,b,,c"},
    "outputs": {
      "extract": {"vars": {"rows": 42, "items": "[{\"id\":1},{\"id\":2}]"}},
      "my-task": {"outputFiles": {"out.csv": "kestra:///dev/out.csv"}}
    },
    "flow": {"id": "hello", "namespace": "dev"},
    "execution": {"id": "exec1", "startDate": "2024-03-05T10:20:30.123Z"},
    "list": [1, 2, 3],
    "words": ["a", "b", "c"],
    "map": {"x": 1, "y": 2},
    "price": 2.5
  })");
  EXPECT_TRUE(vars.ok());
  ctx.vars = *vars;
  ctx.now_ms = [] { return int64_t{1709634030123}; };
  return ctx;
}

std::string render_ok(std::string_view tmpl, const Context& ctx) {
  auto r = agent::template_::render(tmpl, ctx);
  EXPECT_TRUE(r.ok()) << tmpl << " -> " << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : "<error>";
}

std::string render_err(std::string_view tmpl, const Context& ctx) {
  auto r = agent::template_::render(tmpl, ctx);
  EXPECT_FALSE(r.ok()) << tmpl << " rendered " << (r.ok() ? *r : "");
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code(), agent::Errc::kInvalidArgument);
  return r.error().message();
}

TEST(TemplateRender, PlainTextAndHasTemplate) {
  Context ctx = kestra_context();
  EXPECT_FALSE(agent::template_::has_template("echo hello {x} %"));
  EXPECT_TRUE(agent::template_::has_template("a {{ b }}"));
  EXPECT_TRUE(agent::template_::has_template("{% if x %}"));
  EXPECT_EQ(render_ok("echo hello { } %}", ctx), "echo hello { } %}");
}

TEST(TemplateRender, KestraVariables) {
  Context ctx = kestra_context();
  EXPECT_EQ(render_ok("rows={{ outputs.extract.vars.rows }}", ctx), "rows=42");
  EXPECT_EQ(render_ok("{{ inputs.name | upper }}", ctx), "WORLD");
  EXPECT_EQ(render_ok("{{ outputs['my-task'].outputFiles['out.csv'] }}", ctx),
            "kestra:///dev/out.csv");
  EXPECT_EQ(render_ok("{{ flow.namespace }}.{{ flow.id }}", ctx), "dev.hello");
  EXPECT_EQ(render_ok("{{ list[0] }}{{ list[2] }}{{ words.1 }}", ctx), "13b");
}

TEST(TemplateRender, OutputFormatting) {
  Context ctx = kestra_context();
  EXPECT_EQ(render_ok("{{ 7 }} {{ 2.5 }} {{ 2.0 }} {{ 1 / 4.0 }}", ctx), "7 2.5 2.0 0.25");
  EXPECT_EQ(render_ok("{{ true }} {{ false }} [{{ null }}]", ctx), "true false []");
  EXPECT_EQ(render_ok("{{ list }} {{ map }}", ctx), R"([1,2,3] {"x":1,"y":2})");
  EXPECT_EQ(render_ok("{{ inputs.nothing }}|", ctx), "|");
  EXPECT_EQ(agent::template_::format_double(1e10), "1.0E10");
  EXPECT_EQ(agent::template_::format_double(0.1), "0.1");
  EXPECT_EQ(agent::template_::format_double(1.5e-5), "1.5E-5");
}

TEST(TemplateRender, Literals) {
  Context ctx = kestra_context();
  EXPECT_EQ(render_ok(R"({{ 'it\'s' }} {{ "a\"b\n" }}{{ "\u00e9" }})", ctx), "it's a\"b\n\xc3\xa9");
  EXPECT_EQ(render_ok("{{ [1, 'a', [true]] }}", ctx), R"([1,"a",[true]])");
  EXPECT_EQ(render_ok("{{ {'a': 1, \"b\": [2]} }}", ctx), R"({"a":1,"b":[2]})");
  EXPECT_EQ(render_ok("{{ {'a': {'b': 5}}.a.b }}", ctx), "5");
}

TEST(TemplateRender, Operators) {
  Context ctx = kestra_context();
  EXPECT_EQ(
      render_ok("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 / 2 }} {{ 7 % 3 }} {{ -3 + 1 }}", ctx),
      "7 9 3 1 -2");
  EXPECT_EQ(render_ok("{{ price * 2 }} {{ inputs.count - 0.5 }}", ctx), "5.0 2.5");
  EXPECT_EQ(render_ok("{{ 'a' ~ inputs.count ~ 'b' ~ null }}", ctx), "a3b");
  EXPECT_EQ(render_ok("{{ 1 < 2 }} {{ 2 <= 1 }} {{ 'a' < 'b' }} {{ 3 == 3.0 }} {{ 1 != 1 }}", ctx),
            "true false true true false");
  EXPECT_EQ(render_ok("{{ true and not false }} {{ false or inputs.flag }}", ctx), "true true");
  EXPECT_EQ(render_ok("{{ 2 in list }} {{ 'x' in map }} {{ 'orl' in inputs.name }}", ctx),
            "true true true");
  EXPECT_EQ(render_ok("{{ 9 not in list }} {{ list contains 3 }}", ctx), "true true");
  EXPECT_EQ(render_ok("{{ inputs.flag ? 'yes' : 'no' }} {{ 0 ? 1 : 2 }}", ctx), "yes 2");
  EXPECT_EQ(render_ok("{{ not inputs.flag and true }}", ctx), "false");
}

TEST(TemplateRender, IfElseifElse) {
  Context ctx = kestra_context();
  std::string t =
      "{% if inputs.count > 5 %}big{% elseif inputs.count > 2 %}mid"
      "{% else %}small{% endif %}";
  EXPECT_EQ(render_ok(t, ctx), "mid");
  EXPECT_EQ(render_ok("{% if inputs.missing is defined %}a{% else %}b{% endif %}", ctx), "b");
  EXPECT_EQ(render_ok("{% if inputs.name %}x{% endif %}", ctx), "x");
  EXPECT_EQ(render_ok("{% if false %}x{% endif %}.", ctx), ".");
}

TEST(TemplateRender, ForLoops) {
  Context ctx = kestra_context();
  EXPECT_EQ(
      render_ok("{% for x in list %}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}", ctx),
      "1,2,3");
  EXPECT_EQ(render_ok("{% for w in words %}{{ loop.index }}{{ loop.first }}{% endfor %}", ctx),
            "0true1false2false");
  EXPECT_EQ(render_ok("{% for k, v in map %}{{ k }}={{ v }};{% endfor %}", ctx), "x=1;y=2;");
  EXPECT_EQ(render_ok("{% for e in map %}{{ e.key }}{{ e.value }}{% endfor %}", ctx), "x1y2");
  EXPECT_EQ(render_ok("{% for i, w in words %}{{ i }}{{ w }}{% endfor %}", ctx), "0a1b2c");
  EXPECT_EQ(render_ok("{% for x in [] %}x{% else %}none{% endfor %}", ctx), "none");
  EXPECT_EQ(render_ok("{% for i in range(1, 3) %}{% for j in range(1, i) %}{{ j }}{% endfor %};"
                      "{% endfor %}",
                      ctx),
            "1;12;123;");
}

TEST(TemplateRender, ForOverFromJson) {
  Context ctx = kestra_context();
  EXPECT_EQ(render_ok("{% for row in outputs.extract.vars.items | fromJson %}id={{ row.id }} "
                      "{% endfor %}",
                      ctx),
            "id=1 id=2 ");
  EXPECT_EQ(render_ok("{% for row in fromJson(outputs.extract.vars.items) %}{{ row.id }}"
                      "{% endfor %}",
                      ctx),
            "12");
}

TEST(TemplateRender, CommentsAndWhitespaceControl) {
  Context ctx = kestra_context();
  EXPECT_EQ(render_ok("a{# a comment {{ x }} #}b", ctx), "ab");
  EXPECT_EQ(render_ok("a   {{- inputs.name -}}   \n b", ctx), "aworldb");
  EXPECT_EQ(render_ok("[\n{%- for x in list -%}\n  {{ x }}\n{%- endfor -%}\n]", ctx), "[123]");
  EXPECT_EQ(render_ok("a \n{#- c -#}\n b", ctx), "ab");
  EXPECT_EQ(render_ok("{% if true %}\nx\n{% endif %}\n", ctx), "\nx\n\n");
}

TEST(TemplateRender, StrictVariablesAndDefault) {
  Context ctx = kestra_context();
  std::string msg = render_err("hello {{ inputs.nme }}", ctx);
  EXPECT_EQ(msg, "line 1, column 16: unable to find variable 'inputs.nme' in {{ inputs.nme }}");
  EXPECT_NE(render_err("{{ missing }}", ctx).find("unable to find variable 'missing'"),
            std::string::npos);
  EXPECT_NE(render_err("{{ list[5] }}", ctx).find("unable to find variable 'list[5]'"),
            std::string::npos);
  EXPECT_NE(render_err("{{ inputs.nothing.x }}", ctx).find("'inputs.nothing' is null"),
            std::string::npos);
  EXPECT_EQ(render_ok("{{ inputs.nme | default('anon') }}", ctx), "anon");
  EXPECT_EQ(render_ok("{{ missing.deep.path | default('d') | upper }}", ctx), "D");
  EXPECT_EQ(render_ok("{{ inputs.nothing | default(5) }}", ctx), "5");
  EXPECT_EQ(render_ok("{{ inputs.name | default('x') }}", ctx), "world");
  EXPECT_EQ(render_ok("{{ missing is defined }} {{ inputs.name is defined }} "
                      "{{ missing is null }} {{ inputs.nothing is null }} {{ list is not null }}",
                      ctx),
            "false true true true true");
  EXPECT_EQ(render_ok("{{ missing is empty }} {{ [] is empty }} {{ words is empty }}", ctx),
            "true true false");
}

TEST(TemplateRender, FunctionsSecretReadNow) {
  Context ctx = kestra_context();
  std::vector<std::string> used;
  ctx.secrets_used = &used;
  ctx.secret = [](std::string_view key) -> agent::Result<std::string> {
    if (key == "API_KEY") return std::string("s3cr3t");
    return agent::Error(agent::Errc::kNotFound, "no secret " + std::string(key));
  };
  ctx.read = [](std::string_view path) -> agent::Result<std::string> {
    return "content of " + std::string(path);
  };
  EXPECT_EQ(render_ok("curl -H 'key: {{ secret('API_KEY') }}' {{ secret(\"API_KEY\") }}", ctx),
            "curl -H 'key: s3cr3t' s3cr3t");
  ASSERT_EQ(used.size(), 1u);
  EXPECT_EQ(used[0], "s3cr3t");
  EXPECT_NE(render_err("{{ secret('NOPE') }}", ctx).find("secret('NOPE'): no secret NOPE"),
            std::string::npos);
  EXPECT_EQ(render_ok("{{ read('a.txt') }}", ctx), "content of a.txt");
  EXPECT_EQ(render_ok("{{ now() }}", ctx), "2024-03-05T10:20:30.123Z");
  EXPECT_EQ(render_ok("{{ now() | date('yyyy-MM-dd') }}", ctx), "2024-03-05");
  EXPECT_EQ(render_ok("{{ range(0, 10, 5) }}", ctx), "[0,5,10]");
  Context bare;
  EXPECT_NE(render_err("{{ secret('X') }}", bare).find("'secret' is not available"),
            std::string::npos);
}

TEST(TemplateRender, ParseOnceRenderTwice) {
  auto t = agent::template_::parse("{{ a }}-{{ b | default(0) }}");
  ASSERT_TRUE(t.ok());
  Context c1;
  c1.vars = Value(Value::Map{{"a", Value(1)}});
  Context c2;
  c2.vars = Value(Value::Map{{"a", Value("x")}, {"b", Value(2)}});
  EXPECT_EQ(*t->render(c1), "1-0");
  EXPECT_EQ(*t->render(c2), "x-2");
}

}  // namespace
