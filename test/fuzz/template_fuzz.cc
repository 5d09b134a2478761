// The template renderer (agent/template) on any text a flow may hold, with a
// few variables: never crashes; text without a template renders to itself.
#include <string>

#include "agent/template/template.h"
#include "test/fuzz/fuzz_util.h"

using agent::template_::Value;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  agent::template_::Context ctx;
  ctx.vars = Value(Value::Map{
      {"inputs", Value(Value::Map{{"name", Value(std::string("world"))}, {"n", Value(int64_t{3})}})},
      {"list", Value(Value::List{Value(int64_t{1}), Value(std::string("two")), Value(2.5)})},
      {"flag", Value(true)},
  });
  ctx.now_ms = [] { return int64_t{1763933400123}; };
  ctx.secret = [](std::string_view key) -> agent::Result<std::string> {
    if (key == "K") return std::string("s3cr3t");
    return agent::Error(agent::Errc::kNotFound, "no secret");
  };
  auto out = agent::template_::render(text, ctx);
  if (out.ok() && !agent::template_::has_template(text) && *out != text) {
    fuzz::fail("text without a template changed when rendered");
  }
  return 0;
}
