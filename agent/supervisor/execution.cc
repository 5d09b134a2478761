#include "agent/supervisor/execution.h"

#include "agent/supervisor/live_task.h"

namespace agent {

static constexpr std::string_view kStateNames[kStateCount] = {
    "CREATED", "RUNNING", "KILLING", "SUCCESS", "WARNING", "FAILED", "KILLED", "RESUBMITTED"};

std::string_view state_name(State s) { return kStateNames[static_cast<int>(s)]; }

bool parse_state(std::string_view name, State& out) {
  for (int i = 0; i < kStateCount; i++) {
    if (kStateNames[i] == name) {
      out = static_cast<State>(i);
      return true;
    }
  }
  return false;
}

TaskRun::TaskRun() = default;
TaskRun::~TaskRun() = default;
Execution::~Execution() { uv::close(retry_timer); }

TaskRun* Execution::find_task_run(std::string_view id_or_prefix) {
  TaskRun* found = nullptr;
  for (auto& tr : task_runs) {
    if (tr->id == id_or_prefix) return tr.get();
    if (tr->id.compare(0, id_or_prefix.size(), id_or_prefix) == 0) {
      if (found != nullptr) return nullptr;  // ambiguous
      found = tr.get();
    }
  }
  return found;
}

}  // namespace agent
