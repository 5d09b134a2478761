// Filters, functions and tests.
//
// Filters: upper, lower, trim, capitalize, title, default(value), json, toJson,
//   fromJson, length, date(format, timeZone), join(separator), first, last, keys,
//   values, replace(map), split(delimiter, limit), abs, number, startsWith(prefix),
//   endsWith(suffix), reverse, sort.
// Functions: now(), secret(key), read(path), fromJson(string), range(start, end, step).
// Tests: defined, null, empty, even, odd, iterable, map.
// Anything else is an error naming it.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "agent/template/date.h"
#include "agent/template/eval.h"

namespace agent::template_ {

namespace {

using Args = std::vector<std::optional<Value>>;

// Evaluates e.kids[first..] into `params` slots, by position or by name.
Result<Args> bind(Evaluator& ev, const Expr& e, size_t first,
                  std::initializer_list<std::string_view> params, size_t required) {
  Args out(params.size());
  size_t next_pos = 0;
  for (size_t i = first; i < e.kids.size(); i++) {
    const std::string& name = e.arg_names[i - first];
    size_t slot = next_pos;
    if (name.empty()) {
      next_pos++;
    } else {
      slot = 0;
      for (std::string_view p : params) {
        if (p == name) break;
        slot++;
      }
      if (slot == params.size()) {
        return expr_error(*e.kids[i], "'" + e.name + "' has no argument named '" + name + "'");
      }
    }
    if (slot >= params.size()) {
      return expr_error(*e.kids[i], "too many arguments for '" + e.name + "'");
    }
    AGENT_ASSIGN_OR_RETURN(Value v, ev.eval(*e.kids[i]));
    out[slot] = std::move(v);
  }
  for (size_t i = 0; i < required; i++) {
    if (!out[i].has_value()) {
      return expr_error(
          e, "'" + e.name + "' needs the argument '" + std::string(*(params.begin() + i)) + "'");
    }
  }
  return out;
}

Error type_error(const Expr& e, std::string_view wanted, const Value& got) {
  return expr_error(e, "'" + e.name + "' needs " + std::string(wanted) + ", found " +
                           std::string(kind_name(got)));
}

bool is_empty(const Value& v) {
  return v.is_null() || (v.is_string() && v.as_string().empty()) ||
         (v.is_list() && v.as_list().empty()) || (v.is_map() && v.as_map().empty());
}

std::string map_chars(std::string s, int (*fn)(int)) {
  for (char& c : s) {
    if (static_cast<unsigned char>(c) < 0x80)
      c = static_cast<char>(fn(static_cast<unsigned char>(c)));
  }
  return s;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

Result<Instant> to_instant(const Expr& e, const Value& v) {
  if (v.is_int()) return Instant{v.as_int(), 0};
  if (v.is_string()) {
    auto t = parse_iso(v.as_string());
    if (!t.ok()) return expr_error(e, t.error().message());
    return t;
  }
  return type_error(e, "an ISO-8601 string or epoch milliseconds", v);
}

Result<Value> string_filter(const Expr& e, const Value& in) {
  if (in.is_null()) return Value();
  std::string s = to_output(in);
  const std::string& f = e.name;
  if (f == "upper") return Value(map_chars(std::move(s), ::toupper));
  if (f == "lower") return Value(map_chars(std::move(s), ::tolower));
  if (f == "trim") {
    size_t b = s.find_first_not_of(" \t\r\n\f\v");
    if (b == std::string::npos) return Value("");
    size_t end = s.find_last_not_of(" \t\r\n\f\v");
    return Value(s.substr(b, end - b + 1));
  }
  if (f == "capitalize") {
    if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    return Value(std::move(s));
  }
  // title: the first letter of each word upper-cased.
  bool start = true;
  for (char& c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      start = true;
    } else if (start) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      start = false;
    }
  }
  return Value(std::move(s));
}

Result<Value> number_filter(const Expr& e, const Value& in) {
  if (in.is_number()) return in;
  if (!in.is_string()) return type_error(e, "a string", in);
  const std::string& s = in.as_string();
  int64_t i = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), i);
  if (r.ec == std::errc() && r.ptr == s.data() + s.size()) return Value(i);
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d)) return Value(d);
  return expr_error(e, "cannot parse '" + s + "' as a number");
}

Result<Value> split_filter(const Expr& e, const Value& in, const Args& a) {
  if (!in.is_string()) return type_error(e, "a string", in);
  if (!a[0]->is_string() || a[0]->as_string().empty()) {
    return expr_error(e, "'split' needs a non-empty string delimiter");
  }
  int64_t limit = a[1].has_value() && a[1]->is_int() ? a[1]->as_int() : 0;
  const std::string& s = in.as_string();
  const std::string& sep = a[0]->as_string();
  std::vector<Value> parts;
  size_t from = 0;
  while (true) {
    size_t at = s.find(sep, from);
    if (at == std::string::npos || (limit > 0 && static_cast<int64_t>(parts.size()) == limit - 1)) {
      parts.emplace_back(s.substr(from));
      break;
    }
    parts.emplace_back(s.substr(from, at - from));
    from = at + sep.size();
  }
  // Java drops trailing empty strings when there is no limit.
  while (limit == 0 && !parts.empty() && parts.back().as_string().empty()) parts.pop_back();
  return Value(std::move(parts));
}

Result<Value> collection_filter(const Expr& e, const Value& in) {
  const std::string& f = e.name;
  if (f == "first" || f == "last") {
    if (in.is_list()) {
      const auto& l = in.as_list();
      if (l.empty()) return Value();
      return f == "first" ? l.front() : l.back();
    }
    if (in.is_string()) {
      const std::string& s = in.as_string();
      if (s.empty()) return Value();
      return Value(f == "first" ? s.substr(0, 1) : s.substr(s.size() - 1));
    }
    return type_error(e, "a list or a string", in);
  }
  if (f == "keys" || f == "values") {
    if (!in.is_map()) return type_error(e, "a map", in);
    Value::List out;
    for (const auto& [k, v] : in.as_map()) out.push_back(f == "keys" ? Value(k) : v);
    return Value(std::move(out));
  }
  if (f == "reverse") {
    if (in.is_string()) return Value(std::string(in.as_string().rbegin(), in.as_string().rend()));
    if (!in.is_list()) return type_error(e, "a list or a string", in);
    return Value(Value::List(in.as_list().rbegin(), in.as_list().rend()));
  }
  // sort: numbers or strings.
  if (!in.is_list()) return type_error(e, "a list", in);
  Value::List l = in.as_list();
  bool numbers = std::all_of(l.begin(), l.end(), [](const Value& v) { return v.is_number(); });
  bool strings = std::all_of(l.begin(), l.end(), [](const Value& v) { return v.is_string(); });
  if (!numbers && !strings) return expr_error(e, "'sort' needs a list of numbers or of strings");
  std::stable_sort(l.begin(), l.end(), [&](const Value& x, const Value& y) {
    return numbers ? x.as_double() < y.as_double() : x.as_string() < y.as_string();
  });
  return Value(std::move(l));
}

}  // namespace

Result<Value> apply_filter(Evaluator& ev, const Expr& e) {
  const std::string& f = e.name;
  if (f == "default") {
    bool undefined = false;
    AGENT_ASSIGN_OR_RETURN(Value in, ev.eval(*e.kids[0], &undefined));
    AGENT_ASSIGN_OR_RETURN(Args a, bind(ev, e, 1, {"default"}, 1));
    return undefined || is_empty(in) ? *a[0] : in;
  }
  static constexpr std::string_view kKnown[] = {
      "upper",  "lower", "trim",   "capitalize", "title",    "json",    "toJson", "fromJson",
      "length", "date",  "join",   "first",      "last",     "keys",    "values", "replace",
      "split",  "abs",   "number", "startsWith", "endsWith", "reverse", "sort"};
  if (std::find(std::begin(kKnown), std::end(kKnown), f) == std::end(kKnown)) {
    return expr_error(e, "unknown filter '" + f + "'");
  }
  AGENT_ASSIGN_OR_RETURN(Value in, ev.eval(*e.kids[0]));
  if (f == "upper" || f == "lower" || f == "trim" || f == "capitalize" || f == "title") {
    AGENT_TRY(bind(ev, e, 1, {}, 0));
    return string_filter(e, in);
  }
  if (f == "json" || f == "toJson") return Value(to_json(in));
  if (f == "fromJson") {
    if (in.is_null()) return Value();
    if (!in.is_string()) return type_error(e, "a string", in);
    auto v = parse_json(in.as_string());
    if (!v.ok()) return expr_error(e, "'fromJson': " + v.error().message());
    return v;
  }
  if (f == "length") {
    if (in.is_null()) return Value(0);
    if (in.is_string()) return Value(static_cast<int64_t>(utf8_length(in.as_string())));
    if (in.is_list()) return Value(static_cast<int64_t>(in.as_list().size()));
    if (in.is_map()) return Value(static_cast<int64_t>(in.as_map().size()));
    return type_error(e, "a string, list or map", in);
  }
  if (f == "date") {
    AGENT_ASSIGN_OR_RETURN(Args a, bind(ev, e, 1, {"format", "timeZone"}, 0));
    if (in.is_null()) return Value();
    AGENT_ASSIGN_OR_RETURN(Instant t, to_instant(e, in));
    if (a[1].has_value()) {
      std::string tz = to_output(*a[1]);
      if (tz != "UTC" && tz != "Z" && tz != "Etc/UTC" && tz != "GMT") {
        return expr_error(e, "unsupported timeZone '" + tz + "' (only UTC)");
      }
      t.offset_minutes = 0;
    }
    if (!a[0].has_value() || a[0]->is_null()) return Value(format_iso(t));
    if (!a[0]->is_string()) return type_error(e, "a string format", *a[0]);
    auto s = format_date(t, a[0]->as_string());
    if (!s.ok()) return expr_error(e, s.error().message());
    return Value(std::move(s).value());
  }
  if (f == "join") {
    AGENT_ASSIGN_OR_RETURN(Args a, bind(ev, e, 1, {"separator"}, 0));
    if (in.is_null()) return Value();
    if (!in.is_list()) return type_error(e, "a list", in);
    std::string sep = a[0].has_value() ? to_output(*a[0]) : "";
    std::string out;
    for (size_t i = 0; i < in.as_list().size(); i++) {
      if (i > 0) out += sep;
      out += to_output(in.as_list()[i]);
    }
    return Value(std::move(out));
  }
  if (f == "replace") {
    AGENT_ASSIGN_OR_RETURN(Args a, bind(ev, e, 1, {"replace_pairs"}, 1));
    if (!a[0]->is_map()) return type_error(e, "a map of replacements", *a[0]);
    if (in.is_null()) return Value();
    std::string s = to_output(in);
    for (const auto& [from, to] : a[0]->as_map()) {
      if (from.empty()) continue;
      std::string repl = to_output(to);
      std::string out;
      size_t pos = 0;
      for (size_t at; (at = s.find(from, pos)) != std::string::npos; pos = at + from.size()) {
        out.append(s, pos, at - pos).append(repl);
      }
      out.append(s, pos);
      s = std::move(out);
    }
    return Value(std::move(s));
  }
  if (f == "split") {
    AGENT_ASSIGN_OR_RETURN(Args a, bind(ev, e, 1, {"delimiter", "limit"}, 1));
    return split_filter(e, in, a);
  }
  if (f == "abs") {
    if (in.is_int() && in.as_int() != INT64_MIN)
      return Value(in.as_int() < 0 ? -in.as_int() : in.as_int());
    if (in.is_double()) return Value(std::fabs(in.as_double()));
    return type_error(e, "a number", in);
  }
  if (f == "number") return number_filter(e, in);
  if (f == "startsWith" || f == "endsWith") {
    AGENT_ASSIGN_OR_RETURN(Args a, bind(ev, e, 1, {"value"}, 1));
    if (!in.is_string()) return type_error(e, "a string", in);
    std::string_view s = in.as_string();
    std::string x = to_output(*a[0]);
    return Value(f == "startsWith" ? s.starts_with(x) : s.ends_with(x));
  }
  AGENT_TRY(bind(ev, e, 1, {}, 0));
  return collection_filter(e, in);
}

Result<Value> call_function(Evaluator& ev, const Expr& e) {
  const std::string& f = e.name;
  const Context& ctx = ev.ctx();
  if (f == "now") {
    AGENT_TRY(bind(ev, e, 0, {}, 0));
    int64_t ms = ctx.now_ms ? ctx.now_ms()
                            : std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
    return Value(format_iso(Instant{ms, 0}));
  }
  if (f == "secret" || f == "read") {
    AGENT_ASSIGN_OR_RETURN(Args a, bind(ev, e, 0, {f == "secret" ? "key" : "path"}, 1));
    if (!a[0]->is_string()) return type_error(e, "a string", *a[0]);
    const auto& fn = f == "secret" ? ctx.secret : ctx.read;
    if (!fn) return expr_error(e, "'" + f + "' is not available here");
    auto v = fn(a[0]->as_string());
    if (!v.ok()) {
      return expr_error(e, f + "('" + a[0]->as_string() + "'): " + v.error().message());
    }
    if (f == "secret" && ctx.secrets_used != nullptr && !v->empty()) {
      auto& used = *ctx.secrets_used;
      if (std::find(used.begin(), used.end(), *v) == used.end()) used.push_back(*v);
    }
    return Value(std::move(v).value());
  }
  if (f == "fromJson") {
    AGENT_ASSIGN_OR_RETURN(Args a, bind(ev, e, 0, {"json"}, 1));
    if (a[0]->is_null()) return Value();
    if (!a[0]->is_string()) return type_error(e, "a string", *a[0]);
    auto v = parse_json(a[0]->as_string());
    if (!v.ok()) return expr_error(e, "'fromJson': " + v.error().message());
    return v;
  }
  if (f == "range") {
    AGENT_ASSIGN_OR_RETURN(Args a, bind(ev, e, 0, {"start", "end", "step"}, 2));
    int64_t step = a[2].has_value() && a[2]->is_int() ? a[2]->as_int() : 1;
    if (!a[0]->is_int() || !a[1]->is_int() || step == 0) {
      return expr_error(e, "'range' needs integer bounds and a non-zero step");
    }
    int64_t from = a[0]->as_int();
    int64_t to = a[1]->as_int();
    if ((static_cast<double>(to) - static_cast<double>(from)) / static_cast<double>(step) > 1e5)
      return expr_error(e, "'range' would exceed 100000 items");
    Value::List out;
    for (int64_t i = from; step > 0 ? i <= to : i >= to; i += step) out.emplace_back(i);
    return Value(std::move(out));
  }
  return expr_error(e, "unknown function '" + f + "'");
}

Result<Value> apply_test(Evaluator& ev, const Expr& e) {
  const std::string& t = e.name;
  bool result = false;
  if (t == "defined" || t == "null" || t == "empty") {
    bool undefined = false;
    AGENT_ASSIGN_OR_RETURN(Value in, ev.eval(*e.kids[0], &undefined));
    if (t == "defined") result = !undefined && !in.is_null();
    if (t == "null") result = undefined || in.is_null();
    if (t == "empty") result = undefined || is_empty(in);
  } else if (t == "even" || t == "odd" || t == "iterable" || t == "map") {
    AGENT_ASSIGN_OR_RETURN(Value in, ev.eval(*e.kids[0]));
    if (t == "iterable") {
      result = in.is_list() || in.is_map();
    } else if (t == "map") {
      result = in.is_map();
    } else {
      if (!in.is_int()) return type_error(e, "an integer", in);
      result = (in.as_int() % 2 == 0) == (t == "even");
    }
  } else {
    return expr_error(e, "unknown test '" + t + "'");
  }
  return Value(result != e.negate);
}

}  // namespace agent::template_
