#include "agent/flow/languages.h"

#include <array>

namespace agent::flow {

namespace {

// Defaults from Kestra's plugin-scripts (reference §2.2).
constexpr std::array kLanguages = {
    Language{"shell", "io.kestra.plugin.scripts.shell.Commands",
             "io.kestra.plugin.scripts.shell.Script", "", "", ".sh", "ubuntu", false, "", ""},
    Language{"python", "io.kestra.plugin.scripts.python.Commands",
             "io.kestra.plugin.scripts.python.Script", "python", "python3", ".py",
             "python:3.13-slim", true, "PYTHONPATH", "python"},
    Language{"node", "io.kestra.plugin.scripts.node.Commands",
             "io.kestra.plugin.scripts.node.Script", "node", "nodejs", ".js", "node", false,
             "NODE_PATH", "node"},
};

}  // namespace

TaskTypeMatch find_task_type(std::string_view type) {
  for (const Language& lang : kLanguages) {
    if (type == lang.commands_type) return {&lang, ScriptKind::kCommands};
    if (type == lang.script_type) return {&lang, ScriptKind::kScript};
  }
  return {nullptr, ScriptKind::kCommands};
}

}  // namespace agent::flow
