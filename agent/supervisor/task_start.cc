// Starting a task that runs on a runner (script tasks, git Clone): render its
// properties with the run's variables, prepare its working directory on the
// thread pool, then start it on its runner.
#include <algorithm>

#include "agent/common/crash_point.h"
#include "agent/common/ids.h"
#include "agent/common/time.h"
#include "agent/flow/command_line.h"
#include "agent/supervisor/supervisor.h"
#include "agent/supervisor/task_files.h"
#include "agent/uv/work.h"

namespace agent {

namespace {

using logstream::Level;
using template_::Value;

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

Status render_in_place(std::string& s, LazyContext& ctx, std::string_view what) {
  if (!template_::has_template(s)) return {};
  AGENT_ASSIGN_OR_RETURN(s, render_text(s, ctx, what));
  return {};
}

Status render_list_in_place(std::vector<std::string>& list, LazyContext& ctx,
                            std::string_view what) {
  for (auto& s : list) AGENT_TRY(render_in_place(s, ctx, what));
  return {};
}

// `{{ outputFiles['name'] }}`: every outputFiles entry without a glob
// character, as the path it will be read from (Kestra, PR kestra#15725).
Value literal_output_files(const std::vector<std::string>& patterns, const std::string& wd) {
  Value::Map m;
  for (const auto& p : patterns) {
    if (p.find_first_of("*?[{") != std::string::npos || p.starts_with("glob:") ||
        p.starts_with("regex:")) {
      continue;
    }
    m.emplace_back(p, Value(wd + "/" + p));
  }
  return Value(std::move(m));
}

// git Clone as a shell script that works in a non-empty directory (a
// WorkingDirectory with namespace files): init, fetch one branch, check out.
std::vector<std::string> clone_command(const flow::TaskDef& t) {
  auto quote = [](const std::string& s) {
    std::string out = "'";
    for (char c : s) {
      if (c == '\'') {
        out += "'\\''";
      } else {
        out += c;
      }
    }
    return out + "'";
  };
  std::string dir = t.directory.empty() ? "." : t.directory;
  std::string ref = t.branch.empty() ? "HEAD" : t.branch;
  std::string script = "set -e\nmkdir -p " + quote(dir) + "\ncd " + quote(dir) +
                       "\ngit init -q\ngit remote add origin " + quote(t.url) +
                       "\ngit fetch -q --depth " + std::to_string(t.depth) + " origin " +
                       quote(ref) + "\ngit checkout -q " +
                       (t.branch.empty() ? std::string("--detach") : "-B " + quote(t.branch)) +
                       " FETCH_HEAD\necho \"Cloned " + "$(git remote get-url origin | sed "
                       "'s#//[^@/]*@#//#') at $(git rev-parse --short HEAD)\"";
  return {"/bin/sh", "-c", script};
}

}  // namespace

void Supervisor::file_policy(const Execution& exec, PreparedTask& prepared) const {
  prepared.namespace_ = exec.namespace_;
  prepared.namespaces_root = config_.state_dir + "/namespaces";
  prepared.allowed_paths = config_.allowed_paths;
  prepared.storage = &storage_;
}

void Supervisor::start_runner_task(Execution& exec, WorkerGroup& group, runner::ResourceGrant grant) {
  const flow::TaskDef& def = *exec.pending;
  int attempt = exec.pending_attempt;
  exec.pending = nullptr;
  TaskRun& run = new_task_run(exec, def, attempt);
  if (!run.live) {  // recorded as ended before a restart
    groups_.give_back(group, grant);
    replay_final(exec, run);
    return;
  }
  run.first_attempt_ms = attempt == 1 ? run.created_ms : exec.pending_first_ms;
  run.worker_group = group.key;
  LiveTask& live = *run.live;
  live.takes_slot = true;
  live.group = &group;
  live.grant = std::move(grant);
  live.queued_ms = exec.queued_since_ms;
  running_++;
  db_.set_running(static_cast<size_t>(running_));
  started_++;
  if (lag_probe_) lag_probe_->arm();
  if (attempt > 1 && !run.replayed) {
    append_line(run, Level::kInfo,
                "attempt " + std::to_string(attempt) +
                    (def.retry && def.retry->max_attempts
                         ? " of " + std::to_string(*def.retry->max_attempts)
                         : std::string()));
  }

  runner::Lookup found =
      registry_.find(runner_type_of(def));
  AGENT_CHECK(found.runner != nullptr);  // checked at submit
  live.runner = found.runner;
  const Frame& top = exec.frames.back();
  if (run.replayed && (!found.traits.reattaches || exec.cancel_requested)) {
    // It was running when the agent died, and its processes died with it.
    live.shared_dir = !top.working_dir.empty();
    live.working_dir = live.shared_dir ? top.working_dir : config_.work_dir + "/" + run.id;
    resubmit(exec, run);
    return;
  }
  if (found.deprecated_alias && !run.replayed) {
    append_line(run, Level::kWarn,
                "taskRunner type '" + def.runner_type + "' is deprecated; use '" +
                    std::string(found.canonical) + "' instead");
  }

  const Frame& frame = exec.frames.back();
  live.shared_dir = !frame.working_dir.empty();
  live.working_dir = live.shared_dir ? frame.working_dir : config_.work_dir + "/" + run.id;
  // A pair given back by an earlier task, renamed into place when the files
  // are prepared.
  std::optional<WorkDirPool::Entry> pooled;
  if (!live.shared_dir && !run.replayed) pooled = work_dirs_.take();
  std::string output_dir =
      live.working_dir + "/" + (pooled ? pooled->output_name : new_id());  // always there, as Kestra's
  if (def.output_directory) live.output_dir = output_dir;
  live.created_output_dir = output_dir;

  // Render every dynamic property with the run's variables.
  flow::TaskDef r = def;
  Value output_files = literal_output_files(def.output_files, live.working_dir);
  LazyContext ctx([&] {
    return template_context(exec, run_variables(exec, run, live.working_dir, live.output_dir,
                                                output_files));
  });
  auto prepared = std::make_shared<PreparedTask>();
  prepared->working_dir = live.working_dir;
  if (pooled) prepared->pooled_dir = std::move(pooled->path);
  prepared->create_dir = !live.shared_dir;
  prepared->reuse_dir = run.replayed;
  prepared->output_dir = output_dir;
  file_policy(exec, *prepared);
  if (run.replayed && run.started_ms > 0) {
    // Followed again from its start: what was stored of its output goes.
    prepared->cut_log = log_path(run);
    prepared->cut_before_ms = run.started_ms;
  }
  Status st = [&]() -> Status {
    AGENT_TRY(render_list_in_place(r.commands, ctx, "commands"));
    AGENT_TRY(render_in_place(r.script, ctx, "script"));
    AGENT_TRY(render_list_in_place(r.before_commands, ctx, "beforeCommands"));
    if (r.interpreter) AGENT_TRY(render_list_in_place(*r.interpreter, ctx, "interpreter"));
    for (auto& [name, value] : r.env) AGENT_TRY(render_in_place(value, ctx, "env." + name));
    AGENT_TRY(render_list_in_place(r.output_files, ctx, "outputFiles"));
    AGENT_TRY(render_in_place(r.container_image, ctx, "containerImage"));
    AGENT_TRY(render_in_place(r.url, ctx, "url"));
    AGENT_TRY(render_in_place(r.branch, ctx, "branch"));
    AGENT_TRY(render_in_place(r.directory, ctx, "directory"));
    if (!r.timeout_template.empty()) {
      AGENT_TRY(render_in_place(r.timeout_template, ctx, "timeout"));
      auto d = parse_duration(r.timeout_template);
      if (!d.ok()) return Error(Errc::kInvalidArgument, "timeout: " + d.error().message(), "timeout");
      r.timeout = *d;
    }
    AGENT_TRY(render_files(def, ctx, exec.namespace_, *prepared));
    return {};
  }();
  // A pooled pair not renamed into place goes back as it is.
  auto unused_pair = [&] {
    if (prepared->pooled_dir.empty()) return;
    const std::string& out = live.created_output_dir;
    work_dirs_.put_back(std::move(prepared->pooled_dir), out.substr(out.rfind('/') + 1));
    prepared->pooled_dir.clear();
  };
  if (!st.ok()) {
    unused_pair();
    fail_start(run, st.error());
    return;
  }
  live.output_globs = std::move(r.output_files);

  std::vector<std::string> env;
  if (def.kind == flow::TaskKind::kClone) {
    if (!r.directory.empty() &&
        (r.directory.starts_with("/") || r.directory == ".." || r.directory.starts_with("../") ||
         r.directory.find("/../") != std::string::npos || r.directory.ends_with("/.."))) {
      unused_pair();
      fail_start(run, Error(Errc::kInvalidArgument,
                            "directory '" + r.directory + "' escapes the working directory",
                            "directory"));
      return;
    }
    prepared->argv = clone_command(r);
    env.push_back("GIT_TERMINAL_PROMPT=0");
    run.task_outputs.emplace_back(
        "directory", "\"" + live.working_dir + (r.directory.empty() ? "" : "/" + r.directory) + "\"");
  } else {
    flow::CommandLine cmd =
        flow::build_command_line(r, live.working_dir, new_id(), &flow::binary_on_path);
    prepared->argv = std::move(cmd.argv);
    prepared->script_file = std::move(cmd.script_file);
    for (const auto& [k, v] : cmd.env) env.push_back(k + "=" + v);
  }
  for (const auto& [k, v] : r.env) env.push_back(k + "=" + v);  // rendered, after the language's
  auto timeout = r.timeout;
  live.container_image = std::move(r.container_image);

  exec.busy = true;
  pending_fs_++;
  auto status = std::make_shared<Status>();
  auto prepared_then = [this, &exec, &run, prepared, status, env = std::move(env),
                        timeout]() mutable {
    pending_fs_--;
    exec.busy = false;
    LiveTask& l = *run.live;
    if (prepared->cut_lines) {
      run.log_lines = run.committed_lines = *prepared->cut_lines;
      append_line(run, Level::kInfo,
                  "the agent restarted while this task ran: following its " +
                      std::string(run.runner) + " task again");
    }
    for (const auto& i : prepared->infos) append_line(run, Level::kInfo, i);
    for (const auto& w : prepared->warnings) append_line(run, Level::kWarn, w);
    if (!status->ok()) {
      fail_start(run, status->error());
      return;
    }
    if (!run.replayed && (l.kill_reason != KillReason::kNone || exec.cancel_requested)) {
      if (l.kill_reason == KillReason::kNone) l.kill_reason = KillReason::kCancel;
      l.runner_finished = true;
      finish_task_run(run);
      return;
    }
    l.timeout_ms = timeout ? timeout->count() : 0;
    l.extra_env = std::move(env);
    // Not before its record is durable (normally long since).
    pending_fs_++;
    db_.when_stored(l.created_seq, [this, &exec, &run, prepared](Status) {
      crash_point("run_created");
      pending_fs_--;
      launch_soon(exec, run, std::move(prepared));
    });
  };
  if (only_directories(*prepared) && launch_budget_left()) {
    // A pooled pair to rename and nothing to write: one metadata call, as
    // the loop's rmdir of an empty pair at the end, not worth a thread hop.
    // Counted in the spawns' budget, so a burst still goes to the pool.
    uint64_t t0 = uv_hrtime();
    *status = prepare_files(*prepared);
    launch_spent_ns_ += uv_hrtime() - t0;
    prepared_then();
    return;
  }
  uv::queue_work(
      loop_, [prepared, status] { *status = prepare_files(*prepared); }, std::move(prepared_then));
}

// A burst (thousands of submissions stored by one commit) would otherwise
// spawn every task in one loop iteration and hold the loop, and every client
// and pipe with it, for the whole burst. Spawns are timed: within one tick of
// loop time (uv_now() stands still within an iteration) they may take
// kLaunchBudgetNs, and past it they wait for the next iteration (a 0 ms
// timer), so that timers, clients and pipes have their turn in between.
// A time, not a count: a spawn costs more as the agent's descriptor table
// grows (the kernel copies it), from about 0.1 ms idle to over 2 ms beside
// 6,000 running tasks, where 16 spawns a tick held the loop for 60 ms.
constexpr uint64_t kLaunchBudgetNs = 3'000'000;

bool Supervisor::launch_budget_left() {
  uint64_t now = uv_now(loop_);
  if (now != launch_tick_ms_) {
    launch_tick_ms_ = now;
    launch_spent_ns_ = 0;
  }
  return launch_spent_ns_ < kLaunchBudgetNs && starting_ < kMaxStarting;
}

void Supervisor::started_one() {
  starting_--;
  if (!deferred_launches_.empty() && starting_ < kMaxStarting && launch_timer_ && !launch_timer_->active()) {
    launch_timer_->start(0, 0, [this] { launch_deferred(); });
  }
}

void Supervisor::timed_launch(Execution& exec, TaskRun& run, std::shared_ptr<PreparedTask> prepared) {
  uint64_t started = uv_hrtime();
  launch_or_drop(exec, run, std::move(prepared));
  launch_spent_ns_ += uv_hrtime() - started;
}

void Supervisor::launch_soon(Execution& exec, TaskRun& run, std::shared_ptr<PreparedTask> prepared) {
  if (deferred_launches_.empty() && launch_budget_left()) {
    timed_launch(exec, run, std::move(prepared));
    return;
  }
  pending_fs_++;  // a stop waits for it, as for the store it waited on
  deferred_launches_.push_back(DeferredLaunch{&exec, &run, std::move(prepared)});
  if (!launch_timer_) launch_timer_ = uv::Timer::create(loop_);
  if (!launch_timer_->active()) launch_timer_->start(0, 0, [this] { launch_deferred(); });
}

void Supervisor::launch_deferred() {
  // At least one a tick, whatever the last one cost.
  launch_tick_ms_ = uv_now(loop_);
  launch_spent_ns_ = 0;
  while (!deferred_launches_.empty() && launch_budget_left()) {
    DeferredLaunch d = std::move(deferred_launches_.front());
    deferred_launches_.pop_front();
    pending_fs_--;
    timed_launch(*d.exec, *d.run, std::move(d.prepared));
  }
  // Past the time budget: the next iteration. Past kMaxStarting: when a
  // start completes (started_one).
  if (!deferred_launches_.empty() && starting_ < kMaxStarting) {
    launch_timer_->start(0, 0, [this] { launch_deferred(); });
  }
  maybe_finish_shutdown();
}

void Supervisor::launch_or_drop(Execution& exec, TaskRun& run, std::shared_ptr<PreparedTask> prepared) {
  LiveTask& live = *run.live;
  // A cancelled task does not start; one taken up after a restart is
  // followed again, then killed (launch).
  if (!run.replayed && (live.kill_reason != KillReason::kNone || exec.cancel_requested)) {
    if (live.kill_reason == KillReason::kNone) live.kill_reason = KillReason::kCancel;
    live.runner_finished = true;
    finish_task_run(run);
    return;
  }
  launch(exec, run, std::move(prepared));
}

void Supervisor::launch(Execution& exec, TaskRun& run, std::shared_ptr<PreparedTask> prepared) {
  LiveTask& live = *run.live;
  const flow::TaskDef& def = *run.def;
  runner::TaskSpec spec;
  spec.execution_id = exec.id;
  spec.namespace_ = exec.namespace_;
  spec.flow_id = exec.flow_id;
  spec.task_id = def.id;
  spec.task_run_id = run.id;
  spec.attempt = run.attempt;
  spec.argv = std::move(prepared->argv);
  spec.env = base_env_;
  for (const auto& e : live.extra_env) {
    size_t eq = e.find('=');
    set_env(spec.env, e.substr(0, eq), e.substr(eq + 1));
  }
  if (def.language != nullptr && !def.language->lib_env.empty() && !config_.script_lib_dir.empty()) {
    // `from kestra import Kestra` / require('@kestra-io/libs') work with no
    // install, also when the task sets its own PYTHONPATH / NODE_PATH.
    prepend_path_env(spec.env, def.language->lib_env,
                     config_.script_lib_dir + "/" + std::string(def.language->lib_subdir));
  }
  set_env(spec.env, "WORKING_DIR", live.working_dir);
  if (!live.output_dir.empty()) set_env(spec.env, "OUTPUT_DIR", live.output_dir);
  spec.working_dir = live.working_dir;
  spec.runner_json = def.runner_json;
  spec.container_image = live.container_image;
  spec.task_env = live.extra_env;
  spec.task_env.push_back("WORKING_DIR=" + live.working_dir);
  if (!live.output_dir.empty()) spec.task_env.push_back("OUTPUT_DIR=" + live.output_dir);
  spec.resumed = run.replayed;
  spec.resources = live.grant;
  if (live.group != nullptr && !live.group->gpus.empty()) {
    // The GPUs this task has to itself, as CUDA and the NVIDIA container
    // runtime read them; a task given none sees none, so that it cannot
    // take another task's.
    std::string ids;
    for (const auto& id : live.grant.gpu_ids) ids += (ids.empty() ? "" : ",") + id;
    std::pair<const char*, std::string> vars[] = {{"CUDA_VISIBLE_DEVICES", ids},
                                                  {"NVIDIA_VISIBLE_DEVICES", ids.empty() ? "none" : ids}};
    for (const auto& [name, value] : vars) {
      set_env(spec.env, name, value);
      spec.task_env.push_back(std::string(name) + "=" + value);
    }
  }

  live.launched_ms = now_ms();  // a spawn off the loop ends later; the task starts now
  auto started = live.runner->start(spec, *this);
  if (!started.ok()) {
    fail_start(run, started.error());
    return;
  }
  crash_point("task_started");
  live.task = std::move(started).value();
  live.task->supervisor_data = &run;
  if (paused_all_) live.runner->set_output_paused(*live.task, true);
  // A process still being spawned is RUNNING once it exists (on_started).
  if (live.task->started()) {
    mark_running(exec, run);
  } else {
    live.starting = true;
    starting_++;
  }
  if (run.replayed && (exec.cancel_requested || live.kill_reason != KillReason::kNone)) {
    // Cancelled before or while it was taken up: killed now that it is followed.
    KillReason reason = live.kill_reason == KillReason::kNone ? KillReason::kCancel : live.kill_reason;
    live.kill_reason = KillReason::kNone;
    start_kill(run, reason);
  }

  if (live.timeout_ms > 0) {
    live.timeout_text = human_duration(live.timeout_ms);
    live.timeout_timer = uv::Timer::create(loop_);
    live.timeout_timer->start(static_cast<uint64_t>(live.timeout_ms), 0,
                              [this, &run] { start_kill(run, KillReason::kTimeout); });
  }
}

void Supervisor::mark_running(Execution& exec, TaskRun& run) {
  LiveTask& live = *run.live;
  run.pid = live.task->pid();
  if (!run.replayed || run.started_ms == 0) run.started_ms = live.launched_ms;
  set_state(exec, &run, State::kRunning);
  if (!run.replayed) {
    task_metrics_[task_key(run)].submit_to_running.observe(
        static_cast<double>(run.started_ms - (live.queued_ms > 0 ? live.queued_ms : run.created_ms)) / 1000.0);
  }
}

void Supervisor::fail_start(TaskRun& run, const Error& error) {
  // Nothing started: the reason is the task's log and its error.
  std::string msg = error.path().empty() ? error.message() : error.path() + ": " + error.message();
  append_line(run, Level::kError, msg);
  run.error = msg;
  run.live->result = State::kFailed;
  run.live->runner_finished = true;
  run.live->nothing_left = true;
  finish_task_run(run);
}

}  // namespace agent
