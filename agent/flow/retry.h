// A task's `retry` property (Kestra's AbstractRetry: constant, exponential,
// random) and when the next attempt starts. Pure: no I/O, no clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "agent/common/result.h"
#include "agent/json/read.h"

namespace agent::flow {

struct RetryPolicy {
  enum class Type { kConstant, kExponential, kRandom };
  Type type = Type::kConstant;
  std::optional<int> max_attempts;                       // total attempts, first included
  std::optional<std::chrono::milliseconds> max_duration;  // from the first attempt's start
  std::chrono::milliseconds interval{0};      // constant; exponential: the first delay
  std::chrono::milliseconds max_interval{0};  // exponential and random
  std::chrono::milliseconds min_interval{0};  // random
  double delay_factor = 2.0;                  // exponential
  bool warning_on_retry = false;              // a success after a retry ends WARNING
};

// Parses `retry` (path names it in errors). `maxAttempt` is the 0.x spelling of
// `maxAttempts`. A policy needs maxAttempts or maxDuration, as Kestra's do.
Result<RetryPolicy> parse_retry(json::Element e, std::string_view path,
                                std::vector<std::string>* warnings);

// The delay before the attempt after `attempts_done` attempts, or nullopt when
// no attempt is left: attempts used up, or the next start would be later than
// first_start + maxDuration. Times are milliseconds since the epoch; `random01`
// is a uniform draw in [0, 1) for the random policy.
std::optional<std::chrono::milliseconds> next_retry_delay(const RetryPolicy& p, int attempts_done,
                                                          int64_t first_start_ms,
                                                          int64_t last_end_ms, double random01);

}  // namespace agent::flow
