#include "agent/config/paths.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace agent {

static std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

std::string default_socket_path() {
  if (geteuid() == 0) return "/run/runnerd/runnerd.sock";
  std::string runtime = env_or_empty("XDG_RUNTIME_DIR");
  if (!runtime.empty()) return runtime + "/runnerd/runnerd.sock";
  return "/tmp/runnerd-" + std::to_string(geteuid()) + "/runnerd.sock";
}

std::string default_state_dir() {
  if (geteuid() == 0) return "/var/lib/runnerd";
  std::string state = env_or_empty("XDG_STATE_HOME");
  if (!state.empty()) return state + "/runnerd";
  std::string home = env_or_empty("HOME");
  if (home.empty()) {
    if (const passwd* pw = getpwuid(geteuid())) home = pw->pw_dir;
  }
  return home + "/.local/state/runnerd";
}

}  // namespace agent
