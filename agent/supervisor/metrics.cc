// The supervisor's Prometheus metrics: built at each scrape from the counters
// and histograms kept as tasks start and end (supervisor.h, TaskMetrics) and
// from what the supervisor holds (executions, live task runs, the queue).
#include <optional>

#include "agent/supervisor/live_task.h"
#include "agent/supervisor/supervisor.h"

namespace agent {

namespace {

// The loop lag bounds (agent/uv/lag_probe.h) in seconds.
const std::array<double, uv::kLagBoundsUs.size()>& lag_bounds_seconds() {
  static const std::array<double, uv::kLagBoundsUs.size()> bounds = [] {
    std::array<double, uv::kLagBoundsUs.size()> b{};
    for (size_t i = 0; i < b.size(); i++) b[i] = static_cast<double>(uv::kLagBoundsUs[i]) / 1e6;
    return b;
  }();
  return bounds;
}

constexpr State kLiveStates[] = {State::kCreated, State::kRunning, State::kKilling};
constexpr State kFinalStates[] = {State::kSuccess, State::kWarning, State::kFailed, State::kKilled,
                                  State::kResubmitted};

}  // namespace

// Tasks the agent runs itself (Log, Return, WorkingDirectory) have no runner.
Supervisor::TaskKey Supervisor::task_key(const TaskRun& run) {
  return {run.runner.empty() ? std::string("agent") : run.runner, run.worker_group};
}

std::map<std::string, size_t> Supervisor::queue_depths() const {
  std::map<std::string, size_t> out;
  for (const auto& g : groups_.all()) out[g->key] = g->queue.size();
  return out;
}

void Supervisor::write_metrics(metrics::Registry& r) const {
  r.gauge("runnerd_start_time_seconds", "When the agent started, in seconds since the Unix epoch.")
      .add({}, static_cast<double>(started_at_ms_) / 1000.0);

  // Executions.
  std::array<uint64_t, kStateCount> exec_by_state{};
  for (const Execution* e : ordered_) exec_by_state[static_cast<size_t>(e->state)]++;
  auto& executions = r.gauge("runnerd_executions",
                             "Executions the agent holds (waiting, running, and ended ones kept "
                             "for queries), by state.");
  for (int i = 0; i < kStateCount; i++) {
    executions.add({{"state", std::string(state_name(static_cast<State>(i)))}},
                   static_cast<double>(exec_by_state[static_cast<size_t>(i)]));
  }
  auto& exec_ended = r.counter("runnerd_executions_ended_total",
                               "Executions that reached a final state since the agent started.");
  for (State s : kFinalStates) {
    if (s == State::kResubmitted) continue;  // a task run's state only
    exec_ended.add({{"state", std::string(state_name(s))}},
                   static_cast<double>(executions_ended_[static_cast<size_t>(s)]));
  }

  // Task runs: live ones by state, ended ones, and the two histograms, for
  // every runner and group seen since the start (zeros included).
  std::map<TaskKey, std::array<uint64_t, kStateCount>> live;
  for (const auto& [key, m] : task_metrics_) live[key];
  for (const TaskRun* run : live_runs_) live[task_key(*run)][static_cast<size_t>(run->state)]++;
  auto labels = [](const TaskKey& key, std::optional<State> state) {
    metrics::Labels l;
    if (state) l.emplace_back("state", std::string(state_name(*state)));
    l.emplace_back("runner", key.first);
    l.emplace_back("group", key.second);
    return l;
  };
  auto& tasks = r.gauge("runnerd_tasks",
                        "Task runs in progress, by state: CREATED (its files are being prepared "
                        "or it waits to be launched), RUNNING, KILLING.");
  for (const auto& [key, by_state] : live) {
    for (State s : kLiveStates) {
      tasks.add(labels(key, s), static_cast<double>(by_state[static_cast<size_t>(s)]));
    }
  }
  auto& ended = r.counter("runnerd_task_runs_ended_total",
                          "Task runs that reached a final state since the agent started.");
  auto& to_running = r.histogram(
      "runnerd_task_submit_to_running_seconds",
      "From a task being queued (at submission, or when its turn in the flow came) to its start on its "
      "runner, time waiting in its worker group's queue included.");
  auto& duration = r.histogram("runnerd_task_run_duration_seconds",
                               "From a task run's start on its runner to its end.");
  static const TaskMetrics kNone{};
  for (const auto& [key, by_state] : live) {
    auto it = task_metrics_.find(key);
    const TaskMetrics& m = it == task_metrics_.end() ? kNone : it->second;
    for (State s : kFinalStates) {
      ended.add(labels(key, s), static_cast<double>(m.ended[static_cast<size_t>(s)]));
    }
    if (key.first == "agent") continue;  // no runner: it neither waits nor runs elsewhere
    to_running.add(labels(key, std::nullopt), m.submit_to_running);
    duration.add(labels(key, std::nullopt), m.run_duration);
  }

  // Queues and slots.
  auto& depth = r.gauge("runnerd_queue_depth", "Executions whose next task waits for a slot, by worker group.");
  for (const auto& [group, n] : queue_depths()) depth.add({{"group", group}}, static_cast<double>(n));
  auto& slots = r.gauge("runnerd_task_slots", "Task runs that may run at once (maxRunning), by worker group.");
  auto& used = r.gauge("runnerd_task_slots_used",
                       "Task runs holding a slot (running, or storing their results), by worker group.");
  auto& cpus = r.gauge("runnerd_worker_group_cpus", "CPUs a worker group hands out, when it counts them.");
  auto& cpus_used = r.gauge("runnerd_worker_group_cpus_used", "CPUs granted to running tasks.");
  auto& mem = r.gauge("runnerd_worker_group_memory_bytes", "Memory a worker group hands out, when it counts it.");
  auto& mem_used = r.gauge("runnerd_worker_group_memory_used_bytes", "Memory granted to running tasks.");
  auto& gpus = r.gauge("runnerd_worker_group_gpus", "GPUs of a worker group.");
  auto& gpus_used = r.gauge("runnerd_worker_group_gpus_used", "GPUs assigned to running tasks.");
  for (const auto& g : groups_.all()) {
    if (!g->served) continue;
    metrics::Labels l = {{"group", g->key}};
    slots.add(l, g->max_running);
    used.add(l, g->running);
    if (g->millicpus > 0) {
      cpus.add(l, static_cast<double>(g->millicpus) / 1000.0);
      cpus_used.add(l, static_cast<double>(g->millicpus_used) / 1000.0);
    }
    if (g->memory_bytes > 0) {
      mem.add(l, static_cast<double>(g->memory_bytes));
      mem_used.add(l, static_cast<double>(g->memory_used));
    }
    if (!g->gpus.empty()) {
      gpus.add(l, static_cast<double>(g->gpus.size()));
      gpus_used.add(l, static_cast<double>(g->gpus.size()) - g->gpus_free());
    }
  }

  // Logs.
  r.counter("runnerd_log_bytes_received_total", "Bytes of output read from tasks.")
      .add({}, static_cast<double>(log_bytes_received_));
  r.counter("runnerd_log_bytes_stored_total",
            "Bytes of task logs written to disk, compressed (frames and index).")
      .add({}, static_cast<double>(writer_.bytes_stored()));
  r.counter("runnerd_log_lines_total", "Log lines stored for task runs.")
      .add({}, static_cast<double>(log_lines_));
  r.gauge("runnerd_log_writer_pending_bytes",
          "Log bytes handed to the writer thread and not yet written.")
      .add({}, static_cast<double>(writer_.pending_bytes()));
  r.gauge("runnerd_output_paused", "1 while task output is not read because the log writer is behind.")
      .add({}, paused_all_ ? 1 : 0);

  // The loop.
  static const uv::LagHistogram kNoLag{};
  const uv::LagHistogram& lag = lag_probe_ ? lag_probe_->histogram() : kNoLag;
  r.histogram("runnerd_loop_lag_seconds",
              "How late the agent's loop runs a timer due every 10 ms, sampled while tasks run "
              "or wait.")
      .add_histogram({}, lag_bounds_seconds(), lag.buckets, static_cast<double>(lag.sum_us) / 1e6);

  // The state database.
  r.counter("runnerd_state_db_commits_total", "Transactions committed to the state database.")
      .add({}, static_cast<double>(db_.commits()));
  r.counter("runnerd_state_db_failed_commits_total",
            "Transactions of the state database that failed.")
      .add({}, static_cast<double>(db_.failed_commits()));

  for (const runner::Runner* runner : registry_.runners()) runner->write_metrics(r);
}

}  // namespace agent
