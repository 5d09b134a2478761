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
// runnerctl's socket when neither --socket nor $RUNNERD_SOCKET names one: the
// user's default_socket_path() if an agent listens there (a socket exists),
// else the system agent's /run/runnerd/runnerd.sock if that exists (the
// packaged service, for members of the runnerd group), else the user's.
std::string client_socket_path();
// The `kestra` modules for Python and Node (scriptLibDir): <datadir>/runnerd/lib
// beside an installed binary (/usr/share/runnerd/lib for /usr/bin/runnerd) when
// that directory exists, else the source tree's scripts/lib (a build tree).
std::string default_script_lib_dir();

}  // namespace agent
