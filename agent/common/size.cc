#include "agent/common/size.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

namespace agent {

Result<int64_t> parse_size(std::string_view text, SizeUnits units) {
  auto bad = [&] {
    return Error(Errc::kInvalidArgument,
                        "invalid size '" + std::string(text) +
                            (units == SizeUnits::kDocker
                                 ? "' (expected a number of bytes or a number with a unit: 512MB, 1.5GB, 256k)"
                                 : "' (expected a number of bytes or a number with a unit: KB, MB, GB, TB "
                                   "(powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024): 512MiB, 1.5GB)"));
  };
  std::string_view s = text;
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  size_t i = 0;
  bool dot = false;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || (s[i] == '.' && !dot))) {
    dot = dot || s[i] == '.';
    i++;
  }
  if (i == 0 || s.substr(0, i) == ".") return bad();
  std::string digits(s.substr(0, i));
  double number = std::strtod(digits.c_str(), nullptr);  // HUGE_VAL when too large: refused below
  std::string unit;
  for (char c : s.substr(i)) {
    if (c == ' ') continue;
    unit += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  double base = 1024;
  if (unit.size() == 3 && unit[1] == 'I' && unit[2] == 'B') {
    unit.resize(1);  // KiB, MiB, ...
  } else if (unit.size() == 2 && unit[1] == 'B') {
    unit.resize(1);
    if (units == SizeUnits::kExact) base = 1000;
  } else if (unit.size() == 1 && unit != "B" && units == SizeUnits::kExact) {
    return bad();  // 512M: MB or MiB?
  }
  double scale = 1;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "K") {
    scale = base;
  } else if (unit == "M") {
    scale = base * base;
  } else if (unit == "G") {
    scale = base * base * base;
  } else if (unit == "T") {
    scale = base * base * base * base;
  } else {
    return bad();
  }
  double bytes = number * scale;
  if (!std::isfinite(bytes) || bytes > 9.0e18) return bad();
  return static_cast<int64_t>(std::llround(bytes));
}

}  // namespace agent
