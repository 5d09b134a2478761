// runnerctl's exit statuses. Commands that wait for an execution (run, logs -f)
// exit by its final state; any error (usage, connection, protocol) is kError.
#pragma once

#include <string_view>

namespace agent::cli {

constexpr int kExitOk = 0;             // also: the execution ended SUCCESS or WARNING
constexpr int kExitFailed = 1;         // the execution ended FAILED
constexpr int kExitKilled = 2;         // the execution ended KILLED
constexpr int kExitError = 3;          // usage, connection or protocol error
constexpr int kExitInterrupted = 130;  // a second Ctrl-C while following

// The exit status for an execution's final state.
inline int exit_code_for_state(std::string_view state) {
  if (state == "SUCCESS" || state == "WARNING") return kExitOk;
  if (state == "FAILED") return kExitFailed;
  if (state == "KILLED") return kExitKilled;
  return kExitError;
}

}  // namespace agent::cli
