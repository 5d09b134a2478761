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
  storage_ = files::Storage(config.state_dir + "/storage");
  for (char** e = environ; e != nullptr && *e != nullptr; e++) base_env_.emplace_back(*e);
  secrets_ = context::SecretStore(base_env_);
  // {{ envs.x }}: variables named <prefix>X, prefix stripped, lower-cased (Kestra).
  template_::Value::Map envs;
  const std::string& prefix = config.env_vars_prefix;
  for (const auto& e : base_env_) {
    size_t eq = e.find('=');
    if (prefix.empty() || eq == std::string::npos || e.compare(0, prefix.size(), prefix) != 0) continue;
    std::string name = e.substr(prefix.size(), eq - prefix.size());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    envs.emplace_back(std::move(name), template_::Value(e.substr(eq + 1)));
  }
  envs_ = template_::Value(std::move(envs));
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
  if (!config_.secrets_file.empty()) AGENT_TRY(secrets_.load_file(config_.secrets_file));
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

std::string Supervisor::new_execution_id() { return new_id(); }

Status Supervisor::check_runners(const std::vector<flow::TaskDef>& tasks, const std::string& path) {
  for (size_t i = 0; i < tasks.size(); i++) {
    const flow::TaskDef& t = tasks[i];
    std::string tpath = json::index(path, i);
    AGENT_TRY(check_runners(t.tasks, tpath + ".tasks"));
    AGENT_TRY(check_runners(t.errors, tpath + ".errors"));
    if (!t.runs_on_runner()) continue;
    std::string type = t.runner_type.empty() ? config_.default_runner : t.runner_type;
    runner::Lookup found = registry_.find(type);
    if (found.runner == nullptr) {
      std::string available;
      for (const auto& name : registry_.types()) available += (available.empty() ? "" : ", ") + name;
      if (t.runner_type.empty()) {
        return Error(Errc::kInvalidArgument,
                     "no taskRunner set, and the default runner " + type +
                         " is not available in this build (available: " + available +
                         "); set taskRunner: {type: io.kestra.plugin.core.runner.Process}, or "
                         "give script tasks a default runner with a pluginDefaults entry in "
                         "the agent's configuration",
                     tpath);
      }
      return Error(Errc::kInvalidArgument,
                   "unknown task runner '" + type + "' (available: " + available + ")",
                   tpath + ".taskRunner.type");
    }
    Status st = found.runner->validate(t.runner_json);
    if (!st.ok()) return std::move(st).error().at(tpath + ".taskRunner");
  }
  return {};
}

Result<Execution*> Supervisor::submit(std::shared_ptr<const flow::Flow> flow, SubmitArgs args) {
  if (draining_) return Error(Errc::kUnavailable, "the agent is shutting down");
  if (queue_.size() >= config_.max_queued) {
    return Error(Errc::kResourceExhausted,
                 "queue full: " + std::to_string(queue_.size()) +
                     " executions wait for a slot (maxQueued); retry later");
  }
  // Every task's runner is checked before anything is accepted.
  AGENT_TRY(check_runners(flow->tasks, "flow.tasks"));
  AGENT_TRY(check_runners(flow->errors, "flow.errors"));

  auto exec = std::make_unique<Execution>();
  exec->id = args.execution_id.empty() ? new_id() : std::move(args.execution_id);
  exec->namespace_ = flow->namespace_;
  exec->flow_id = flow->id;
  exec->task_count = flow->tasks.size();
  exec->flow = std::move(flow);
  exec->created_ms = now_ms();
  exec->submitted_uid = args.who.uid;
  exec->submitted_pid = args.who.pid;
  exec->inputs = std::move(args.inputs);
  for (auto& s : args.secrets) exec->masker.add(std::move(s));
  Frame root;
  root.list = &exec->flow->tasks;
  root.errors = &exec->flow->errors;
  exec->frames.push_back(std::move(root));
  Execution* raw = exec.get();
  executions_.emplace(raw->id, std::move(exec));
  ordered_.push_back(raw);
  submissions_++;
  if (listener_ != nullptr) listener_->on_state(*raw, nullptr);
  advance(*raw);
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
    start_runner_task(*exec);
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

// ---- output ----

void Supervisor::on_output(runner::RunnerTask& task, runner::OutputStream stream,
                           std::string_view bytes) {
  TaskRun& run = *static_cast<TaskRun*>(task.supervisor_data);
  LiveTask& live = *run.live;
  auto& splitter = stream == runner::OutputStream::kStdout ? live.out : live.err;
  splitter.feed(bytes, [&](std::string_view line) { handle_line(run, stream, line); });
  if (live.chunk && live.chunk->data.size() >= kChunkBytes) flush_chunk(run);
}

void Supervisor::on_note(runner::RunnerTask& task, bool warning, std::string_view text) {
  TaskRun& run = *static_cast<TaskRun*>(task.supervisor_data);
  append_line(run, warning ? Level::kWarn : Level::kInfo, std::string(text));
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
  const context::SecretMasker& masker = live.exec->masker;
  if (masker.empty()) {
    logstream::append_record(live.chunk->data, now_ms(), level, text);
  } else {
    logstream::append_record(live.chunk->data, now_ms(), level, masker.mask(text));
  }
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


// ---- ending ----

void Supervisor::end_execution(Execution& exec, State state) {
  if (exec.ending) return;
  exec.ending = true;
  uv::close(exec.retry_timer);
  exec.frames.clear();
  exec.pending = nullptr;
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
  set_state(exec, nullptr, State::kKilling);
  if (exec.queued) {  // waiting for a slot
    queue_.erase(std::find(queue_.begin(), queue_.end(), &exec));
    exec.queued = false;
    exec.pending = nullptr;
    advance(exec);
    return;
  }
  if (exec.retry_timer && exec.retry_timer->active()) {  // waiting to retry
    uv::close(exec.retry_timer);
    exec.pending = nullptr;
    advance(exec);
    return;
  }
  for (auto& run : exec.task_runs) {
    if (run->live && run->live->task && !run->live->runner_finished) {
      start_kill(*run, KillReason::kCancel);
    }
  }
  // Otherwise a task is preparing its files or storing its log; the walk sees
  // the cancel when it comes back.
}

void Supervisor::start_kill(TaskRun& run, KillReason reason) {
  LiveTask& live = *run.live;
  if (live.runner_finished || live.kill_reason != KillReason::kNone) return;
  live.kill_reason = reason;
  if (!live.task) return;  // not started yet (preparing files), or not a process
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
    exec->pending = nullptr;
    exec->error = "the agent stopped before the execution's next task started";
    advance(*exec);
  }
  for (Execution* exec : ordered_) {
    if (exec->retry_timer && exec->retry_timer->active()) {
      uv::close(exec->retry_timer);
      exec->pending = nullptr;
      exec->error = "the agent stopped before the next attempt started";
      advance(*exec);
    }
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
