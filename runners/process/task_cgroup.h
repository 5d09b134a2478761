// A cgroup (v2 hierarchy, also the "unified" mount of hybrid hosts) per task,
// so that kill reaches every descendant, including ones that left the process
// group with setsid. Where no writable cgroup v2 hierarchy exists, tasks are
// tracked by process group alone, and the runner says so once at start.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "agent/common/result.h"

namespace runners::process {

class CgroupRoot {
 public:
  // Finds the agent's own cgroup in the v2 hierarchy and creates `<it>/<name>`
  // for tasks. An error means "process groups only" and says why.
  agent::Status init(const std::string& name);
  bool enabled() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// Blocking syscalls on cgroupfs, an in-memory filesystem: microseconds each.
namespace cgroup {
agent::Result<std::string> create(const CgroupRoot& root, const std::string& name);
// The cgroup's directory, open for spawn_task (O_RDONLY | O_DIRECTORY), or -1.
int open_dir(const std::string& dir);
// Sends `sig` to every process in the cgroup (SIGKILL uses cgroup.kill where the
// kernel has it).
void signal_all(const std::string& dir, int sig);
// The cgroups directly under `dir` (full paths).
std::vector<std::string> children(const std::string& dir);
// Whether the cgroup can serve another task as it is: no process in it
// (cgroup.events populated 0), not frozen, no cgroup below it (a link count
// of 2). False when that cannot be read.
bool reusable(const std::string& dir);
// Removes the cgroup; EBUSY while processes are still exiting.
agent::Status remove(const std::string& dir);
}  // namespace cgroup

}  // namespace runners::process
