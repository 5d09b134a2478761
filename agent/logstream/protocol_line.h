// Kestra's `::{...}::` line protocol (reference §4): a line that is exactly
// "::" + one JSON object + "::" carries outputs, metrics and logs.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/logstream/line.h"

namespace agent::logstream {

struct MetricEntry {
  std::string name;
  std::string type;  // "counter", "timer" (value in seconds), "gauge"
  double value = 0;
  std::map<std::string, std::string> tags;
};

struct LogEntry {
  Level level;
  std::string message;
};

struct ProtocolMessage {
  // Top-level output key -> its value as compact JSON text.
  std::vector<std::pair<std::string, std::string>> outputs;
  std::vector<MetricEntry> metrics;
  std::vector<LogEntry> logs;
};

enum class LineKind { kPlain, kProtocol, kInvalid };

struct ClassifiedLine {
  LineKind kind = LineKind::kPlain;
  ProtocolMessage message;  // kProtocol
  std::string error;        // kInvalid: why the JSON was rejected
};

// Matches ^::(\{.*})::$ (a trailing '\r' is stripped first) and decodes the JSON
// with simdjson. Unknown top-level keys are ignored, as Kestra's lenient mapper
// does. Invalid JSON, a bad metric or an unknown log level makes the whole line
// kInvalid (Kestra logs WARN "Invalid outputs '<error>'" and drops the line).
ClassifiedLine classify_line(std::string_view line);

// Metrics merged as Kestra does: an entry equal by (type, name, tags) is merged,
// counters and timers added, gauges replaced.
class MetricSet {
 public:
  void add(const MetricEntry& entry);
  const std::vector<MetricEntry>& entries() const { return entries_; }

 private:
  std::vector<MetricEntry> entries_;
};

}  // namespace agent::logstream
