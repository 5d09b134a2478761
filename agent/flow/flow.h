// The flow model: what a submission asks for, validated and compiled before
// anything runs. Properties that Kestra renders at run time (commands, env,
// inputFiles, outputFiles, ...) are kept as written, template text included;
// the supervisor renders them when the task starts, with the run's variables.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/common/result.h"
#include "agent/flow/inputs.h"
#include "agent/flow/languages.h"
#include "agent/flow/retry.h"
#include "agent/json/read.h"
#include "agent/template/value.h"

namespace agent::flow {

using StringPairs = std::vector<std::pair<std::string, std::string>>;

// What a task does. Script tasks and Clone run as processes on a runner; the
// others run inside the agent.
enum class TaskKind { kScript, kWorkingDirectory, kLog, kReturn, kClone };

enum class TargetOs { kAuto, kLinux, kWindows };

// workerGroup.fallback: what a task whose group this agent does not serve
// does (Kestra EE; WAIT since 0.20).
enum class GroupFallback { kWait, kFail, kCancel };

struct NamespaceFilesDef {
  bool present = false;
  std::string enabled = "true";            // may be a template
  std::vector<std::string> include, exclude;
  std::vector<std::string> namespaces;     // empty: the flow's namespace
  std::string if_exists = "OVERWRITE";
  bool folder_per_namespace = false;
};

struct TaskDef {
  std::string id;
  std::string type;            // as written
  std::string canonical_type;  // the current Kestra name
  std::string description;
  TaskKind kind = TaskKind::kScript;

  // Base Task properties.
  std::optional<std::chrono::milliseconds> timeout;
  std::string timeout_template;  // a templated timeout, rendered at start
  std::optional<RetryPolicy> retry;
  bool disabled = false;
  bool allow_failure = false;
  bool allow_warning = false;
  // workerGroup: the group of the agent that runs it; empty: the default group.
  std::string worker_group;
  GroupFallback group_fallback = GroupFallback::kWait;

  // Script tasks.
  const Language* language = nullptr;
  ScriptKind script_kind = ScriptKind::kCommands;
  std::vector<std::string> commands;          // Commands tasks
  std::string script;                         // Script tasks
  std::vector<std::string> before_commands;
  std::optional<std::vector<std::string>> interpreter;  // unset: the language's default
  bool fail_fast = true;
  StringPairs env;
  std::string runner_type;   // taskRunner.type as written; empty: the agent's default
  std::string runner_json;   // the whole taskRunner object, for the runner's own properties
  std::string container_image;
  TargetOs target_os = TargetOs::kAuto;
  bool output_directory = false;
  // inputFiles: a map, or one string that renders to a JSON map.
  StringPairs input_files;
  std::string input_files_json;
  std::vector<std::string> output_files;
  NamespaceFilesDef namespace_files;

  // Log: message lines and level; Return: format.
  std::vector<std::string> messages;
  std::string level = "INFO";
  std::string format;

  // Clone.
  std::string url, branch, directory;
  int depth = 1;

  // WorkingDirectory: the tasks that share one directory, and its error branch.
  std::vector<TaskDef> tasks;
  std::vector<TaskDef> errors;

  std::vector<std::string> warnings;  // deprecations, logged with the task

  bool runs_on_runner() const { return kind == TaskKind::kScript || kind == TaskKind::kClone; }
};

struct Flow {
  std::string id;
  std::string namespace_;
  std::string description;
  StringPairs labels;
  template_::Value variables;  // a map, or null
  std::vector<InputDef> inputs;
  std::vector<TaskDef> tasks;
  std::vector<TaskDef> errors;
  std::vector<std::string> warnings;  // flow-level deprecations (taskDefaults, ...)
};

// Compiles a flow object that passed validation (validate.h) after plugin
// defaults were applied. `path` prefixes error paths ("flow").
Result<Flow> compile_flow(json::Element flow, std::string_view path);
// A single task submitted on its own: a flow of one task whose id is the task's.
Result<Flow> compile_single_task(json::Element task, std::string namespace_,
                                 std::string_view path);

// Every task of a list, depth first (WorkingDirectory children and errors too).
template <typename F>
void for_each_task(const std::vector<TaskDef>& tasks, F&& f) {
  for (const TaskDef& t : tasks) {
    f(t);
    for_each_task(t.tasks, f);
    for_each_task(t.errors, f);
  }
}

}  // namespace agent::flow
