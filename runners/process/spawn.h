// Starting a task: stdout and stderr on pipes, stdin on /dev/null, its own
// session and process group, default signal dispositions and an empty signal
// mask, the working directory as cwd, and, before anything of the task runs,
// its cgroup. vfork shares the agent's memory until the exec, so the cost does
// not grow with the agent's heap as fork's does (glibc's posix_spawn is built
// the same way; it only lacks the cgroup step).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "agent/common/result.h"

namespace runners::process {

struct Spawned {
  pid_t pid = -1;
  int pidfd = -1;      // readable when the child exits
  int stdout_fd = -1;  // read ends, non-blocking, close-on-exec
  int stderr_fd = -1;
};

// `cgroup_procs_fd`: an open `cgroup.procs` of the task's cgroup, or -1. The
// child writes itself into it before it execs, so no descendant can start
// outside the cgroup.
agent::Result<Spawned> spawn_task(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& env, const std::string& cwd,
                                  int cgroup_procs_fd);

}  // namespace runners::process
