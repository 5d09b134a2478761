#include "agent/flow/command_line.h"

#include <unistd.h>

#include <cstdlib>

namespace agent::flow {

bool binary_on_path(std::string_view name) {
  if (name.find('/') != std::string_view::npos) {
    return access(std::string(name).c_str(), X_OK) == 0;
  }
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    size_t colon = dirs.find(':');
    std::string candidate(dirs.substr(0, colon));
    if (candidate.empty()) candidate = ".";
    candidate += '/';
    candidate += name;
    if (access(candidate.c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) return false;
    dirs.remove_prefix(colon + 1);
  }
}

CommandLine build_command_line(const TaskDef& task, std::string_view working_dir,
                               std::string_view file_stem,
                               bool (*find_binary)(std::string_view name)) {
  CommandLine out;
  const Language& lang = *task.language;
  if (lang.python_env) {
    out.env = {{"PYTHONUNBUFFERED", "true"},
               {"PIP_ROOT_USER_ACTION", "ignore"},
               {"PIP_DISABLE_PIP_VERSION_CHECK", "1"}};
  }

  std::vector<std::string> commands;
  if (task.script_kind == ScriptKind::kCommands) {
    commands = task.commands;
  } else if (lang.binary.empty()) {
    commands.push_back(task.script);  // shell Script: inline, the last -c argument
  } else {
    ScriptFile file{std::string(file_stem) + std::string(lang.extension), task.script};
    std::string binary(lang.binary);
    if (!lang.fallback_binary.empty() && !find_binary(binary) &&
        find_binary(lang.fallback_binary)) {
      binary = lang.fallback_binary;
    }
    commands.push_back(binary + " " + std::string(working_dir) + "/" + file.name);
    out.script_file = std::move(file);
  }

  std::vector<std::string> interpreter;
  if (task.interpreter) {
    interpreter = *task.interpreter;
  } else if (!lang.interpreter.empty()) {
    std::string_view rest = lang.interpreter;  // the language's own, space-separated
    while (!rest.empty()) {
      size_t sp = rest.find(' ');
      interpreter.emplace_back(rest.substr(0, sp));
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp + 1);
    }
  } else {
    interpreter = {"/bin/sh", "-c"};
  }
  if (interpreter.empty() && task.before_commands.empty()) {
    out.argv = std::move(commands);
    return out;
  }

  // targetOS: WINDOWS joins with CRLF and has no `set -e` (Kestra writes an
  // empty line instead); AUTO is Linux on this agent.
  bool windows = task.target_os == TargetOs::kWindows;
  std::string script;
  bool first = true;
  auto add_line = [&](std::string_view line) {
    if (!first) {
      if (windows) script += '\r';
      script += '\n';
    }
    first = false;
    script += line;
  };
  bool markers = !task.before_commands.empty();
  if (markers) add_line("echo '" + std::string(kDebugMarker) + "'");
  std::string_view fail_fast = lang.fail_fast_line.empty() ? std::string_view("set -e") : lang.fail_fast_line;
  if (task.fail_fast) add_line(windows ? std::string_view() : fail_fast);
  for (const auto& c : task.before_commands) add_line(c);
  if (markers) add_line("echo '" + std::string(kInfoMarker) + "'");
  for (const auto& c : commands) add_line(c);

  out.argv = interpreter;
  out.argv.push_back(std::move(script));
  return out;
}

}  // namespace agent::flow
