#include "agent/cli/args.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace agent::cli {

namespace {

constexpr OptionSpec kJson{"json", 0, OptionKind::kFlag, "", "print the agent's JSON as is"};

const std::vector<CommandSpec> kCommands = {
    {"run",
     "[-d] [--json] [--namespace NS] [--input NAME=VALUE]... FLOW.yaml|FLOW.json",
     "submit a flow (or a single task) and follow its logs",
     "The file is YAML or JSON. A document with 'tasks' is a flow; one with a 'type'\n"
     "and no 'tasks' is a single task, run as a flow of its own.\n"
     "Exits 0 if the execution ends SUCCESS or WARNING, 1 if FAILED, 2 if KILLED,\n"
     "3 on any other error. Ctrl-C cancels the execution and waits for it to end;\n"
     "a second Ctrl-C leaves at once (the execution carries on being cancelled).",
     {{"detach", 'd', OptionKind::kFlag, "", "print the execution id and return at once"},
      {"json", 0, OptionKind::kFlag, "",
       "print the agent's messages as JSON lines instead of text"},
      {"namespace", 0, OptionKind::kString, "NS", "namespace for a single task"},
      {"input", 'i', OptionKind::kList, "NAME=VALUE",
       "a flow input (repeatable); NAME=@PATH uploads a file for a FILE input"}},
     1,
     1},
    {"ps",
     "[--json] [-t] [-n N] [--state STATE]",
     "list executions, newest first",
     "",
     {kJson,
      {"tasks", 't', OptionKind::kFlag, "", "show the task runs of each execution"},
      {"limit", 'n', OptionKind::kInt, "N", "show at most N executions (0: all; default 100)"},
      {"state", 0, OptionKind::kString, "STATE",
       "only executions in STATE (CREATED, RUNNING, SUCCESS, FAILED, ...)"}},
     0,
     0},
    {"logs",
     "[-f] [--json] [--task TASKRUN_ID] [--from N] EXEC_ID",
     "print the logs of an execution",
     "With -f, follows new lines until the execution ends and exits by its final\n"
     "state, as 'run' does.",
     {{"follow", 'f', OptionKind::kFlag, "", "follow until the execution ends"},
      {"json", 0, OptionKind::kFlag, "", "print the agent's events as JSON lines"},
      {"task", 0, OptionKind::kString, "TASKRUN_ID", "only the log of one task run"},
      {"from", 0, OptionKind::kInt, "N", "start at line N of the task run's log"}},
     1,
     1},
    {"outputs",
     "[--json] EXEC_ID",
     "show what the tasks of an execution produced: vars, metrics, files",
     "",
     {kJson},
     1,
     1},
    {"get", "[--json] EXEC_ID", "show an execution and its task runs", "", {kJson}, 1, 1},
    {"cancel",
     "[--no-wait] EXEC_ID",
     "cancel an execution and wait for it to end",
     "Tasks not started are never started; running ones get SIGTERM, then SIGKILL\n"
     "after the agent's grace period.",
     {{"no-wait", 0, OptionKind::kFlag, "", "return once the cancel is accepted"}},
     1,
     1},
    {"files",
     "[--json] EXEC_ID [TASK_ID]",
     "list the output files of an execution (kestra:// URIs)",
     "Prints one line per file: task id, key (the path relative to the task's\n"
     "working directory) and URI. 'runnerctl cat URI' prints a file.",
     {kJson},
     1,
     2},
    {"cat",
     "[-o FILE] URI",
     "print a file of the agent's storage (a kestra:// URI)",
     "",
     {{"output", 'o', OptionKind::kString, "FILE", "write to FILE instead of stdout"}},
     1,
     1},
    {"validate",
     "[--config FILE] FLOW.yaml...",
     "check flows without running them: every problem, with its line",
     "Runs the agent's checks locally: plugin defaults (the flow's, and the agent's\n"
     "when --config names its configuration), the schema of every task and runner\n"
     "type, and the compilation. Exits 0 when every flow is valid, 1 otherwise.",
     {{"config", 0, OptionKind::kString, "FILE", "the agent's configuration, for its pluginDefaults"}},
     1,
     64},
    {"schema",
     "[--json-schema] [TYPE|flow]",
     "document the task and runner types runnerd knows",
     "Without TYPE: every type with its status. With TYPE (a current or legacy name):\n"
     "its properties. --json-schema writes a JSON Schema of a whole flow, for a YAML\n"
     "language server (e.g. '# yaml-language-server: $schema=flow.schema.json').",
     {{"json-schema", 0, OptionKind::kFlag, "", "write the JSON Schema of a flow"}},
     0,
     1},
    {"stats",
     "[--json] [--prometheus]",
     "show the agent's counters",
     "--prometheus prints the Prometheus text exposition, the same as the agent's\n"
     "GET /metrics (etc/runnerd.yaml, metrics.listen) serves.",
     {kJson,
      {"prometheus", 0, OptionKind::kFlag, "",
       "print the metrics in Prometheus text format (as GET /metrics serves them)"}},
     0,
     0},
    {"hello", "[--json]", "check the connection: protocol and agent versions", "", {kJson}, 0, 0},
    {"help", "[COMMAND]", "show help for a command", "", {}, 0, 1},
};

Error usage_error(std::string_view command, std::string message) {
  std::string msg;
  if (!command.empty()) {
    msg += command;
    msg += ": ";
  }
  msg += message;
  msg += " (see 'runnerctl ";
  if (!command.empty()) {
    msg += command;
    msg += ' ';
  }
  msg += "--help')";
  return Error(Errc::kInvalidArgument, std::move(msg));
}

bool parse_int(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

const OptionSpec* find_option(const CommandSpec* cmd, std::string_view name, char short_name) {
  if (cmd == nullptr) return nullptr;
  for (const OptionSpec& o : cmd->options) {
    if ((!name.empty() && o.name == name) || (short_name != 0 && o.short_name == short_name)) {
      return &o;
    }
  }
  return nullptr;
}

std::string option_label(const OptionSpec& o) {
  std::string s = o.short_name != 0 ? std::string("-") + o.short_name + ", " : "    ";
  s += "--";
  s += o.name;
  if (o.kind != OptionKind::kFlag) {
    s += ' ';
    s += o.value_name;
  }
  return s;
}

}  // namespace

const std::vector<CommandSpec>& commands() { return kCommands; }

const CommandSpec* find_command(std::string_view name) {
  for (const CommandSpec& c : kCommands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::optional<std::string> Invocation::value(std::string_view name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

std::optional<int64_t> Invocation::int_value(std::string_view name) const {
  auto v = value(name);
  int64_t out = 0;
  if (!v || !parse_int(*v, out)) return std::nullopt;
  return out;
}

std::vector<std::string> Invocation::values(std::string_view name) const {
  auto it = lists.find(name);
  return it == lists.end() ? std::vector<std::string>{} : it->second;
}

Result<Invocation> parse_args(std::span<const std::string_view> argv) {
  Invocation inv;
  const CommandSpec* cmd = nullptr;
  bool options_done = false;
  for (size_t i = 0; i < argv.size(); i++) {
    std::string_view a = argv[i];
    std::string_view where = cmd != nullptr ? cmd->name : std::string_view();
    if (options_done || a.size() < 2 || a[0] != '-') {
      if (cmd == nullptr) {
        cmd = find_command(a);
        if (cmd == nullptr) {
          return usage_error("", "unknown command '" + std::string(a) + "'");
        }
        inv.command = std::string(a);
      } else {
        inv.args.emplace_back(a);
      }
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    // Split "--name=value", "--name", "-x", "-xVALUE".
    std::string_view name;
    char short_name = 0;
    std::optional<std::string_view> inline_value;
    if (a.substr(0, 2) == "--") {
      name = a.substr(2);
      if (size_t eq = name.find('='); eq != std::string_view::npos) {
        inline_value = name.substr(eq + 1);
        name = name.substr(0, eq);
      }
    } else {
      short_name = a[1];
      if (a.size() > 2) inline_value = a.substr(2);
    }
    auto take_value = [&](std::string_view label) -> Result<std::string> {
      if (inline_value) return std::string(*inline_value);
      if (i + 1 >= argv.size()) {
        return usage_error(where, "option '" + std::string(label) + "' needs a value");
      }
      return std::string(argv[++i]);
    };
    if (name == "help" || short_name == 'h') {
      inv.help = true;
      continue;
    }
    if (name == "version" && cmd == nullptr) {
      inv.version = true;
      continue;
    }
    if (name == "socket") {
      AGENT_ASSIGN_OR_RETURN(inv.socket, take_value("--socket"));
      if (inv.socket.empty()) return usage_error(where, "--socket needs a path");
      continue;
    }
    const OptionSpec* opt = find_option(cmd, name, short_name);
    if (opt == nullptr) {
      std::string shown = short_name != 0 ? std::string("-") + short_name : std::string(a);
      if (cmd == nullptr) {
        return usage_error("",
                           "unknown option '" + shown + "'; a command's options go after its name");
      }
      return usage_error(where, "unknown option '" + shown + "'");
    }
    std::string label = "--" + std::string(opt->name);
    if (opt->kind == OptionKind::kFlag) {
      if (inline_value) {
        // "-df": a run of short flags.
        if (short_name == 0) return usage_error(where, label + " takes no value");
        for (char c : *inline_value) {
          const OptionSpec* more = find_option(cmd, {}, c);
          if (more == nullptr || more->kind != OptionKind::kFlag) {
            return usage_error(
                where, "unknown option '-" + std::string(1, c) + "' in '" + std::string(a) + "'");
          }
          inv.options[std::string(more->name)] = "";
        }
      }
      inv.options[std::string(opt->name)] = "";
      continue;
    }
    AGENT_ASSIGN_OR_RETURN(std::string value, take_value(label));
    if (opt->kind == OptionKind::kInt) {
      int64_t n = 0;
      if (!parse_int(value, n) || n < 0) {
        return usage_error(where, label + " expects a number >= 0, not '" + value + "'");
      }
    }
    if (opt->kind == OptionKind::kList) {
      inv.lists[std::string(opt->name)].push_back(std::move(value));
      continue;
    }
    inv.options[std::string(opt->name)] = std::move(value);
  }
  if (inv.command == "help") {
    inv.help = true;
    inv.command = inv.args.empty() ? "" : inv.args[0];
    inv.args.clear();
    if (!inv.command.empty() && find_command(inv.command) == nullptr) {
      return usage_error("", "unknown command '" + inv.command + "'");
    }
    return inv;
  }
  if (inv.help || inv.version) return inv;
  if (cmd == nullptr) return usage_error("", "missing command");
  if (inv.args.size() < cmd->min_args) {
    return usage_error(cmd->name, "missing argument; usage: runnerctl " + std::string(cmd->name) +
                                      " " + std::string(cmd->args_usage));
  }
  if (inv.args.size() > cmd->max_args) {
    return usage_error(cmd->name, "unexpected argument '" + inv.args[cmd->max_args] + "'");
  }
  return inv;
}

std::string global_help() {
  std::string s =
      "usage: runnerctl [--socket PATH] COMMAND [OPTIONS] [ARGS]\n"
      "\n"
      "Drives runnerd, the agent that runs Kestra script tasks on this machine.\n"
      "\n"
      "commands:\n";
  size_t width = 0;
  for (const CommandSpec& c : kCommands) width = std::max(width, c.name.size());
  for (const CommandSpec& c : kCommands) {
    s += "  ";
    s += c.name;
    s.append(width + 2 - c.name.size(), ' ');
    s += c.summary;
    s += '\n';
  }
  s += "\n"
       "options:\n"
       "  --socket PATH  the agent's socket (default: $RUNNERD_SOCKET, else the\n"
       "                 agent's default path, else the system agent's\n"
       "                 /run/runnerd/runnerd.sock)\n"
       "  -h, --help     show help (also after a command)\n"
       "  --version      show runnerctl's version\n"
       "\n"
       "Exit status: 0 ok, 1 execution FAILED, 2 execution KILLED, 3 error.\n";
  return s;
}

std::string command_help(const CommandSpec& command) {
  std::string s = "usage: runnerctl ";
  s += command.name;
  s += ' ';
  s += command.args_usage;
  s += "\n\n";
  std::string summary(command.summary);
  if (!summary.empty()) summary[0] = static_cast<char>(std::toupper(summary[0]));
  s += summary;
  s += ".\n";
  if (!command.details.empty()) {
    s += '\n';
    s += command.details;
    s += '\n';
  }
  std::vector<std::pair<std::string, std::string_view>> rows;
  for (const OptionSpec& o : command.options) rows.emplace_back(option_label(o), o.help);
  rows.emplace_back("    --socket PATH", "the agent's socket");
  rows.emplace_back("-h, --help", "show this help");
  size_t width = 0;
  for (const auto& r : rows) width = std::max(width, r.first.size());
  s += "\noptions:\n";
  for (const auto& [label, help] : rows) {
    s += "  ";
    s += label;
    s.append(width + 2 - label.size(), ' ');
    s += help;
    s += '\n';
  }
  return s;
}

std::string resolve_socket(std::string_view flag, const char* env_socket,
                           std::string_view fallback) {
  if (!flag.empty()) return std::string(flag);
  if (env_socket != nullptr && *env_socket != '\0') return env_socket;
  return std::string(fallback);
}

}  // namespace agent::cli
