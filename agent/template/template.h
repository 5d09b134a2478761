// Pebble-compatible templates for the subset Kestra flows use: `{{ expr }}`,
// `{% if %}`/`{% elseif %}`/`{% else %}`/`{% endif %}`, `{% for %}`/`{% endfor %}`,
// `{# comments #}`, whitespace control, filters, functions and tests.
// Variables are strict, as Kestra renders them: an undefined variable is an
// error naming it, except under `default(...)`, `is defined`, `is null`, `is empty`.
// Errors are Errc::kInvalidArgument: "line 2, column 7: unknown filter 'uppr' in {{ name | uppr
// }}". Threading: a parsed Template is immutable and may be rendered from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/common/result.h"
#include "agent/template/value.h"

namespace agent::template_ {

struct Context {
  // The root map: inputs, outputs, vars, flow, execution, task, taskrun, envs, ...
  Value vars;
  // secret('KEY'); unset: secret() is an error.
  std::function<Result<std::string>(std::string_view key)> secret;
  // read('path'); unset: read() is an error.
  std::function<Result<std::string>(std::string_view path)> read;
  // Milliseconds since the epoch for now(); unset: the system clock.
  std::function<int64_t()> now_ms;
  // When set, each secret value read is appended (once) so that logs can mask it.
  std::vector<std::string>* secrets_used = nullptr;
};

struct Body;  // the parsed template (parser.h)

class Template {
 public:
  Result<std::string> render(const Context& ctx) const;

 private:
  friend Result<Template> parse(std::string_view tmpl);
  std::shared_ptr<const Body> body_;
};

Result<Template> parse(std::string_view tmpl);
Result<std::string> render(std::string_view tmpl, const Context& ctx);
// Whether `s` holds "{{" or "{%" (or "{#"): plain strings need no rendering.
bool has_template(std::string_view s);

}  // namespace agent::template_
