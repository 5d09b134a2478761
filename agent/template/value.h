// The value model templates compute with: null, bool, int64, double, string,
// list and map (keys in insertion order). Lists and maps are shared and
// immutable once built, so copying a Value is cheap.
// Threading: none; values may be read from several threads once built.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "agent/common/result.h"

namespace agent::template_ {

class Value {
 public:
  enum class Kind : uint8_t { kNull, kBool, kInt, kDouble, kString, kList, kMap };
  using List = std::vector<Value>;
  using Map = std::vector<std::pair<std::string, Value>>;

  Value() = default;
  Value(std::nullptr_t) {}                                           // NOLINT: implicit by design
  Value(bool b) : v_(b) {}                                           // NOLINT
  Value(int v) : v_(static_cast<int64_t>(v)) {}                      // NOLINT
  Value(int64_t v) : v_(v) {}                                        // NOLINT
  Value(double v) : v_(v) {}                                         // NOLINT
  Value(std::string s) : v_(std::move(s)) {}                         // NOLINT
  Value(std::string_view s) : v_(std::string(s)) {}                  // NOLINT
  Value(const char* s) : v_(std::string(s)) {}                       // NOLINT
  Value(List l) : v_(std::make_shared<const List>(std::move(l))) {}  // NOLINT
  Value(Map m) : v_(std::make_shared<const Map>(std::move(m))) {}    // NOLINT

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_null() const { return kind() == Kind::kNull; }
  bool is_bool() const { return kind() == Kind::kBool; }
  bool is_int() const { return kind() == Kind::kInt; }
  bool is_double() const { return kind() == Kind::kDouble; }
  bool is_number() const { return is_int() || is_double(); }
  bool is_string() const { return kind() == Kind::kString; }
  bool is_list() const { return kind() == Kind::kList; }
  bool is_map() const { return kind() == Kind::kMap; }

  // Accessors: the kind must match (checked).
  bool as_bool() const;
  int64_t as_int() const;
  double as_double() const;  // ints too
  const std::string& as_string() const;
  const List& as_list() const;
  const Map& as_map() const;

  // The value under `key` in a map, or nullptr (also when not a map).
  const Value* find(std::string_view key) const;

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, std::shared_ptr<const List>,
               std::shared_ptr<const Map>>
      v_;
};

// "null", "a boolean", "an integer", "a number", "a string", "a list", "a map".
std::string_view kind_name(const Value& v);

// Converts a JSON document (numbers that fit int64 stay integers).
Result<Value> from_json(simdjson::dom::element e);
// Parses JSON text into a Value.
Result<Value> parse_json(std::string_view text);
// Minified JSON text.
std::string to_json(const Value& v);

// A double as Java prints it: "2.0", "0.1", "1.0E10".
std::string format_double(double d);
// The text `{{ v }}` outputs: strings as-is, null as "", numbers as Java,
// lists and maps as JSON.
std::string to_output(const Value& v);

// Truthiness for if/ternary/and/or: null, false, 0, "" and empty collections are false.
bool truthy(const Value& v);
// Deep equality; ints and doubles compare by value.
bool equals(const Value& a, const Value& b);

}  // namespace agent::template_
