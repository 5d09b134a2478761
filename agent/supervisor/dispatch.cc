// Dispatch: the worker groups' queues, placement checks at submission, and
// admission of each task's resource request (worker_groups.h).
#include <algorithm>

#include "agent/log/log.h"
#include "agent/supervisor/supervisor.h"

namespace agent {

using logstream::Level;

Status Supervisor::check_placement(const flow::TaskDef& def, const runner::Lookup& found,
                                   const std::string& path) {
  WorkerGroup* g = groups_.route(def.worker_group);
  if (g == nullptr) return {};  // not served here: its fallback decides once it is reached
  if (!g->runners.empty() &&
      std::find(g->runners.begin(), g->runners.end(), found.canonical) == g->runners.end()) {
    std::string allowed;
    for (const auto& r : g->runners) allowed += (allowed.empty() ? "" : ", ") + r;
    return Error(Errc::kInvalidArgument,
                 "worker group '" + g->key + "' does not run " + std::string(found.canonical) +
                     " tasks (it runs: " + allowed + ")",
                 path + (def.runner_type.empty() ? ".workerGroup.key" : ".taskRunner.type"));
  }
  auto req = found.runner->requests(def.runner_json);
  if (!req.ok()) return std::move(req).error().at(path + ".taskRunner");
  AGENT_TRY(groups_.check_capacity(*g, g->effective(*req), path + ".taskRunner"));
  if (g->queue.size() >= g->max_queued) {
    return Error(Errc::kResourceExhausted,
                 "worker group '" + g->key + "' is full: " + std::to_string(g->queue.size()) +
                     " tasks wait for it (maxQueued); retry later",
                 path + ".workerGroup");
  }
  return {};
}

const runner::ResourceRequest& Supervisor::request_of(Execution& exec, const flow::TaskDef& def) const {
  auto [it, fresh] = exec.requests.try_emplace(&def);
  if (fresh && !def.runner_json.empty()) {
    runner::Lookup found = registry_.find(runner_type_of(def));
    if (found.runner != nullptr) {
      auto req = found.runner->requests(def.runner_json);
      if (req.ok()) it->second = std::move(req).value();  // checked at submission
    }
  }
  return it->second;
}

void Supervisor::enqueue(Execution& exec, bool front) {
  const flow::TaskDef& def = *exec.pending;
  WorkerGroup* g = groups_.route(def.worker_group);
  if (g == nullptr) g = &groups_.unserved(def.worker_group);
  g->push(exec, front);
}

void Supervisor::pump() {
  // Starting or ending a task can come back here (a run that ends at once);
  // the outer call then goes round again instead.
  if (pumping_) {
    pump_again_ = true;
    return;
  }
  pumping_ = true;
  do {
    pump_again_ = false;
    pump_once();
  } while (pump_again_);
  pumping_ = false;
}

void Supervisor::pump_once() {
  if (draining_) return;
  const auto& groups = groups_.all();  // grows when a task names a key not served
  for (size_t gi = 0; gi < groups.size(); gi++) {
    WorkerGroup& g = *groups[gi];
    if (g.served) continue;
    // A key this agent does not serve: FAIL and CANCEL end the task now,
    // WAIT leaves it queued (runnerctl ps shows it waiting for the group).
    for (size_t i = 0; i < g.queue.size();) {
      Execution& exec = *g.queue[i];
      flow::GroupFallback fb = exec.pending->group_fallback;
      if (fb == flow::GroupFallback::kWait) {
        i++;
        continue;
      }
      std::string why = "worker group '" + g.key + "' is not served by this agent (it serves: " +
                        groups_.served_keys() + "); workerGroup.fallback is " +
                        (fb == flow::GroupFallback::kFail ? "FAIL" : "CANCEL");
      refuse(exec, fb == flow::GroupFallback::kFail ? State::kFailed : State::kKilled, why);
    }
  }
  bool more = true;
  while (more) {
    more = false;
    for (size_t gi = 0; gi < groups.size(); gi++) {
      WorkerGroup& g = *groups[gi];
      if (!g.served || g.queue.empty() || g.running >= g.max_running) continue;
      Execution& exec = *g.queue.front();
      runner::ResourceRequest req = g.effective(request_of(exec, *exec.pending));
      if (!groups_.fits_now(g, req)) {
        // A request the group can never grant (its capacity shrank since the
        // task was accepted) would hold the queue forever: it fails instead.
        Status never = groups_.check_capacity(g, req, "taskRunner");
        if (!never.ok()) {
          refuse(exec, State::kFailed, never.error().describe());
          more = true;
        }
        continue;  // first in, first out: the next waits for this one
      }
      g.erase(exec);
      runner::ResourceGrant grant = groups_.take(g, req);
      start_runner_task(exec, g, std::move(grant));
      more = true;
    }
  }
}

void Supervisor::refuse(Execution& exec, State state, const std::string& why) {
  WorkerGroup& group = *exec.queued_in;
  group.erase(exec);
  const flow::TaskDef& def = *exec.pending;
  int attempt = exec.pending_attempt;
  exec.pending = nullptr;
  TaskRun& run = new_task_run(exec, def, attempt);
  if (!run.live) {  // recorded as ended before a restart
    replay_final(exec, run);
    return;
  }
  run.first_attempt_ms = attempt == 1 ? run.created_ms : exec.pending_first_ms;
  run.worker_group = group.key;
  append_line(run, Level::kError, why);
  run.error = why;
  run.live->result = state;
  run.live->runner_finished = true;
  finish_task_run(run);
}

}  // namespace agent
