// Ending a task run: the runner's exit, output files stored, the log closed,
// then the state decided and the walk going on (or a retry scheduled).
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/common/crash_point.h"
#include "agent/common/time.h"
#include "agent/log/log.h"
#include "agent/supervisor/supervisor.h"
#include "agent/supervisor/task_files.h"
#include "agent/uv/work.h"

namespace agent {

using logstream::Level;

namespace {

// "killed by the kernel: the task hit its memory limit (512 MiB)": the limit
// in the largest unit it is a whole number of (GiB, MiB, GB, MB), else MiB.
std::string out_of_memory_message(int64_t limit_bytes) {
  std::string msg = "killed by the kernel: the task hit its memory limit";
  if (limit_bytes <= 0) return msg;
  std::string size;
  if (limit_bytes % (int64_t{1} << 30) == 0) {
    size = std::to_string(limit_bytes >> 30) + " GiB";
  } else if (limit_bytes % (int64_t{1} << 20) == 0) {
    size = std::to_string(limit_bytes >> 20) + " MiB";
  } else if (limit_bytes % 1000000000 == 0) {
    size = std::to_string(limit_bytes / 1000000000) + " GB";
  } else if (limit_bytes % 1000000 == 0) {
    size = std::to_string(limit_bytes / 1000000) + " MB";
  } else {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(limit_bytes) / (1 << 20));
    size = buf;
  }
  return msg + " (" + size + ")";
}

}  // namespace

void Supervisor::on_started(runner::RunnerTask& task) {
  TaskRun& run = *static_cast<TaskRun*>(task.supervisor_data);
  if (run.live->starting) {
    run.live->starting = false;
    started_one();
  }
  if (run.state == State::kCreated) {
    mark_running(*run.live->exec, run);
  } else {  // KILLING: cancelled while it was being started
    run.pid = task.pid();
    if (run.started_ms == 0) run.started_ms = run.live->launched_ms;
  }
}

void Supervisor::on_finished(runner::RunnerTask& task, Result<runner::ExitStatus> outcome) {
  crash_point("task_exited");
  TaskRun& run = *static_cast<TaskRun*>(task.supervisor_data);
  LiveTask& live = *run.live;
  if (live.starting) {  // it could not be started
    live.starting = false;
    started_one();
  }
  live.out.finish([&](std::string_view line) { handle_line(run, runner::OutputStream::kStdout, line, live.out); });
  live.err.finish([&](std::string_view line) { handle_line(run, runner::OutputStream::kStderr, line, live.err); });
  if (outcome.ok()) {
    if (auto* e = std::get_if<runner::Exited>(&*outcome)) {
      run.exit_code = e->code;
    } else {
      const auto& signaled = std::get<runner::Signaled>(*outcome);
      int sig = signaled.signal;
      run.exit_code = 128 + sig;  // as Java reports a signalled child
      if (live.kill_reason == KillReason::kNone && signaled.out_of_memory) {
        run.error = out_of_memory_message(live.grant.memory_bytes);
        append_line(run, Level::kError, run.error);
      } else if (live.kill_reason == KillReason::kNone) {
        run.error = std::string("killed by signal ") + sigabbrev_np(sig);
      }
    }
  } else {  // it could not be started: nothing of it ran
    run.error = outcome.error().message();
    append_line(run, Level::kError, run.error);
    live.result = State::kFailed;
  }
  live.runner_finished = true;
  live.nothing_left = task.left_nothing_running();
  live.runner->release(std::move(live.task));
  finish_task_run(run);
}

void Supervisor::finish_task_run(TaskRun& run) {
  LiveTask& live = *run.live;
  uv::close(live.timeout_timer);
  uv::close(live.kill_timer);
  if (live.kill_reason == KillReason::kTimeout) {
    std::string msg = "Timeout after " + live.timeout_text + ": the task was killed";
    append_line(run, Level::kError, msg);
    run.error = msg;
  }
  collect_outputs(run);
}

// Output files are stored also when the task failed (Kestra publishes them).
void Supervisor::collect_outputs(TaskRun& run) {
  LiveTask& live = *run.live;
  Execution& exec = *live.exec;
  const flow::TaskDef& def = *run.def;
  bool is_wd = def.kind == flow::TaskKind::kWorkingDirectory;
  if (is_wd && live.output_globs.empty() && !def.output_files.empty()) {
    live.output_globs = def.output_files;  // WorkingDirectory: not rendered
  }
  bool started = live.result != State::kFailed || is_wd;
  if (!started || live.working_dir.empty() ||
      (live.output_dir.empty() && live.output_globs.empty())) {
    close_task_log(run);
    return;
  }
  auto job = std::make_shared<CollectJob>();
  job->working_dir = live.working_dir;
  job->output_dir = live.output_dir;
  job->globs = live.output_globs;
  job->key = files::TaskFileKey{exec.namespace_, exec.flow_id, exec.id, run.task_id, run.id};
  job->storage = &storage_;
  pending_fs_++;
  uv::queue_work(
      loop_, [job] { collect_files(*job); },
      [this, &run, job] {
        pending_fs_--;
        for (const auto& e : job->errors) append_line(run, Level::kWarn, e);
        run.output_files = std::move(job->files);
        close_task_log(run);
      });
}

void Supervisor::close_task_log(TaskRun& run) {
  LiveTask& live = *run.live;
  flush_chunk(run);
  if (run.log_open) {
    writer_.close_log(live.log_key);  // end_task_run when the log is stored
  } else {
    end_task_run(run);
  }
}

void Supervisor::on_log_closed(uint64_t key, Status status) {
  auto it = log_runs_.find(key);
  if (it == log_runs_.end()) return;
  TaskRun& run = *it->second;
  log_runs_.erase(it);
  run.log_open = false;
  if (!status.ok()) {
    log::error("log of task run " + run.id + " is incomplete: " + status.error().message());
    if (run.error.empty()) run.error = "log incomplete: " + status.error().message();
  }
  if (run.live && run.live->runner_finished) end_task_run(run);
}

void Supervisor::end_task_run(TaskRun& run) {
  LiveTask& live = *run.live;
  Execution& exec = *live.exec;
  State state = State::kFailed;
  switch (live.kill_reason) {
    case KillReason::kCancel: state = State::kKilled; break;
    // Stopped by the agent, not by the user: it runs again at the next start
    // (a new attempt, as Kestra resubmits a dead worker's task).
    case KillReason::kShutdown:
    case KillReason::kRestart:
      state = exec.cancel_requested ? State::kKilled : State::kResubmitted;
      break;
    case KillReason::kTimeout: state = State::kFailed; break;
    case KillReason::kNone:
      if (live.result) {
        state = *live.result;
      } else {
        state = (run.exit_code && *run.exit_code == 0 && run.error.empty()) ? State::kSuccess
                                                                            : State::kFailed;
      }
      break;
  }
  if (live.result == State::kKilled) state = State::kKilled;
  if (state == State::kSuccess && run.attempt > 1 && run.def->retry &&
      run.def->retry->warning_on_retry) {
    state = State::kWarning;  // warningOnRetry: a success that needed a retry
  }
  if (state == State::kResubmitted && run.error.empty()) {
    run.error = live.kill_reason == KillReason::kShutdown
                    ? "killed: the agent stopped; attempt " + std::to_string(run.attempt + 1) +
                          " runs at its next start"
                    : "the agent died while this attempt ran; attempt " +
                          std::to_string(run.attempt + 1) + " runs instead";
  } else if (live.kill_reason == KillReason::kShutdown && run.error.empty()) {
    run.error = "killed: the agent stopped";
  }
  run.ended_ms = now_ms();
  std::string dir = live.shared_dir ? std::string() : std::move(live.working_dir);
  std::string output_dir = std::move(live.created_output_dir);
  bool poolable = live.nothing_left;
  // A resubmitted task keeps its slot until its next attempt is queued first:
  // it keeps its place ahead of executions that were waiting.
  bool slot = live.takes_slot;
  bool hold_slot = slot && state == State::kResubmitted;
  WorkerGroup* group = live.group;
  runner::ResourceGrant grant = std::move(live.grant);
  run.live.reset();
  live_runs_.erase(&run);
  auto free_slot = [this, group, grant = std::move(grant)] {
    running_--;
    db_.set_running(static_cast<size_t>(running_));
    if (group != nullptr) groups_.give_back(*group, grant);
  };
  if (slot && !hold_slot) free_slot();
  if (!dir.empty()) remove_working_dir(std::move(dir), output_dir, poolable);
  run.state = state;
  TaskMetrics& m = task_metrics_[task_key(run)];
  m.ended[static_cast<size_t>(state)]++;
  if (slot && run.started_ms > 0) {
    m.run_duration.observe(static_cast<double>(run.ended_ms - run.started_ms) / 1000.0);
  }
  // The final state is durable before anyone is told: a restart never runs
  // again what a client saw end. The walk goes on meanwhile (end_timer_):
  // records are stored in the order they are made, and what it announces
  // waits behind this end (Execution::held_events).
  exec.held_events.push_back(Execution::HeldEvent{&run, state, run.exit_code, false});
  pending_fs_++;
  db_.when_stored(persist(exec, &run), [this, &exec](Status) {
    crash_point("run_stored");
    pending_fs_--;
    release_held_events(exec);
    maybe_finish_shutdown();
  });
  exec.busy = true;  // nothing else moves the walk until it goes on from here
  pending_fs_++;
  ended_runs_.push_back(EndedRun{&exec, &run, hold_slot ? free_slot : std::function<void()>()});
  if (!end_timer_) end_timer_ = uv::Timer::create(loop_);
  if (!end_timer_->active()) end_timer_->start(0, 0, [this] { walk_on_from_ends(); });
  pump();
}

void Supervisor::walk_on_from_ends() {
  std::vector<EndedRun> ended;
  ended.swap(ended_runs_);
  for (EndedRun& e : ended) {
    pending_fs_--;
    e.exec->busy = false;
    if (e.free_slot) e.free_slot();
    after_run_stored(*e.exec, *e.run);
  }
}

// The walk goes on from an ended run: a new attempt (RESUBMITTED, or a retry),
// or the next task. Also for runs recorded as ended before a restart.
void Supervisor::after_run_stored(Execution& exec, TaskRun& run) {
  record_outputs(exec, run);
  bool again = false;
  if (run.state == State::kResubmitted) {
    if (!draining_ && !exec.cancel_requested) {
      exec.pending = run.def;
      exec.pending_attempt = run.attempt + 1;
      exec.pending_first_ms = run.first_attempt_ms;
      enqueue(exec, /*front=*/true);  // it keeps its place
    }
    again = true;  // a stopping agent leaves it for the next start
  } else {
    std::string error = run.error;
    again = maybe_retry(exec, run);
    if (run.error != error) persist(exec, &run);  // "retried: attempt N starts after ..."
  }
  if (!again) {
    apply_result(exec, *run.def, run.state);
    advance(exec);
  }
  pump();
  maybe_finish_shutdown();
}

}  // namespace agent
