// The flow model: what a submission asks for, validated, before anything runs.
// This flow is `id`, `namespace`, `description`, `labels` and a
// sequential list of script tasks; parse errors name the property path.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/common/result.h"
#include "agent/flow/languages.h"
#include "agent/json/read.h"

namespace agent::flow {

using StringPairs = std::vector<std::pair<std::string, std::string>>;

struct TaskDef {
  std::string id;
  std::string type;
  std::string description;
  const Language* language = nullptr;
  ScriptKind kind = ScriptKind::kCommands;
  std::vector<std::string> commands;          // Commands tasks
  std::string script;                         // Script tasks
  std::vector<std::string> before_commands;
  std::optional<std::vector<std::string>> interpreter;  // unset: ["/bin/sh", "-c"]
  bool fail_fast = true;
  StringPairs env;
  std::optional<std::chrono::milliseconds> timeout;
  std::string runner_type;   // taskRunner.type as written; empty: the agent's default
  std::string runner_json;   // the whole taskRunner object, for the runner's own properties
  std::string container_image;
  std::vector<std::string> warnings;  // deprecations, logged with the task
};

struct Flow {
  std::string id;
  std::string namespace_;
  std::string description;
  StringPairs labels;
  std::vector<TaskDef> tasks;
};

// Parses and validates a flow object. `path` prefixes error paths ("flow").
Result<Flow> parse_flow(json::Element flow, std::string_view path);
// A single task submitted on its own: a flow of one task whose id is the task's.
Result<Flow> parse_single_task(json::Element task, std::string namespace_,
                               std::string_view path);

}  // namespace agent::flow
