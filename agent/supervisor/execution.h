// Executions and their task runs: the state the supervisor owns, and that the
// protocol encodes. Loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/flow/flow.h"
#include "agent/logstream/protocol_line.h"

namespace agent {

// Kestra's state names.
enum class State : uint8_t { kCreated, kRunning, kKilling, kSuccess, kWarning, kFailed, kKilled };
inline constexpr int kStateCount = 7;

std::string_view state_name(State s);
bool parse_state(std::string_view name, State& out);
inline bool is_final(State s) {
  return s == State::kSuccess || s == State::kWarning || s == State::kFailed ||
         s == State::kKilled;
}

struct LiveTask;  // supervisor-private: what a running task holds

struct TaskRun {
  std::string id;
  std::string task_id;
  std::string type;         // the task's type
  std::string runner;       // canonical runner type
  size_t task_index = 0;
  int attempt = 1;
  State state = State::kCreated;
  std::optional<int> exit_code;
  int64_t pid = 0;
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t ended_ms = 0;
  std::string error;        // why it failed, when not just an exit code
  uint64_t log_lines = 0;        // lines produced so far (next seq)
  uint64_t committed_lines = 0;  // lines in the log file
  bool log_open = false;         // the writer still holds the file
  // Merged `outputs` of ::{...}:: lines: key -> JSON text, insertion order.
  std::vector<std::pair<std::string, std::string>> vars;
  logstream::MetricSet metrics;
  std::unique_ptr<LiveTask> live;

  TaskRun();
  ~TaskRun();  // out of line: LiveTask is complete only in the supervisor
};

struct Execution {
  std::string id;
  std::string namespace_;
  std::string flow_id;
  std::shared_ptr<const flow::Flow> flow;  // null for executions loaded from disk
  size_t task_count = 0;
  State state = State::kCreated;
  int64_t created_ms = 0;
  int64_t started_ms = 0;
  int64_t ended_ms = 0;
  uint32_t submitted_uid = 0;
  int32_t submitted_pid = 0;
  bool cancel_requested = false;
  bool queued = false;  // waiting in the supervisor's queue for a slot
  std::string error;
  std::vector<std::unique_ptr<TaskRun>> task_runs;  // in the order they were created
  size_t next_task = 0;                              // index of the next task to run

  TaskRun* find_task_run(std::string_view id_or_prefix);
};

}  // namespace agent
