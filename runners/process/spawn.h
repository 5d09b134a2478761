// Starting a task: stdout and stderr on pipes, stdin on /dev/null, its own
// session and process group, default signal dispositions and an empty signal
// mask, the working directory as cwd, and, before anything of the task runs,
// its cgroup. The child shares the agent's memory until the exec (clone3 with
// CLONE_VM | CLONE_VFORK, or vfork), so the cost does not grow with the
// agent's heap as fork's does (glibc's posix_spawn is built the same way; it
// only lacks the cgroup step).
// The child closes every descriptor but 0, 1 and 2 before it execs, and the
// agent's own NOTIFY_SOCKET, WATCHDOG_*, LISTEN_* and SECRET_* variables are
// not passed on. With a TaskUser, the working directory is first given to
// that user (parent side, by descriptor), and the child sets its groups, gid,
// uid (raw system calls: glibc's wrappers would signal the agent's threads,
// whose memory the child shares) and PR_SET_NO_NEW_PRIVS, in that order.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "agent/common/result.h"
#include "agent/config/identity.h"

namespace runners::process {

struct Spawned {
  pid_t pid = -1;
  int pidfd = -1;      // readable when the child exits
  int stdout_fd = -1;  // read ends, non-blocking, close-on-exec
  int stderr_fd = -1;
};

// Three descriptors the spawner holds at low numbers, on /dev/null: `out`
// and `err` carry a task's pipe ends during its spawn. A child started with
// them runs on the agent's descriptor table until it makes its own of the
// descriptors below them (close_range with CLOSE_RANGE_UNSHARE, Linux 5.9),
// so the kernel no longer copies the whole table for each spawn and closes
// it again at the exec: with 2,000 tasks running, 6,000 descriptors a spawn.
// One thread at a time (the spawner's).
struct SpawnSlots {
  int out = -1;
  int err = -1;
  int null = -1;
  agent::Status open();
  void close();
  bool usable() const { return null >= 0; }
};

// `cgroup_dir_fd`: the task's cgroup directory (O_RDONLY | O_DIRECTORY), or
// -1. The child is started inside it (clone_into.h) or, where the kernel
// cannot, writes itself into its `cgroup.procs` before it execs: either way no
// descendant can start outside the cgroup. `user`: run as that user
// (taskUser), or null. `join_fds`: more `cgroup.procs` files, open for
// writing, that the child writes itself into before it execs (the task's
// directories in cgroup v1 hierarchies, for its limits: task_limits.h).
agent::Result<Spawned> spawn_task(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& env, const std::string& cwd,
                                  int cgroup_dir_fd, const agent::TaskUser* user = nullptr,
                                  const std::vector<int>& join_fds = {},
                                  const SpawnSlots* slots = nullptr);

// `env` without the agent's own variables that must not reach a task
// (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*, SECRET_*): an entry is dropped when the
// agent's environment holds the very same NAME=value. As execve's envp:
// pointers into `env`, then a null. Per spawn, so without a copy of each entry.
std::vector<char*> task_environment(const std::vector<std::string>& env);

// A pidfd of `pid` (Linux 5.3), or -1 with errno; through syscall(2), as
// older C libraries have no wrapper.
int pidfd_open(pid_t pid);

}  // namespace runners::process
