#include "agent/config/paths.h"

#include <limits.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

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

static bool is_socket(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

std::string client_socket_path() {
  std::string own = default_socket_path();
  const std::string system = "/run/runnerd/runnerd.sock";
  if (own != system && !is_socket(own) && is_socket(system)) return system;
  return own;
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

std::string default_script_lib_dir() {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe);
  if (n > 0 && static_cast<size_t>(n) < sizeof exe) {
    std::filesystem::path bindir = std::filesystem::path(std::string(exe, n)).parent_path();
    std::string installed = (bindir / RUNNERD_SCRIPT_LIB_RELDIR).lexically_normal().string();
    struct stat st;
    if (stat(installed.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return installed;
  }
  return RUNNERD_SCRIPT_LIB_DIR;
}

}  // namespace agent
