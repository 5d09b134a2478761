// runnerctl's command line: the table of commands and their options, parsing
// argv against it, and the help texts made from it. Pure: no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "agent/common/result.h"

namespace agent::cli {

enum class OptionKind { kFlag, kString, kInt, kList };  // kList: repeatable, values kept in order

struct OptionSpec {
  std::string_view name;  // long name, without "--"
  char short_name;        // 0: none
  OptionKind kind;
  std::string_view value_name;  // "N", "PATH": for help
  std::string_view help;
};

struct CommandSpec {
  std::string_view name;
  std::string_view args_usage;  // "[-d] [--json] FLOW.yaml|FLOW.json"
  std::string_view summary;     // one line, for the command list
  std::string_view details;     // more lines for `runnerctl CMD --help`, may be empty
  std::vector<OptionSpec> options;
  size_t min_args;
  size_t max_args;
};

// Every command, in the order the help lists them.
const std::vector<CommandSpec>& commands();
const CommandSpec* find_command(std::string_view name);

struct Invocation {
  std::string socket;   // --socket; empty: $RUNNERD_SOCKET, else the default
  std::string command;  // empty when only --help or --version was asked
  bool help = false;    // --help/-h, or `runnerctl help [CMD]`
  bool version = false;
  std::map<std::string, std::string, std::less<>> options;  // long name -> value ("" for flags)
  std::map<std::string, std::vector<std::string>, std::less<>> lists;  // kList options
  std::vector<std::string> args;

  bool flag(std::string_view name) const { return options.count(name) > 0; }
  std::optional<std::string> value(std::string_view name) const;
  // Validated by parse_args for kInt options.
  std::optional<int64_t> int_value(std::string_view name) const;
  // Every value of a repeatable option, in order.
  std::vector<std::string> values(std::string_view name) const;
};

// Parses argv without argv[0]. Global options (--socket, --help, --version)
// go anywhere; "--" ends options. Errors are usage errors, one line each.
Result<Invocation> parse_args(std::span<const std::string_view> argv);

std::string global_help();
std::string command_help(const CommandSpec& command);

// --socket, else $RUNNERD_SOCKET (`env_socket`, may be null), else `fallback`.
std::string resolve_socket(std::string_view flag, const char* env_socket,
                           std::string_view fallback);

}  // namespace agent::cli
