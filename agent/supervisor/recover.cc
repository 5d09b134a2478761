// Taking up, after a restart, what the state database recorded: ended
// executions are loaded as they are; the others are compiled again from their
// stored submission and walked again from the start. The walk is deterministic
// given each task's result, so it asks for the recorded task runs in the order
// they were created, and each is taken up instead of started anew:
//   - an ended run gives its recorded result (nothing runs again);
//   - a run that was running, on a runner that reattaches (Docker), is
//     followed again: same run id, same attempt, found by its labels;
//   - a run that was running elsewhere (Process) died with the agent: it is
//     recorded RESUBMITTED and runs again as a new attempt, or KILLED when its
//     execution was being cancelled;
// Executions that waited for a slot are queued again in submission order.
#include <unordered_map>

#include "agent/common/time.h"
#include "agent/flow/load.h"
#include "agent/json/read.h"
#include "agent/log/log.h"
#include "agent/logstream/log_file.h"
#include "agent/supervisor/store.h"
#include "agent/supervisor/supervisor.h"

namespace agent {

namespace {

// Compiles a stored submission again: the flow, its inputs and secrets.
Status rebuild(Execution& exec, const std::string& source, const AgentConfig& config) {
  if (source.empty()) return Error(Errc::kNotFound, "its submission was not stored");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(source).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return Error(Errc::kInvalidArgument, "its stored submission is not JSON");
  }
  simdjson::dom::element def;
  if (doc["definition"].get(def) != simdjson::SUCCESS || !def.is_object()) {
    return Error(Errc::kInvalidArgument, "its stored submission has no definition");
  }
  bool single = false;
  if (doc["singleTask"].get_bool().get(single) != simdjson::SUCCESS) single = false;
  std::string_view ns = "default";
  if (doc["namespace"].get_string().get(ns) != simdjson::SUCCESS) ns = "default";
  flow::LoadOptions options{.global_defaults = &config.plugin_defaults};
  Result<flow::Flow> loaded = single ? flow::load_single_task(def, std::string(ns), "task", options, nullptr)
                                     : flow::load_flow(def, "flow", options, nullptr);
  if (!loaded.ok()) {
    return Error(Errc::kInvalidArgument,
                 "its flow no longer compiles: " + loaded.error().describe());
  }
  exec.flow = std::make_shared<const flow::Flow>(std::move(loaded).value());
  simdjson::dom::element inputs;
  if (doc["inputs"].get(inputs) == simdjson::SUCCESS) {
    AGENT_ASSIGN_OR_RETURN(exec.inputs, template_::from_json(inputs));
  }
  simdjson::dom::array secrets;
  if (doc["secrets"].get_array().get(secrets) == simdjson::SUCCESS) {
    for (auto s : secrets) {
      std::string_view v;
      if (s.get_string().get(v) != simdjson::SUCCESS) continue;
      exec.secret_inputs.emplace_back(v);
      exec.masker.add(std::string(v));
    }
  }
  return {};
}

}  // namespace

Status Supervisor::recover(state::Loaded loaded) {
  std::unordered_map<std::string, std::vector<std::unique_ptr<TaskRun>>> runs_of;
  size_t unreadable = 0;
  for (auto& row : loaded.runs) {
    auto run = store::decode_run(row.record);
    if (!run.ok()) {
      log::warn("state: task run " + row.id + " of execution " + row.execution_id +
                " is unreadable and left out: " + run.error().message());
      unreadable++;
      continue;
    }
    run.value()->row = row.row;
    runs_of[row.execution_id].push_back(std::move(run).value());
  }
  std::vector<Execution*> resumed;
  for (auto& row : loaded.executions) {
    if (row.record.empty()) continue;  // submission stored, never acknowledged
    auto decoded = store::decode_record(row.record);
    if (!decoded.ok()) {
      log::warn("state: execution " + row.id + " is unreadable and left out: " +
                decoded.error().message());
      unreadable++;
      continue;
    }
    std::unique_ptr<Execution> exec = std::move(decoded).value();
    exec->row = row.row;
    Execution* raw = exec.get();
    raw->stored = true;
    auto& runs = runs_of[raw->id];
    if (!executions_.emplace(raw->id, std::move(exec)).second) continue;
    ordered_.push_back(raw);
    if (is_final(raw->state)) {
      raw->task_runs = std::move(runs);
      continue;
    }
    Status st = rebuild(*raw, row.source, config_);
    if (!st.ok()) {
      // Nothing to walk: what was recorded stays, the rest is reported lost.
      log::warn("state: execution " + raw->id + " cannot be taken up: " + st.error().message());
      for (auto& run : runs) {
        if (!is_final(run->state)) {
          run->state = State::kFailed;
          run->error = "lost in an agent restart: " + st.error().message();
          run->ended_ms = now_ms();
          persist(*raw, run.get());
        }
        raw->task_runs.push_back(std::move(run));
      }
      raw->error = "the agent restarted and could not take this execution up: " + st.error().message();
      raw->ended_ms = now_ms();
      raw->state = State::kFailed;
      persist(*raw, nullptr);
      continue;
    }
    for (auto& run : runs) {
      if (!is_final(run->state)) {
        // Its log as it is on disk: the record's count is from before the crash.
        auto lines = logstream::count_lines(log_path(*run));
        if (lines.ok()) run->log_lines = run->committed_lines = *lines;
      }
      raw->replay.push_back(std::move(run));
    }
    resumed.push_back(raw);
  }
  if (!ordered_.empty()) {
    log::info("state: " + std::to_string(ordered_.size()) + " executions recorded, " +
              std::to_string(resumed.size()) + " taken up again" +
              (unreadable > 0 ? ", " + std::to_string(unreadable) + " unreadable records left out"
                              : std::string()));
  }
  for (Execution* exec : resumed) resume_execution(*exec);
  pump();
  return {};
}

void Supervisor::resume_execution(Execution& exec) {
  Frame root;
  root.list = &exec.flow->tasks;
  root.errors = &exec.flow->errors;
  exec.frames.push_back(std::move(root));
  advance(exec);
}

std::unique_ptr<TaskRun> Supervisor::take_replay(Execution& exec, const flow::TaskDef& def,
                                                 int attempt) {
  if (exec.replay.empty()) return nullptr;
  TaskRun& next = *exec.replay.front();
  if (next.task_id == def.id && next.attempt == attempt) {
    std::unique_ptr<TaskRun> run = std::move(exec.replay.front());
    exec.replay.pop_front();
    run->replayed = true;
    if (run->first_attempt_ms == 0) run->first_attempt_ms = run->created_ms;
    return run;
  }
  // The walk went another way than before the restart (a changed plugin
  // default, a template reading the clock): the rest is kept as it was, and
  // what was still running is reported lost, never run twice.
  log::warn("execution " + exec.id + ": after the restart the walk reached task '" + def.id +
            "' attempt " + std::to_string(attempt) + " where task '" + next.task_id +
            "' attempt " + std::to_string(next.attempt) + " was recorded; " +
            std::to_string(exec.replay.size()) + " recorded task runs are kept as they are");
  while (!exec.replay.empty()) {
    std::unique_ptr<TaskRun> run = std::move(exec.replay.front());
    exec.replay.pop_front();
    if (!is_final(run->state)) {
      run->state = State::kFailed;
      run->error = "lost in an agent restart: the flow's walk no longer reaches it";
      run->ended_ms = now_ms();
      persist(exec, run.get());
    }
    exec.task_runs.push_back(std::move(run));
  }
  return nullptr;
}

void Supervisor::replay_final(Execution& exec, TaskRun& run) {
  after_run_stored(exec, run);
}

// A run that was running when the agent died, on a runner that does not
// reattach: its processes died with the agent (PR_SET_PDEATHSIG, and the
// Process runner's sweep of its task cgroups at start). Ended through the
// usual path, so that its log is closed and its directory removed.
void Supervisor::resubmit(Execution& exec, TaskRun& run) {
  LiveTask& live = *run.live;
  live.kill_reason = KillReason::kRestart;
  live.runner_finished = true;
  append_line(run, logstream::Level::kWarn,
              exec.cancel_requested
                  ? std::string("the agent died while this attempt ran, and its execution was "
                                "being cancelled: not run again")
                  : "the agent died while this attempt ran: it runs again as attempt " +
                        std::to_string(run.attempt + 1));
  finish_task_run(run);
}

}  // namespace agent
