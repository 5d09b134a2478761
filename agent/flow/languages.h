// The one table of script languages: Kestra task types, the binary that runs a
// `Script` file, its extension, and the default container image. Adding a
// language is one row in languages.cc.
#pragma once

#include <span>
#include <string_view>

namespace agent::flow {

enum class ScriptKind { kCommands, kScript };

struct Language {
  std::string_view name;            // "shell", "python", "node"
  std::string_view commands_type;   // io.kestra.plugin.scripts.<x>.Commands
  std::string_view script_type;     // io.kestra.plugin.scripts.<x>.Script
  std::string_view binary;          // runs a Script file; empty: the script is inline (-c)
  std::string_view fallback_binary; // tried when `binary` is not on PATH ("python3")
  std::string_view extension;       // ".py"
  std::string_view default_image;   // Kestra's default containerImage
  bool python_env;                  // adds PYTHONUNBUFFERED and pip's quiet variables
  std::string_view lib_env;         // PYTHONPATH / NODE_PATH: where the `kestra` module is found
  std::string_view lib_subdir;      // its folder under the agent's scriptLibDir
  std::string_view label;           // "PowerShell": for docs
  // Kestra's default interpreter, space-separated; empty: ["/bin/sh", "-c"].
  std::string_view interpreter = {};
  // The fail-fast line (failFast: true); empty: "set -e".
  std::string_view fail_fast_line = {};
};

struct TaskTypeMatch {
  const Language* language;
  ScriptKind kind;
};

// Finds a task type in the table; nullptr language if it is not a script task.
TaskTypeMatch find_task_type(std::string_view type);

// Every language, in table order.
std::span<const Language> languages();

}  // namespace agent::flow
