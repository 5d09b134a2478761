#include <algorithm>
#include <array>
#include <cctype>
#include <span>

#include "agent/common/time.h"
#include "agent/flow/flow.h"

namespace agent::flow {

namespace {

using json::Element;
using json::join;

Error invalid(std::string path, std::string message) {
  return Error(Errc::kInvalidArgument, std::move(message), std::move(path));
}

bool contains(std::span<const std::string_view> list, std::string_view key) {
  return std::find(list.begin(), list.end(), key) != list.end();
}

// Kestra properties that runnerd does not implement yet: a clear error beats
// silently running a task differently than Kestra would.
constexpr std::array<std::string_view, 21> kTaskNotYet = {
    "inputFiles", "outputFiles", "namespaceFiles", "retry", "allowFailure", "allowWarning",
    "disabled", "workerGroup", "logLevel", "logToFile", "runIf", "when", "outputDirectory",
    "targetOS", "docker", "dependencies", "pythonVersion", "executionContext",
    "dependencyCacheEnabled", "packageManager", "uvAutoInstallEnabled"};
constexpr std::array<std::string_view, 17> kFlowNotYet = {
    "inputs", "variables", "errors", "finally", "triggers", "pluginDefaults", "taskDefaults",
    "concurrency", "outputs", "afterExecution", "retry", "sla", "checks", "disabled",
    "workerGroup", "listeners", "timeout"};

Error unknown_property(const std::string& path, std::string_view key, bool not_yet) {
  if (not_yet) {
    return invalid(join(path, key),
                   "Kestra property not supported by runnerd yet (see "
                   "docs/kestra-compatibility.md)");
  }
  return invalid(join(path, key), "unknown property");
}

bool valid_id(std::string_view s, bool allow_dot) {
  if (s.empty() || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
           (allow_dot && c == '.');
  });
}

bool valid_namespace(std::string_view s) {
  if (s.empty()) return false;
  auto lower_or_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_or_digit(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return lower_or_digit(c) || c == '.' || c == '_' || c == '-';
  });
}

Status parse_task_runner(Element e, const std::string& path, TaskDef& task) {
  AGENT_ASSIGN_OR_RETURN(json::Object obj, json::as_object(e, path));
  Element type;
  if (obj["type"].get(type) != simdjson::SUCCESS) {
    return invalid(join(path, "type"), "required property missing");
  }
  AGENT_ASSIGN_OR_RETURN(task.runner_type, json::as_string(type, join(path, "type")));
  if (task.runner_type.empty()) return invalid(join(path, "type"), "must not be empty");
  task.runner_json = json::to_json(e);
  return {};
}

Status parse_legacy_runner(Element e, const std::string& path, TaskDef& task) {
  AGENT_ASSIGN_OR_RETURN(std::string runner, json::as_string(e, path));
  if (!task.runner_type.empty()) return {};  // an explicit taskRunner wins (Kestra newest)
  if (runner == "PROCESS") {
    task.runner_type = "io.kestra.plugin.core.runner.Process";
  } else if (runner == "DOCKER") {
    task.runner_type = "io.kestra.plugin.scripts.runner.docker.Docker";
  } else {
    return invalid(path, "expected PROCESS or DOCKER, found '" + runner + "'");
  }
  task.warnings.push_back("property 'runner: " + runner +
                          "' is deprecated; write 'taskRunner: {type: " + task.runner_type +
                          "}' instead");
  return {};
}

Result<TaskDef> parse_task(Element e, const std::string& path) {
  AGENT_ASSIGN_OR_RETURN(json::Object obj, json::as_object(e, path));
  TaskDef task;
  Element v;
  if (obj["id"].get(v) != simdjson::SUCCESS) return invalid(join(path, "id"), "required property missing");
  AGENT_ASSIGN_OR_RETURN(task.id, json::as_string(v, join(path, "id")));
  if (!valid_id(task.id, false)) {
    return invalid(join(path, "id"), "'" + task.id + "' must match ^[a-zA-Z0-9][a-zA-Z0-9_-]*$");
  }
  if (obj["type"].get(v) != simdjson::SUCCESS) return invalid(join(path, "type"), "required property missing");
  AGENT_ASSIGN_OR_RETURN(task.type, json::as_string(v, join(path, "type")));
  TaskTypeMatch match = find_task_type(task.type);
  if (match.language == nullptr) {
    return invalid(join(path, "type"),
                   "task type '" + task.type +
                       "' is not supported (supported: shell, python and node Commands and "
                       "Script tasks, e.g. io.kestra.plugin.scripts.shell.Commands)");
  }
  task.language = match.language;
  task.kind = match.kind;

  static constexpr std::array<std::string_view, 14> kKnown = {
      "id", "type", "description", "commands", "script", "beforeCommands", "interpreter",
      "failFast", "env", "timeout", "taskRunner", "runner", "containerImage", "warningOnStdErr"};
  bool has_runner = false;
  for (auto field : obj) {
    std::string key(field.key);
    std::string fpath = join(path, key);
    if (!contains(kKnown, key)) return unknown_property(path, key, contains(kTaskNotYet, key));
    if (key == "description") {
      AGENT_ASSIGN_OR_RETURN(task.description, json::as_string(field.value, fpath));
    } else if (key == "commands") {
      if (task.kind != ScriptKind::kCommands) {
        return invalid(fpath, "a Script task takes 'script', not 'commands'");
      }
      AGENT_ASSIGN_OR_RETURN(task.commands, json::as_string_list(field.value, fpath));
    } else if (key == "script") {
      if (task.kind != ScriptKind::kScript) {
        return invalid(fpath, "a Commands task takes 'commands', not 'script'");
      }
      AGENT_ASSIGN_OR_RETURN(task.script, json::as_string(field.value, fpath));
    } else if (key == "beforeCommands") {
      AGENT_ASSIGN_OR_RETURN(task.before_commands, json::as_string_list(field.value, fpath));
    } else if (key == "interpreter") {
      AGENT_ASSIGN_OR_RETURN(auto interp, json::as_string_list(field.value, fpath));
      task.interpreter = std::move(interp);
    } else if (key == "failFast") {
      AGENT_ASSIGN_OR_RETURN(task.fail_fast, json::as_bool(field.value, fpath));
    } else if (key == "env") {
      AGENT_ASSIGN_OR_RETURN(task.env, json::as_string_map(field.value, fpath));
      for (const auto& [name, value] : task.env) {
        if (name.empty() || name.find('=') != std::string::npos) {
          return invalid(join(fpath, name), "an environment variable name must be non-empty and "
                                            "contain no '='");
        }
      }
    } else if (key == "timeout") {
      AGENT_ASSIGN_OR_RETURN(std::string text, json::as_string(field.value, fpath));
      auto d = parse_duration(text);
      if (!d.ok()) return invalid(fpath, d.error().message());
      task.timeout = *d;
    } else if (key == "taskRunner") {
      AGENT_TRY(parse_task_runner(field.value, fpath, task));
      has_runner = true;
    } else if (key == "containerImage") {
      AGENT_ASSIGN_OR_RETURN(task.container_image, json::as_string(field.value, fpath));
    } else if (key == "warningOnStdErr") {
      AGENT_TRY(json::as_bool(field.value, fpath));
      task.warnings.push_back("property 'warningOnStdErr' has no effect since Kestra 0.23; "
                              "remove it");
    }
  }
  if (obj["runner"].get(v) == simdjson::SUCCESS) {
    if (has_runner) {
      task.warnings.push_back("both 'taskRunner' and the deprecated 'runner' are set; "
                              "'taskRunner' wins");
    }
    AGENT_TRY(parse_legacy_runner(v, join(path, "runner"), task));
  }
  if (task.kind == ScriptKind::kCommands && obj["commands"].get(v) != simdjson::SUCCESS) {
    return invalid(join(path, "commands"), "required property missing");
  }
  if (task.kind == ScriptKind::kCommands && task.commands.empty()) {
    return invalid(join(path, "commands"), "must contain at least one command");
  }
  if (task.kind == ScriptKind::kScript && task.script.empty()) {
    return invalid(join(path, "script"), obj["script"].get(v) == simdjson::SUCCESS
                                             ? "must not be empty"
                                             : "required property missing");
  }
  if (task.interpreter && task.interpreter->empty() && !task.before_commands.empty()) {
    return invalid(join(path, "interpreter"),
                   "an empty interpreter runs commands as argv and cannot run beforeCommands");
  }
  if (task.container_image.empty()) task.container_image = task.language->default_image;
  return task;
}

Result<StringPairs> parse_labels(Element e, const std::string& path) {
  // Kestra takes labels as a map or as a list of {key, value}.
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) return json::as_string_map(e, path);
  StringPairs out;
  size_t i = 0;
  for (Element item : arr) {
    std::string ipath = json::index(path, i++);
    AGENT_ASSIGN_OR_RETURN(json::Object o, json::as_object(item, ipath));
    Element k, v;
    if (o["key"].get(k) != simdjson::SUCCESS || o["value"].get(v) != simdjson::SUCCESS) {
      return invalid(ipath, "a label needs 'key' and 'value'");
    }
    AGENT_ASSIGN_OR_RETURN(std::string key, json::as_string(k, join(ipath, "key")));
    AGENT_ASSIGN_OR_RETURN(std::string value, json::as_string(v, join(ipath, "value")));
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

Status check_unique_task_ids(const Flow& flow, const std::string& path) {
  for (size_t i = 0; i < flow.tasks.size(); i++) {
    for (size_t j = 0; j < i; j++) {
      if (flow.tasks[i].id == flow.tasks[j].id) {
        return invalid(join(json::index(join(path, "tasks"), i), "id"),
                       "duplicate task id '" + flow.tasks[i].id + "'");
      }
    }
  }
  return {};
}

}  // namespace

Result<Flow> parse_flow(Element e, std::string_view path_view) {
  std::string path(path_view);
  AGENT_ASSIGN_OR_RETURN(json::Object obj, json::as_object(e, path));
  static constexpr std::array<std::string_view, 5> kKnown = {"id", "namespace", "description",
                                                              "labels", "tasks"};
  Flow flow;
  bool has_id = false, has_ns = false, has_tasks = false;
  for (auto field : obj) {
    std::string key(field.key);
    std::string fpath = join(path, key);
    if (!contains(kKnown, key)) return unknown_property(path, key, contains(kFlowNotYet, key));
    if (key == "id") {
      AGENT_ASSIGN_OR_RETURN(flow.id, json::as_string(field.value, fpath));
      if (!valid_id(flow.id, true)) {
        return invalid(fpath, "'" + flow.id + "' must match ^[a-zA-Z0-9][a-zA-Z0-9._-]*$");
      }
      has_id = true;
    } else if (key == "namespace") {
      AGENT_ASSIGN_OR_RETURN(flow.namespace_, json::as_string(field.value, fpath));
      if (!valid_namespace(flow.namespace_)) {
        return invalid(fpath, "'" + flow.namespace_ + "' must match ^[a-z0-9][a-z0-9._-]*$");
      }
      has_ns = true;
    } else if (key == "description") {
      AGENT_ASSIGN_OR_RETURN(flow.description, json::as_string(field.value, fpath));
    } else if (key == "labels") {
      AGENT_ASSIGN_OR_RETURN(flow.labels, parse_labels(field.value, fpath));
    } else if (key == "tasks") {
      simdjson::dom::array arr;
      if (field.value.get_array().get(arr) != simdjson::SUCCESS) {
        return json::type_error(fpath, "an array of tasks", field.value);
      }
      size_t i = 0;
      for (Element t : arr) {
        AGENT_ASSIGN_OR_RETURN(TaskDef task, parse_task(t, json::index(fpath, i++)));
        flow.tasks.push_back(std::move(task));
      }
      has_tasks = true;
    }
  }
  if (!has_id) return invalid(join(path, "id"), "required property missing");
  if (!has_ns) return invalid(join(path, "namespace"), "required property missing");
  if (!has_tasks || flow.tasks.empty()) {
    return invalid(join(path, "tasks"), "a flow needs at least one task");
  }
  AGENT_TRY(check_unique_task_ids(flow, path));
  return flow;
}

Result<Flow> parse_single_task(Element e, std::string namespace_, std::string_view path) {
  if (!valid_namespace(namespace_)) {
    return invalid("namespace", "'" + namespace_ + "' must match ^[a-z0-9][a-z0-9._-]*$");
  }
  AGENT_ASSIGN_OR_RETURN(TaskDef task, parse_task(e, std::string(path)));
  Flow flow;
  flow.id = task.id;
  flow.namespace_ = std::move(namespace_);
  flow.tasks.push_back(std::move(task));
  return flow;
}

}  // namespace agent::flow
