#include "agent/template/date.h"

#include "agent/common/time.h"

#include <cctype>
#include <cstdio>

namespace agent::template_ {

namespace {

struct Civil {
  int64_t year;
  unsigned month, day, hour, minute, second, milli, weekday;  // weekday: 0 = Monday
};

Civil to_civil(Instant t) {
  int64_t ms = t.epoch_ms + int64_t{t.offset_minutes} * 60000;
  int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  int64_t rem = ms - days * 86400000;
  Civil c{};
  c.weekday = static_cast<unsigned>(((days % 7) + 7 + 3) % 7);  // 1970-01-01 was a Thursday
  agent::civil_from_days(days, c.year, c.month, c.day);
  c.hour = static_cast<unsigned>(rem / 3600000);
  c.minute = static_cast<unsigned>(rem / 60000 % 60);
  c.second = static_cast<unsigned>(rem / 1000 % 60);
  c.milli = static_cast<unsigned>(rem % 1000);
  return c;
}

bool digits(std::string_view s, size_t at, size_t n, unsigned& out) {
  if (at + n > s.size()) return false;
  out = 0;
  for (size_t i = at; i < at + n; i++) {
    if (std::isdigit(static_cast<unsigned char>(s[i])) == 0) return false;
    out = out * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return true;
}

std::string pad(int64_t v, int width) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*lld", width, static_cast<long long>(v));
  return buf;
}

std::string offset_text(int minutes, bool colon, bool z_for_utc) {
  if (minutes == 0 && z_for_utc) return "Z";
  int m = minutes < 0 ? -minutes : minutes;
  return std::string(minutes < 0 ? "-" : "+") + pad(m / 60, 2) + (colon ? ":" : "") +
         pad(m % 60, 2);
}

constexpr const char* kMonths[] = {"January",   "February", "March",    "April",
                                   "May",       "June",     "July",     "August",
                                   "September", "October",  "November", "December"};
constexpr const char* kDays[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                 "Friday", "Saturday", "Sunday"};

}  // namespace

Result<Instant> parse_iso(std::string_view s) {
  auto bad = [&] {
    return Error(Errc::kInvalidArgument,
                 "cannot parse '" + std::string(s) + "' as an ISO-8601 date");
  };
  unsigned y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, ms = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || mo < 1 || mo > 12 || d < 1 || d > 31) {
    return bad();
  }
  size_t i = 10;
  Instant t;
  if (i < s.size() && (s[i] == 'T' || s[i] == ' ')) {
    if (!digits(s, i + 1, 2, h) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !digits(s, i + 4, 2, mi) || h > 23 || mi > 59) {
      return bad();
    }
    i += 6;
    if (i < s.size() && s[i] == ':') {
      if (!digits(s, i + 1, 2, sec) || sec > 59) return bad();
      i += 3;
      if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
        i++;
        size_t n = 0;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) {
          if (n < 3) ms = ms * 10 + static_cast<unsigned>(s[i] - '0');
          n++;
          i++;
        }
        if (n == 0) return bad();
        for (; n < 3; n++) ms *= 10;
      }
    }
    if (i < s.size() && s[i] == 'Z') {
      i++;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      unsigned oh = 0, om = 0;
      int sign = s[i] == '-' ? -1 : 1;
      if (!digits(s, i + 1, 2, oh)) return bad();
      i += 3;
      if (i < s.size() && s[i] == ':') i++;
      if (i < s.size()) {
        if (!digits(s, i, 2, om)) return bad();
        i += 2;
      }
      t.offset_minutes = sign * static_cast<int>(oh * 60 + om);
    }
    if (i < s.size() && s[i] == '[') i = s.size();  // a zone id after the offset: ignored
  }
  if (i != s.size()) return bad();
  int64_t days = agent::days_from_civil(y, mo, d);
  t.epoch_ms = ((days * 24 + h) * 60 + mi) * 60000 + int64_t{sec} * 1000 + ms -
               int64_t{t.offset_minutes} * 60000;
  return t;
}

std::string format_iso(Instant t) {
  Civil c = to_civil(t);
  std::string out = pad(c.year, 4) + "-" + pad(c.month, 2) + "-" + pad(c.day, 2) + "T" +
                    pad(c.hour, 2) + ":" + pad(c.minute, 2) + ":" + pad(c.second, 2);
  if (c.milli != 0) out += "." + pad(c.milli, 3);
  return out + offset_text(t.offset_minutes, true, true);
}

Result<std::string> format_date(Instant t, std::string_view p) {
  Civil c = to_civil(t);
  std::string out;
  for (size_t i = 0; i < p.size();) {
    char ch = p[i];
    if (ch == '\'') {
      size_t j = i + 1;
      if (j < p.size() && p[j] == '\'') {
        out += '\'';
        i += 2;
        continue;
      }
      while (j < p.size()) {
        if (p[j] == '\'' && j + 1 < p.size() && p[j + 1] == '\'') {
          out += '\'';
          j += 2;
        } else if (p[j] == '\'') {
          break;
        } else {
          out += p[j++];
        }
      }
      if (j >= p.size()) {
        return Error(Errc::kInvalidArgument,
                     "unclosed quote in date format '" + std::string(p) + "'");
      }
      i = j + 1;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(ch)) == 0) {
      out += ch;
      i++;
      continue;
    }
    size_t n = 1;
    while (i + n < p.size() && p[i + n] == ch) n++;
    int w = static_cast<int>(n);
    switch (ch) {
      case 'y':
      case 'u':
        out += n == 2 ? pad(c.year % 100, 2) : pad(c.year, w);
        break;
      case 'M':
        if (n >= 4) {
          out += kMonths[c.month - 1];
        } else if (n == 3) {
          out += std::string(kMonths[c.month - 1]).substr(0, 3);
        } else {
          out += pad(c.month, w);
        }
        break;
      case 'd':
        out += pad(c.day, w);
        break;
      case 'H':
        out += pad(c.hour, w);
        break;
      case 'h':
        out += pad(c.hour % 12 == 0 ? 12 : c.hour % 12, w);
        break;
      case 'm':
        out += pad(c.minute, w);
        break;
      case 's':
        out += pad(c.second, w);
        break;
      case 'a':
        out += c.hour < 12 ? "AM" : "PM";
        break;
      case 'S': {
        std::string frac = pad(c.milli, 3) + std::string(n > 3 ? n - 3 : 0, '0');
        out += frac.substr(0, n);
        break;
      }
      case 'E':
        out += n >= 4 ? std::string(kDays[c.weekday]) : std::string(kDays[c.weekday]).substr(0, 3);
        break;
      case 'X':
        out += offset_text(t.offset_minutes, n >= 3, true);
        break;
      case 'x':
        out += offset_text(t.offset_minutes, n >= 3, false);
        break;
      case 'Z':
        out += offset_text(t.offset_minutes, false, false);
        break;
      default:
        return Error(Errc::kInvalidArgument, "unsupported date format letter '" +
                                                 std::string(n, ch) + "' in '" + std::string(p) +
                                                 "'");
    }
    i += n;
  }
  return out;
}

}  // namespace agent::template_
