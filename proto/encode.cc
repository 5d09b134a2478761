#include "proto/encode.h"

#include "agent/common/time.h"
#include "agent/supervisor/worker_groups.h"

namespace proto {

using agent::json::Writer;

namespace {

void write_time(Writer& w, std::string_view key, int64_t ms) {
  if (ms > 0) w.kv(key, agent::iso8601(ms));
}

int64_t duration_ms(int64_t start, int64_t end) {
  if (start <= 0) return -1;
  return (end > 0 ? end : agent::now_ms()) - start;
}

}  // namespace

void write_metrics(Writer& w, const agent::logstream::MetricSet& metrics) {
  w.begin_array();
  for (const auto& m : metrics.entries()) {
    w.begin_object().kv("name", m.name).kv("type", m.type).kv("value", m.value);
    w.key("tags").begin_object();
    for (const auto& [k, v] : m.tags) w.kv(k, v);
    w.end_object().end_object();
  }
  w.end_array();
}

// vars, metrics, outputFiles, and the outputs of tasks that are not scripts.
static void write_run_outputs(Writer& w, const agent::TaskRun& run) {
  w.key("vars").begin_object();
  for (const auto& [k, v] : run.vars) w.key(k).raw(v);
  w.end_object();
  w.key("metrics");
  write_metrics(w, run.metrics);
  w.key("outputFiles").begin_object();
  for (const auto& [k, v] : run.output_files) w.kv(k, v);
  w.end_object();
  if (!run.task_outputs.empty()) {
    w.key("outputs").begin_object();
    for (const auto& [k, v] : run.task_outputs) w.key(k).raw(v);
    w.end_object();
  }
}

void write_task_run(Writer& w, const agent::Execution& exec, const agent::TaskRun& run,
                    ExecutionDetail detail) {
  (void)exec;
  w.begin_object();
  w.kv("id", run.id).kv("taskId", run.task_id).kv("type", run.type).kv("runner", run.runner);
  if (!run.runner.empty()) w.kv("workerGroup", run.worker_group);
  w.kv("attempt", run.attempt).kv("state", agent::state_name(run.state));
  if (run.exit_code) w.kv("exitCode", *run.exit_code);
  if (run.pid > 0) w.kv("pid", run.pid);
  write_time(w, "createdAt", run.created_ms);
  write_time(w, "startedAt", run.started_ms);
  write_time(w, "endedAt", run.ended_ms);
  int64_t d = duration_ms(run.started_ms, run.ended_ms);
  if (d >= 0) w.kv("durationMs", d);
  w.kv("logLines", run.log_lines);
  if (!run.parent_id.empty()) w.kv("parentId", run.parent_id);
  if (!run.error.empty()) w.kv("error", run.error);
  if (detail.outputs) write_run_outputs(w, run);
  w.end_object();
}

void write_execution(Writer& w, const agent::Execution& exec, ExecutionDetail detail) {
  w.begin_object();
  w.kv("id", exec.id).kv("namespace", exec.namespace_).kv("flowId", exec.flow_id);
  w.kv("state", agent::state_name(detail.state.value_or(exec.state)));
  w.kv("tasks", static_cast<uint64_t>(exec.task_count));
  write_time(w, "createdAt", exec.created_ms);
  write_time(w, "startedAt", exec.started_ms);
  write_time(w, "endedAt", exec.ended_ms);
  int64_t d = duration_ms(exec.started_ms, exec.ended_ms);
  if (d >= 0) w.kv("durationMs", d);
  w.key("submittedBy").begin_object();
  w.kv("uid", static_cast<uint64_t>(exec.submitted_uid)).kv("pid", exec.submitted_pid);
  w.end_object();
  if (!exec.error.empty()) w.kv("error", exec.error);
  if (exec.cancel_requested) w.kv_bool("cancelRequested", true);
  if (exec.queued && exec.queued_in != nullptr && exec.pending != nullptr && detail.task_runs) {
    // Its next task waits in a worker group's queue: where, and behind how many.
    const agent::WorkerGroup& g = *exec.queued_in;
    w.key("queued").begin_object();
    w.kv("taskId", exec.pending->id).kv("workerGroup", g.key);
    w.kv("position", static_cast<uint64_t>(g.position_of(exec)));
    w.kv("waitingFor", g.served ? "a slot" : "an agent that serves its worker group");
    w.end_object();
  }
  if (detail.task_runs) {
    w.key("taskRuns").begin_array();
    for (const auto& run : exec.task_runs) write_task_run(w, exec, *run, detail);
    w.end_array();
  }
  w.end_object();
}

void write_outputs(Writer& w, const agent::Execution& exec) {
  w.begin_object();
  w.kv("executionId", exec.id).kv("state", agent::state_name(exec.state));
  w.key("taskRuns").begin_array();
  for (const auto& run : exec.task_runs) {
    w.begin_object();
    w.kv("taskId", run->task_id).kv("taskRunId", run->id).kv("attempt", run->attempt);
    w.kv("state", agent::state_name(run->state));
    if (run->exit_code) w.kv("exitCode", *run->exit_code);
    write_run_outputs(w, *run);
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

std::string ok_line(std::string_view id_json, std::string_view result_json) {
  std::string out;
  out.reserve(result_json.size() + id_json.size() + 32);
  out += "{\"id\":";
  out += id_json;
  out += ",\"ok\":true,\"result\":";
  out += result_json;
  out += "}\n";
  return out;
}

std::string error_line(std::string_view id_json, std::string_view code, std::string_view message,
                       std::string_view path) {
  std::string out;
  Writer w(out);
  w.begin_object().key("id").raw(id_json).kv_bool("ok", false);
  w.key("error").begin_object().kv("code", code).kv("message", message).kv("path", path);
  w.end_object().end_object();
  out += '\n';
  return out;
}

std::string state_event_line(std::string_view id_json, const agent::Execution& exec,
                             const agent::TaskRun* run) {
  std::string out;
  Writer w(out);
  w.begin_object().key("id").raw(id_json).kv("event", "state").kv("executionId", exec.id);
  if (run != nullptr) {
    w.kv("taskRunId", run->id).kv("taskId", run->task_id).kv("attempt", run->attempt);
    w.kv("state", agent::state_name(run->state));
    if (run->exit_code) w.kv("exitCode", *run->exit_code);
  } else {
    w.kv("state", agent::state_name(exec.state));
  }
  w.kv("at", agent::iso8601(agent::now_ms()));
  w.end_object();
  out += '\n';
  return out;
}

std::string end_event_line(std::string_view id_json, agent::State state) {
  std::string out;
  Writer w(out);
  w.begin_object().key("id").raw(id_json).kv("event", "end").kv("state", agent::state_name(state));
  w.end_object();
  out += '\n';
  return out;
}

std::string logs_event_line(std::string_view id_json, const agent::TaskRun& run,
                            const std::vector<agent::logstream::Line>& lines) {
  std::string out;
  size_t estimate = 128;
  for (const auto& l : lines) estimate += l.text.size() + 64;
  out.reserve(estimate);
  Writer w(out);
  w.begin_object().key("id").raw(id_json).kv("event", "logs");
  w.kv("taskRunId", run.id).kv("taskId", run.task_id).kv("attempt", run.attempt);
  w.key("lines").begin_array();
  std::string ts;
  for (const auto& l : lines) {
    w.begin_object().kv("seq", l.seq);
    ts.assign(1, '"');
    agent::append_iso8601(ts, l.ts_ms);
    ts += '"';
    w.key("ts").raw(ts);
    w.kv("level", agent::logstream::level_name(l.level)).kv("message", l.text);
    w.end_object();
  }
  w.end_array().end_object();
  out += '\n';
  return out;
}

}  // namespace proto
