// Executions and their task runs: the state the supervisor owns, and that the
// protocol encodes. Loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/context/mask.h"
#include "agent/flow/flow.h"
#include "agent/logstream/protocol_line.h"
#include "agent/runner/resources.h"
#include "agent/template/value.h"
#include "agent/uv/timer.h"

namespace agent {

// Kestra's state names. RESUBMITTED ends an attempt that was running when the
// agent died: the task runs again as a new attempt (Kestra, PR kestra#12542).
enum class State : uint8_t {
  kCreated, kRunning, kKilling, kSuccess, kWarning, kFailed, kKilled, kResubmitted
};
inline constexpr int kStateCount = 8;

std::string_view state_name(State s);
bool parse_state(std::string_view name, State& out);
inline bool is_final(State s) {
  return s == State::kSuccess || s == State::kWarning || s == State::kFailed ||
         s == State::kKilled || s == State::kResubmitted;
}

struct LiveTask;     // supervisor-private: what a running task holds
struct WorkerGroup;  // worker_groups.h

struct TaskRun {
  std::string id;
  uint64_t row = 0;  // its row in the state database (state_db.h); 0 until first written
  std::string task_id;
  std::string type;         // the task's type
  std::string runner;       // canonical runner type
  std::string worker_group = "default";  // the worker group it runs in (worker_groups.h)
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
  // outputFiles (and output-directory files): key -> kestra:// URI.
  std::vector<std::pair<std::string, std::string>> output_files;
  // Outputs of tasks that are not scripts (Return's `value`, Clone's
  // `directory`): key -> JSON text.
  std::vector<std::pair<std::string, std::string>> task_outputs;
  std::string parent_id;        // the WorkingDirectory run this one runs in
  const flow::TaskDef* def = nullptr;  // while the execution runs
  int64_t first_attempt_ms = 0;  // start of attempt 1 (retry maxDuration)
  bool replayed = false;  // recorded before a restart, taken up again by the walk
  std::unique_ptr<LiveTask> live;

  TaskRun();
  ~TaskRun();  // out of line: LiveTask is complete only in the supervisor
};

// One list of tasks being walked: the flow's tasks, or a WorkingDirectory's.
struct Frame {
  const std::vector<flow::TaskDef>* list = nullptr;
  const std::vector<flow::TaskDef>* errors = nullptr;  // run once a task failed
  size_t next = 0;
  bool in_errors = false;
  bool failed = false;          // a task of `list` failed: the rest is skipped
  bool killed = false;          // a task of `list` was killed
  State worst = State::kSuccess;  // SUCCESS or WARNING so far
  TaskRun* owner = nullptr;     // the WorkingDirectory run, null for the flow
  std::string working_dir;      // shared by the frame's tasks; empty: one per task
};

struct Execution {
  std::string id;
  uint64_t row = 0;  // its row in the state database (state_db.h); 0 until first written
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
  bool queued = false;  // waiting in a worker group's queue for a slot
  WorkerGroup* queued_in = nullptr;
  int64_t queue_ticket = 0;  // its order in that queue (WorkerGroup::position_of)
  int64_t queued_since_ms = 0;  // when its pending task was queued
  // What each of its runner tasks asks of its worker group, read from the
  // task's runner properties once.
  std::unordered_map<const flow::TaskDef*, runner::ResourceRequest> requests;
  std::string error;
  std::vector<std::unique_ptr<TaskRun>> task_runs;  // in the order they were created

  // While it runs:
  std::vector<Frame> frames;               // the task lists being walked, innermost last
  State final_state = State::kSuccess;     // of the flow's own task list
  const flow::TaskDef* pending = nullptr;  // a runner task waiting for a slot
  int pending_attempt = 1;
  int64_t pending_first_ms = 0;            // attempt 1's start, for retries
  bool busy = false;                       // file work in the thread pool, or an end to walk on from
  bool advancing = false;                  // advance() is on the stack
  bool advance_again = false;              // a task ended while it was
  bool ending = false;                     // end_execution was called
  std::unique_ptr<uv::Timer> retry_timer;
  // Events made while the final record of one of its runs was being stored,
  // in the order they happened (Supervisor::notify). The walk goes on from a
  // run's end before its record is stored: records are stored in the order
  // they are made, so nothing the walk does next is durable before the end
  // is. The end is announced once stored, and what came after waits behind it.
  struct HeldEvent {
    TaskRun* run = nullptr;  // null: the execution's own state
    State state = State::kCreated;  // as it was when the event happened
    std::optional<int> exit_code;
    bool ready = true;  // false: a run's end whose record is not stored yet
  };
  std::deque<HeldEvent> held_events;
  template_::Value inputs;                 // resolved inputs (a map)
  // {{ outputs.<taskId> }}: the last ended attempt of each task, kept as tasks
  // end so that starting a task does not re-read every earlier one.
  std::vector<std::pair<std::string, template_::Value>> outputs_entries;
  std::unordered_map<std::string, size_t> outputs_index;
  mutable template_::Value outputs_value;  // a cache, built from the entries when dirty
  mutable bool outputs_dirty = true;
  context::SecretMasker masker;                   // secrets rendered or given as inputs
  std::vector<std::string> secret_inputs;          // SECRET input values (kept for a restart)
  // After a restart: the task runs recorded before it, in creation order. The
  // walk is deterministic given each task's result, so it asks for them again
  // in this order and takes each one up instead of starting it anew.
  std::deque<std::unique_ptr<TaskRun>> replay;
  bool stored = false;                             // the submission is durable

  ~Execution();

  TaskRun* find_task_run(std::string_view id_or_prefix);
};

}  // namespace agent
