#include "agent/common/time.h"

#include <climits>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace agent {

int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2);
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

static size_t format_iso8601(char* buf, size_t cap, int64_t epoch_ms);

void append_iso8601(std::string& out, int64_t epoch_ms) {
  // Log lines come in bursts within one millisecond: format each ms once per
  // thread (snprintf was a third of the loop's time on a chatty task).
  thread_local int64_t cached_ms = INT64_MIN;
  thread_local char cached[32];
  thread_local size_t cached_len = 0;
  if (epoch_ms != cached_ms) {
    cached_len = format_iso8601(cached, sizeof cached, epoch_ms);
    cached_ms = epoch_ms;
  }
  out.append(cached, cached_len);
}

static size_t format_iso8601(char* buf, size_t cap, int64_t epoch_ms) {
  int64_t secs = epoch_ms >= 0 ? epoch_ms / 1000 : (epoch_ms - 999) / 1000;
  int ms = static_cast<int>(epoch_ms - secs * 1000);
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int sod = static_cast<int>(secs - days * 86400);
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  int n = std::snprintf(buf, cap, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ",
                        static_cast<long long>(y), m, d, sod / 3600,
                        (sod / 60) % 60, sod % 60, ms);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

std::string iso8601(int64_t epoch_ms) {
  std::string s;
  append_iso8601(s, epoch_ms);
  return s;
}

static bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}

bool parse_iso8601(std::string_view s, int64_t& epoch_ms) {
  int y, mo, d, h, mi, se, ms = 0;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) ||
      s[7] != '-' || !digits(s, 8, 2, d) || s[10] != 'T' || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se)) {
    return false;
  }
  size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    pos++;
    int scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ms += (s[pos] - '0') * scale;
      scale /= 10;
      pos++;
    }
  }
  if (pos + 1 != s.size() || s[pos] != 'Z') return false;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return false;
  int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  epoch_ms = ((days * 86400) + h * 3600 + mi * 60 + se) * 1000 + ms;
  return true;
}

Result<std::chrono::milliseconds> parse_duration(std::string_view s) {
  auto bad = [&](const char* why) {
    return Error(Errc::kInvalidArgument,
                 "invalid duration '" + std::string(s) + "': " + why +
                     " (expected ISO-8601, e.g. PT30S, PT5M, PT1H30M, P1D)");
  };
  std::string_view p = s;
  bool negative = false;
  if (!p.empty() && (p[0] == '+' || p[0] == '-')) {
    negative = p[0] == '-';
    p.remove_prefix(1);
  }
  if (p.empty() || (p[0] != 'P' && p[0] != 'p')) return bad("must start with P");
  p.remove_prefix(1);
  bool in_time = false;
  bool any = false;
  double total_ms = 0;
  while (!p.empty()) {
    if (p[0] == 'T' || p[0] == 't') {
      if (in_time) return bad("T appears twice");
      in_time = true;
      p.remove_prefix(1);
      continue;
    }
    size_t i = 0;
    if (i < p.size() && (p[i] == '-' || p[i] == '+')) i++;
    while (i < p.size() && ((p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == ',')) i++;
    if (i == 0 || i == p.size()) return bad("a number must be followed by a unit");
    std::string num(p.substr(0, i));
    for (auto& c : num) {
      if (c == ',') c = '.';
    }
    char* end = nullptr;
    double v = std::strtod(num.c_str(), &end);
    if (end == num.c_str() || *end != '\0') return bad("bad number");
    char unit = static_cast<char>(p[i] & ~0x20);  // upper-case
    double unit_ms;
    if (!in_time && unit == 'W') {
      unit_ms = 7 * 86400e3;
    } else if (!in_time && unit == 'D') {
      unit_ms = 86400e3;
    } else if (in_time && unit == 'H') {
      unit_ms = 3600e3;
    } else if (in_time && unit == 'M') {
      unit_ms = 60e3;
    } else if (in_time && unit == 'S') {
      unit_ms = 1e3;
    } else {
      return bad("unknown unit");
    }
    total_ms += v * unit_ms;
    any = true;
    p.remove_prefix(i + 1);
  }
  if (!any) return bad("no amount");
  if (negative) total_ms = -total_ms;
  if (total_ms < 0) return bad("must not be negative");
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(total_ms)));
}

std::string human_duration(int64_t ms) {
  char buf[64];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  } else if (ms < 60000) {
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
  } else if (ms < 3600000) {
    std::snprintf(buf, sizeof buf, "%lldm%llds", static_cast<long long>(ms / 60000),
                  static_cast<long long>((ms / 1000) % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%lldm", static_cast<long long>(ms / 3600000),
                  static_cast<long long>((ms / 60000) % 60));
  }
  return buf;
}

}  // namespace agent
