#include "agent/flow/languages.h"

#include <array>

namespace agent::flow {

namespace {

// Defaults from Kestra's plugin-scripts (reference §2.2).
constexpr std::array kLanguages = {
    // name, Commands type, Script type, Script binary, fallback, extension,
    // default containerImage, Python env, library env, library folder, label.
    Language{"shell", "io.kestra.plugin.scripts.shell.Commands",
             "io.kestra.plugin.scripts.shell.Script", "", "", ".sh", "ubuntu", false, "", "",
             "Shell"},
    Language{"python", "io.kestra.plugin.scripts.python.Commands",
             "io.kestra.plugin.scripts.python.Script", "python", "python3", ".py",
             "python:3.13-slim", true, "PYTHONPATH", "python", "Python"},
    Language{"node", "io.kestra.plugin.scripts.node.Commands",
             "io.kestra.plugin.scripts.node.Script", "node", "nodejs", ".js", "node", false,
             "NODE_PATH", "node", "Node.js"},
    Language{"r", "io.kestra.plugin.scripts.r.Commands", "io.kestra.plugin.scripts.r.Script",
             "Rscript", "", ".R", "r-base", false, "", "", "R"},
    Language{"julia", "io.kestra.plugin.scripts.julia.Commands",
             "io.kestra.plugin.scripts.julia.Script", "julia", "", ".jl", "julia", false, "", "",
             "Julia"},
    Language{"ruby", "io.kestra.plugin.scripts.ruby.Commands",
             "io.kestra.plugin.scripts.ruby.Script", "ruby", "", ".rb", "ruby", false, "", "",
             "Ruby"},
    Language{"powershell", "io.kestra.plugin.scripts.powershell.Commands",
             "io.kestra.plugin.scripts.powershell.Script", "pwsh -File", "", ".ps1",
             "ghcr.io/kestra-io/powershell:latest", false, "", "", "PowerShell",
             "pwsh -NoProfile -NonInteractive -Command", "$ErrorActionPreference = 'Stop'"},
    Language{"go", "io.kestra.plugin.scripts.go.Commands", "io.kestra.plugin.scripts.go.Script",
             "go run", "", ".go", "golang", false, "", "", "Go"},
    Language{"deno", "io.kestra.plugin.scripts.deno.Commands",
             "io.kestra.plugin.scripts.deno.Script", "deno run -A", "", ".ts", "denoland/deno",
             false, "", "", "Deno"},
    Language{"lua", "io.kestra.plugin.scripts.lua.Commands", "io.kestra.plugin.scripts.lua.Script",
             "lua", "", ".lua", "nickblah/lua", false, "", "", "Lua"},
    Language{"bun", "io.kestra.plugin.scripts.bun.Commands", "io.kestra.plugin.scripts.bun.Script",
             "bun run", "", ".ts", "oven/bun", false, "", "", "Bun"},
    Language{"php", "io.kestra.plugin.scripts.php.Commands", "io.kestra.plugin.scripts.php.Script",
             "php", "", ".php", "php", false, "", "", "PHP"},
    Language{"perl", "io.kestra.plugin.scripts.perl.Commands",
             "io.kestra.plugin.scripts.perl.Script", "perl", "", ".pl", "perl", false, "", "",
             "Perl"},
    Language{"groovy", "io.kestra.plugin.scripts.groovy.Commands",
             "io.kestra.plugin.scripts.groovy.Script", "groovy", "", ".groovy", "groovy", false,
             "", "", "Groovy"},
};

}  // namespace

std::span<const Language> languages() { return kLanguages; }

TaskTypeMatch find_task_type(std::string_view type) {
  for (const Language& lang : kLanguages) {
    if (type == lang.commands_type) return {&lang, ScriptKind::kCommands};
    if (type == lang.script_type) return {&lang, ScriptKind::kScript};
  }
  return {nullptr, ScriptKind::kCommands};
}

}  // namespace agent::flow
