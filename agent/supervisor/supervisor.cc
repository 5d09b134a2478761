#include "agent/supervisor/supervisor.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "agent/common/fs.h"
#include "agent/common/ids.h"
#include "agent/common/time.h"
#include "agent/flow/command_line.h"
#include "agent/log/log.h"
#include "agent/logstream/protocol_line.h"
#include "agent/supervisor/store.h"
#include "agent/uv/work.h"

extern char** environ;

namespace agent {

namespace {

constexpr size_t kChunkBytes = 128 * 1024;  // a chunk goes to the writer at this size
constexpr uint64_t kFlushIntervalMs = 20;   // or after this long (live tail latency)

using logstream::Level;

void set_env(std::vector<std::string>& env, std::string_view name, std::string_view value) {
  std::string entry(name);
  entry += '=';
  for (auto& e : env) {
    if (e.compare(0, entry.size(), entry) == 0) {
      e = entry + std::string(value);
      return;
    }
  }
  env.push_back(entry + std::string(value));
}

// NAME=dir:<previous value>, or NAME=dir.
void prepend_path_env(std::vector<std::string>& env, std::string_view name, const std::string& dir) {
  std::string prefix(name);
  prefix += '=';
  for (auto& e : env) {
    if (e.compare(0, prefix.size(), prefix) == 0) {
      std::string old = e.substr(prefix.size());
      e = prefix + dir + (old.empty() ? "" : ":" + old);
      return;
    }
  }
  env.push_back(prefix + dir);
}

}  // namespace

Supervisor::Supervisor(uv_loop_t* loop, const AgentConfig& config, runner::Registry& registry)
    : loop_(loop),
      config_(config),
      registry_(registry),
      writer_(loop, config.zstd_level,
              logstream::LogWriter::Callbacks{
                  .committed = [this](const logstream::ChunkPtr& c) { on_log_committed(c); },
                  .closed = [this](uint64_t key, Status st) { on_log_closed(key, std::move(st)); },
                  .drained = [this] { set_paused_all(false); },
              }) {
  for (char** e = environ; e != nullptr && *e != nullptr; e++) base_env_.emplace_back(*e);
}

Supervisor::~Supervisor() {
  uv::close(flush_timer_);
  uv::close(shutdown_timer_);
}

Status Supervisor::start() {
  started_at_ms_ = now_ms();
  AGENT_TRY(fs::make_dirs(config_.state_dir + "/logs", 0750));
  AGENT_TRY(fs::make_dirs(config_.state_dir + "/executions", 0750));
  AGENT_TRY(fs::make_dirs(config_.work_dir, 0750));
  AGENT_TRY(load_stored());
  AGENT_TRY(writer_.start());
  flush_timer_ = uv::Timer::create(loop_);
  return {};
}

Status Supervisor::load_stored() {
  std::vector<std::string> errors;
  auto loaded = store::load_all(config_.state_dir + "/executions", errors);
  for (const auto& e : errors) log::warn("ignoring a stored execution: " + e);
  for (auto& exec : loaded) {
    Execution* raw = exec.get();
    if (executions_.emplace(exec->id, std::move(exec)).second) ordered_.push_back(raw);
  }
  if (!ordered_.empty()) {
    log::info("loaded " + std::to_string(ordered_.size()) + " stored executions");
  }
  return {};
}

std::string Supervisor::log_path(const TaskRun& run) const {
  return config_.state_dir + "/logs/" + run.id + ".log.zst";
}

Result<Execution*> Supervisor::submit(std::shared_ptr<const flow::Flow> flow, Submitter who) {
  if (draining_) return Error(Errc::kUnavailable, "the agent is shutting down");
  if (queue_.size() >= config_.max_queued) {
    return Error(Errc::kResourceExhausted,
                 "queue full: " + std::to_string(queue_.size()) +
                     " executions wait for a slot (maxQueued); retry later");
  }
  // Every task's runner is checked before anything is accepted.
  for (size_t i = 0; i < flow->tasks.size(); i++) {
    const flow::TaskDef& t = flow->tasks[i];
    std::string path = "flow.tasks[" + std::to_string(i) + "]";
    std::string type = t.runner_type.empty() ? config_.default_runner : t.runner_type;
    runner::Lookup found = registry_.find(type);
    if (found.runner == nullptr) {
      std::string available;
      for (const auto& name : registry_.types()) available += (available.empty() ? "" : ", ") + name;
      if (t.runner_type.empty()) {
        return Error(Errc::kInvalidArgument,
                     "no taskRunner set, and the default runner " + type +
                         " is not available in this build (available: " + available +
                         "); set taskRunner: {type: io.kestra.plugin.core.runner.Process} or "
                         "change defaultRunner in the agent's configuration",
                     path);
      }
      return Error(Errc::kInvalidArgument,
                   "unknown task runner '" + type + "' (available: " + available + ")",
                   path + ".taskRunner.type");
    }
    Status st = found.runner->validate(t.runner_json);
    if (!st.ok()) return std::move(st).error().at(path + ".taskRunner");
  }

  auto exec = std::make_unique<Execution>();
  exec->id = new_id();
  exec->namespace_ = flow->namespace_;
  exec->flow_id = flow->id;
  exec->task_count = flow->tasks.size();
  exec->flow = std::move(flow);
  exec->created_ms = now_ms();
  exec->submitted_uid = who.uid;
  exec->submitted_pid = who.pid;
  Execution* raw = exec.get();
  executions_.emplace(raw->id, std::move(exec));
  ordered_.push_back(raw);
  submissions_++;
  raw->queued = true;
  queue_.push_back(raw);
  if (listener_ != nullptr) listener_->on_state(*raw, nullptr);
  pump();
  return raw;
}

Result<Execution*> Supervisor::find(std::string_view id) {
  if (id.empty()) return Error(Errc::kInvalidArgument, "empty execution id", "executionId");
  auto it = executions_.find(std::string(id));
  if (it != executions_.end()) return it->second.get();
  Execution* found = nullptr;
  for (Execution* e : ordered_) {
    if (e->id.compare(0, id.size(), id) == 0) {
      if (found != nullptr) {
        return Error(Errc::kInvalidArgument,
                     "execution id prefix '" + std::string(id) + "' is ambiguous", "executionId");
      }
      found = e;
    }
  }
  if (found == nullptr) {
    return Error(Errc::kNotFound, "no execution '" + std::string(id) + "'", "executionId");
  }
  return found;
}

void Supervisor::pump() {
  while (!draining_ && running_ < config_.max_running && !queue_.empty()) {
    Execution* exec = queue_.front();
    queue_.pop_front();
    exec->queued = false;
    start_next_task(*exec);
  }
}

void Supervisor::set_state(Execution& exec, TaskRun* run, State state) {
  if (run != nullptr) {
    run->state = state;
  } else {
    exec.state = state;
  }
  if (listener_ != nullptr) listener_->on_state(exec, run);
}

void Supervisor::start_next_task(Execution& exec) {
  const flow::TaskDef& def = exec.flow->tasks[exec.next_task];
  auto owned = std::make_unique<TaskRun>();
  TaskRun& run = *owned;
  run.id = new_id();
  run.task_id = def.id;
  run.type = def.type;
  run.task_index = exec.next_task;
  run.runner = std::string(
      registry_.find(def.runner_type.empty() ? config_.default_runner : def.runner_type)
          .canonical);
  run.created_ms = now_ms();
  exec.task_runs.push_back(std::move(owned));
  exec.next_task++;
  if (exec.state == State::kCreated) {
    exec.started_ms = run.created_ms;
    set_state(exec, nullptr, State::kRunning);
  }

  run.live = std::make_unique<LiveTask>(config_.max_line_bytes);
  live_runs_.insert(&run);
  run.live->exec = &exec;
  run.live->log_key = next_log_key_++;
  running_++;
  started_++;
  Status st = launch(exec, run, def);
  if (!st.ok()) {
    // Nothing started: the reason is the task's log and its error.
    append_line(run, Level::kError, st.error().message());
    run.error = st.error().message();
    run.live->runner_finished = true;
    finish_task_run(run);
  }
}

Status Supervisor::launch(Execution& exec, TaskRun& run, const flow::TaskDef& def) {
  LiveTask& live = *run.live;
  runner::Lookup found =
      registry_.find(def.runner_type.empty() ? config_.default_runner : def.runner_type);
  AGENT_CHECK(found.runner != nullptr);  // checked at submit
  live.runner = found.runner;
  if (found.deprecated_alias) {
    append_line(run, Level::kWarn,
                "taskRunner type '" + def.runner_type + "' is deprecated; use '" +
                    std::string(found.canonical) + "' instead");
  }
  for (const auto& w : def.warnings) append_line(run, Level::kWarn, w);

  live.working_dir = config_.work_dir + "/" + run.id;
  if (mkdir(live.working_dir.c_str(), 0750) != 0) {
    return Error::from_errno(errno, "creating working directory " + live.working_dir);
  }
  flow::CommandLine cmd = flow::build_command_line(def, live.working_dir, new_id(),
                                                   &flow::binary_on_path);
  if (cmd.script_file) {
    Status st = fs::write_file(live.working_dir + "/" + cmd.script_file->name,
                               cmd.script_file->content);
    if (!st.ok()) return std::move(st).error().context("writing the script file");
  }

  runner::TaskSpec spec;
  spec.execution_id = exec.id;
  spec.namespace_ = exec.namespace_;
  spec.flow_id = exec.flow_id;
  spec.task_id = def.id;
  spec.task_run_id = run.id;
  spec.attempt = run.attempt;
  spec.argv = std::move(cmd.argv);
  spec.env = base_env_;
  for (const auto& [k, v] : cmd.env) set_env(spec.env, k, v);
  for (const auto& [k, v] : def.env) set_env(spec.env, k, v);
  if (!def.language->lib_env.empty() && !config_.script_lib_dir.empty()) {
    // `from kestra import Kestra` / require('@kestra-io/libs') work with no
    // install, also when the task sets its own PYTHONPATH / NODE_PATH.
    prepend_path_env(spec.env, def.language->lib_env,
                     config_.script_lib_dir + "/" + std::string(def.language->lib_subdir));
  }
  set_env(spec.env, "WORKING_DIR", live.working_dir);
  spec.working_dir = live.working_dir;
  spec.runner_json = def.runner_json;

  AGENT_ASSIGN_OR_RETURN(live.task, live.runner->start(spec, *this));
  live.task->supervisor_data = &run;
  run.pid = live.task->pid();
  run.started_ms = now_ms();
  if (paused_all_) live.runner->set_output_paused(*live.task, true);
  set_state(exec, &run, State::kRunning);

  if (def.timeout) {
    live.timeout_text = human_duration(def.timeout->count());
    live.timeout_timer = uv::Timer::create(loop_);
    live.timeout_timer->start(static_cast<uint64_t>(def.timeout->count()), 0,
                              [this, &run] { start_kill(run, KillReason::kTimeout); });
  }
  return {};
}

// ---- output ----

void Supervisor::on_output(runner::RunnerTask& task, runner::OutputStream stream,
                           std::string_view bytes) {
  TaskRun& run = *static_cast<TaskRun*>(task.supervisor_data);
  LiveTask& live = *run.live;
  auto& splitter = stream == runner::OutputStream::kStdout ? live.out : live.err;
  splitter.feed(bytes, [&](std::string_view line) { handle_line(run, stream, line); });
  if (live.chunk && live.chunk->data.size() >= kChunkBytes) flush_chunk(run);
}

void Supervisor::handle_line(TaskRun& run, runner::OutputStream stream, std::string_view line) {
  LiveTask& live = *run.live;
  std::string_view bare = line;
  if (!bare.empty() && bare.back() == '\r') bare.remove_suffix(1);
  if (bare == flow::kDebugMarker) {
    live.debug = true;
    return;
  }
  if (bare == flow::kInfoMarker) {
    live.debug = false;
    return;
  }
  if (bare.size() >= 6 && bare[0] == ':' && bare[1] == ':') {
    logstream::ClassifiedLine c = logstream::classify_line(bare);
    if (c.kind == logstream::LineKind::kProtocol) {
      for (auto& [key, value] : c.message.outputs) {
        auto it = std::find_if(run.vars.begin(), run.vars.end(),
                               [&](const auto& kv) { return kv.first == key; });
        if (it != run.vars.end()) {
          it->second = std::move(value);
        } else {
          run.vars.emplace_back(std::move(key), std::move(value));
        }
      }
      for (const auto& m : c.message.metrics) run.metrics.add(m);
      for (const auto& l : c.message.logs) append_line(run, l.level, l.message);
      return;
    }
    if (c.kind == logstream::LineKind::kInvalid) {
      append_line(run, Level::kWarn, "Invalid outputs '" + c.error + "'");
      return;
    }
  }
  Level level = live.debug ? Level::kDebug
                           : (stream == runner::OutputStream::kStderr ? Level::kError : Level::kInfo);
  append_line(run, level, line);
}

void Supervisor::append_line(TaskRun& run, Level level, std::string_view text) {
  LiveTask& live = *run.live;
  if (!live.chunk) {
    live.chunk = std::make_shared<logstream::Chunk>();
    live.chunk->log_key = live.log_key;
    live.chunk->first_seq = run.log_lines;
    if (!run.log_open) {
      run.log_open = true;
      log_runs_[live.log_key] = &run;
      writer_.open_log(live.log_key, log_path(run));
    }
    dirty_.push_back(&run);
    if (!flush_timer_->active()) flush_timer_->start(kFlushIntervalMs, 0, [this] { flush_dirty(); });
  }
  logstream::append_record(live.chunk->data, now_ms(), level, text);
  live.chunk->line_count++;
  run.log_lines++;
  log_lines_++;
}

void Supervisor::flush_chunk(TaskRun& run) {
  LiveTask& live = *run.live;
  if (!live.chunk) return;
  writer_.append(std::move(live.chunk));
  live.chunk.reset();
  if (!paused_all_ && writer_.above_high_water()) set_paused_all(true);
}

void Supervisor::flush_dirty() {
  std::vector<TaskRun*> dirty;
  dirty.swap(dirty_);
  for (TaskRun* run : dirty) {
    if (run->live) flush_chunk(*run);
  }
}

void Supervisor::set_paused_all(bool paused) {
  if (paused_all_ == paused) return;
  paused_all_ = paused;
  for (TaskRun* run : live_runs_) {
    if (run->live->task && !run->live->runner_finished) {
      run->live->runner->set_output_paused(*run->live->task, paused);
    }
  }
}

void Supervisor::on_log_committed(const logstream::ChunkPtr& chunk) {
  auto it = log_runs_.find(chunk->log_key);
  if (it == log_runs_.end()) return;
  TaskRun& run = *it->second;
  run.committed_lines = chunk->first_seq + chunk->line_count;
  if (listener_ != nullptr && run.live) listener_->on_log_committed(*run.live->exec, run);
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

// ---- ending ----

void Supervisor::on_finished(runner::RunnerTask& task, Result<runner::ExitStatus> outcome) {
  TaskRun& run = *static_cast<TaskRun*>(task.supervisor_data);
  LiveTask& live = *run.live;
  live.out.finish([&](std::string_view line) { handle_line(run, runner::OutputStream::kStdout, line); });
  live.err.finish([&](std::string_view line) { handle_line(run, runner::OutputStream::kStderr, line); });
  if (outcome.ok()) {
    if (auto* e = std::get_if<runner::Exited>(&*outcome)) {
      run.exit_code = e->code;
    } else {
      int sig = std::get<runner::Signaled>(*outcome).signal;
      run.exit_code = 128 + sig;  // as Java reports a signalled child
      if (live.kill_reason == KillReason::kNone) {
        run.error = std::string("killed by signal ") + sigabbrev_np(sig);
      }
    }
  } else {
    run.error = outcome.error().message();
    append_line(run, Level::kError, run.error);
  }
  live.runner_finished = true;
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
  flush_chunk(run);
  if (run.log_open) {
    writer_.close_log(live.log_key);  // end_task_run when the log is stored
  } else {
    end_task_run(run);
  }
}

void Supervisor::end_task_run(TaskRun& run) {
  LiveTask& live = *run.live;
  Execution& exec = *live.exec;
  State state = State::kFailed;
  switch (live.kill_reason) {
    case KillReason::kCancel:
    case KillReason::kShutdown: state = State::kKilled; break;
    case KillReason::kTimeout: state = State::kFailed; break;
    case KillReason::kNone:
      state = (run.exit_code && *run.exit_code == 0 && run.error.empty()) ? State::kSuccess
                                                                          : State::kFailed;
      break;
  }
  if (live.kill_reason == KillReason::kShutdown && run.error.empty()) {
    run.error = "killed: the agent stopped";
  }
  run.ended_ms = now_ms();
  std::string dir = std::move(live.working_dir);
  run.live.reset();
  live_runs_.erase(&run);
  running_--;
  if (!dir.empty()) remove_working_dir(std::move(dir));
  set_state(exec, &run, state);
  advance_execution(exec);
  pump();
  maybe_finish_shutdown();
}

void Supervisor::advance_execution(Execution& exec) {
  TaskRun& last = *exec.task_runs.back();
  if (last.state == State::kKilled || exec.cancel_requested) {
    end_execution(exec, State::kKilled);
  } else if (last.state == State::kFailed) {
    end_execution(exec, State::kFailed);
  } else if (exec.next_task >= exec.task_count) {
    end_execution(exec, State::kSuccess);
  } else if (draining_) {
    exec.error = "the agent stopped before task '" + exec.flow->tasks[exec.next_task].id +
                 "' started";
    end_execution(exec, State::kKilled);
  } else {
    exec.queued = true;
    queue_.push_back(&exec);
  }
}

void Supervisor::end_execution(Execution& exec, State state) {
  exec.ended_ms = now_ms();
  if (exec.started_ms == 0) exec.started_ms = exec.ended_ms;
  exec.flow.reset();  // the definition is no longer needed
  std::string record = store::encode_record(exec, state);
  std::string path = config_.state_dir + "/executions/" + exec.id + ".json";
  auto status = std::make_shared<Status>();
  pending_fs_++;
  // The record is stored before the final state is announced.
  uv::queue_work(
      loop_, [path, record = std::move(record), status] { *status = fs::write_file_atomic(path, record); },
      [this, &exec, state, status] {
        pending_fs_--;
        if (!status->ok()) log::error("storing execution " + exec.id + ": " + status->error().message());
        set_state(exec, nullptr, state);
        maybe_finish_shutdown();
      });
}

void Supervisor::remove_working_dir(std::string dir) {
  if (rmdir(dir.c_str()) == 0 || errno == ENOENT) return;  // the usual case: nothing left
  pending_fs_++;
  auto status = std::make_shared<Status>();
  uv::queue_work(
      loop_, [dir, status] { *status = fs::remove_tree(dir); },
      [this, dir, status] {
        pending_fs_--;
        if (!status->ok()) log::warn("removing working directory: " + status->error().message());
        maybe_finish_shutdown();
      });
}

// ---- kill ----

void Supervisor::cancel(Execution& exec) {
  if (is_final(exec.state) || exec.cancel_requested) return;
  exec.cancel_requested = true;
  if (exec.queued) {
    queue_.erase(std::find(queue_.begin(), queue_.end(), &exec));
    exec.queued = false;
    end_execution(exec, State::kKilled);
    return;
  }
  if (!exec.task_runs.empty()) {
    TaskRun& run = *exec.task_runs.back();
    if (run.live && !run.live->runner_finished) {
      set_state(exec, nullptr, State::kKilling);
      start_kill(run, KillReason::kCancel);
    }
  }
  // Otherwise the task is storing its log; advance_execution sees the cancel.
}

void Supervisor::start_kill(TaskRun& run, KillReason reason) {
  LiveTask& live = *run.live;
  if (live.runner_finished || live.kill_reason != KillReason::kNone) return;
  live.kill_reason = reason;
  set_state(*live.exec, &run, State::kKilling);
  live.runner->kill(*live.task, runner::KillMode::kGraceful);
  live.kill_timer = uv::Timer::create(loop_);
  live.kill_timer->start(static_cast<uint64_t>(config_.kill_grace.count()), 0, [this, &run] {
    LiveTask& l = *run.live;
    if (l.runner_finished) return;
    append_line(run, Level::kWarn,
                "still running " + human_duration(config_.kill_grace.count()) +
                    " after SIGTERM: sending SIGKILL");
    l.runner->kill(*l.task, runner::KillMode::kForce);
  });
}

// ---- shutdown ----

void Supervisor::shutdown(std::function<void()> done) {
  if (draining_) return;
  draining_ = true;
  shutdown_done_ = std::move(done);
  while (!queue_.empty()) {
    Execution* exec = queue_.front();
    queue_.pop_front();
    exec->queued = false;
    exec->error = "the agent stopped before the execution's next task started";
    end_execution(*exec, State::kKilled);
  }
  if (running_ > 0) {
    log::info("waiting up to " + human_duration(config_.termination_grace.count()) + " for " +
              std::to_string(running_) + " running tasks");
    shutdown_timer_ = uv::Timer::create(loop_);
    shutdown_timer_->start(static_cast<uint64_t>(config_.termination_grace.count()), 0, [this] {
      log::warn("termination grace period over: killing " + std::to_string(running_) +
                " running tasks");
      std::vector<TaskRun*> live(live_runs_.begin(), live_runs_.end());
      for (TaskRun* run : live) start_kill(*run, KillReason::kShutdown);
    });
  }
  maybe_finish_shutdown();
}

void Supervisor::maybe_finish_shutdown() {
  if (!draining_ || writer_closing_ || running_ > 0 || pending_fs_ > 0) return;
  writer_closing_ = true;
  uv::close(flush_timer_);
  uv::close(shutdown_timer_);
  writer_.close([this] {
    if (shutdown_done_) {
      auto done = std::move(shutdown_done_);
      done();
    }
  });
}

// ---- stats ----

void Supervisor::write_stats(json::Writer& w) const {
  int exec_by_state[kStateCount] = {};
  int run_by_state[kStateCount] = {};
  for (const Execution* e : ordered_) {
    exec_by_state[static_cast<int>(e->state)]++;
    for (const auto& r : e->task_runs) run_by_state[static_cast<int>(r->state)]++;
  }
  w.kv("uptimeMs", now_ms() - started_at_ms_);
  w.key("executions").begin_object();
  for (int i = 0; i < kStateCount; i++) w.kv(state_name(static_cast<State>(i)), exec_by_state[i]);
  w.end_object();
  w.key("taskRuns").begin_object();
  for (int i = 0; i < kStateCount; i++) w.kv(state_name(static_cast<State>(i)), run_by_state[i]);
  w.end_object();
  w.kv("running", running_).kv("queued", static_cast<uint64_t>(queue_.size()));
  w.kv("maxRunning", config_.max_running);
  w.kv("submissions", submissions_).kv("started", started_);
  w.kv("logLines", log_lines_);
  w.kv("logBytesIn", writer_.bytes_in()).kv("logBytesStored", writer_.bytes_stored());
  w.kv("logWriterPendingBytes", static_cast<uint64_t>(writer_.pending_bytes()));
  w.kv_bool("outputPaused", paused_all_);
  w.kv_bool("draining", draining_);
  w.key("runners").begin_object();
  for (const runner::Runner* r : registry_.runners()) {
    for (const auto& [name, value] : r->counters()) w.kv(name, value);
  }
  w.end_object();
}

}  // namespace agent
