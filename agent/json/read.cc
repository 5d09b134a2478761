#include "agent/json/read.h"

#include <cmath>

namespace agent::json {

std::string_view type_name(Element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::ARRAY: return "an array";
    case simdjson::dom::element_type::OBJECT: return "an object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE: return "a number";
    case simdjson::dom::element_type::STRING: return "a string";
    case simdjson::dom::element_type::BOOL: return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE: return "null";
  }
  return "a value";
}

Error type_error(std::string_view path, std::string_view expected, Element found) {
  std::string msg = "expected ";
  msg += expected;
  msg += ", found ";
  msg += type_name(found);
  return Error(Errc::kInvalidArgument, std::move(msg), std::string(path));
}

Result<Object> as_object(Element e, std::string_view path) {
  Object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return type_error(path, "an object", e);
  return o;
}

Result<std::string> as_string(Element e, std::string_view path) {
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return type_error(path, "a string", e);
  return std::string(s);
}

Result<int64_t> as_int(Element e, std::string_view path) {
  int64_t v;
  if (e.get_int64().get(v) == simdjson::SUCCESS) return v;
  double d;
  if (e.get_double().get(d) == simdjson::SUCCESS && std::floor(d) == d && std::fabs(d) < 9e15) {
    return static_cast<int64_t>(d);
  }
  return type_error(path, "an integer", e);
}

Result<bool> as_bool(Element e, std::string_view path) {
  bool b;
  if (e.get_bool().get(b) != simdjson::SUCCESS) return type_error(path, "a boolean", e);
  return b;
}

Result<std::vector<std::string>> as_string_list(Element e, std::string_view path) {
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) return type_error(path, "an array of strings", e);
  std::vector<std::string> out;
  size_t i = 0;
  for (Element item : arr) {
    std::string_view s;
    if (item.get_string().get(s) != simdjson::SUCCESS) {
      return type_error(index(path, i), "a string", item);
    }
    out.emplace_back(s);
    i++;
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> as_string_map(Element e,
                                                                       std::string_view path) {
  Object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return type_error(path, "an object", e);
  std::vector<std::pair<std::string, std::string>> out;
  for (auto field : o) {
    std::string_view s;
    if (field.value.get_string().get(s) == simdjson::SUCCESS) {
      out.emplace_back(std::string(field.key), std::string(s));
    } else if (field.value.is_number() || field.value.is_bool()) {
      out.emplace_back(std::string(field.key), to_json(field.value));
    } else {
      return type_error(join(path, field.key), "a string", field.value);
    }
  }
  return out;
}

std::string to_json(Element e) { return simdjson::minify(e); }

std::string join(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

std::string index(std::string_view parent, size_t i) {
  std::string out(parent);
  out += '[';
  out += std::to_string(i);
  out += ']';
  return out;
}

}  // namespace agent::json
