// Where runnerd keeps its socket and state when not told otherwise.
// As root: /run/runnerd/runnerd.sock and /var/lib/runnerd (the packaged layout).
// As any other user: $XDG_RUNTIME_DIR/runnerd/runnerd.sock (else
// /tmp/runnerd-<uid>/runnerd.sock) and $XDG_STATE_HOME/runnerd (else
// ~/.local/state/runnerd), so a first run needs no root and no config.
// runnerctl resolves the socket the same way, after --socket and $RUNNERD_SOCKET.
#pragma once

#include <string>

namespace agent {

std::string default_socket_path();
std::string default_state_dir();

}  // namespace agent
