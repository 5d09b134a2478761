// Wall-clock helpers. Timestamps on the wire and in logs are ISO-8601 UTC with
// milliseconds ("2026-11-23T21:30:00.123Z"); durations in flows are ISO-8601
// ("PT1M30S"), as Kestra's.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/common/result.h"

namespace agent {

int64_t now_ms();  // Unix epoch milliseconds (CLOCK_REALTIME)

// Proleptic Gregorian calendar <-> days since 1970-01-01 (Howard Hinnant's
// algorithms), for every date formatter in the agent.
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);
void civil_from_days(int64_t days, int64_t& year, unsigned& month, unsigned& day);
// Appends "YYYY-MM-DDTHH:MM:SS.mmmZ".
void append_iso8601(std::string& out, int64_t epoch_ms);
std::string iso8601(int64_t epoch_ms);
// Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z"; false if malformed.
bool parse_iso8601(std::string_view s, int64_t& epoch_ms);

// Parses an ISO-8601 duration: PnDTnHnMn.nS (weeks "PnW" too), sign allowed as
// Java's Duration.parse allows. Negative results are an error here.
Result<std::chrono::milliseconds> parse_duration(std::string_view s);
// "1h2m3.5s", "250ms": for humans (runnerctl ps).
std::string human_duration(int64_t ms);

}  // namespace agent
