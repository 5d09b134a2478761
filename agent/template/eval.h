// Expression evaluation shared by render.cc (operators, variables, tags) and
// filters.cc (filters, functions, tests). Internal to agent/template.
#pragma once

#include <string>
#include <vector>

#include "agent/common/result.h"
#include "agent/template/parser.h"
#include "agent/template/template.h"
#include "agent/template/value.h"

namespace agent::template_ {

class Evaluator {
 public:
  explicit Evaluator(const Context& ctx) : ctx_(ctx) {}

  // Strict: an undefined variable or attribute is an error naming it.
  Result<Value> eval(const Expr& e) { return eval(e, nullptr); }
  // With `undefined` set, an undefined variable or attribute (or one read
  // through null) gives null and sets *undefined instead of failing.
  Result<Value> eval(const Expr& e, bool* undefined);

  const Context& ctx() const { return ctx_; }
  // Loop variables, innermost last; looked up before ctx.vars.
  std::vector<Value::Map>& scopes() { return scopes_; }

 private:
  Result<Value> lookup(const Expr& e, bool* undefined);
  Result<Value> attribute(const Expr& e, bool* undefined);
  Result<Value> binary(const Expr& e);

  const Context& ctx_;
  std::vector<Value::Map> scopes_;
};

// "line 1, column 9: msg" at the expression.
Error expr_error(const Expr& e, const std::string& msg);

// filters.cc
Result<Value> apply_filter(Evaluator& ev, const Expr& e);
Result<Value> call_function(Evaluator& ev, const Expr& e);
Result<Value> apply_test(Evaluator& ev, const Expr& e);

}  // namespace agent::template_
