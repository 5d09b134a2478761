#include "agent/template/value.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "agent/json/writer.h"

namespace agent::template_ {

bool Value::as_bool() const {
  AGENT_CHECK(is_bool());
  return std::get<bool>(v_);
}

int64_t Value::as_int() const {
  AGENT_CHECK(is_int());
  return std::get<int64_t>(v_);
}

double Value::as_double() const {
  AGENT_CHECK(is_number());
  return is_int() ? static_cast<double>(std::get<int64_t>(v_)) : std::get<double>(v_);
}

const std::string& Value::as_string() const {
  AGENT_CHECK(is_string());
  return std::get<std::string>(v_);
}

const Value::List& Value::as_list() const {
  AGENT_CHECK(is_list());
  return *std::get<std::shared_ptr<const List>>(v_);
}

const Value::Map& Value::as_map() const {
  AGENT_CHECK(is_map());
  return *std::get<std::shared_ptr<const Map>>(v_);
}

const Value* Value::find(std::string_view key) const {
  if (!is_map()) return nullptr;
  for (const auto& [k, v] : as_map()) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::string_view kind_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      return "null";
    case Value::Kind::kBool:
      return "a boolean";
    case Value::Kind::kInt:
      return "an integer";
    case Value::Kind::kDouble:
      return "a number";
    case Value::Kind::kString:
      return "a string";
    case Value::Kind::kList:
      return "a list";
    case Value::Kind::kMap:
      return "a map";
  }
  return "?";
}

Result<Value> from_json(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array arr;
      if (e.get_array().get(arr) != simdjson::SUCCESS) break;
      Value::List list;
      for (simdjson::dom::element item : arr) {
        AGENT_ASSIGN_OR_RETURN(Value v, from_json(item));
        list.push_back(std::move(v));
      }
      return Value(std::move(list));
    }
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object obj;
      if (e.get_object().get(obj) != simdjson::SUCCESS) break;
      Value::Map map;
      for (auto field : obj) {
        AGENT_ASSIGN_OR_RETURN(Value v, from_json(field.value));
        map.emplace_back(std::string(field.key), std::move(v));
      }
      return Value(std::move(map));
    }
    case simdjson::dom::element_type::INT64: {
      int64_t i = 0;
      if (e.get_int64().get(i) != simdjson::SUCCESS) break;
      return Value(i);
    }
    case simdjson::dom::element_type::UINT64: {
      uint64_t u = 0;
      if (e.get_uint64().get(u) != simdjson::SUCCESS) break;
      return Value(static_cast<double>(u));
    }
    case simdjson::dom::element_type::DOUBLE: {
      double d = 0;
      if (e.get_double().get(d) != simdjson::SUCCESS) break;
      return Value(d);
    }
    case simdjson::dom::element_type::STRING: {
      std::string_view s;
      if (e.get_string().get(s) != simdjson::SUCCESS) break;
      return Value(s);
    }
    case simdjson::dom::element_type::BOOL: {
      bool b = false;
      if (e.get_bool().get(b) != simdjson::SUCCESS) break;
      return Value(b);
    }
    case simdjson::dom::element_type::NULL_VALUE:
      return Value();
  }
  return Error(Errc::kInternal, "unreadable JSON value");
}

Result<Value> parse_json(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::padded_string padded(text);
  auto err = parser.parse(padded).get(root);
  if (err != simdjson::SUCCESS) {
    return Error(Errc::kInvalidArgument,
                 std::string("invalid JSON: ") + simdjson::error_message(err));
  }
  return from_json(root);
}

namespace {

void write_value(json::Writer& w, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      w.null();
      break;
    case Value::Kind::kBool:
      w.boolean(v.as_bool());
      break;
    case Value::Kind::kInt:
      w.number(v.as_int());
      break;
    case Value::Kind::kDouble:
      w.number(v.as_double());
      break;
    case Value::Kind::kString:
      w.string(v.as_string());
      break;
    case Value::Kind::kList:
      w.begin_array();
      for (const Value& item : v.as_list()) write_value(w, item);
      w.end_array();
      break;
    case Value::Kind::kMap:
      w.begin_object();
      for (const auto& [k, item] : v.as_map()) {
        w.key(k);
        write_value(w, item);
      }
      w.end_object();
      break;
  }
}

}  // namespace

std::string to_json(const Value& v) {
  std::string out;
  json::Writer w(out);
  write_value(w, v);
  return out;
}

std::string format_double(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  double mag = std::fabs(d);
  char buf[64];
  if (mag >= 1e-3 && mag < 1e7) {
    auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed);
    std::string s(buf, r.ptr);
    if (s.find('.') == std::string::npos) s += ".0";
    return s;
  }
  // Java: one digit, a fraction of at least one digit, "E" and the exponent.
  auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string s(buf, r.ptr);
  size_t e = s.find('e');
  std::string mant = s.substr(0, e);
  int exp = std::atoi(s.c_str() + e + 1);
  if (mant.find('.') == std::string::npos) mant += ".0";
  return mant + "E" + std::to_string(exp);
}

std::string to_output(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      return {};
    case Value::Kind::kBool:
      return v.as_bool() ? "true" : "false";
    case Value::Kind::kInt:
      return std::to_string(v.as_int());
    case Value::Kind::kDouble:
      return format_double(v.as_double());
    case Value::Kind::kString:
      return v.as_string();
    case Value::Kind::kList:
    case Value::Kind::kMap:
      return to_json(v);
  }
  return {};
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      return false;
    case Value::Kind::kBool:
      return v.as_bool();
    case Value::Kind::kInt:
      return v.as_int() != 0;
    case Value::Kind::kDouble:
      return v.as_double() != 0;
    case Value::Kind::kString:
      return !v.as_string().empty();
    case Value::Kind::kList:
      return !v.as_list().empty();
    case Value::Kind::kMap:
      return !v.as_map().empty();
  }
  return false;
}

bool equals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kNull:
      return true;
    case Value::Kind::kBool:
      return a.as_bool() == b.as_bool();
    case Value::Kind::kString:
      return a.as_string() == b.as_string();
    case Value::Kind::kList: {
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); i++) {
        if (!equals(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::kMap: {
      const auto& x = a.as_map();
      if (x.size() != b.as_map().size()) return false;
      for (const auto& [k, v] : x) {
        const Value* other = b.find(k);
        if (other == nullptr || !equals(v, *other)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

}  // namespace agent::template_
