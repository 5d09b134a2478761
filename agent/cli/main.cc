// runnerctl: the command-line client of runnerd.
#include <cstdlib>
#include <string_view>
#include <vector>

#include "agent/cli/args.h"
#include "agent/cli/commands.h"
#include "agent/cli/exit_codes.h"
#include "agent/config/paths.h"

int main(int argc, char** argv) {
  using namespace agent::cli;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    print_err(global_help());
    return kExitError;
  }
  auto inv = parse_args(args);
  if (!inv.ok()) return fail(inv.error());
  if (inv->help) {
    const CommandSpec* command = find_command(inv->command);
    print_out(command != nullptr ? command_help(*command) : global_help());
    return kExitOk;
  }
  if (inv->version) {
    print_out("runnerctl " RUNNERD_VERSION "\n");
    return kExitOk;
  }
  std::string socket =
      resolve_socket(inv->socket, std::getenv("RUNNERD_SOCKET"), agent::client_socket_path());
  return dispatch(*inv, socket);
}
