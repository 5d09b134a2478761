// Compiles a validated flow object into the model of flow.h. Unknown and
// not-yet-supported properties were reported by the validator (validate.h);
// this file checks what only makes sense once values are read (a task needs
// commands, a Script task takes no commands, ...) and resolves legacy forms.
#include <algorithm>
#include <cctype>
#include <unordered_set>

#include "agent/common/time.h"
#include "agent/flow/flow.h"
#include "agent/flow/schema.h"
#include "agent/template/template.h"

namespace agent::flow {

namespace {

using json::Element;
using json::join;

constexpr std::string_view kProcessRunner = "io.kestra.plugin.core.runner.Process";
constexpr std::string_view kDockerRunner = "io.kestra.plugin.scripts.runner.docker.Docker";
constexpr std::string_view kWorkingDirectory = "io.kestra.plugin.core.flow.WorkingDirectory";
constexpr std::string_view kLog = "io.kestra.plugin.core.log.Log";
constexpr std::string_view kReturn = "io.kestra.plugin.core.debug.Return";
constexpr std::string_view kClone = "io.kestra.plugin.git.Clone";

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

bool has(json::Object obj, std::string_view key, Element& out) {
  return obj[key].get(out) == simdjson::SUCCESS;
}

// A string, or a list of strings (Log's message).
Result<std::vector<std::string>> string_or_list(Element e, const std::string& path) {
  if (e.is_string()) {
    AGENT_ASSIGN_OR_RETURN(std::string s, json::as_string(e, path));
    return std::vector<std::string>{std::move(s)};
  }
  return json::as_string_list(e, path);
}

Result<std::chrono::milliseconds> duration_value(Element e, const std::string& path) {
  AGENT_ASSIGN_OR_RETURN(std::string text, json::as_string(e, path));
  auto d = parse_duration(text);
  if (!d.ok()) return Error::invalid(path, d.error().message());
  return *d;
}

// workerGroup: {key, fallback}. The key follows Kestra's id pattern.
Status parse_worker_group(Element e, const std::string& path, TaskDef& task) {
  AGENT_ASSIGN_OR_RETURN(json::Object obj, json::as_object(e, path));
  Element v;
  if (!has(obj, "key", v)) return Error::invalid(join(path, "key"), "required property missing");
  AGENT_ASSIGN_OR_RETURN(task.worker_group, json::as_string(v, join(path, "key")));
  if (!valid_id(task.worker_group, false)) {
    return Error::invalid(join(path, "key"), "'" + task.worker_group + "' must match ^[a-zA-Z0-9][a-zA-Z0-9_-]*$");
  }
  for (auto field : obj) {
    std::string fpath = join(path, std::string(field.key));
    if (field.key == "fallback") {
      AGENT_ASSIGN_OR_RETURN(std::string f, json::as_string(field.value, fpath));
      if (f == "WAIT") {
        task.group_fallback = GroupFallback::kWait;
      } else if (f == "FAIL") {
        task.group_fallback = GroupFallback::kFail;
      } else if (f == "CANCEL") {
        task.group_fallback = GroupFallback::kCancel;
      } else {
        return Error::invalid(fpath, "expected WAIT, FAIL or CANCEL, found '" + f + "'");
      }
    } else if (field.key != "key") {
      return Error::invalid(fpath, "unknown property (workerGroup has key and fallback)");
    }
  }
  return {};
}

Status parse_timeout(Element e, const std::string& path, TaskDef& task) {
  AGENT_ASSIGN_OR_RETURN(std::string text, json::as_string(e, path));
  if (template_::has_template(text)) {
    task.timeout_template = std::move(text);
    return {};
  }
  AGENT_ASSIGN_OR_RETURN(task.timeout, duration_value(e, path));
  return {};
}

Status parse_task_runner(Element e, const std::string& path, TaskDef& task) {
  AGENT_ASSIGN_OR_RETURN(json::Object obj, json::as_object(e, path));
  Element type;
  if (!has(obj, "type", type)) return Error::invalid(join(path, "type"), "required property missing");
  AGENT_ASSIGN_OR_RETURN(task.runner_type, json::as_string(type, join(path, "type")));
  if (task.runner_type.empty()) return Error::invalid(join(path, "type"), "must not be empty");
  task.runner_json = json::to_json(e);
  return {};
}

// `runner: PROCESS|DOCKER` and `docker: {...}` (deprecated since Kestra 0.18).
Status parse_legacy_runner(json::Object obj, const std::string& path, TaskDef& task) {
  Element v;
  bool explicit_runner = !task.runner_type.empty();
  if (has(obj, "runner", v)) {
    std::string rpath = join(path, "runner");
    AGENT_ASSIGN_OR_RETURN(std::string runner, json::as_string(v, rpath));
    std::string_view type;
    if (runner == "PROCESS") {
      type = kProcessRunner;
    } else if (runner == "DOCKER") {
      type = kDockerRunner;
    } else {
      return Error::invalid(rpath, "expected PROCESS or DOCKER, found '" + runner + "'");
    }
    if (explicit_runner) {
      task.warnings.push_back("both 'taskRunner' and the deprecated 'runner' are set; "
                              "'taskRunner' wins");
    } else {
      task.runner_type = std::string(type);
      // core@0.21: a legacy runner turns the output directory on by default.
      task.output_directory = true;
      task.warnings.push_back("property 'runner: " + runner +
                              "' is deprecated; write 'taskRunner: {type: " + std::string(type) +
                              "}' instead");
    }
  }
  if (has(obj, "docker", v)) {
    std::string dpath = join(path, "docker");
    AGENT_ASSIGN_OR_RETURN(json::Object docker, json::as_object(v, dpath));
    Element image;
    std::string replacement = "containerImage";
    if (has(docker, "image", image)) {
      AGENT_ASSIGN_OR_RETURN(std::string img, json::as_string(image, join(dpath, "image")));
      if (task.container_image.empty()) task.container_image = std::move(img);
    }
    // The other Docker options become the Docker runner's properties when the
    // task runs on Docker and did not write its own taskRunner.
    bool on_docker = canonical_type(task.runner_type) == kDockerRunner;
    if (on_docker && !explicit_runner) {
      std::string runner = "{\"type\":\"" + std::string(kDockerRunner) + "\"";
      for (auto field : docker) {
        if (field.key == "image") continue;
        runner += ",\"" + std::string(field.key) + "\":" + json::to_json(field.value);
      }
      runner += "}";
      task.runner_json = std::move(runner);
      replacement += " and taskRunner properties";
    }
    task.warnings.push_back("property 'docker' is deprecated; write " + replacement +
                            " instead (docker.image is containerImage)");
  }
  return {};
}

Status parse_namespace_files(Element e, const std::string& path, NamespaceFilesDef& out) {
  AGENT_ASSIGN_OR_RETURN(json::Object obj, json::as_object(e, path));
  out.present = true;
  for (auto field : obj) {
    std::string key(field.key);
    std::string fpath = join(path, key);
    if (key == "enabled") {
      if (field.value.is_bool()) {
        AGENT_ASSIGN_OR_RETURN(bool b, json::as_bool(field.value, fpath));
        out.enabled = b ? "true" : "false";
      } else {
        AGENT_ASSIGN_OR_RETURN(out.enabled, json::as_string(field.value, fpath));
      }
    } else if (key == "include") {
      AGENT_ASSIGN_OR_RETURN(out.include, json::as_string_list(field.value, fpath));
    } else if (key == "exclude") {
      AGENT_ASSIGN_OR_RETURN(out.exclude, json::as_string_list(field.value, fpath));
    } else if (key == "namespaces") {
      AGENT_ASSIGN_OR_RETURN(out.namespaces, json::as_string_list(field.value, fpath));
    } else if (key == "ifExists") {
      AGENT_ASSIGN_OR_RETURN(out.if_exists, json::as_string(field.value, fpath));
      if (out.if_exists != "OVERWRITE" && out.if_exists != "FAIL" && out.if_exists != "WARN" &&
          out.if_exists != "IGNORE") {
        return Error::invalid(fpath, "expected OVERWRITE, FAIL, WARN or IGNORE, found '" +
                                  out.if_exists + "'");
      }
    } else if (key == "folderPerNamespace") {
      AGENT_ASSIGN_OR_RETURN(out.folder_per_namespace, json::as_bool(field.value, fpath));
    }
  }
  return {};
}

// inputFiles / outputFiles / namespaceFiles: script tasks and WorkingDirectory.
Status parse_file_props(json::Object obj, const std::string& path, TaskDef& task) {
  Element v;
  if (has(obj, "inputFiles", v)) {
    std::string fpath = join(path, "inputFiles");
    if (v.is_string()) {
      AGENT_ASSIGN_OR_RETURN(task.input_files_json, json::as_string(v, fpath));
    } else {
      AGENT_ASSIGN_OR_RETURN(json::Object files, json::as_object(v, fpath));
      for (auto field : files) {
        if (field.value.is_null()) continue;  // Kestra drops null values
        AGENT_ASSIGN_OR_RETURN(std::string content,
                               json::as_string(field.value, join(fpath, field.key)));
        task.input_files.emplace_back(std::string(field.key), std::move(content));
      }
    }
  }
  if (has(obj, "outputFiles", v)) {
    AGENT_ASSIGN_OR_RETURN(task.output_files, json::as_string_list(v, join(path, "outputFiles")));
  }
  if (has(obj, "namespaceFiles", v)) {
    AGENT_TRY(parse_namespace_files(v, join(path, "namespaceFiles"), task.namespace_files));
  }
  return {};
}

Status parse_script_task(json::Object obj, const std::string& path, TaskDef& task) {
  Element v;
  if (has(obj, "taskRunner", v)) AGENT_TRY(parse_task_runner(v, join(path, "taskRunner"), task));
  if (has(obj, "containerImage", v)) {
    AGENT_ASSIGN_OR_RETURN(task.container_image,
                           json::as_string(v, join(path, "containerImage")));
  }
  AGENT_TRY(parse_legacy_runner(obj, path, task));
  for (auto field : obj) {
    std::string key(field.key);
    std::string fpath = join(path, key);
    if (key == "commands") {
      if (task.script_kind != ScriptKind::kCommands) {
        return Error::invalid(fpath, "a Script task takes 'script', not 'commands'");
      }
      AGENT_ASSIGN_OR_RETURN(task.commands, json::as_string_list(field.value, fpath));
    } else if (key == "script") {
      if (task.script_kind != ScriptKind::kScript) {
        return Error::invalid(fpath, "a Commands task takes 'commands', not 'script'");
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
          return Error::invalid(join(fpath, name), "an environment variable name must be non-empty "
                                            "and contain no '='");
        }
      }
    } else if (key == "targetOS") {
      AGENT_ASSIGN_OR_RETURN(std::string os, json::as_string(field.value, fpath));
      if (os == "LINUX") {
        task.target_os = TargetOs::kLinux;
      } else if (os == "WINDOWS") {
        task.target_os = TargetOs::kWindows;
      } else if (os == "AUTO") {
        task.target_os = TargetOs::kAuto;
      } else {
        return Error::invalid(fpath, "expected LINUX, WINDOWS or AUTO, found '" + os + "'");
      }
    } else if (key == "outputDirectory") {
      AGENT_ASSIGN_OR_RETURN(task.output_directory, json::as_bool(field.value, fpath));
    } else if (key == "warningOnStdErr") {
      AGENT_TRY(json::as_bool(field.value, fpath));
      task.warnings.push_back("property 'warningOnStdErr' has no effect since Kestra 0.23; "
                              "remove it");
    }
  }
  AGENT_TRY(parse_file_props(obj, path, task));
  if (task.script_kind == ScriptKind::kCommands) {
    if (!has(obj, "commands", v)) return Error::invalid(join(path, "commands"), "required property missing");
    if (task.commands.empty()) {
      return Error::invalid(join(path, "commands"), "must contain at least one command");
    }
  } else if (task.script.empty()) {
    return Error::invalid(join(path, "script"),
                   has(obj, "script", v) ? "must not be empty" : "required property missing");
  }
  if (task.interpreter && task.interpreter->empty() && !task.before_commands.empty()) {
    return Error::invalid(join(path, "interpreter"),
                   "an empty interpreter runs commands as argv and cannot run beforeCommands");
  }
  if (task.container_image.empty()) task.container_image = task.language->default_image;
  return {};
}

Result<std::vector<TaskDef>> parse_task_list(Element e, const std::string& path);

Result<TaskDef> parse_task(Element e, const std::string& path) {
  AGENT_ASSIGN_OR_RETURN(json::Object obj, json::as_object(e, path));
  TaskDef task;
  Element v;
  if (!has(obj, "id", v)) return Error::invalid(join(path, "id"), "required property missing");
  AGENT_ASSIGN_OR_RETURN(task.id, json::as_string(v, join(path, "id")));
  if (!valid_id(task.id, false)) {
    return Error::invalid(join(path, "id"), "'" + task.id + "' must match ^[a-zA-Z0-9][a-zA-Z0-9_-]*$");
  }
  if (!has(obj, "type", v)) return Error::invalid(join(path, "type"), "required property missing");
  AGENT_ASSIGN_OR_RETURN(task.type, json::as_string(v, join(path, "type")));
  task.canonical_type = canonical_type(task.type);
  if (task.canonical_type != task.type) {
    task.warnings.push_back("task type '" + task.type + "' is deprecated; use '" +
                            task.canonical_type + "' instead");
  }

  // Base Task properties.
  for (auto field : obj) {
    std::string key(field.key);
    std::string fpath = join(path, key);
    if (key == "description") {
      AGENT_ASSIGN_OR_RETURN(task.description, json::as_string(field.value, fpath));
    } else if (key == "timeout") {
      AGENT_TRY(parse_timeout(field.value, fpath, task));
    } else if (key == "retry") {
      AGENT_ASSIGN_OR_RETURN(task.retry, parse_retry(field.value, fpath, &task.warnings));
    } else if (key == "disabled") {
      AGENT_ASSIGN_OR_RETURN(task.disabled, json::as_bool(field.value, fpath));
    } else if (key == "allowFailure") {
      AGENT_ASSIGN_OR_RETURN(task.allow_failure, json::as_bool(field.value, fpath));
    } else if (key == "allowWarning") {
      AGENT_ASSIGN_OR_RETURN(task.allow_warning, json::as_bool(field.value, fpath));
    } else if (key == "workerGroup") {
      AGENT_TRY(parse_worker_group(field.value, fpath, task));
    }
  }

  const std::string& type = task.canonical_type;
  TaskTypeMatch match = find_task_type(type);
  if (match.language != nullptr) {
    task.kind = TaskKind::kScript;
    task.language = match.language;
    task.script_kind = match.kind;
    AGENT_TRY(parse_script_task(obj, path, task));
  } else if (type == kWorkingDirectory) {
    task.kind = TaskKind::kWorkingDirectory;
    if (!has(obj, "tasks", v)) return Error::invalid(join(path, "tasks"), "required property missing");
    AGENT_ASSIGN_OR_RETURN(task.tasks, parse_task_list(v, join(path, "tasks")));
    if (task.tasks.empty()) return Error::invalid(join(path, "tasks"), "needs at least one task");
    if (has(obj, "errors", v)) {
      AGENT_ASSIGN_OR_RETURN(task.errors, parse_task_list(v, join(path, "errors")));
    }
    AGENT_TRY(parse_file_props(obj, path, task));
  } else if (type == kLog) {
    task.kind = TaskKind::kLog;
    if (!has(obj, "message", v)) return Error::invalid(join(path, "message"), "required property missing");
    AGENT_ASSIGN_OR_RETURN(task.messages, string_or_list(v, join(path, "message")));
    if (has(obj, "level", v)) {
      AGENT_ASSIGN_OR_RETURN(task.level, json::as_string(v, join(path, "level")));
      static constexpr std::string_view kLevels[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR"};
      if (std::find(std::begin(kLevels), std::end(kLevels), task.level) == std::end(kLevels)) {
        return Error::invalid(join(path, "level"),
                       "expected TRACE, DEBUG, INFO, WARN or ERROR, found '" + task.level + "'");
      }
    }
  } else if (type == kReturn) {
    task.kind = TaskKind::kReturn;
    if (has(obj, "format", v)) {
      AGENT_ASSIGN_OR_RETURN(task.format, json::as_string(v, join(path, "format")));
    }
  } else if (type == kClone) {
    task.kind = TaskKind::kClone;
    if (!has(obj, "url", v)) return Error::invalid(join(path, "url"), "required property missing");
    AGENT_ASSIGN_OR_RETURN(task.url, json::as_string(v, join(path, "url")));
    if (has(obj, "branch", v)) {
      AGENT_ASSIGN_OR_RETURN(task.branch, json::as_string(v, join(path, "branch")));
    }
    if (has(obj, "directory", v)) {
      AGENT_ASSIGN_OR_RETURN(task.directory, json::as_string(v, join(path, "directory")));
    }
    if (has(obj, "depth", v)) {
      AGENT_ASSIGN_OR_RETURN(int64_t depth, json::as_int(v, join(path, "depth")));
      if (depth < 1) return Error::invalid(join(path, "depth"), "must be at least 1");
      task.depth = static_cast<int>(std::min<int64_t>(depth, 1 << 30));
    }
    task.runner_type = std::string(kProcessRunner);  // Clone runs git on the agent's host
  } else {
    return Error::invalid(join(path, "type"),
                   "task type '" + task.type + "' is not supported by runnerd (see "
                   "`runnerctl schema` for the supported types)");
  }
  return task;
}

Result<std::vector<TaskDef>> parse_task_list(Element e, const std::string& path) {
  simdjson::dom::array arr;
  if (e.get_array().get(arr) != simdjson::SUCCESS) {
    return json::type_error(path, "an array of tasks", e);
  }
  std::vector<TaskDef> out;
  size_t i = 0;
  for (Element t : arr) {
    AGENT_ASSIGN_OR_RETURN(TaskDef task, parse_task(t, json::index(path, i++)));
    out.push_back(std::move(task));
  }
  return out;
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
    if (!has(o, "key", k) || !has(o, "value", v)) {
      return Error::invalid(ipath, "a label needs 'key' and 'value'");
    }
    AGENT_ASSIGN_OR_RETURN(std::string key, json::as_string(k, join(ipath, "key")));
    AGENT_ASSIGN_OR_RETURN(std::string value, json::as_string(v, join(ipath, "value")));
    out.emplace_back(std::move(key), std::move(value));
  }
  return out;
}

// Task ids are unique across the whole flow, nested tasks and errors included.
Status check_unique_task_ids(const Flow& flow, const std::string& path) {
  std::unordered_set<std::string_view> seen;
  std::string duplicate;
  auto visit = [&](const TaskDef& t) {
    if (duplicate.empty() && !seen.insert(t.id).second) duplicate = t.id;
  };
  for_each_task(flow.tasks, visit);
  for_each_task(flow.errors, visit);
  if (!duplicate.empty()) {
    return Error::invalid(join(path, "tasks"), "duplicate task id '" + duplicate + "'");
  }
  return {};
}

}  // namespace

Result<Flow> compile_flow(Element e, std::string_view path_view) {
  std::string path(path_view);
  AGENT_ASSIGN_OR_RETURN(json::Object obj, json::as_object(e, path));
  Flow flow;
  Element v;
  if (!has(obj, "id", v)) return Error::invalid(join(path, "id"), "required property missing");
  AGENT_ASSIGN_OR_RETURN(flow.id, json::as_string(v, join(path, "id")));
  if (!valid_id(flow.id, true)) {
    return Error::invalid(join(path, "id"), "'" + flow.id + "' must match ^[a-zA-Z0-9][a-zA-Z0-9._-]*$");
  }
  if (!has(obj, "namespace", v)) {
    return Error::invalid(join(path, "namespace"), "required property missing");
  }
  AGENT_ASSIGN_OR_RETURN(flow.namespace_, json::as_string(v, join(path, "namespace")));
  if (!valid_namespace(flow.namespace_)) {
    return Error::invalid(join(path, "namespace"),
                   "'" + flow.namespace_ + "' must match ^[a-z0-9][a-z0-9._-]*$");
  }
  if (has(obj, "disabled", v)) {
    AGENT_ASSIGN_OR_RETURN(bool disabled, json::as_bool(v, join(path, "disabled")));
    if (disabled) return Error::invalid(join(path, "disabled"), "the flow is disabled");
  }
  if (has(obj, "description", v)) {
    AGENT_ASSIGN_OR_RETURN(flow.description, json::as_string(v, join(path, "description")));
  }
  if (has(obj, "labels", v)) {
    AGENT_ASSIGN_OR_RETURN(flow.labels, parse_labels(v, join(path, "labels")));
  }
  if (has(obj, "variables", v)) {
    if (!v.is_object()) return json::type_error(join(path, "variables"), "a map", v);
    AGENT_ASSIGN_OR_RETURN(flow.variables, template_::from_json(v));
  }
  if (has(obj, "inputs", v)) {
    AGENT_ASSIGN_OR_RETURN(flow.inputs, parse_inputs(v, join(path, "inputs"), &flow.warnings));
  }
  if (!has(obj, "tasks", v)) return Error::invalid(join(path, "tasks"), "a flow needs at least one task");
  AGENT_ASSIGN_OR_RETURN(flow.tasks, parse_task_list(v, join(path, "tasks")));
  if (flow.tasks.empty()) return Error::invalid(join(path, "tasks"), "a flow needs at least one task");
  if (has(obj, "errors", v)) {
    AGENT_ASSIGN_OR_RETURN(flow.errors, parse_task_list(v, join(path, "errors")));
  }
  AGENT_TRY(check_unique_task_ids(flow, path));
  return flow;
}

Result<Flow> compile_single_task(Element e, std::string namespace_, std::string_view path) {
  if (!valid_namespace(namespace_)) {
    return Error::invalid("namespace", "'" + namespace_ + "' must match ^[a-z0-9][a-z0-9._-]*$");
  }
  AGENT_ASSIGN_OR_RETURN(TaskDef task, parse_task(e, std::string(path)));
  Flow flow;
  flow.id = task.id;
  flow.namespace_ = std::move(namespace_);
  flow.tasks.push_back(std::move(task));
  return flow;
}

}  // namespace agent::flow
