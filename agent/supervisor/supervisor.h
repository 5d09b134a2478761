// The supervisor owns every execution: it queues them, starts each task run on
// its runner when a slot is free, turns output into stored log lines, outputs
// and metrics, enforces timeouts and cancels (SIGTERM, then SIGKILL after the
// grace period), and decides every state. One instance per agent.
// Threading: loop thread only (the log writer's thread reports back on the loop).
#pragma once

#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <uv.h>

#include "agent/config/config.h"
#include "agent/context/secrets.h"
#include "agent/files/storage.h"
#include "agent/json/writer.h"
#include "agent/logstream/log_file.h"
#include "agent/metrics/registry.h"
#include "agent/runner/registry.h"
#include "agent/state/state_db.h"
#include "agent/supervisor/execution.h"
#include "agent/supervisor/live_task.h"
#include "agent/supervisor/work_dir_pool.h"
#include "agent/supervisor/worker_groups.h"
#include "agent/template/template.h"
#include "agent/uv/lag_probe.h"

namespace agent {

// Told about every state change and every stored log chunk (streams, watchers).
class SupervisorListener {
 public:
  virtual ~SupervisorListener() = default;
  // `run` is null for the execution's own state.
  virtual void on_state(Execution& exec, TaskRun* run) = 0;
  virtual void on_log_committed(Execution& exec, TaskRun& run) = 0;
};

struct Submitter {
  uint32_t uid = 0;
  int32_t pid = 0;
};

struct SubmitArgs {
  std::string execution_id;         // chosen by the caller (input files are stored under it)
  // The submission as received, stored so that a restarted agent can compile
  // the flow again: the `flow` (or single `task`) JSON text, and its namespace.
  std::string definition_json;
  bool single_task = false;
  std::string namespace_;
  template_::Value inputs;          // resolved inputs, a map
  std::vector<std::string> secrets;  // SECRET input values, masked in every log line
  Submitter who;
};

struct PreparedTask;  // task_start.cc

class Supervisor final : public runner::TaskObserver {
 public:
  Supervisor(uv_loop_t* loop, const AgentConfig& config, runner::Registry& registry);
  ~Supervisor() override;

  // Creates the state directories, loads stored executions, starts the writer.
  Status start();
  void set_listener(SupervisorListener* listener) { listener_ = listener; }

  // Checks every task's runner (an error is returned at once), then stores the
  // submission; `done` runs once it is durable (the execution is queued, and
  // only then may the client be told) or could not be stored.
  using SubmitDone = std::function<void(Result<Execution*>)>;
  Status submit(std::shared_ptr<const flow::Flow> flow, SubmitArgs args, SubmitDone done);
  // A fresh execution id, for callers that store input files before submit.
  static std::string new_execution_id();
  // An id or a unique prefix of one.
  Result<Execution*> find(std::string_view id_or_prefix);
  Result<Execution*> find_exact(const std::string& id);
  // Returns the write to wait for (when_stored) before the cancel is acknowledged.
  uint64_t cancel(Execution& exec);
  void when_stored(uint64_t seq, std::function<void(Status)> done) {
    db_.when_stored(seq, std::move(done));
  }
  // Stops starting tasks, ends queued ones, lets running ones finish within the
  // termination grace, then kills them; `done` runs when everything is stored.
  void shutdown(std::function<void()> done);

  const std::vector<Execution*>& ordered() const { return ordered_; }
  const files::Storage& storage() const { return storage_; }
  std::string log_path(const TaskRun& run) const;
  void write_stats(json::Writer& w) const;
  const WorkerGroups& worker_groups() const { return groups_; }
  static void write_loop_lag(json::Writer& w, const uv::LagHistogram& h);
  // Prometheus metrics (metrics.cc): executions, task runs, queues, logs, the
  // loop's lag, the state database, and each runner's own.
  void write_metrics(metrics::Registry& registry) const;
  // Executions waiting for a slot, by worker group.
  std::map<std::string, size_t> queue_depths() const;

  // runner::TaskObserver
  void on_output(runner::RunnerTask& task, runner::OutputStream stream,
                 std::string_view bytes) override;
  void on_note(runner::RunnerTask& task, bool warning, std::string_view text) override;
  void on_started(runner::RunnerTask& task) override;
  void on_finished(runner::RunnerTask& task, Result<runner::ExitStatus> outcome) override;

 private:
  // Starts what the worker groups' queues hold, as slots and resources allow;
  // one task per group in turn, so a busy group never holds up another.
  void pump();
  void pump_once();
  Status check_runners(const std::vector<flow::TaskDef>& tasks, const std::string& path);
  // The task's group serves its runner, and could ever grant its request.
  Status check_placement(const flow::TaskDef& def, const runner::Lookup& found, const std::string& path);
  // Queues the execution's pending task in its worker group.
  void enqueue(Execution& exec, bool front = false);
  const runner::ResourceRequest& request_of(Execution& exec, const flow::TaskDef& def) const;
  // Ends the execution's queued task without running it.
  void refuse(Execution& exec, State state, const std::string& why);
  std::string runner_type_of(const flow::TaskDef& def) const {
    return groups_.runner_type(def.runner_type, def.worker_group);
  }

  // flow_walk.cc: walking the task lists, tasks that run inside the agent,
  // results, retries.
  void advance(Execution& exec);
  void advance_step(Execution& exec);
  TaskRun& new_task_run(Execution& exec, const flow::TaskDef& def, int attempt);
  void run_in_agent(Execution& exec, const flow::TaskDef& def);
  void start_working_directory(Execution& exec, const flow::TaskDef& def);
  void end_frame(Execution& exec);
  void apply_result(Execution& exec, const flow::TaskDef& def, State state);
  void record_outputs(Execution& exec, const TaskRun& run);
  bool maybe_retry(Execution& exec, TaskRun& run);
  void unwind(Execution& exec, State state);
  template_::Value run_variables(const Execution& exec, const TaskRun& run,
                                 const std::string& working_dir, const std::string& output_dir,
                                 const template_::Value& output_files) const;
  template_::Context template_context(Execution& exec, template_::Value vars);

  // task_start.cc: rendering, the working directory, starting on the runner.
  void start_runner_task(Execution& exec, WorkerGroup& group, runner::ResourceGrant grant);
  void launch(Execution& exec, TaskRun& run, std::shared_ptr<PreparedTask> prepared);
  void mark_running(Execution& exec, TaskRun& run);
  // Starts the task unless it was cancelled meanwhile; spawns take at most
  // kLaunchBudgetNs of each loop iteration, the rest wait for the next one.
  void launch_soon(Execution& exec, TaskRun& run, std::shared_ptr<PreparedTask> prepared);
  bool launch_budget_left();
  void timed_launch(Execution& exec, TaskRun& run, std::shared_ptr<PreparedTask> prepared);
  void launch_or_drop(Execution& exec, TaskRun& run, std::shared_ptr<PreparedTask> prepared);
  void launch_deferred();
  void fail_start(TaskRun& run, const Error& error);
  void file_policy(const Execution& exec, PreparedTask& prepared) const;
  // `splitter` says whether `line` is whole or a piece of a line longer than
  // maxLineBytes (never taken as a ::{...}:: message).
  void handle_line(TaskRun& run, runner::OutputStream stream, std::string_view line,
                   const logstream::LineSplitter& splitter);
  // Adds the outputs of a ::{...}:: message, within maxOutputsBytes.
  void merge_outputs(TaskRun& run, std::vector<std::pair<std::string, std::string>>& outputs);
  void append_line(TaskRun& run, logstream::Level level, std::string_view text);
  void flush_chunk(TaskRun& run);
  void flush_dirty();
  void start_kill(TaskRun& run, KillReason reason);
  void finish_task_run(TaskRun& run);
  void collect_outputs(TaskRun& run);
  void close_task_log(TaskRun& run);
  void end_task_run(TaskRun& run);
  void end_execution(Execution& exec, State state);
  // Records the change in the state database and tells the listener.
  void set_state(Execution& exec, TaskRun* run, State state);
  uint64_t persist(Execution& exec, TaskRun* run);
  uint64_t persist_exec(Execution& exec, State state);
  void notify(Execution& exec, TaskRun* run);
  // The oldest held end of `exec` is stored: it and the events behind it go,
  // up to the next end not stored yet.
  void release_held_events(Execution& exec);
  void deliver_as_it_was(Execution& exec, const Execution::HeldEvent& event);
  void walk_on_from_ends();
  void after_run_stored(Execution& exec, TaskRun& run);
  // `output_dir`: the empty directory every task gets inside it (or empty).
  // `poolable`: nothing of the task can still be in it (LiveTask::nothing_left).
  void remove_working_dir(std::string dir, const std::string& output_dir = {}, bool poolable = false);
  void on_log_committed(const logstream::ChunkPtr& chunk);
  void on_log_closed(uint64_t key, Status status);
  void set_paused_all(bool paused);
  void maybe_finish_shutdown();
  Status lock_state_dir();

  // recover.cc: executions recorded before a restart.
  Status recover(state::Loaded loaded);
  void resume_execution(Execution& exec);
  // A recorded run the walk asks for again; null when the walk has none.
  std::unique_ptr<TaskRun> take_replay(Execution& exec, const flow::TaskDef& def, int attempt);
  void replay_final(Execution& exec, TaskRun& run);
  void resubmit(Execution& exec, TaskRun& run);

  uv_loop_t* loop_;
  const AgentConfig& config_;
  runner::Registry& registry_;
  SupervisorListener* listener_ = nullptr;
  logstream::LogWriter writer_;
  state::StateDb db_;
  int lock_fd_ = -1;
  std::vector<std::string> base_env_;  // the agent's environment at start
  template_::Value envs_;              // {{ envs.x }}: ENV_-prefixed variables
  files::Storage storage_{""};
  context::SecretStore secrets_;

  std::unordered_map<std::string, std::unique_ptr<Execution>> executions_;
  std::vector<Execution*> ordered_;        // creation order
  WorkerGroups groups_;                    // their queues: executions whose next task waits
  WorkDirPool work_dirs_;                  // empty working directories, used again
  std::unordered_map<uint64_t, TaskRun*> log_runs_;  // open logs by key
  std::vector<TaskRun*> dirty_;            // runs with an unflushed chunk
  std::unordered_set<TaskRun*> live_runs_;  // runs holding a LiveTask
  std::unique_ptr<uv::Timer> flush_timer_;
  std::unique_ptr<uv::Timer> shutdown_timer_;
  std::unique_ptr<uv::LagProbe> lag_probe_;  // armed while tasks run or wait
  struct DeferredLaunch {
    Execution* exec;
    TaskRun* run;
    std::shared_ptr<PreparedTask> prepared;
  };
  std::deque<DeferredLaunch> deferred_launches_;
  std::unique_ptr<uv::Timer> launch_timer_;
  // Runs that ended this loop iteration: the walk goes on from them at the
  // next one (end_timer_, 0 ms), off the stack that ended them, and before
  // the state writer is woken, so that what it stores next (the next run,
  // the execution's end) shares one commit with the end.
  struct EndedRun {
    Execution* exec;
    TaskRun* run;
    std::function<void()> free_slot;  // a RESUBMITTED run's slot, given back then
  };
  std::vector<EndedRun> ended_runs_;
  std::unique_ptr<uv::Timer> end_timer_;
  uint64_t launch_tick_ms_ = 0;   // uv_now() of the launches counted below
  uint64_t line_clock_tick_ = 0;  // uv_now() when line_clock_ms_ was read
  int64_t line_clock_ms_ = 0;
  int64_t line_time_ms();
  uint64_t launch_spent_ns_ = 0;  // time spent spawning in that tick
  // Launched tasks whose runner is still starting them (RunnerTask::started
  // false: a spawn queued on the Process runner's thread). Launches wait
  // while kMaxStarting are: a burst of thousands queued at once held every
  // request (the task's whole environment) at the same time, and the heap
  // that grew for them stayed the agent's (PSS 11 KiB a task, not 7).
  static constexpr size_t kMaxStarting = 64;
  size_t starting_ = 0;
  void started_one();
  uint64_t next_log_key_ = 1;
  int running_ = 0;        // task runs with a live runner task or an open log
  bool paused_all_ = false;
  bool pumping_ = false;
  bool pump_again_ = false;
  bool draining_ = false;
  bool writer_closing_ = false;
  bool db_closing_ = false;
  int pending_fs_ = 0;     // working-dir removals and execution saves in flight
  std::function<void()> shutdown_done_;

  // For write_metrics (metrics.cc): by runner and worker group, kept as task
  // runs start and end; an observation is an array increment.
  struct TaskMetrics {
    metrics::Histogram submit_to_running;  // created -> started on its runner
    metrics::Histogram run_duration;       // started -> ended (runner tasks)
    std::array<uint64_t, kStateCount> ended{};
  };
  using TaskKey = std::pair<std::string, std::string>;  // runner label, worker group
  static TaskKey task_key(const TaskRun& run);
  std::map<TaskKey, TaskMetrics> task_metrics_;
  std::array<uint64_t, kStateCount> executions_ended_{};
  uint64_t log_bytes_received_ = 0;  // task output as read, before splitting into lines

  // Counters for stats.
  uint64_t submissions_ = 0;
  uint64_t started_ = 0;
  uint64_t log_lines_ = 0;
  int64_t started_at_ms_ = 0;
};

}  // namespace agent
