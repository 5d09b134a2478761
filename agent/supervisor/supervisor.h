// The supervisor owns every execution: it queues them, starts each task run on
// its runner when a slot is free, turns output into stored log lines, outputs
// and metrics, enforces timeouts and cancels (SIGTERM, then SIGKILL after the
// grace period), and decides every state. One instance per agent.
// Threading: loop thread only (the log writer's thread reports back on the loop).
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <uv.h>

#include "agent/config/config.h"
#include "agent/json/writer.h"
#include "agent/logstream/log_file.h"
#include "agent/runner/registry.h"
#include "agent/supervisor/execution.h"
#include "agent/supervisor/live_task.h"

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

class Supervisor final : public runner::TaskObserver {
 public:
  Supervisor(uv_loop_t* loop, const AgentConfig& config, runner::Registry& registry);
  ~Supervisor() override;

  // Creates the state directories, loads stored executions, starts the writer.
  Status start();
  void set_listener(SupervisorListener* listener) { listener_ = listener; }

  // Checks every task's runner; on success the execution is queued.
  Result<Execution*> submit(std::shared_ptr<const flow::Flow> flow, Submitter who);
  // An id or a unique prefix of one.
  Result<Execution*> find(std::string_view id_or_prefix);
  void cancel(Execution& exec);
  // Stops starting tasks, ends queued ones, lets running ones finish within the
  // termination grace, then kills them; `done` runs when everything is stored.
  void shutdown(std::function<void()> done);

  const std::vector<Execution*>& ordered() const { return ordered_; }
  std::string log_path(const TaskRun& run) const;
  void write_stats(json::Writer& w) const;

  // runner::TaskObserver
  void on_output(runner::RunnerTask& task, runner::OutputStream stream,
                 std::string_view bytes) override;
  void on_finished(runner::RunnerTask& task, Result<runner::ExitStatus> outcome) override;

 private:
  void pump();
  void start_next_task(Execution& exec);
  Status launch(Execution& exec, TaskRun& run, const flow::TaskDef& def);
  void handle_line(TaskRun& run, runner::OutputStream stream, std::string_view line);
  void append_line(TaskRun& run, logstream::Level level, std::string_view text);
  void flush_chunk(TaskRun& run);
  void flush_dirty();
  void start_kill(TaskRun& run, KillReason reason);
  void finish_task_run(TaskRun& run);
  void end_task_run(TaskRun& run);
  void advance_execution(Execution& exec);
  void end_execution(Execution& exec, State state);
  void set_state(Execution& exec, TaskRun* run, State state);
  void remove_working_dir(std::string dir);
  void on_log_committed(const logstream::ChunkPtr& chunk);
  void on_log_closed(uint64_t key, Status status);
  void set_paused_all(bool paused);
  void maybe_finish_shutdown();
  Status load_stored();

  uv_loop_t* loop_;
  const AgentConfig& config_;
  runner::Registry& registry_;
  SupervisorListener* listener_ = nullptr;
  logstream::LogWriter writer_;
  std::vector<std::string> base_env_;  // the agent's environment at start

  std::unordered_map<std::string, std::unique_ptr<Execution>> executions_;
  std::vector<Execution*> ordered_;        // creation order
  std::deque<Execution*> queue_;           // executions whose next task waits for a slot
  std::unordered_map<uint64_t, TaskRun*> log_runs_;  // open logs by key
  std::vector<TaskRun*> dirty_;            // runs with an unflushed chunk
  std::unordered_set<TaskRun*> live_runs_;  // runs holding a LiveTask
  std::unique_ptr<uv::Timer> flush_timer_;
  std::unique_ptr<uv::Timer> shutdown_timer_;
  uint64_t next_log_key_ = 1;
  int running_ = 0;        // task runs with a live runner task or an open log
  bool paused_all_ = false;
  bool draining_ = false;
  bool writer_closing_ = false;
  int pending_fs_ = 0;     // working-dir removals and execution saves in flight
  std::function<void()> shutdown_done_;

  // Counters for stats.
  uint64_t submissions_ = 0;
  uint64_t started_ = 0;
  uint64_t log_lines_ = 0;
  int64_t started_at_ms_ = 0;
};

}  // namespace agent
