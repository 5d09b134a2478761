// Walking an execution's task lists: tasks in order, the `errors` branch once
// one failed, WorkingDirectory frames, tasks that run inside the agent (Log,
// Return), allowFailure/allowWarning, retries, and the template variables a
// task renders with.
#include <random>

#include "agent/common/ids.h"
#include "agent/common/time.h"
#include "agent/common/fs.h"
#include "agent/files/input_files.h"
#include "agent/supervisor/supervisor.h"
#include "agent/supervisor/task_files.h"
#include "agent/uv/work.h"
#include "agent/template/template.h"

namespace agent {

namespace {

using logstream::Level;
using template_::Value;

Level level_from_name(std::string_view name) {
  if (name == "ERROR") return Level::kError;
  if (name == "WARN") return Level::kWarn;
  if (name == "DEBUG") return Level::kDebug;
  if (name == "TRACE") return Level::kTrace;
  return Level::kInfo;
}

Value json_or_null(const std::string& text) {
  auto v = template_::parse_json(text);
  return v.ok() ? std::move(v).value() : Value();
}

Value pairs_to_json_map(const std::vector<std::pair<std::string, std::string>>& pairs) {
  Value::Map m;
  for (const auto& [k, v] : pairs) m.emplace_back(k, json_or_null(v));
  return Value(std::move(m));
}

Value pairs_to_string_map(const std::vector<std::pair<std::string, std::string>>& pairs) {
  Value::Map m;
  for (const auto& [k, v] : pairs) m.emplace_back(k, Value(v));
  return Value(std::move(m));
}

}  // namespace

TaskRun& Supervisor::new_task_run(Execution& exec, const flow::TaskDef& def, int attempt) {
  std::unique_ptr<TaskRun> owned = take_replay(exec, def, attempt);
  const bool replayed = owned != nullptr;
  if (!replayed) {
    owned = std::make_unique<TaskRun>();
    owned->id = new_id();
    owned->task_id = def.id;
    owned->type = def.type;
    owned->attempt = attempt;
    owned->created_ms = now_ms();
    if (!exec.frames.empty() && exec.frames.back().owner != nullptr) {
      owned->parent_id = exec.frames.back().owner->id;
    }
  }
  TaskRun& run = *owned;
  run.def = &def;
  if (def.runs_on_runner()) {
    run.runner = std::string(registry_.find(runner_type_of(def)).canonical);
  }
  exec.task_runs.push_back(std::move(owned));
  if (exec.state == State::kCreated) {
    exec.started_ms = run.created_ms;
    set_state(exec, nullptr, State::kRunning);
  }
  if (replayed && is_final(run.state)) return run;  // replay_final takes it from here
  run.live = std::make_unique<LiveTask>(config_.max_line_bytes);
  live_runs_.insert(&run);
  run.live->exec = &exec;
  run.live->log_key = next_log_key_++;
  if (replayed) return run;
  // Recorded before anything of it starts: a restart finds every run that may
  // have left a process or a container behind.
  run.live->created_seq = persist(exec, &run);
  for (const auto& w : def.warnings) append_line(run, Level::kWarn, w);
  notify(exec, &run);
  return run;
}

// Tasks that end at once (Log, Return, a failed start) call back into
// advance(); the walk then loops here instead of recursing, so a flow of
// thousands of such tasks cannot exhaust the stack.
void Supervisor::advance(Execution& exec) {
  if (exec.advancing) {
    exec.advance_again = true;
    return;
  }
  exec.advancing = true;
  do {
    exec.advance_again = false;
    advance_step(exec);
  } while (exec.advance_again);
  exec.advancing = false;
}

void Supervisor::advance_step(Execution& exec) {
  while (true) {
    if (exec.ending) return;
    if (exec.busy || exec.pending != nullptr) return;  // something is under way
    if (exec.frames.empty()) {
      end_execution(exec, exec.cancel_requested ? State::kKilled : exec.final_state);
      return;
    }
    Frame& f = exec.frames.back();
    // A cancelled execution starts nothing more, once the runs recorded before
    // a restart are taken up (a running one must be reached to be killed). A
    // stopping agent starts nothing more either; the next start goes on.
    bool stopping = exec.cancel_requested && exec.replay.empty();
    if (!stopping && f.failed && !f.in_errors && f.errors != nullptr && !f.errors->empty()) {
      f.list = f.errors;  // Kestra's `errors` branch: run once, after the failure
      f.next = 0;
      f.in_errors = true;
      continue;
    }
    bool remaining = f.next < f.list->size() && !(f.failed && !f.in_errors);
    if (draining_ && remaining && !stopping) return;
    if (stopping || !remaining) {
      if (f.owner != nullptr) {
        end_frame(exec);  // comes back through apply_result
        return;
      }
      State st = f.failed ? State::kFailed : f.worst;
      if ((stopping && remaining) || f.killed || exec.cancel_requested) st = State::kKilled;
      exec.frames.pop_back();
      exec.final_state = st;
      continue;
    }
    const flow::TaskDef& def = (*f.list)[f.next++];
    if (def.disabled) continue;
    switch (def.kind) {
      case flow::TaskKind::kWorkingDirectory:
        start_working_directory(exec, def);
        return;
      case flow::TaskKind::kLog:
      case flow::TaskKind::kReturn:
        run_in_agent(exec, def);
        return;
      case flow::TaskKind::kScript:
      case flow::TaskKind::kClone:
        exec.pending = &def;
        exec.pending_attempt = 1;
        exec.pending_first_ms = 0;
        enqueue(exec);
        return;  // the caller pumps
    }
  }
}

// Log and Return: rendered and done on the loop; their run ends once its log
// is stored, like any other.
void Supervisor::run_in_agent(Execution& exec, const flow::TaskDef& def) {
  TaskRun& run = new_task_run(exec, def, 1);
  if (!run.live) {
    replay_final(exec, run);
    return;
  }
  run.started_ms = now_ms();
  set_state(exec, &run, State::kRunning);
  std::string wd = exec.frames.back().working_dir;
  LazyContext ctx([&] { return template_context(exec, run_variables(exec, run, wd, "", Value())); });
  State result = State::kSuccess;
  if (def.kind == flow::TaskKind::kLog) {
    Level level = level_from_name(def.level);
    for (const auto& m : def.messages) {
      auto text = render_text(m, ctx, "message");
      if (!text.ok()) {
        run.error = text.error().message();
        result = State::kFailed;
        break;
      }
      append_line(run, level, *text);
    }
  } else {
    auto text = render_text(def.format, ctx, "format");
    if (!text.ok()) {
      run.error = text.error().message();
      result = State::kFailed;
    } else {
      std::string json;
      json::Writer w(json);
      w.string(*text);
      run.task_outputs.emplace_back("value", std::move(json));
    }
  }
  if (!run.error.empty()) append_line(run, Level::kError, run.error);
  run.live->result = result;
  run.live->runner_finished = true;
  finish_task_run(run);
}

void Supervisor::apply_result(Execution& exec, const flow::TaskDef& def, State state) {
  if (exec.frames.empty()) return;
  Frame& f = exec.frames.back();
  State eff = state;
  if (eff == State::kFailed && def.allow_failure) eff = State::kWarning;
  if (eff == State::kWarning && def.allow_warning) eff = State::kSuccess;
  switch (eff) {
    case State::kKilled: f.killed = true; break;
    case State::kFailed: f.failed = true; break;
    case State::kWarning: f.worst = State::kWarning; break;
    default: break;
  }
}

bool Supervisor::maybe_retry(Execution& exec, TaskRun& run) {
  const flow::TaskDef& def = *run.def;
  if (!def.retry || run.state != State::kFailed || exec.cancel_requested || draining_) return false;
  if (!exec.replay.empty() && exec.replay.front()->task_id == run.task_id &&
      exec.replay.front()->attempt == run.attempt + 1) {
    // Replaying: the next attempt is recorded, so its delay is long over.
    exec.pending = &def;
    exec.pending_attempt = run.attempt + 1;
    exec.pending_first_ms = run.first_attempt_ms;
    enqueue(exec);
    return true;
  }
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  double draw = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  auto delay = flow::next_retry_delay(*def.retry, run.attempt, run.first_attempt_ms,
                                      run.ended_ms, draw);
  if (!delay) return false;
  run.error = (run.error.empty() ? "" : run.error + "; ") + "retried: attempt " +
              std::to_string(run.attempt + 1) + " starts after " + human_duration(delay->count());
  exec.pending = &def;
  exec.pending_attempt = run.attempt + 1;
  exec.pending_first_ms = run.first_attempt_ms;
  if (!exec.retry_timer) exec.retry_timer = uv::Timer::create(loop_);
  exec.retry_timer->start(static_cast<uint64_t>(delay->count()), 0, [this, &exec] {
    enqueue(exec);
    pump();
  });
  return true;
}

Value Supervisor::run_variables(const Execution& exec, const TaskRun& run,
                                const std::string& working_dir, const std::string& output_dir,
                                const Value& output_files) const {
  const flow::Flow& flow = *exec.flow;
  Value::Map labels;
  for (const auto& [k, v] : flow.labels) labels.emplace_back(k, Value(v));

  if (exec.outputs_dirty) {
    exec.outputs_value = Value(Value::Map(exec.outputs_entries));
    exec.outputs_dirty = false;
  }
  std::string parent_id = run.parent_id;
  Value::Map vars{
      {"flow", Value(Value::Map{{"id", Value(flow.id)},
                                {"namespace", Value(flow.namespace_)},
                                {"revision", Value(1)},
                                {"tenantId", Value()}})},
      {"execution", Value(Value::Map{{"id", Value(exec.id)},
                                     {"startDate", Value(iso8601(exec.created_ms))},
                                     {"originalId", Value(exec.id)}})},
      {"task", Value(Value::Map{{"id", Value(run.task_id)}, {"type", Value(run.type)}})},
      {"taskrun", Value(Value::Map{{"id", Value(run.id)},
                                   {"startDate", Value(iso8601(run.created_ms))},
                                   {"attemptsCount", Value(run.attempt - 1)},
                                   {"parentId", parent_id.empty() ? Value() : Value(parent_id)},
                                   {"value", Value()}})},
      {"inputs", exec.inputs.is_null() ? Value(Value::Map{}) : exec.inputs},
      {"outputs", exec.outputs_value},
      {"vars", flow.variables.is_null() ? Value(Value::Map{}) : flow.variables},
      {"labels", Value(std::move(labels))},
      {"envs", envs_},
  };
  if (!working_dir.empty()) vars.emplace_back("workingDir", Value(working_dir));
  if (!output_dir.empty()) vars.emplace_back("outputDir", Value(output_dir));
  if (!output_files.is_null()) vars.emplace_back("outputFiles", output_files);
  return Value(std::move(vars));
}

void Supervisor::record_outputs(Execution& exec, const TaskRun& r) {
  Value::Map o;
  if (r.def != nullptr && r.def->kind == flow::TaskKind::kScript) {
    o.emplace_back("vars", pairs_to_json_map(r.vars));
    if (r.exit_code) o.emplace_back("exitCode", Value(static_cast<int64_t>(*r.exit_code)));
    o.emplace_back("outputFiles", pairs_to_string_map(r.output_files));
  } else {
    for (const auto& [k, v] : r.task_outputs) o.emplace_back(k, json_or_null(v));
    if (!r.output_files.empty()) o.emplace_back("outputFiles", pairs_to_string_map(r.output_files));
  }
  auto [it, added] = exec.outputs_index.emplace(r.task_id, exec.outputs_entries.size());
  if (added) {
    exec.outputs_entries.emplace_back(r.task_id, Value(std::move(o)));
  } else {
    exec.outputs_entries[it->second].second = Value(std::move(o));
  }
  exec.outputs_dirty = true;
}

template_::Context Supervisor::template_context(Execution& exec, Value vars) {
  template_::Context ctx;
  ctx.vars = std::move(vars);
  ctx.secret = [this, &exec](std::string_view key) -> Result<std::string> {
    AGENT_ASSIGN_OR_RETURN(std::string value, secrets_.get(key));
    exec.masker.add(value);  // masked in every later log line of the execution
    return value;
  };
  ctx.read = [this, &exec](std::string_view path) -> Result<std::string> {
    // read('kestra:///...'): a file of the agent's storage (an output file, a
    // FILE input); read('path'): a namespace file of the flow's namespace.
    std::string local;
    if (path.starts_with("kestra://")) {
      AGENT_ASSIGN_OR_RETURN(local, storage_.resolve(path));
    } else {
      std::string uri = "nsfile://" + std::string(path.starts_with("/") ? "" : "/") + std::string(path);
      AGENT_ASSIGN_OR_RETURN(local, files::resolve_nsfile_uri(uri, exec.namespace_,
                                                              config_.state_dir + "/namespaces"));
    }
    AGENT_ASSIGN_OR_RETURN(std::string content, fs::read_file(local));
    return content;
  };
  return ctx;
}

// ---- WorkingDirectory ----

void Supervisor::start_working_directory(Execution& exec, const flow::TaskDef& def) {
  TaskRun& run = new_task_run(exec, def, 1);
  if (!run.live) {
    replay_final(exec, run);
    return;
  }
  if (!run.replayed) {
    run.started_ms = now_ms();
    set_state(exec, &run, State::kRunning);
  }
  LiveTask& live = *run.live;
  live.working_dir = config_.work_dir + "/" + run.id;
  std::string wd = live.working_dir;

  // inputFiles and namespaceFiles of the WorkingDirectory itself, rendered now.
  LazyContext ctx([&] { return template_context(exec, run_variables(exec, run, wd, "", Value())); });
  auto prepared = std::make_shared<PreparedTask>();
  prepared->working_dir = wd;
  prepared->create_dir = true;
  // Taken up after a restart: the directory holds what its tasks made so far.
  prepared->reuse_dir = run.replayed;
  file_policy(exec, *prepared);
  Status st = render_files(def, ctx, exec.namespace_, *prepared);
  if (!st.ok()) {
    fail_start(run, st.error());
    return;
  }
  exec.busy = true;
  pending_fs_++;
  auto status = std::make_shared<Status>();
  uv::queue_work(
      loop_, [prepared, status] { *status = prepare_files(*prepared); },
      [this, &exec, &run, &def, prepared, status] {
        pending_fs_--;
        exec.busy = false;
        for (const auto& w : prepared->warnings) append_line(run, Level::kWarn, w);
        if (!status->ok()) {
          fail_start(run, status->error());
          return;
        }
        Frame frame;
        frame.list = &def.tasks;
        frame.errors = &def.errors;
        frame.owner = &run;
        frame.working_dir = run.live->working_dir;
        exec.frames.push_back(std::move(frame));
        advance(exec);
        pump();
      });
}

void Supervisor::end_frame(Execution& exec) {
  Frame& f = exec.frames.back();
  TaskRun& owner = *f.owner;
  bool remaining = f.next < f.list->size() && !(f.failed && !f.in_errors);
  State st = f.failed ? State::kFailed : f.worst;
  if ((exec.cancel_requested && remaining) || f.killed || exec.cancel_requested) {
    st = State::kKilled;
  }
  exec.frames.pop_back();
  owner.live->result = st;
  owner.live->runner_finished = true;
  finish_task_run(owner);
}

}  // namespace agent
