#include "agent/flow/retry.h"

#include <cmath>
#include <string>

#include "agent/common/time.h"

namespace agent::flow {

namespace {

using std::chrono::milliseconds;

Result<milliseconds> duration_field(json::Element e, const std::string& path) {
  AGENT_ASSIGN_OR_RETURN(std::string text, json::as_string(e, path));
  auto d = parse_duration(text);
  if (!d.ok()) return Error(Errc::kInvalidArgument, d.error().message(), path);
  return *d;
}

}  // namespace

Result<RetryPolicy> parse_retry(json::Element e, std::string_view path_view,
                                std::vector<std::string>* warnings) {
  std::string path(path_view);
  AGENT_ASSIGN_OR_RETURN(json::Object obj, json::as_object(e, path));
  RetryPolicy p;
  json::Element v;
  if (obj["type"].get(v) != simdjson::SUCCESS) {
    return Error::invalid(json::join(path, "type"), "required property missing (constant, exponential or random)");
  }
  AGENT_ASSIGN_OR_RETURN(std::string type, json::as_string(v, json::join(path, "type")));
  if (type == "constant") {
    p.type = RetryPolicy::Type::kConstant;
  } else if (type == "exponential") {
    p.type = RetryPolicy::Type::kExponential;
  } else if (type == "random") {
    p.type = RetryPolicy::Type::kRandom;
  } else {
    return Error::invalid(json::join(path, "type"),
                   "expected constant, exponential or random, found '" + type + "'");
  }
  bool has_interval = false, has_max_interval = false, has_min_interval = false;
  for (auto field : obj) {
    std::string key(field.key);
    std::string fpath = json::join(path, key);
    if (key == "type" || key == "behavior") {
      continue;  // behavior: RETRY_FAILED_TASK is the only one that applies to one agent
    } else if (key == "maxAttempts" || key == "maxAttempt") {
      AGENT_ASSIGN_OR_RETURN(int64_t n, json::as_int(field.value, fpath));
      if (n < 1) return Error::invalid(fpath, "must be at least 1");
      p.max_attempts = static_cast<int>(std::min<int64_t>(n, 1000000));
      if (key == "maxAttempt" && warnings != nullptr) {
        warnings->push_back("retry property 'maxAttempt' is deprecated; write 'maxAttempts'");
      }
    } else if (key == "maxDuration") {
      AGENT_ASSIGN_OR_RETURN(p.max_duration, duration_field(field.value, fpath));
    } else if (key == "interval") {
      AGENT_ASSIGN_OR_RETURN(p.interval, duration_field(field.value, fpath));
      has_interval = true;
    } else if (key == "maxInterval") {
      AGENT_ASSIGN_OR_RETURN(p.max_interval, duration_field(field.value, fpath));
      has_max_interval = true;
    } else if (key == "minInterval") {
      AGENT_ASSIGN_OR_RETURN(p.min_interval, duration_field(field.value, fpath));
      has_min_interval = true;
    } else if (key == "delayFactor") {
      double f = 0;
      if (field.value.get_double().get(f) != simdjson::SUCCESS) {
        return json::type_error(fpath, "a number", field.value);
      }
      if (!(f >= 1.0)) return Error::invalid(fpath, "must be at least 1");
      p.delay_factor = f;
    } else if (key == "warningOnRetry") {
      AGENT_ASSIGN_OR_RETURN(p.warning_on_retry, json::as_bool(field.value, fpath));
    } else {
      return Error::invalid(fpath, "unknown retry property");
    }
  }
  if (!p.max_attempts && !p.max_duration) {
    return Error::invalid(path, "a retry needs maxAttempts or maxDuration");
  }
  switch (p.type) {
    case RetryPolicy::Type::kConstant:
      if (!has_interval) return Error::invalid(json::join(path, "interval"), "required for a constant retry");
      break;
    case RetryPolicy::Type::kExponential:
      if (!has_interval) return Error::invalid(json::join(path, "interval"), "required for an exponential retry");
      if (!has_max_interval) {
        return Error::invalid(json::join(path, "maxInterval"), "required for an exponential retry");
      }
      if (p.interval > p.max_interval) {
        return Error::invalid(json::join(path, "interval"), "must not be longer than maxInterval");
      }
      break;
    case RetryPolicy::Type::kRandom:
      if (!has_min_interval) return Error::invalid(json::join(path, "minInterval"), "required for a random retry");
      if (!has_max_interval) return Error::invalid(json::join(path, "maxInterval"), "required for a random retry");
      if (p.min_interval > p.max_interval) {
        return Error::invalid(json::join(path, "minInterval"), "must not be longer than maxInterval");
      }
      break;
  }
  return p;
}

std::optional<milliseconds> next_retry_delay(const RetryPolicy& p, int attempts_done,
                                             int64_t first_start_ms, int64_t last_end_ms,
                                             double random01) {
  if (p.max_attempts && attempts_done >= *p.max_attempts) return std::nullopt;
  int64_t delay = 0;
  switch (p.type) {
    case RetryPolicy::Type::kConstant: delay = p.interval.count(); break;
    case RetryPolicy::Type::kExponential: {
      double d = static_cast<double>(p.interval.count()) *
                 std::pow(p.delay_factor, std::max(0, attempts_done - 1));
      double cap = static_cast<double>(p.max_interval.count());
      delay = d >= cap ? p.max_interval.count() : static_cast<int64_t>(std::llround(d));
      break;
    }
    case RetryPolicy::Type::kRandom: {
      int64_t span = p.max_interval.count() - p.min_interval.count();
      delay = p.min_interval.count() + static_cast<int64_t>(random01 * static_cast<double>(span));
      break;
    }
  }
  if (p.max_duration && last_end_ms + delay > first_start_ms + p.max_duration->count()) {
    return std::nullopt;
  }
  return milliseconds(delay);
}

}  // namespace agent::flow
