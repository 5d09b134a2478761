#include "agent/flow/command_line.h"

#include <gtest/gtest.h>

namespace {

using agent::flow::build_command_line;
using agent::flow::ScriptKind;
using agent::flow::TaskDef;

bool has_python(std::string_view name) { return name == "python"; }
bool only_python3(std::string_view name) { return name == "python3"; }

TaskDef shell(std::vector<std::string> commands) {
  TaskDef t;
  t.language = agent::flow::find_task_type("io.kestra.plugin.scripts.shell.Commands").language;
  t.commands = std::move(commands);
  return t;
}

TEST(CommandLine, CommandsJoinUnderSetE) {
  auto c = build_command_line(shell({"a", "b"}), "/wd", "s", has_python);
  EXPECT_EQ(c.argv, (std::vector<std::string>{"/bin/sh", "-c", "set -e\na\nb"}));
  EXPECT_FALSE(c.script_file);
}

TEST(CommandLine, BeforeCommandsSitBetweenTheDebugMarkers) {
  TaskDef t = shell({"a", "b"});
  t.before_commands = {"pip install x"};
  auto c = build_command_line(t, "/wd", "s", has_python);
  EXPECT_EQ(c.argv[2],
            "echo '##kestra:log:debug##'\nset -e\npip install x\necho '##kestra:log:info##'\na\nb");
}

TEST(CommandLine, FailFastOffAndCustomInterpreter) {
  TaskDef t = shell({"a"});
  t.fail_fast = false;
  t.interpreter = std::vector<std::string>{"/bin/bash", "-o", "pipefail", "-c"};
  auto c = build_command_line(t, "/wd", "s", has_python);
  EXPECT_EQ(c.argv, (std::vector<std::string>{"/bin/bash", "-o", "pipefail", "-c", "a"}));
}

TEST(CommandLine, EmptyInterpreterRunsCommandsAsArgv) {
  TaskDef t = shell({"/bin/echo", "hello world"});
  t.interpreter = std::vector<std::string>{};
  auto c = build_command_line(t, "/wd", "s", has_python);
  EXPECT_EQ(c.argv, (std::vector<std::string>{"/bin/echo", "hello world"}));
}

TEST(CommandLine, ShellScriptIsInline) {
  TaskDef t;
  t.language = agent::flow::find_task_type("io.kestra.plugin.scripts.shell.Script").language;
  t.script_kind = ScriptKind::kScript;
  t.script = "echo 1\necho 2";
  auto c = build_command_line(t, "/wd", "s", has_python);
  EXPECT_EQ(c.argv[2], "set -e\necho 1\necho 2");
}

TEST(CommandLine, PythonScriptIsAFileRunByPythonWithItsEnv) {
  TaskDef t;
  t.language = agent::flow::find_task_type("io.kestra.plugin.scripts.python.Script").language;
  t.script_kind = ScriptKind::kScript;
  t.script = "print(1)";
  auto c = build_command_line(t, "/wd", "abc", has_python);
  ASSERT_TRUE(c.script_file);
  EXPECT_EQ(c.script_file->name, "abc.py");
  EXPECT_EQ(c.script_file->content, "print(1)");
  EXPECT_EQ(c.argv[2], "set -e\npython /wd/abc.py");
  ASSERT_EQ(c.env.size(), 3u);
  EXPECT_EQ(c.env[0], (std::pair<std::string, std::string>{"PYTHONUNBUFFERED", "true"}));
  // Debian has no `python` unless python-is-python3 is installed.
  auto d = build_command_line(t, "/wd", "abc", only_python3);
  EXPECT_EQ(d.argv[2], "set -e\npython3 /wd/abc.py");
}

}  // namespace
