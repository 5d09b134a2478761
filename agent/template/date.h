// Dates for the `date` filter and now(): ISO-8601 parsing and Java
// DateTimeFormatter-style patterns (the common letters only).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/common/result.h"

namespace agent::template_ {

struct Instant {
  int64_t epoch_ms = 0;
  int offset_minutes = 0;  // the zone offset the time is shown in
};

// "2024-03-05", "2024-03-05T10:20", "2024-03-05T10:20:30.123456Z", "...+02:00".
// Without an offset the time is taken as UTC.
Result<Instant> parse_iso(std::string_view s);

// "2024-03-05T10:20:30.123Z" (millis left out when zero, as Java's Instant does).
std::string format_iso(Instant t);

// Pattern letters: yyyy yy MM M MMM dd d HH H hh h mm m ss s S.. (fraction) a
// EEE EEEE XXX XX X (Z for UTC) Z (+0000); text in single quotes, '' for a quote.
// Any other letter is an error naming it.
Result<std::string> format_date(Instant t, std::string_view pattern);

}  // namespace agent::template_
