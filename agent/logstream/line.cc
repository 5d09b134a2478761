#include "agent/logstream/line.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "agent/common/time.h"

namespace agent::logstream {

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kTrace:
      return "TRACE";
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARN";
    case Level::kError:
      return "ERROR";
  }
  return "INFO";
}

std::optional<Level> parse_level(std::string_view name) {
  if (name == "INFO") return Level::kInfo;
  if (name == "ERROR") return Level::kError;
  if (name == "WARN") return Level::kWarn;
  if (name == "DEBUG") return Level::kDebug;
  if (name == "TRACE") return Level::kTrace;
  return std::nullopt;
}

std::string_view record_prefix(int64_t ts_ms, Level level) {
  // Plain arrays: a thread_local std::string is reached through a wrapper
  // call that checks its initialisation, on every line.
  thread_local int64_t cached_ms = INT64_MIN;
  thread_local Level cached_level = Level::kInfo;
  thread_local char prefix[64];
  thread_local size_t prefix_len = 0;
  if (ts_ms != cached_ms || level != cached_level || prefix_len == 0) {
    std::string made;
    append_iso8601(made, ts_ms);
    made += ' ';
    made += level_name(level);
    made += ' ';
    prefix_len = std::min(made.size(), sizeof prefix);
    std::memcpy(prefix, made.data(), prefix_len);
    cached_ms = ts_ms;
    cached_level = level;
  }
  return std::string_view(prefix, prefix_len);
}

bool parse_record(std::string_view record, Line& out) {
  size_t ts_end = record.find(' ');
  if (ts_end == std::string_view::npos) return false;
  int64_t ts_ms = 0;
  if (!parse_iso8601(record.substr(0, ts_end), ts_ms)) return false;
  std::string_view rest = record.substr(ts_end + 1);
  size_t level_end = rest.find(' ');
  // The writer always puts a space after the level; tolerate its absence when
  // the text is empty (a hand-edited file).
  std::optional<Level> level = parse_level(rest.substr(0, level_end));
  if (!level) return false;
  out.ts_ms = ts_ms;
  out.level = *level;
  if (level_end == std::string_view::npos) {
    out.text.clear();
  } else {
    out.text.assign(rest.substr(level_end + 1));
  }
  return true;
}

}  // namespace agent::logstream
