#include "agent/logstream/protocol_line.h"

#include <simdjson.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <utility>

#include "agent/common/time.h"

namespace agent::logstream {

namespace {

// Java's `.` (without DOTALL) matches anything but a line terminator: \n, \r,
// U+0085, U+2028, U+2029. Returns true if `s` holds one of them.
bool has_line_terminator(std::string_view s) {
  for (size_t i = 0; i < s.size(); i++) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\n' || c == '\r') return true;
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x85) {
      return true;
    }
    if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80) {
      unsigned char c2 = static_cast<unsigned char>(s[i + 2]);
      if (c2 == 0xA8 || c2 == 0xA9) return true;
    }
  }
  return false;
}

std::string_view type_name(simdjson::dom::element_type type) {
  using T = simdjson::dom::element_type;
  switch (type) {
    case T::ARRAY:
      return "an array";
    case T::OBJECT:
      return "an object";
    case T::INT64:
    case T::UINT64:
    case T::DOUBLE:
      return "a number";
    case T::STRING:
      return "a string";
    case T::BOOL:
      return "a boolean";
    case T::NULL_VALUE:
      return "null";
  }
  return "a value";
}

bool is_number(simdjson::dom::element_type type) {
  using T = simdjson::dom::element_type;
  return type == T::INT64 || type == T::UINT64 || type == T::DOUBLE;
}

// Holds the first error found while decoding; the decoders stop at it.
class Decoder {
 public:
  const std::string& error() const { return error_; }

  bool fail(const std::string& path, std::string_view what) {
    error_ = path;
    error_ += ": ";
    error_ += what;
    return false;
  }
  bool expected(const std::string& path, std::string_view want, simdjson::dom::element value) {
    std::string what = "must be ";
    what += want;
    what += ", not ";
    what += type_name(value.type());
    return fail(path, what);
  }

  bool outputs(simdjson::dom::element value, ProtocolMessage& msg) {
    simdjson::dom::object obj;
    if (value.get_object().get(obj) != simdjson::SUCCESS) {
      return expected("outputs", "an object", value);
    }
    msg.outputs.clear();
    for (simdjson::dom::key_value_pair field : obj) {
      std::string json = simdjson::minify(field.value);
      // A repeated key keeps its first position and its last value, as a
      // LinkedHashMap does.
      bool replaced = false;
      for (auto& [key, existing] : msg.outputs) {
        if (key == field.key) {
          existing = std::move(json);
          replaced = true;
          break;
        }
      }
      if (!replaced) msg.outputs.emplace_back(std::string(field.key), std::move(json));
    }
    return true;
  }

  bool metrics(simdjson::dom::element value, ProtocolMessage& msg) {
    simdjson::dom::array arr;
    if (value.get_array().get(arr) != simdjson::SUCCESS) {
      return expected("metrics", "an array", value);
    }
    msg.metrics.clear();
    size_t index = 0;
    for (simdjson::dom::element item : arr) {
      MetricEntry entry;
      if (!metric(item, "metrics[" + std::to_string(index) + "]", entry)) return false;
      msg.metrics.push_back(std::move(entry));
      index++;
    }
    return true;
  }

  bool logs(simdjson::dom::element value, ProtocolMessage& msg) {
    simdjson::dom::array arr;
    if (value.get_array().get(arr) != simdjson::SUCCESS) {
      return expected("logs", "an array", value);
    }
    msg.logs.clear();
    size_t index = 0;
    for (simdjson::dom::element item : arr) {
      LogEntry entry{Level::kInfo, {}};
      if (!log(item, "logs[" + std::to_string(index) + "]", entry)) return false;
      msg.logs.push_back(std::move(entry));
      index++;
    }
    return true;
  }

 private:
  bool metric(simdjson::dom::element item, const std::string& path, MetricEntry& entry) {
    simdjson::dom::object obj;
    if (item.get_object().get(obj) != simdjson::SUCCESS) {
      return expected(path, "an object", item);
    }
    std::optional<simdjson::dom::element> name, type, value, tags;
    for (simdjson::dom::key_value_pair field : obj) {
      if (field.key == "name") {
        name = field.value;
      } else if (field.key == "type") {
        type = field.value;
      } else if (field.key == "value") {
        value = field.value;
      } else if (field.key == "tags") {
        tags = field.value;
      }
      // "description" and anything else: ignored.
    }
    if (!type) return fail(path + ".type", "required");
    std::string_view type_text;
    if (type->get_string().get(type_text) != simdjson::SUCCESS) {
      return expected(path + ".type", "a string", *type);
    }
    if (type_text != "counter" && type_text != "timer" && type_text != "gauge") {
      return fail(path + ".type", "unknown metric type '" + std::string(type_text) + "'");
    }
    entry.type = type_text;
    if (!name) return fail(path + ".name", "required");
    std::string_view name_text;
    if (name->get_string().get(name_text) != simdjson::SUCCESS) {
      return expected(path + ".name", "a string", *name);
    }
    entry.name = name_text;
    if (!value) return fail(path + ".value", "required");
    if (type_text == "timer") {
      if (!timer_seconds(*value, path + ".value", entry.value)) return false;
    } else {
      if (!is_number(value->type()) || value->get_double().get(entry.value) != simdjson::SUCCESS) {
        return expected(path + ".value", "a number", *value);
      }
    }
    if (tags && !tags->is_null()) {
      simdjson::dom::object tag_obj;
      if (tags->get_object().get(tag_obj) != simdjson::SUCCESS) {
        return expected(path + ".tags", "an object", *tags);
      }
      for (simdjson::dom::key_value_pair tag : tag_obj) {
        std::string text;
        std::string_view str;
        if (tag.value.get_string().get(str) == simdjson::SUCCESS) {
          text = str;
        } else if (is_number(tag.value.type()) || tag.value.is_bool()) {
          text = simdjson::minify(tag.value);  // Jackson coerces scalars to String
        } else {
          return expected(path + ".tags." + std::string(tag.key), "a string", tag.value);
        }
        entry.tags[std::string(tag.key)] = std::move(text);
      }
    }
    return true;
  }

  // A timer's value is a java.time.Duration: a number of seconds, a numeric
  // string of seconds, or an ISO-8601 duration ("PT2.5S").
  bool timer_seconds(simdjson::dom::element value, const std::string& path, double& out) {
    if (is_number(value.type())) {
      if (value.get_double().get(out) != simdjson::SUCCESS) {
        return expected(path, "a number", value);
      }
      return true;
    }
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) {
      return expected(path, "a number of seconds or an ISO-8601 duration", value);
    }
    if (text.find_first_of("Pp") != std::string_view::npos) {
      auto duration = parse_duration(text);
      if (!duration.ok()) return fail(path, duration.error().message());
      out = static_cast<double>(duration->count()) / 1000.0;
      return true;
    }
    double seconds = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, seconds);
    if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(seconds)) {
      return fail(path, "invalid duration '" + std::string(text) +
                            "' (expected seconds or ISO-8601, e.g. PT2.5S)");
    }
    out = seconds;
    return true;
  }

  bool log(simdjson::dom::element item, const std::string& path, LogEntry& entry) {
    simdjson::dom::object obj;
    if (item.get_object().get(obj) != simdjson::SUCCESS) {
      return expected(path, "an object", item);
    }
    std::optional<simdjson::dom::element> level, message;
    for (simdjson::dom::key_value_pair field : obj) {
      if (field.key == "level") {
        level = field.value;
      } else if (field.key == "message") {
        message = field.value;
      }
    }
    if (!level) return fail(path + ".level", "required");
    std::string_view level_text;
    if (level->get_string().get(level_text) != simdjson::SUCCESS) {
      return expected(path + ".level", "a string", *level);
    }
    std::optional<Level> parsed = parse_level(level_text);
    if (!parsed) {
      return fail(path + ".level", "unknown level '" + std::string(level_text) +
                                       "' (expected TRACE, DEBUG, INFO, WARN or ERROR)");
    }
    entry.level = *parsed;
    if (message && !message->is_null()) {
      std::string_view text;
      if (message->get_string().get(text) != simdjson::SUCCESS) {
        return expected(path + ".message", "a string", *message);
      }
      entry.message = text;
    }
    return true;
  }

  std::string error_;
};

simdjson::dom::parser& thread_parser() {
  // The loop is single-threaded; thread_local keeps other threads safe anyway.
  static thread_local simdjson::dom::parser parser;
  return parser;
}

}  // namespace

ClassifiedLine classify_line(std::string_view line) {
  ClassifiedLine result;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // ^::(\{.*})::$ : "::{" ... "}::" with no line terminator in between.
  if (line.size() < 6 || line.substr(0, 3) != "::{" || line.substr(line.size() - 3) != "}::") {
    return result;
  }
  std::string_view json = line.substr(2, line.size() - 4);
  if (has_line_terminator(json)) return result;

  result.kind = LineKind::kInvalid;
  simdjson::dom::element doc;
  simdjson::error_code err = thread_parser().parse(json.data(), json.size()).get(doc);
  if (err != simdjson::SUCCESS) {
    result.error = "invalid JSON: ";
    result.error += simdjson::error_message(err);
    return result;
  }
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) {
    // Cannot happen ("{" ... "}" parsed), but keep the decoder total.
    result.error = "not a JSON object";
    return result;
  }
  Decoder decoder;
  ProtocolMessage& msg = result.message;
  for (simdjson::dom::key_value_pair field : root) {
    // null is what Jackson would leave unset: treat it as absent.
    if (field.value.is_null()) {
      if (field.key == "outputs") msg.outputs.clear();
      if (field.key == "metrics") msg.metrics.clear();
      if (field.key == "logs") msg.logs.clear();
      continue;
    }
    bool ok = true;
    if (field.key == "outputs") {
      ok = decoder.outputs(field.value, msg);
    } else if (field.key == "metrics") {
      ok = decoder.metrics(field.value, msg);
    } else if (field.key == "logs") {
      ok = decoder.logs(field.value, msg);
    }
    // Other keys (assets, otlp, encryptedOutputs, ...) are ignored.
    if (!ok) {
      result.error = decoder.error();
      result.message = ProtocolMessage{};
      return result;
    }
  }
  result.kind = LineKind::kProtocol;
  return result;
}

void MetricSet::add(const MetricEntry& entry) {
  for (MetricEntry& existing : entries_) {
    if (existing.type == entry.type && existing.name == entry.name && existing.tags == entry.tags) {
      if (entry.type == "gauge") {
        existing.value = entry.value;
      } else {
        existing.value += entry.value;
      }
      return;
    }
  }
  entries_.push_back(entry);
}

}  // namespace agent::logstream
