// Kestra's command line for a script task (reference §1.2 step 8):
//   interpreter + [ join(["set -e"]? + beforeCommands + commands, "\n") ]
// with beforeCommands wrapped between the `##kestra:log:debug##` and
// `##kestra:log:info##` marker echoes so that their output logs at DEBUG.
// An explicitly empty interpreter with no beforeCommands runs `commands`
// verbatim as argv (no shell at all).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/flow/flow.h"

namespace agent::flow {

inline constexpr std::string_view kDebugMarker = "##kestra:log:debug##";
inline constexpr std::string_view kInfoMarker = "##kestra:log:info##";

struct ScriptFile {
  std::string name;     // relative to the working directory
  std::string content;
};

struct CommandLine {
  std::vector<std::string> argv;
  std::optional<ScriptFile> script_file;  // to write before starting (Script tasks)
  StringPairs env;                        // the language's own variables (Python's)
};

// `working_dir` is absolute; `file_stem` names the Script file ("<stem>.py").
// `find_binary` says whether a program is on PATH (used to fall back from
// `python` to `python3` where Debian has no `python`).
CommandLine build_command_line(const TaskDef& task, std::string_view working_dir,
                               std::string_view file_stem,
                               bool (*find_binary)(std::string_view name));

// Default PATH lookup for build_command_line.
bool binary_on_path(std::string_view name);

}  // namespace agent::flow
