#include "agent/log/log.h"

#include <unistd.h>

#include <string>

#include "agent/common/time.h"

namespace agent::log {

namespace {
Severity g_min = Severity::kInfo;
}

void set_min_severity(Severity s) { g_min = s; }

void write(Severity s, std::string_view message) {
  if (s < g_min) return;
  static const char* const kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
  std::string line;
  line.reserve(message.size() + 64);
  append_iso8601(line, now_ms());
  line += " runnerd[";
  line += std::to_string(getpid());
  line += "]: ";
  line += kNames[static_cast<int>(s)];
  line += ' ';
  line += message;
  line += '\n';
  // One write(2) per line so that lines from concurrent writers never interleave.
  // stderr is a pipe or the journal: a short write is not retried (a log line is
  // not worth blocking the loop for).
  ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
  (void)n;
}

}  // namespace agent::log
