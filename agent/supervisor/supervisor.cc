#include "agent/supervisor/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent/common/crash_point.h"
#include "agent/common/fs.h"
#include "agent/common/ids.h"
#include "agent/common/time.h"
#include "agent/files/tree.h"
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

// A task's own output line: DEBUG between Kestra's debug markers, else
// stderr is ERROR and stdout INFO.
Level output_level(const LiveTask& live, runner::OutputStream stream) {
  if (live.debug) return Level::kDebug;
  return stream == runner::OutputStream::kStderr ? Level::kError : Level::kInfo;
}

// Out of line: GCC 12 sees the variant's other members as maybe-uninitialized
// when a Value is built from a string inside a loop.
[[gnu::noinline]] template_::Value text_value(std::string s) { return template_::Value(std::move(s)); }

// {{ envs.x }}: variables named <prefix>X, prefix stripped, lower-cased (Kestra).
template_::Value env_vars(const std::vector<std::string>& env, const std::string& prefix) {
  template_::Value::Map envs;
  for (const auto& e : env) {
    size_t eq = e.find('=');
    if (prefix.empty() || eq == std::string::npos || e.compare(0, prefix.size(), prefix) != 0) continue;
    std::string name = e.substr(prefix.size(), eq - prefix.size());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    envs.emplace_back(std::move(name), text_value(e.substr(eq + 1)));
  }
  return template_::Value(std::move(envs));
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
              }),
      db_(loop) {
  storage_ = files::Storage(config.state_dir + "/storage");
  for (char** e = environ; e != nullptr && *e != nullptr; e++) base_env_.emplace_back(*e);
  secrets_ = context::SecretStore(base_env_);
  envs_ = env_vars(base_env_, config.env_vars_prefix);
}

Supervisor::~Supervisor() {
  uv::close(flush_timer_);
  uv::close(launch_timer_);
  uv::close(end_timer_);
  uv::close(shutdown_timer_);
  if (lock_fd_ >= 0) close(lock_fd_);
}

Status Supervisor::start() {
  started_at_ms_ = now_ms();
  AGENT_TRY(groups_.configure(config_, registry_));
  AGENT_TRY(fs::make_dirs(config_.state_dir, 0750));
  AGENT_TRY(lock_state_dir());
  AGENT_TRY(fs::make_dirs(config_.state_dir + "/logs", 0750));
  AGENT_TRY(fs::make_dirs(config_.work_dir, 0750));
  if (config_.task_user) AGENT_TRY(check_task_user_layout(*config_.task_user, config_.work_dir, config_.state_dir));
  {
    // As many pairs as can run at once: what ends gives back what starts takes.
    size_t capacity = static_cast<size_t>(std::min(std::max(config_.max_running, 64), 4096));
    char name[32];  // one pool per agent (state directory), as agents may share a workDir
    std::snprintf(name, sizeof name, ".pool-%016zx", std::hash<std::string>{}(config_.state_dir));
    Status pooled = work_dirs_.init(config_.work_dir, name, capacity,
                                    config_.task_user ? config_.task_user->uid : geteuid());
    if (!pooled.ok()) log::warn("working directories are not used again: " + pooled.error().message());
  }
  if (!config_.secrets_file.empty()) AGENT_TRY(secrets_.load_file(config_.secrets_file));
  std::vector<std::string> warnings;
  auto loaded = db_.open(config_.state_dir + "/state.db", warnings);
  for (const auto& w : warnings) log::warn(w);
  if (!loaded.ok()) return std::move(loaded).error();
  AGENT_TRY(db_.start());
  AGENT_TRY(writer_.start());
  flush_timer_ = uv::Timer::create(loop_);
  lag_probe_ = std::make_unique<uv::LagProbe>(loop_, [this] { return running_ > 0 || groups_.queued() > 0; });
  return recover(std::move(loaded).value());
}

// One agent per state directory: a second one would run every recorded task
// again. The lock goes with the process, also when it is killed.
Status Supervisor::lock_state_dir() {
  std::string path = config_.state_dir + "/runnerd.lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error::from_errno(errno, "opening " + path);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char buf[32] = {};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    std::string pid = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("?");
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    if (err == EWOULDBLOCK) {
      return Error(Errc::kAlreadyExists, "state directory " + config_.state_dir +
                                             " is locked by pid " + pid +
                                             " (another runnerd uses it)");
    }
    return Error::from_errno(err, "locking " + path);
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    log::warn("writing the pid to " + path + ": " + std::strerror(errno));
  }
  lock_fd_ = fd;
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
    std::string type = runner_type_of(t);
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
    AGENT_TRY(check_placement(t, found, tpath));
  }
  return {};
}

Status Supervisor::submit(std::shared_ptr<const flow::Flow> flow, SubmitArgs args,
                          SubmitDone done) {
  if (draining_) return Error(Errc::kUnavailable, "the agent is shutting down");
  if (groups_.queued() >= config_.max_queued) {
    return Error(Errc::kResourceExhausted,
                 "queue full: " + std::to_string(groups_.queued()) +
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
  exec->secret_inputs = args.secrets;
  for (auto& s : args.secrets) exec->masker.add(std::move(s));
  Execution* raw = exec.get();
  if (!executions_.emplace(raw->id, std::move(exec)).second) {
    return Error(Errc::kAlreadyExists, "execution '" + raw->id + "' exists", "executionId");
  }
  submissions_++;
  crash_point("submission_received");
  // Stored before it is acknowledged or started: a submission the client was
  // told about is never lost, and nothing runs that a restart would not know.
  std::string source = store::encode_source(*raw, args.definition_json, args.single_task,
                                            args.namespace_);
  uint64_t seq = db_.put_submission(raw->row, raw->id, std::move(source),
                                    store::encode_execution_row(*raw, raw->state));
  db_.when_stored(seq, [this, raw, done = std::move(done)](Status st) {
    if (!st.ok()) {
      std::string id = raw->id;
      executions_.erase(id);  // never announced
      done(Error(Errc::kUnavailable, "the submission could not be stored: " + st.error().message() +
                                         " (state directory " + config_.state_dir + ")"));
      return;
    }
    crash_point("submission_stored");
    raw->stored = true;
    ordered_.push_back(raw);
    if (listener_ != nullptr) listener_->on_state(*raw, nullptr);
    Frame root;
    root.list = &raw->flow->tasks;
    root.errors = &raw->flow->errors;
    raw->frames.push_back(std::move(root));
    advance(*raw);
    pump();
    done(raw);
  });
  return {};
}

Result<Execution*> Supervisor::find_exact(const std::string& id) {
  auto it = executions_.find(id);
  if (it == executions_.end()) {
    return Error(Errc::kNotFound, "no execution '" + id + "'", "executionId");
  }
  return it->second.get();
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

void Supervisor::set_state(Execution& exec, TaskRun* run, State state) {
  if (run != nullptr) {
    run->state = state;
  } else {
    exec.state = state;
  }
  persist(exec, run);
  notify(exec, run);
}

uint64_t Supervisor::persist(Execution& exec, TaskRun* run) {
  if (run != nullptr) return db_.put_run(run->row, run->id, exec.id, store::encode_run_row(exec, *run));
  return persist_exec(exec, exec.state);
}

uint64_t Supervisor::persist_exec(Execution& exec, State state) {
  return db_.put_execution(exec.row, exec.id, is_final(state), store::encode_execution_row(exec, state));
}

void Supervisor::notify(Execution& exec, TaskRun* run) {
  if (listener_ == nullptr) return;
  if (!exec.held_events.empty()) {  // behind a run's end not stored yet
    exec.held_events.push_back(Execution::HeldEvent{
        run, run != nullptr ? run->state : exec.state,
        run != nullptr ? run->exit_code : std::nullopt, true});
    return;
  }
  listener_->on_state(exec, run);
}

void Supervisor::release_held_events(Execution& exec) {
  for (Execution::HeldEvent& e : exec.held_events) {
    if (!e.ready) {  // ends are stored in the order they were held
      e.ready = true;
      break;
    }
  }
  while (!exec.held_events.empty() && exec.held_events.front().ready) {
    Execution::HeldEvent e = exec.held_events.front();
    exec.held_events.pop_front();
    deliver_as_it_was(exec, e);
  }
}

// The listener reads the state from the run or the execution: it sees it as
// it was when the event happened (a task started since then, say), and then
// as it is again.
void Supervisor::deliver_as_it_was(Execution& exec, const Execution::HeldEvent& e) {
  if (listener_ == nullptr) return;
  if (e.run == nullptr) {
    State now = exec.state;
    exec.state = e.state;
    listener_->on_state(exec, nullptr);
    exec.state = now;
    return;
  }
  State now = e.run->state;
  std::optional<int> code = e.run->exit_code;
  e.run->state = e.state;
  e.run->exit_code = e.exit_code;
  listener_->on_state(exec, e.run);
  e.run->state = now;
  e.run->exit_code = code;
}

// ---- output ----

void Supervisor::on_output(runner::RunnerTask& task, runner::OutputStream stream,
                           std::string_view bytes) {
  TaskRun& run = *static_cast<TaskRun*>(task.supervisor_data);
  LiveTask& live = *run.live;
  log_bytes_received_ += bytes.size();
  auto& splitter = stream == runner::OutputStream::kStdout ? live.out : live.err;
  const int64_t ts = line_time_ms();  // uv_now() stands still within this call
  splitter.feed(bytes, [&](std::string_view line) {
    // The common line of a chatty task: whole, not a marker or a message
    // ("##..", "::.."), into a chunk already open, with no secret to mask.
    // It is appended here; anything else takes handle_line.
    bool plain = !line.empty() && line[0] != ':' && line[0] != '#' && !splitter.cut() &&
                 !splitter.continued() && live.chunk && live.exec->masker.empty();
    if (!plain) {
      handle_line(run, stream, line, splitter);
      return;
    }
    logstream::append_record(live.chunk->data, ts, output_level(live, stream), line);
    live.chunk->line_count++;
    run.log_lines++;
    log_lines_++;
  });
  if (live.chunk && live.chunk->data.size() >= kChunkBytes) {
    live.chatty = true;
    flush_chunk(run);
  }
}

void Supervisor::on_note(runner::RunnerTask& task, bool warning, std::string_view text) {
  TaskRun& run = *static_cast<TaskRun*>(task.supervisor_data);
  append_line(run, warning ? Level::kWarn : Level::kInfo, std::string(text));
}

void Supervisor::handle_line(TaskRun& run, runner::OutputStream stream, std::string_view line,
                             const logstream::LineSplitter& splitter) {
  LiveTask& live = *run.live;
  if (splitter.cut() || splitter.continued()) {
    // Kestra's readLine has no bound; ours cuts at maxLineBytes, and a cut
    // marker cannot be parsed: it is stored as text, said once.
    if (splitter.cut() && !splitter.continued() && line.starts_with("::{")) {
      append_line(run, Level::kWarn,
                  "a ::{...}:: line longer than maxLineBytes (" + std::to_string(config_.max_line_bytes) +
                      " bytes) is stored as text, not taken as a message");
    }
    append_line(run, output_level(live, stream), line);
    return;
  }
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
      merge_outputs(run, c.message.outputs);
      for (const auto& m : c.message.metrics) run.metrics.add(m);
      for (const auto& l : c.message.logs) append_line(run, l.level, l.message);
      return;
    }
    if (c.kind == logstream::LineKind::kInvalid) {
      append_line(run, Level::kWarn, "Invalid outputs '" + c.error + "'");
      return;
    }
  }
  append_line(run, output_level(live, stream), line);
}

void Supervisor::merge_outputs(TaskRun& run, std::vector<std::pair<std::string, std::string>>& outputs) {
  LiveTask& live = *run.live;
  for (auto& [key, value] : outputs) {
    const std::string& name = key;  // a lambda may not capture a structured binding (clang 14)
    auto it = std::find_if(run.vars.begin(), run.vars.end(), [&](const auto& kv) { return kv.first == name; });
    size_t before = it == run.vars.end() ? 0 : key.size() + it->second.size();
    size_t total = live.outputs_bytes - before + key.size() + value.size();
    if (total > config_.max_outputs_bytes) {
      append_line(run, Level::kWarn,
                  "output '" + key + "' dropped: the task's outputs would pass maxOutputsBytes (" +
                      std::to_string(config_.max_outputs_bytes) + " bytes)");
      continue;
    }
    live.outputs_bytes = total;
    if (it != run.vars.end()) {
      it->second = std::move(value);
    } else {
      run.vars.emplace_back(std::move(key), std::move(value));
    }
  }
}

// A line's timestamp: the wall clock read once per loop iteration (uv_now()
// stands still within one), not once per line. A chatty task delivers
// thousands of lines per pipe read, and on a VM whose clock source has no
// vDSO path each read of the clock is a system call: it was 17% of the
// agent's samples while it stored 1 GiB of log.
int64_t Supervisor::line_time_ms() {
  uint64_t tick = uv_now(loop_);
  if (tick != line_clock_tick_ || line_clock_ms_ == 0) {
    line_clock_tick_ = tick;
    line_clock_ms_ = now_ms();
  }
  return line_clock_ms_;
}

void Supervisor::append_line(TaskRun& run, Level level, std::string_view text) {
  LiveTask& live = *run.live;
  if (!live.chunk) {
    live.chunk = std::make_shared<logstream::Chunk>();
    live.chunk->log_key = live.log_key;
    live.chunk->first_seq = run.log_lines;
    // A chunk goes out once it passes kChunkBytes after a pipe read: one
    // read (64 KiB of text, about 1.5 times that in records) may come on top.
    // A task that filled one gets the whole size at once, not by doubling
    // (13 copies of the chunk); one that writes a line now and then does not.
    if (live.chatty) live.chunk->data.reserve(2 * kChunkBytes);
    if (!run.log_open) {
      run.log_open = true;
      log_runs_[live.log_key] = &run;
      writer_.open_log(live.log_key, log_path(run));
    }
    dirty_.push_back(&run);
    if (!flush_timer_->active()) flush_timer_->start(kFlushIntervalMs, 0, [this] { flush_dirty(); });
  }
  const context::SecretMasker& masker = live.exec->masker;
  int64_t ts = line_time_ms();
  if (masker.empty()) {
    logstream::append_record(live.chunk->data, ts, level, text);
  } else {
    logstream::append_record(live.chunk->data, ts, level, masker.mask(text));
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
  // Recorded runs the walk did not reach again (it ended first): kept, and
  // what was running is reported as not run again.
  while (!exec.replay.empty()) {
    std::unique_ptr<TaskRun> run = std::move(exec.replay.front());
    exec.replay.pop_front();
    if (!is_final(run->state)) {
      run->state = exec.cancel_requested ? State::kKilled : State::kFailed;
      run->error = "the agent died while this attempt ran; its execution ended without it";
      run->ended_ms = exec.ended_ms;
      persist(exec, run.get());
    }
    exec.task_runs.push_back(std::move(run));
  }
  // The final state is stored before it is announced.
  pending_fs_++;
  db_.when_stored(persist_exec(exec, state), [this, &exec, state](Status) {
    crash_point("execution_stored");
    pending_fs_--;
    exec.state = state;
    executions_ended_[static_cast<size_t>(state)]++;
    notify(exec, nullptr);
    maybe_finish_shutdown();
  });
}

void Supervisor::remove_working_dir(std::string dir, const std::string& output_dir, bool poolable) {
  if (poolable && !output_dir.empty() && work_dirs_.give_back(dir, output_dir)) return;
  // The usual case, on the loop: the task left nothing but the output
  // directory it was given, empty. rmdir only ever removes an empty directory
  // and does not follow a symlink put in its place; anything else goes to the
  // thread pool, which removes by descriptor.
  if (!output_dir.empty()) (void)rmdir(output_dir.c_str());
  if (rmdir(dir.c_str()) == 0 || errno == ENOENT) return;
  pending_fs_++;
  auto status = std::make_shared<Status>();
  uv::queue_work(
      loop_, [dir, status] { *status = files::remove_tree(dir); },
      [this, dir, status] {
        pending_fs_--;
        if (!status->ok()) log::warn("removing working directory: " + status->error().message());
        maybe_finish_shutdown();
      });
}

// ---- kill ----

uint64_t Supervisor::cancel(Execution& exec) {
  if (is_final(exec.state) || exec.cancel_requested) return db_.last_seq();
  exec.cancel_requested = true;
  // Durable before it is acknowledged: a restart kills, never resumes.
  set_state(exec, nullptr, State::kKilling);
  uint64_t seq = db_.last_seq();
  if (exec.queued) {  // waiting for a slot
    exec.queued_in->erase(exec);
    exec.pending = nullptr;
    advance(exec);
    return seq;
  }
  if (exec.retry_timer && exec.retry_timer->active()) {  // waiting to retry
    uv::close(exec.retry_timer);
    exec.pending = nullptr;
    advance(exec);
    return seq;
  }
  for (auto& run : exec.task_runs) {
    if (run->live && run->live->task && !run->live->runner_finished) {
      start_kill(*run, KillReason::kCancel);
    }
  }
  // Otherwise a task is preparing its files or storing its log; the walk sees
  // the cancel when it comes back.
  return seq;
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
  // Executions waiting for a slot or a retry stay as they are recorded: the
  // next start takes them up (they were accepted; a stop must not lose them).
  for (const auto& g : groups_.all()) {
    for (Execution* exec : g->queue) {
      exec->queued = false;
      exec->queued_in = nullptr;
    }
    g->queue.clear();
  }
  for (Execution* exec : ordered_) uv::close(exec->retry_timer);
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
  work_dirs_.clear();
  uv::close(flush_timer_);
  uv::close(launch_timer_);
  uv::close(end_timer_);
  lag_probe_.reset();
  uv::close(shutdown_timer_);
  writer_.close([this] {
    db_closing_ = true;
    db_.close([this] {
      if (shutdown_done_) {
        auto done = std::move(shutdown_done_);
        done();
      }
    });
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
  w.kv("running", running_).kv("queued", static_cast<uint64_t>(groups_.queued()));
  w.kv("maxRunning", config_.max_running);
  w.kv("submissions", submissions_).kv("started", started_);
  w.kv("logLines", log_lines_);
  w.kv("logBytesIn", writer_.bytes_in()).kv("logBytesStored", writer_.bytes_stored());
  w.kv("logWriterPendingBytes", static_cast<uint64_t>(writer_.pending_bytes()));
  w.kv_bool("outputPaused", paused_all_);
  w.key("stateDb").begin_object();
  w.kv("writes", db_.writes()).kv("commits", db_.commits()).kv("failedCommits", db_.failed_commits());
  w.kv("superseded", db_.superseded());
  std::string db_error = db_.last_error();
  if (!db_error.empty()) w.kv("lastError", db_error);
  w.end_object();
  w.kv_bool("draining", draining_);
  w.key("workerGroups").begin_array();
  for (const auto& g : groups_.all()) {
    w.begin_object().kv("key", g->key).kv_bool("served", g->served);
    w.kv("running", g->running).kv("maxRunning", g->max_running);
    w.kv("queued", static_cast<uint64_t>(g->queue.size())).kv("maxQueued", static_cast<uint64_t>(g->max_queued));
    w.kv("started", g->started);
    if (g->millicpus > 0) w.kv("milliCpus", g->millicpus).kv("milliCpusUsed", g->millicpus_used);
    if (g->memory_bytes > 0) w.kv("memoryBytes", g->memory_bytes).kv("memoryBytesUsed", g->memory_used);
    if (!g->gpus.empty()) {
      w.key("gpus").begin_array();
      for (const auto& id : g->gpus) w.string(id);
      w.end_array();
      w.key("gpusBusy").begin_array();
      for (size_t i = 0; i < g->gpus.size(); i++) {
        if (g->gpu_busy[i]) w.string(g->gpus[i]);
      }
      w.end_array();
    }
    w.end_object();
  }
  w.end_array();
  if (lag_probe_) write_loop_lag(w, lag_probe_->histogram());
  w.key("runners").begin_object();
  for (const runner::Runner* r : registry_.runners()) {
    for (const auto& [name, value] : r->counters()) w.kv(name, value);
  }
  w.end_object();
}

// The loop lag histogram: cumulative buckets as Prometheus has them, so that a
// client can subtract two readings and get the lag over its own interval.
void Supervisor::write_loop_lag(json::Writer& w, const uv::LagHistogram& h) {
  w.key("loopLag").begin_object();
  w.kv("intervalMs", uv::LagProbe::kIntervalMs).kv("count", h.count).kv("sumUs", h.sum_us);
  w.kv("maxUs", h.max_us);
  w.kv("p50Us", static_cast<uint64_t>(h.quantile_us(0.5)));
  w.kv("p99Us", static_cast<uint64_t>(h.quantile_us(0.99)));
  w.key("buckets").begin_array();
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.buckets.size(); i++) {
    cumulative += h.buckets[i];
    w.begin_array();
    if (i < uv::kLagBoundsUs.size()) {
      w.number(uv::kLagBoundsUs[i]);
    } else {
      w.string("+Inf");
    }
    w.number(cumulative).end_array();
  }
  w.end_array().end_object();
}

}  // namespace agent
