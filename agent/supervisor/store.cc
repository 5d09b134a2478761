#include "agent/supervisor/store.h"

#include <algorithm>

#include "agent/common/fs.h"
#include "agent/common/time.h"
#include "agent/json/read.h"
#include "agent/template/value.h"
#include "proto/encode.h"

namespace agent::store {

namespace {

using json::Element;

std::string get_string(simdjson::dom::object o, std::string_view key) {
  std::string_view s;
  if (o[key].get_string().get(s) != simdjson::SUCCESS) return {};
  return std::string(s);
}

int64_t get_int(simdjson::dom::object o, std::string_view key, int64_t dflt = 0) {
  int64_t v;
  if (o[key].get_int64().get(v) != simdjson::SUCCESS) return dflt;
  return v;
}

int64_t get_time(simdjson::dom::object o, std::string_view key) {
  int64_t ms = 0;
  std::string s = get_string(o, key);
  if (!s.empty()) parse_iso8601(s, ms);
  return ms;
}

State get_state(simdjson::dom::object o) {
  State s = State::kFailed;
  parse_state(get_string(o, "state"), s);
  return s;
}

std::unique_ptr<TaskRun> run_from(simdjson::dom::object r) {
  auto run = std::make_unique<TaskRun>();
  run->id = get_string(r, "id");
  run->task_id = get_string(r, "taskId");
  run->type = get_string(r, "type");
  run->runner = get_string(r, "runner");
  std::string group = get_string(r, "workerGroup");
  if (!group.empty()) run->worker_group = std::move(group);
  run->attempt = static_cast<int>(get_int(r, "attempt", 1));
  run->state = get_state(r);
  int64_t code;
  if (r["exitCode"].get_int64().get(code) == simdjson::SUCCESS) {
    run->exit_code = static_cast<int>(code);
  }
  run->pid = get_int(r, "pid");
  run->created_ms = get_time(r, "createdAt");
  run->started_ms = get_time(r, "startedAt");
  run->ended_ms = get_time(r, "endedAt");
  run->log_lines = static_cast<uint64_t>(get_int(r, "logLines"));
  run->committed_lines = run->log_lines;
  run->error = get_string(r, "error");
  simdjson::dom::object vars;
  if (r["vars"].get_object().get(vars) == simdjson::SUCCESS) {
    for (auto f : vars) run->vars.emplace_back(std::string(f.key), json::to_json(f.value));
  }
  simdjson::dom::object files;
  if (r["outputFiles"].get_object().get(files) == simdjson::SUCCESS) {
    for (auto f : files) {
      std::string_view uri;
      if (f.value.get_string().get(uri) == simdjson::SUCCESS) {
        run->output_files.emplace_back(std::string(f.key), std::string(uri));
      }
    }
  }
  simdjson::dom::object task_outputs;
  if (r["outputs"].get_object().get(task_outputs) == simdjson::SUCCESS) {
    for (auto f : task_outputs) run->task_outputs.emplace_back(std::string(f.key), json::to_json(f.value));
  }
  run->parent_id = get_string(r, "parentId");
  simdjson::dom::array metrics;
  if (r["metrics"].get_array().get(metrics) == simdjson::SUCCESS) {
    for (Element me : metrics) {
      simdjson::dom::object mo;
      if (me.get_object().get(mo) != simdjson::SUCCESS) continue;
      logstream::MetricEntry entry;
      entry.name = get_string(mo, "name");
      entry.type = get_string(mo, "type");
      double v = 0;
      if (mo["value"].get_double().get(v) != simdjson::SUCCESS) {
        int64_t iv = 0;
        if (mo["value"].get_int64().get(iv) != simdjson::SUCCESS) iv = 0;
        v = static_cast<double>(iv);
      }
      entry.value = v;
      simdjson::dom::object tags;
      if (mo["tags"].get_object().get(tags) == simdjson::SUCCESS) {
        for (auto t : tags) {
          std::string_view tv;
          if (t.value.get_string().get(tv) == simdjson::SUCCESS) {
            entry.tags[std::string(t.key)] = std::string(tv);
          }
        }
      }
      run->metrics.add(entry);
    }
  }
  return run;
}

}  // namespace

std::string encode_record(const Execution& exec, State final_state) {
  std::string out;
  json::Writer w(out);
  proto::write_execution(w, exec, proto::ExecutionDetail{.outputs = true, .state = final_state});
  out += '\n';
  return out;
}

Result<std::unique_ptr<Execution>> decode_record(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(text.data(), text.size()).get(doc); err != simdjson::SUCCESS) {
    return Error(Errc::kInvalidArgument, std::string("not JSON: ") + simdjson::error_message(err));
  }
  simdjson::dom::object o;
  if (doc.get_object().get(o) != simdjson::SUCCESS) {
    return Error(Errc::kInvalidArgument, "not an object");
  }
  auto exec = std::make_unique<Execution>();
  exec->id = get_string(o, "id");
  if (exec->id.empty()) return Error(Errc::kInvalidArgument, "no id");
  exec->namespace_ = get_string(o, "namespace");
  exec->flow_id = get_string(o, "flowId");
  exec->state = get_state(o);
  exec->task_count = static_cast<size_t>(get_int(o, "tasks"));
  exec->created_ms = get_time(o, "createdAt");
  exec->started_ms = get_time(o, "startedAt");
  exec->ended_ms = get_time(o, "endedAt");
  exec->error = get_string(o, "error");
  bool cancel = false;
  if (o["cancelRequested"].get_bool().get(cancel) == simdjson::SUCCESS) exec->cancel_requested = cancel;
  simdjson::dom::object by;
  if (o["submittedBy"].get_object().get(by) == simdjson::SUCCESS) {
    exec->submitted_uid = static_cast<uint32_t>(get_int(by, "uid"));
    exec->submitted_pid = static_cast<int32_t>(get_int(by, "pid"));
  }
  simdjson::dom::array runs;
  if (o["taskRuns"].get_array().get(runs) == simdjson::SUCCESS) {
    for (Element e : runs) {
      simdjson::dom::object r;
      if (e.get_object().get(r) != simdjson::SUCCESS) continue;
      exec->task_runs.push_back(run_from(r));
    }
  }
  return exec;
}

std::string encode_execution_row(const Execution& exec, State state) {
  std::string out;
  json::Writer w(out);
  proto::write_execution(w, exec, proto::ExecutionDetail{.outputs = true, .state = state,
                                                         .task_runs = false});
  return out;
}

std::string encode_run_row(const Execution& exec, const TaskRun& run) {
  std::string out;
  json::Writer w(out);
  proto::write_task_run(w, exec, run,
                        proto::ExecutionDetail{.outputs = true, .state = {}, .task_runs = true});
  return out;
}

std::string encode_source(const Execution& exec, std::string_view definition_json,
                          bool single_task, std::string_view namespace_) {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  w.key("definition").raw(definition_json.empty() ? std::string_view("null") : definition_json);
  w.kv_bool("singleTask", single_task).kv("namespace", namespace_);
  w.key("inputs").raw(template_::to_json(exec.inputs.is_null() ? template_::Value(template_::Value::Map{})
                                                               : exec.inputs));
  w.key("secrets").begin_array();
  for (const auto& secret : exec.secret_inputs) w.string(secret);
  w.end_array();
  w.end_object();
  return out;
}

Result<std::unique_ptr<TaskRun>> decode_run(std::string_view text) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto err = parser.parse(text.data(), text.size()).get(doc); err != simdjson::SUCCESS) {
    return Error(Errc::kInvalidArgument, std::string("not JSON: ") + simdjson::error_message(err));
  }
  simdjson::dom::object o;
  if (doc.get_object().get(o) != simdjson::SUCCESS) return Error(Errc::kInvalidArgument, "not an object");
  auto run = run_from(o);
  if (run->id.empty()) return Error(Errc::kInvalidArgument, "no id");
  return run;
}

}  // namespace agent::store
