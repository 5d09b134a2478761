#include "agent/cli/format.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "agent/cli/request.h"
#include "agent/common/time.h"

namespace agent::cli {

namespace {

using json::Element;

std::string_view str(Element e, std::string_view key) { return string_field(e, key); }

std::optional<int64_t> integer(Element e, std::string_view key) {
  Element v;
  if (e[key].get(v) != simdjson::SUCCESS) return std::nullopt;
  auto r = json::as_int(v, key);
  if (!r.ok()) return std::nullopt;
  return *r;
}

std::vector<Element> array(Element e, std::string_view key) {
  std::vector<Element> out;
  simdjson::dom::array arr;
  if (e[key].get_array().get(arr) != simdjson::SUCCESS) return out;
  for (Element item : arr) out.push_back(item);
  return out;
}

std::string or_dash(std::string_view s) { return s.empty() ? "-" : std::string(s); }

bool is_final(std::string_view state) {
  return state == "SUCCESS" || state == "WARNING" || state == "FAILED" || state == "KILLED" ||
         state == "RESUBMITTED";
}

std::string exit_text(Element run) {
  auto code = integer(run, "exitCode");
  return code ? "exit " + std::to_string(*code) : "-";
}

void append_lines(std::string& out, const std::vector<std::string>& lines,
                  std::string_view indent = {}) {
  for (const std::string& line : lines) {
    out += indent;
    out += line;
    out += '\n';
  }
}

// A two-column "label  value" block.
std::string key_values(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::vector<std::vector<std::string>> table;
  for (const auto& [k, v] : rows) table.push_back({k, v});
  std::string out;
  append_lines(out, format_table(table));
  return out;
}

}  // namespace

std::string format_log_line(std::string_view ts, std::string_view level, std::string_view task_id,
                            std::string_view message) {
  if (!message.empty() && message.back() == '\n') message.remove_suffix(1);
  std::string out;
  out.reserve(ts.size() + task_id.size() + message.size() + 12);
  out += ts;
  out += ' ';
  out += level;
  if (level.size() < 5) out.append(5 - level.size(), ' ');
  out += " [";
  out += task_id;
  out += "] ";
  out += message;
  out += '\n';
  return out;
}

std::string format_log_event(Element event) {
  std::string out;
  std::string_view task_id = str(event, "taskId");
  if (task_id.empty()) task_id = str(event, "taskRunId");
  for (Element line : array(event, "lines")) {
    out += format_log_line(str(line, "ts"), str(line, "level"), task_id, str(line, "message"));
  }
  return out;
}

std::vector<std::string> format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); i++) widths[i] = std::max(widths[i], row[i].size());
  }
  std::vector<std::string> lines;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); i++) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

std::string runner_short_name(std::string_view runner) {
  if (runner.empty()) return "-";
  size_t dot = runner.rfind('.');
  return std::string(dot == std::string_view::npos ? runner : runner.substr(dot + 1));
}

std::string run_duration(Element run, int64_t now_ms) {
  if (auto ms = integer(run, "durationMs")) return human_duration(*ms);
  int64_t started = 0, ended = 0;
  if (!parse_iso8601(str(run, "startedAt"), started)) return "-";
  if (parse_iso8601(str(run, "endedAt"), ended)) return human_duration(ended - started);
  if (is_final(str(run, "state"))) return "-";
  return human_duration(std::max<int64_t>(0, now_ms - started));
}

std::string time_ago(std::string_view iso_ts, int64_t now_ms) {
  int64_t at = 0;
  if (!parse_iso8601(iso_ts, at)) return or_dash(iso_ts);
  return human_duration(std::max<int64_t>(0, now_ms - at)) + " ago";
}

std::string format_ps(Element list_result, bool with_tasks, int64_t now_ms) {
  std::vector<std::vector<std::string>> exec_rows = {
      {"EXECUTION", "FLOW", "STATE", "TASKS", "RUNNER", "DURATION", "CREATED"}};
  std::vector<std::vector<std::string>> task_rows;
  std::vector<size_t> tasks_per_exec;
  std::vector<Element> executions = array(list_result, "executions");
  for (Element exec : executions) {
    std::vector<Element> runs = array(exec, "taskRuns");
    size_t done = std::count_if(runs.begin(), runs.end(),
                                [](Element r) { return is_final(str(r, "state")); });
    std::string flow = std::string(str(exec, "namespace")) + "." + std::string(str(exec, "flowId"));
    // A task waiting in a worker group's queue: the group and its place.
    std::string state(or_dash(str(exec, "state")));
    Element queued;
    if (exec["queued"].get(queued) == simdjson::SUCCESS) {
      state = "QUEUED " + std::string(str(queued, "workerGroup")) + " #" +
              std::to_string(integer(queued, "position").value_or(0));
      if (str(queued, "waitingFor") != "a slot") state += " (group not served here)";
    }
    exec_rows.push_back(
        {or_dash(str(exec, "id")), flow, state,
         std::to_string(done) + "/" + std::to_string(integer(exec, "tasks").value_or(runs.size())),
         runs.empty() ? "-" : runner_short_name(str(runs[0], "runner")), run_duration(exec, now_ms),
         time_ago(str(exec, "createdAt"), now_ms)});
    tasks_per_exec.push_back(runs.size());
    for (Element run : runs) {
      std::string attempt = "attempt " + std::to_string(integer(run, "attempt").value_or(1));
      task_rows.push_back({or_dash(str(run, "taskId")), or_dash(str(run, "state")), attempt,
                           runner_short_name(str(run, "runner")), exit_text(run),
                           run_duration(run, now_ms)});
    }
  }
  std::vector<std::string> exec_lines = format_table(exec_rows);
  std::vector<std::string> task_lines = format_table(task_rows);
  std::string out = exec_lines[0] + "\n";
  size_t next_task = 0;
  for (size_t i = 0; i < executions.size(); i++) {
    out += exec_lines[i + 1];
    out += '\n';
    for (size_t k = 0; k < tasks_per_exec[i]; k++, next_task++) {
      if (!with_tasks) continue;
      out += "  ";
      out += task_lines[next_task];
      out += '\n';
    }
  }
  return out;
}

std::string format_summary(Element execution, int64_t now_ms) {
  std::string out = "execution ";
  out += or_dash(str(execution, "id"));
  out += ' ';
  out += or_dash(str(execution, "state"));
  std::string duration = run_duration(execution, now_ms);
  if (duration != "-") out += " in " + duration;
  out += '\n';
  if (std::string_view error = str(execution, "error"); !error.empty()) {
    out += "  error: " + std::string(error) + "\n";
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<Element> runs = array(execution, "taskRuns");
  for (Element run : runs) {
    std::vector<std::string> row = {or_dash(str(run, "taskId")), or_dash(str(run, "state")),
                                    exit_text(run), run_duration(run, now_ms)};
    if (std::string_view error = str(run, "error"); !error.empty()) {
      row.push_back("error: " + std::string(error));
    }
    rows.push_back(std::move(row));
  }
  append_lines(out, format_table(rows), "  ");
  return out;
}

std::string format_execution(Element execution, int64_t now_ms) {
  std::vector<std::pair<std::string, std::string>> rows = {
      {"execution", or_dash(str(execution, "id"))},
      {"flow",
       std::string(str(execution, "namespace")) + "." + std::string(str(execution, "flowId"))},
      {"state", or_dash(str(execution, "state"))},
      {"created", or_dash(str(execution, "createdAt"))},
  };
  if (!str(execution, "startedAt").empty())
    rows.emplace_back("started", str(execution, "startedAt"));
  if (!str(execution, "endedAt").empty()) rows.emplace_back("ended", str(execution, "endedAt"));
  rows.emplace_back("duration", run_duration(execution, now_ms));
  if (auto tasks = integer(execution, "tasks")) rows.emplace_back("tasks", std::to_string(*tasks));
  if (!str(execution, "error").empty()) rows.emplace_back("error", str(execution, "error"));
  Element by;
  if (execution["submittedBy"].get(by) == simdjson::SUCCESS) {
    std::string who;
    if (auto uid = integer(by, "uid")) who += "uid " + std::to_string(*uid);
    if (auto pid = integer(by, "pid"))
      who += (who.empty() ? "pid " : ", pid ") + std::to_string(*pid);
    if (!who.empty()) rows.emplace_back("submitted by", who);
  }
  std::string out = key_values(rows);

  std::vector<Element> runs = array(execution, "taskRuns");
  if (runs.empty()) return out;
  std::vector<std::vector<std::string>> table = {
      {"TASK", "STATE", "ATTEMPT", "RUNNER", "EXIT", "PID", "DURATION", "LOG", "TASKRUN"}};
  std::string errors;
  for (Element run : runs) {
    auto exit_code = integer(run, "exitCode");
    auto pid = integer(run, "pid");
    auto log_lines = integer(run, "logLines");
    table.push_back({or_dash(str(run, "taskId")), or_dash(str(run, "state")),
                     std::to_string(integer(run, "attempt").value_or(1)),
                     runner_short_name(str(run, "runner")),
                     exit_code ? std::to_string(*exit_code) : "-", pid ? std::to_string(*pid) : "-",
                     run_duration(run, now_ms), log_lines ? std::to_string(*log_lines) : "-",
                     or_dash(str(run, "id"))});
    if (std::string_view error = str(run, "error"); !error.empty()) {
      errors += "error in ";
      errors += str(run, "taskId");
      errors += ": ";
      errors += error;
      errors += '\n';
    }
  }
  out += '\n';
  append_lines(out, format_table(table));
  if (!errors.empty()) out += '\n' + errors;
  return out;
}

std::string format_outputs(Element outputs) {
  std::string out = "execution ";
  out += or_dash(str(outputs, "executionId"));
  out += ' ';
  out += or_dash(str(outputs, "state"));
  out += '\n';
  for (Element run : array(outputs, "taskRuns")) {
    out += '\n';
    out += or_dash(str(run, "taskId"));
    out += " (";
    out += or_dash(str(run, "state"));
    if (auto code = integer(run, "exitCode")) out += ", exit " + std::to_string(*code);
    if (auto attempt = integer(run, "attempt"); attempt && *attempt > 1) {
      out += ", attempt " + std::to_string(*attempt);
    }
    out += ")\n";
    bool any = false;
    // vars of scripts; outputs of other tasks (Return's value, Clone's directory).
    for (std::string_view section : {"vars", "outputs"}) {
      json::Object vars;
      if (run[section].get_object().get(vars) != simdjson::SUCCESS || vars.size() == 0) continue;
      out += "  ";
      out += section;
      out += ":\n";
      for (auto field : vars) {
        out += "    ";
        out += field.key;
        out += " = ";
        out += json::to_json(field.value);
        out += '\n';
      }
      any = true;
    }
    std::vector<Element> metrics = array(run, "metrics");
    if (!metrics.empty()) {
      out += "  metrics:\n";
      for (Element m : metrics) {
        out += "    ";
        out += or_dash(str(m, "name"));
        json::Object tags;
        if (m["tags"].get_object().get(tags) == simdjson::SUCCESS && tags.size() > 0) {
          out += '{';
          bool first = true;
          for (auto tag : tags) {
            if (!first) out += ',';
            first = false;
            out += tag.key;
            out += '=';
            std::string_view s;
            if (tag.value.get_string().get(s) == simdjson::SUCCESS) {
              out += s;
            } else {
              out += json::to_json(tag.value);
            }
          }
          out += '}';
        }
        out += ' ';
        out += or_dash(str(m, "type"));
        out += ' ';
        Element value;
        out += m["value"].get(value) == simdjson::SUCCESS ? json::to_json(value) : "-";
        out += '\n';
      }
      any = true;
    }
    json::Object files;
    if (run["outputFiles"].get_object().get(files) == simdjson::SUCCESS && files.size() > 0) {
      out += "  output files:\n";
      for (auto file : files) {
        out += "    ";
        out += file.key;
        out += " -> ";
        std::string_view uri;
        out += file.value.get_string().get(uri) == simdjson::SUCCESS ? std::string(uri)
                                                                     : json::to_json(file.value);
        out += '\n';
      }
      any = true;
    }
    if (!any) out += "  (no outputs)\n";
  }
  return out;
}

std::string format_stats(Element stats) {
  std::vector<std::pair<std::string, std::string>> rows;
  json::Object obj;
  if (stats.get_object().get(obj) != simdjson::SUCCESS) return json::to_json(stats) + "\n";
  for (auto field : obj) {
    std::string_view key = field.key;
    std::string value;
    json::Object nested;
    int64_t n = 0;
    bool is_int = field.value.get_int64().get(n) == simdjson::SUCCESS;
    if (field.value.get_object().get(nested) == simdjson::SUCCESS) {
      for (auto item : nested) {
        if (!value.empty()) value += ' ';
        value += item.key;
        value += '=';
        value += json::to_json(item.value);
      }
      if (value.empty()) value = "-";
    } else if (is_int && key.size() > 2 && key.substr(key.size() - 2) == "Ms") {
      value = human_duration(n);
    } else if (is_int && key.find("Bytes") != std::string_view::npos) {
      value = human_bytes(n);
    } else {
      std::string_view s;
      value = field.value.get_string().get(s) == simdjson::SUCCESS ? std::string(s)
                                                                   : json::to_json(field.value);
    }
    rows.emplace_back(std::string(key), std::move(value));
  }
  return key_values(rows);
}

std::string format_hello(Element hello) {
  std::string out = "runnerctl ";
  out += RUNNERD_VERSION;
  out += "\n";
  out += or_dash(str(hello, "agent"));
  out += ' ';
  out += or_dash(str(hello, "agentVersion"));
  if (auto pid = integer(hello, "pid")) out += " (pid " + std::to_string(*pid) + ")";
  out += "\nprotocol version ";
  auto version = integer(hello, "version");
  out += version ? std::to_string(*version) : "-";
  out += '\n';
  return out;
}

std::string human_bytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  int unit = -1;
  while (v >= 1024 && unit < 3) {
    v /= 1024;
    unit++;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  return buf;
}

}  // namespace agent::cli
