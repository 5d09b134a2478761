// The commands of runnerctl. Each prints its output and its errors
// ("runnerctl: ...") and returns the process's exit status (exit_codes.h).
#pragma once

#include <string>

#include "agent/cli/args.h"
#include "agent/common/result.h"

namespace agent::cli {

// Runs inv.command against the agent at `socket`.
int dispatch(const Invocation& inv, const std::string& socket);

int cmd_run(const Invocation& inv, const std::string& socket);   // follow.cc
int cmd_logs(const Invocation& inv, const std::string& socket);  // follow.cc
int cmd_ps(const Invocation& inv, const std::string& socket);
int cmd_get(const Invocation& inv, const std::string& socket);
int cmd_outputs(const Invocation& inv, const std::string& socket);
int cmd_cancel(const Invocation& inv, const std::string& socket);
int cmd_stats(const Invocation& inv, const std::string& socket);
int cmd_hello(const Invocation& inv, const std::string& socket);
int cmd_files(const Invocation& inv, const std::string& socket);  // files_cmd.cc
int cmd_cat(const Invocation& inv, const std::string& socket);    // files_cmd.cc
int cmd_validate(const Invocation& inv);                          // offline.cc
int cmd_schema(const Invocation& inv);                            // offline.cc

// Prints "runnerctl: <path>: <message>" on stderr and returns kExitError.
int fail(const Error& error);
// Writes to stdout (or stderr) and flushes, so that output piped elsewhere
// shows up as it comes.
void print_out(std::string_view text);
void print_err(std::string_view text);

}  // namespace agent::cli
