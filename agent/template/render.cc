// Evaluation of variables, attributes and operators, and the rendering of
// text, output, if and for nodes. Filters, functions and tests: filters.cc.
#include <cmath>
#include <utility>

#include "agent/template/eval.h"
#include "agent/template/lexer.h"
#include "agent/template/parser.h"
#include "agent/template/template.h"

namespace agent::template_ {

Error expr_error(const Expr& e, const std::string& msg) {
  return Error(Errc::kInvalidArgument, position(e.line, e.column) + msg);
}

Result<Value> Evaluator::lookup(const Expr& e, bool* undefined) {
  for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
    for (const auto& [k, v] : *it) {
      if (k == e.name) return v;
    }
  }
  if (const Value* v = ctx_.vars.find(e.name)) return *v;
  if (undefined != nullptr) {
    *undefined = true;
    return Value();
  }
  return expr_error(e, "unable to find variable '" + e.name + "'");
}

Result<Value> Evaluator::attribute(const Expr& e, bool* undefined) {
  AGENT_ASSIGN_OR_RETURN(Value obj, eval(*e.kids[0], undefined));
  if (undefined != nullptr && *undefined) return Value();
  AGENT_ASSIGN_OR_RETURN(Value key, eval(*e.kids[1]));
  const Value* found = nullptr;
  if (obj.is_map()) {
    found = obj.find(key.is_string() ? key.as_string() : to_output(key));
  } else if (obj.is_list() && (key.is_int() || key.is_string())) {
    const auto& list = obj.as_list();
    int64_t i = -1;
    if (key.is_int()) {
      i = key.as_int();
    } else if (!key.as_string().empty() &&
               key.as_string().find_first_not_of("0123456789") == std::string::npos &&
               key.as_string().size() < 10) {
      i = std::stoll(key.as_string());
    }
    if (i >= 0 && static_cast<size_t>(i) < list.size()) found = &list[static_cast<size_t>(i)];
  } else if (!obj.is_null()) {
    return expr_error(e, "cannot read attribute '" + to_output(key) + "' of " +
                             std::string(kind_name(obj)) + " in '" + e.source + "'");
  }
  if (found != nullptr) return *found;
  if (undefined != nullptr) {
    *undefined = true;
    return Value();
  }
  if (obj.is_null()) {
    return expr_error(
        e, "unable to find variable '" + e.source + "': '" + e.kids[0]->source + "' is null");
  }
  return expr_error(e, "unable to find variable '" + e.source + "'");
}

namespace {

Result<Value> arith(const Expr& e, const Value& l, const Value& r) {
  const std::string& op = e.name;
  if (op == "+" && (l.is_string() || r.is_string())) return Value(to_output(l) + to_output(r));
  if (!l.is_number() || !r.is_number()) {
    return expr_error(e, "operator '" + op + "' needs numbers, found " + std::string(kind_name(l)) +
                             " and " + std::string(kind_name(r)) + " in '" + e.source + "'");
  }
  if (l.is_int() && r.is_int()) {
    int64_t a = l.as_int();
    int64_t b = r.as_int();
    int64_t out = 0;
    if (op == "+" && !__builtin_add_overflow(a, b, &out)) return Value(out);
    if (op == "-" && !__builtin_sub_overflow(a, b, &out)) return Value(out);
    if (op == "*" && !__builtin_mul_overflow(a, b, &out)) return Value(out);
    if (op == "/" || op == "%") {
      if (b == 0) return expr_error(e, "division by zero in '" + e.source + "'");
      if (a == INT64_MIN && b == -1) return expr_error(e, "integer overflow in '" + e.source + "'");
      return Value(op == "/" ? a / b : a % b);
    }
    if (op == "+" || op == "-" || op == "*") {
      return expr_error(e, "integer overflow in '" + e.source + "'");
    }
  }
  double a = l.as_double();
  double b = r.as_double();
  if (op == "+") return Value(a + b);
  if (op == "-") return Value(a - b);
  if (op == "*") return Value(a * b);
  if (op == "/") return Value(a / b);
  return Value(std::fmod(a, b));
}

Result<Value> compare(const Expr& e, const Value& l, const Value& r) {
  const std::string& op = e.name;
  if (op == "==") return Value(equals(l, r));
  if (op == "!=") return Value(!equals(l, r));
  int c = 0;
  if (l.is_number() && r.is_number()) {
    if (l.is_int() && r.is_int()) {
      c = l.as_int() < r.as_int() ? -1 : (l.as_int() > r.as_int() ? 1 : 0);
    } else {
      c = l.as_double() < r.as_double() ? -1 : (l.as_double() > r.as_double() ? 1 : 0);
    }
  } else if (l.is_string() && r.is_string()) {
    c = l.as_string().compare(r.as_string());
  } else {
    return expr_error(e, "cannot compare " + std::string(kind_name(l)) + " and " +
                             std::string(kind_name(r)) + " in '" + e.source + "'");
  }
  if (op == "<") return Value(c < 0);
  if (op == ">") return Value(c > 0);
  if (op == "<=") return Value(c <= 0);
  return Value(c >= 0);
}

Result<Value> contains(const Expr& e, const Value& needle, const Value& hay) {
  if (hay.is_string()) {
    if (!needle.is_string())
      return Value(hay.as_string().find(to_output(needle)) != std::string::npos);
    return Value(hay.as_string().find(needle.as_string()) != std::string::npos);
  }
  if (hay.is_list()) {
    for (const Value& v : hay.as_list()) {
      if (equals(v, needle)) return Value(true);
    }
    return Value(false);
  }
  if (hay.is_map()) return Value(hay.find(to_output(needle)) != nullptr);
  if (hay.is_null()) return Value(false);
  return expr_error(e, "'in' needs a string, list or map, found " + std::string(kind_name(hay)) +
                           " in '" + e.source + "'");
}

}  // namespace

Result<Value> Evaluator::binary(const Expr& e) {
  const std::string& op = e.name;
  AGENT_ASSIGN_OR_RETURN(Value l, eval(*e.kids[0]));
  if (op == "and" && !truthy(l)) return Value(false);
  if (op == "or" && truthy(l)) return Value(true);
  AGENT_ASSIGN_OR_RETURN(Value r, eval(*e.kids[1]));
  if (op == "and" || op == "or") return Value(truthy(r));
  if (op == "~") return Value(to_output(l) + to_output(r));
  if (op == "in") return contains(e, l, r);
  if (op == "+" || op == "-" || op == "*" || op == "/" || op == "%") return arith(e, l, r);
  return compare(e, l, r);
}

Result<Value> Evaluator::eval(const Expr& e, bool* undefined) {
  switch (e.kind) {
    case Expr::Kind::kLiteral:
      return e.literal;
    case Expr::Kind::kVar:
      return lookup(e, undefined);
    case Expr::Kind::kAttr:
      return attribute(e, undefined);
    case Expr::Kind::kList: {
      Value::List list;
      for (const auto& k : e.kids) {
        AGENT_ASSIGN_OR_RETURN(Value v, eval(*k));
        list.push_back(std::move(v));
      }
      return Value(std::move(list));
    }
    case Expr::Kind::kMap: {
      Value::Map map;
      for (size_t i = 0; i + 1 < e.kids.size(); i += 2) {
        AGENT_ASSIGN_OR_RETURN(Value k, eval(*e.kids[i]));
        AGENT_ASSIGN_OR_RETURN(Value v, eval(*e.kids[i + 1]));
        map.emplace_back(to_output(k), std::move(v));
      }
      return Value(std::move(map));
    }
    case Expr::Kind::kUnary: {
      AGENT_ASSIGN_OR_RETURN(Value v, eval(*e.kids[0]));
      if (e.name == "not") return Value(!truthy(v));
      if (v.is_int() && v.as_int() != INT64_MIN) return Value(-v.as_int());
      if (v.is_double()) return Value(-v.as_double());
      return expr_error(e, "cannot negate " + std::string(kind_name(v)) + " in '" + e.source + "'");
    }
    case Expr::Kind::kBinary:
      return binary(e);
    case Expr::Kind::kTernary: {
      AGENT_ASSIGN_OR_RETURN(Value c, eval(*e.kids[0]));
      return eval(*e.kids[truthy(c) ? 1 : 2]);
    }
    case Expr::Kind::kFilter:
      return apply_filter(*this, e);
    case Expr::Kind::kCall:
      return call_function(*this, e);
    case Expr::Kind::kTest:
      return apply_test(*this, e);
  }
  return expr_error(e, "unsupported expression");
}

namespace {

Error in_tag(Error err, const Tag& tag) {
  return Error(err.code(), err.message() + " in " + tag.source, err.path());
}

Status render_nodes(Evaluator& ev, const Nodes& nodes, std::string& out);

Status render_for(Evaluator& ev, const Node& n, std::string& out) {
  auto seq = ev.eval(*n.expr);
  if (!seq.ok()) return in_tag(std::move(seq).error(), n.tag);
  const Value& v = *seq;
  // Items as (key, value): keys are null for lists.
  std::vector<std::pair<Value, Value>> items;
  if (v.is_list()) {
    for (const Value& item : v.as_list()) items.emplace_back(Value(), item);
  } else if (v.is_map()) {
    for (const auto& [k, item] : v.as_map()) items.emplace_back(Value(k), item);
  } else if (!v.is_null()) {
    return in_tag(expr_error(*n.expr, "cannot iterate over " + std::string(kind_name(v))), n.tag);
  }
  if (items.empty()) return render_nodes(ev, n.else_body, out);
  int64_t length = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < length; i++) {
    auto& [key, item] = items[static_cast<size_t>(i)];
    Value::Map scope;
    if (!n.key_var.empty()) {
      scope.emplace_back(n.key_var, v.is_list() ? Value(i) : key);
      scope.emplace_back(n.value_var, item);
    } else if (v.is_map()) {
      scope.emplace_back(n.value_var, Value(Value::Map{{"key", key}, {"value", item}}));
    } else {
      scope.emplace_back(n.value_var, item);
    }
    scope.emplace_back("loop", Value(Value::Map{{"index", Value(i)},
                                                {"revindex", Value(length - i - 1)},
                                                {"first", Value(i == 0)},
                                                {"last", Value(i == length - 1)},
                                                {"length", Value(length)}}));
    ev.scopes().push_back(std::move(scope));
    Status s = render_nodes(ev, n.body, out);
    ev.scopes().pop_back();
    AGENT_TRY(std::move(s));
  }
  return Status::ok_status();
}

Status render_nodes(Evaluator& ev, const Nodes& nodes, std::string& out) {
  for (const Node& n : nodes) {
    switch (n.kind) {
      case Node::Kind::kText:
        out += n.text;
        break;
      case Node::Kind::kOutput: {
        auto v = ev.eval(*n.expr);
        if (!v.ok()) return in_tag(std::move(v).error(), n.tag);
        out += to_output(*v);
        break;
      }
      case Node::Kind::kIf:
        for (const Branch& b : n.branches) {
          bool take = b.cond == nullptr;
          if (!take) {
            auto c = ev.eval(*b.cond);
            if (!c.ok()) return in_tag(std::move(c).error(), b.tag);
            take = truthy(*c);
          }
          if (take) {
            AGENT_TRY(render_nodes(ev, b.body, out));
            break;
          }
        }
        break;
      case Node::Kind::kFor:
        AGENT_TRY(render_for(ev, n, out));
        break;
    }
  }
  return Status::ok_status();
}

}  // namespace

Result<Template> parse(std::string_view tmpl) {
  AGENT_ASSIGN_OR_RETURN(std::vector<Token> tokens, tokenize(tmpl));
  AGENT_ASSIGN_OR_RETURN(Body body, parse_tokens(tmpl, tokens));
  Template t;
  t.body_ = std::make_shared<const Body>(std::move(body));
  return t;
}

Result<std::string> Template::render(const Context& ctx) const {
  std::string out;
  if (body_ == nullptr) return out;
  Evaluator ev(ctx);
  AGENT_TRY(render_nodes(ev, body_->nodes, out));
  return out;
}

Result<std::string> render(std::string_view tmpl, const Context& ctx) {
  if (!has_template(tmpl)) return std::string(tmpl);
  AGENT_ASSIGN_OR_RETURN(Template t, parse(tmpl));
  return t.render(ctx);
}

bool has_template(std::string_view s) {
  for (size_t i = 0; i + 1 < s.size(); i++) {
    if (s[i] == '{' && (s[i + 1] == '{' || s[i + 1] == '%' || s[i + 1] == '#')) return true;
  }
  return false;
}

}  // namespace agent::template_
