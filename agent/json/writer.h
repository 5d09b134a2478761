// A small streaming JSON encoder that appends to a std::string.
// Strings are escaped per RFC 8259; bytes that are not valid UTF-8 are
// replaced by U+FFFD so that every document written is valid JSON.
// Threading: none; an instance belongs to one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace agent::json {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  // Writes an object key; the next call writes its value.
  Writer& key(std::string_view k);

  Writer& string(std::string_view s);
  Writer& number(int64_t v);
  Writer& number(uint64_t v);
  Writer& number(int v) { return number(static_cast<int64_t>(v)); }
  Writer& number(double v);
  Writer& boolean(bool v);
  Writer& null();
  // Inserts already-encoded JSON as one value.
  Writer& raw(std::string_view json);

  // Shorthands for key + value.
  Writer& kv(std::string_view k, std::string_view v) { return key(k).string(v); }
  Writer& kv(std::string_view k, const char* v) { return key(k).string(v); }
  Writer& kv(std::string_view k, int64_t v) { return key(k).number(v); }
  Writer& kv(std::string_view k, uint64_t v) { return key(k).number(v); }
  Writer& kv(std::string_view k, int v) { return key(k).number(v); }
  Writer& kv(std::string_view k, double v) { return key(k).number(v); }
  Writer& kv_bool(std::string_view k, bool v) { return key(k).boolean(v); }

 private:
  void separate();
  std::string& out_;
  bool need_comma_ = false;
};

// Appends `s` to `out` as a quoted, escaped JSON string.
void append_quoted(std::string& out, std::string_view s);

}  // namespace agent::json
