// Task log lines: levels, the stored record format, and the line splitter.
//
// Stored record format (one per line, inside zstd frames; see log_file.h):
//   "<ISO-8601 UTC with ms>Z <LEVEL> <text>\n", e.g. "2026-11-23T21:30:00.123Z INFO hello"
// The text never contains '\n' (the splitter guarantees it), so `zstdcat` on a
// log file prints a readable log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace agent::logstream {

enum class Level : uint8_t { kTrace, kDebug, kInfo, kWarn, kError };

std::string_view level_name(Level level);  // "TRACE" .. "ERROR"
// Accepts slf4j level names (TRACE, DEBUG, INFO, WARN, ERROR), case-sensitive as
// Kestra's Jackson enum is; anything else (including "WARNING") is nullopt.
std::optional<Level> parse_level(std::string_view name);

struct Line {
  uint64_t seq = 0;   // 0-based index of the line in its task run's log
  int64_t ts_ms = 0;  // Unix epoch milliseconds when the agent read the line
  Level level = Level::kInfo;
  std::string text;
};

// The "<time> <LEVEL> " that starts a stored record. A chatty task's lines
// come thousands per millisecond with the same one: it is made once per
// millisecond and level (per thread), and the view stays valid until the next
// call on the same thread.
std::string_view record_prefix(int64_t ts_ms, Level level);
// Appends one stored record for (ts_ms, level, text) to `out`.
inline void append_record(std::string& out, int64_t ts_ms, Level level, std::string_view text) {
  out.append(record_prefix(ts_ms, level));
  out.append(text);
  out.push_back('\n');
}
// Parses records from `data` (whole records only), numbering them from `first_seq`,
// calling `sink(const Line&)` for each. Returns false if a record is malformed.
template <typename Sink>
bool parse_records(std::string_view data, uint64_t first_seq, Sink&& sink);
bool parse_record(std::string_view record, Line& out);  // record without '\n'

// Splits a byte stream into lines. A line ends at '\n' (a trailing '\r' is kept:
// Kestra's readLine would strip it, but the protocol parser handles it); a line
// longer than `max_line` bytes is cut into pieces of at most `max_line` bytes,
// each delivered as a line of its own, so nothing is lost and memory is bounded.
// finish() delivers the last line when the stream ended without '\n'.
class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line) : max_line_(max_line) {}

  template <typename Sink>  // Sink: void(std::string_view line)
  void feed(std::string_view bytes, Sink&& sink);
  template <typename Sink>
  void finish(Sink&& sink);

  size_t buffered() const { return partial_.size(); }
  // What the line just given to the sink is: cut() when more of the same
  // line follows (it was longer than `max_line`), continued() when it goes on
  // from a piece given before. A whole line is neither.
  bool cut() const { return cut_; }
  bool continued() const { return continued_; }

 private:
  // Sets what the next line given to the sink is.
  void piece(bool cut) {
    continued_ = in_long_;
    cut_ = cut;
    in_long_ = cut;
  }

  size_t max_line_;
  std::string partial_;
  bool cut_ = false;
  bool continued_ = false;
  bool in_long_ = false;  // the line being read was cut already
};

// ---- template definitions ----

template <typename Sink>
bool parse_records(std::string_view data, uint64_t first_seq, Sink&& sink) {
  Line line;
  uint64_t seq = first_seq;
  while (!data.empty()) {
    size_t nl = data.find('\n');
    if (nl == std::string_view::npos) return false;
    if (!parse_record(data.substr(0, nl), line)) return false;
    line.seq = seq++;
    sink(static_cast<const Line&>(line));
    data.remove_prefix(nl + 1);
  }
  return true;
}

template <typename Sink>
void LineSplitter::feed(std::string_view bytes, Sink&& sink) {
  while (!bytes.empty()) {
    size_t room = max_line_ - partial_.size();
    size_t scan = bytes.size() < room + 1 ? bytes.size() : room + 1;
    size_t nl = bytes.substr(0, scan).find('\n');
    if (nl != std::string_view::npos) {
      piece(false);
      if (partial_.empty()) {
        sink(bytes.substr(0, nl));
      } else {
        partial_.append(bytes.data(), nl);
        sink(std::string_view(partial_));
        partial_.clear();
      }
      bytes.remove_prefix(nl + 1);
      continue;
    }
    // Up to exactly `room` bytes stay buffered: the next byte may be the '\n'
    // that makes them one line rather than a piece and an empty line.
    if (bytes.size() <= room) {
      partial_.append(bytes.data(), bytes.size());
      return;
    }
    // No newline within the bound: emit a full piece.
    piece(true);
    partial_.append(bytes.data(), room);
    sink(std::string_view(partial_));
    partial_.clear();
    bytes.remove_prefix(room);
  }
}

template <typename Sink>
void LineSplitter::finish(Sink&& sink) {
  if (!partial_.empty()) {
    piece(false);
    sink(std::string_view(partial_));
    partial_.clear();
  }
  in_long_ = false;
}

}  // namespace agent::logstream
