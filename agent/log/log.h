// The daemon's own log: one structured line per event on stderr (journald adds
// its own timestamps under systemd, so the line carries level and message).
//   runnerd[1234]: INFO task started exec=4kd9 task=hello pid=4250
// Library code (uv/, json/, logstream/, proto/) does not log; the owner of a
// decision logs it once.
#pragma once

#include <string_view>

namespace agent::log {

enum class Severity { kDebug, kInfo, kWarn, kError };

void set_min_severity(Severity s);
void write(Severity s, std::string_view message);

inline void debug(std::string_view m) { write(Severity::kDebug, m); }
inline void info(std::string_view m) { write(Severity::kInfo, m); }
inline void warn(std::string_view m) { write(Severity::kWarn, m); }
inline void error(std::string_view m) { write(Severity::kError, m); }

}  // namespace agent::log
