// The template renderer (agent/template) on any text a flow may hold, with a
// few variables, a secret and a fixed clock. Besides never crashing:
//  - text without "{{", "{%" or "{#" renders to itself;
//  - render(text) is parse(text) then render, and a parsed template renders
//    the same twice (it is shared between threads and task runs);
//  - any bytes written as a quoted string literal, `{{ '...' }}`, render to
//    exactly those bytes, and inside a comment to nothing.
#include <string>

#include "agent/template/template.h"
#include "test/fuzz/fuzz_util.h"

namespace {

using agent::template_::Value;

const agent::template_::Context& context() {
  static const agent::template_::Context ctx = [] {
    agent::template_::Context c;
    c.vars = Value(Value::Map{
        {"inputs", Value(Value::Map{{"name", Value(std::string("world"))}, {"n", Value(int64_t{3})}})},
        {"list", Value(Value::List{Value(int64_t{1}), Value(std::string("two")), Value(2.5)})},
        {"flag", Value(true)},
        {"nothing", Value(nullptr)},
    });
    c.now_ms = [] { return int64_t{1763933400123}; };
    c.secret = [](std::string_view key) -> agent::Result<std::string> {
      if (key == "K") return std::string("s3cr3t");
      return agent::Error(agent::Errc::kNotFound, "no secret");
    };
    return c;
  }();
  return ctx;
}

std::string quoted(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

bool same(const agent::Result<std::string>& a, const agent::Result<std::string>& b) {
  if (a.ok() != b.ok()) return false;
  return a.ok() ? *a == *b : a.error().message() == b.error().message();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace t = agent::template_;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const t::Context& ctx = context();

  auto out = t::render(text, ctx);
  if (out.ok() && !t::has_template(text) && *out != text) {
    fuzz::fail("text without a template changed when rendered");
  }
  auto parsed = t::parse(text);
  if (parsed.ok()) {
    auto first = parsed->render(ctx);
    fuzz::check(same(first, out), "render(text) differs from parse(text).render()");
    fuzz::check(same(first, parsed->render(ctx)), "a parsed template renders differently twice");
  } else {
    fuzz::check(!out.ok(), "a template that does not parse rendered");
  }

  auto literal = t::render("{{ " + quoted(text) + " }}", ctx);
  if (!literal.ok() || *literal != text) fuzz::fail("a string literal does not render to itself");
  if (text.find("#}") == std::string_view::npos) {
    auto comment = t::render("a{#" + std::string(text) + "#}b", ctx);
    if (!comment.ok() || *comment != "ab") fuzz::fail("a comment does not render to nothing");
  }
  return 0;
}
