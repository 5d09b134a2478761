// Resource limits of Process tasks (the grant's CPU, memory and processes),
// enforced through the task's cgroup; a limit that cannot be enforced is an
// error at start, never silently dropped.
//
// cgroup v2: the cpu, memory and pids controllers are enabled in the runner's
// task cgroup root (its cgroup.subtree_control, after the agent's own cgroup
// delegates them) and the limits are written into the task's directory
// (cpu.max, memory.max, memory.swap.max = 0 so it is killed rather than
// swapped, pids.max) before the child starts in it. A controller the agent's
// cgroup has but does not pass on can only be passed on from a cgroup with no
// process of its own (cgroup v2's no-internal-process rule): when the agent is
// alone in its cgroup (systemd Delegate=yes), it moves itself into a leaf
// `runnerd-agent` beside its task root and enables them; otherwise the
// controller is reported unavailable with the reason.
//
// Hybrid hosts (systemd's "hybrid" mode, most container hosts of the cgroup
// v1 era): the controllers are bound to the v1 hierarchies and the unified one
// has none. There each limited task also gets a directory in the v1 hierarchy
// of each controller it needs (cpu.cfs_quota_us, memory.limit_in_bytes and
// memory.memsw.limit_in_bytes, pids.max), under the agent's own v1 cgroup,
// which the child joins before it execs. Pure v1 hosts (no unified
// hierarchy) alike.
//
// Blocking syscalls on cgroupfs (microseconds each), loop thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/common/result.h"
#include "agent/runner/resources.h"

namespace runners::process {

// What one task's limits left to do: descriptors for the child, directories to remove.
struct TaskLimits {
  std::vector<int> join_fds;         // v1 cgroup.procs files (O_WRONLY) the child writes itself into
  std::vector<std::string> v1_dirs;  // the task's v1 directories, removed when it ended
  std::string oom_file;              // memory.events (v2) or memory.oom_control (v1); "" without a memory limit
  void close_fds();
};

class Limits {
 public:
  enum Controller { kCpu = 0, kMemory = 1, kPids = 2 };

  // `allowed`: the configuration allows task cgroups. `v2_root`: the runner's
  // task cgroup root, or "" with `why_no_v2` saying why there is none. `name`:
  // the runner's directory name (runnerd-<hash>), also used in v1 hierarchies.
  void init(bool allowed, const std::string& v2_root, const std::string& why_no_v2,
            const std::string& name);

  // One line for the log: which limits can be enforced and how, or why not.
  std::string describe() const;

  // Puts the grant's limits in place for one task. `task_v2_dir`: its v2
  // cgroup ("" without one); `task_name`: its directory name. An error names
  // the limit (taskRunner.resources.memory) and why it cannot be enforced;
  // nothing is left behind then.
  agent::Result<TaskLimits> apply(const agent::runner::ResourceGrant& grant,
                                  const std::string& task_v2_dir, const std::string& task_name);

  // Whether the grant needs a limit enforced at all.
  static bool limits_anything(const agent::runner::ResourceGrant& grant) {
    return grant.millicpus > 0 || grant.memory_bytes > 0 || grant.pids > 0;
  }

  // The runner's own directories in v1 hierarchies: their children are task
  // directories (swept at start), and they are removed at close.
  std::vector<std::string> v1_roots() const;

 private:
  struct Where {
    bool v2 = false;
    std::string v1_dir;   // the runner's directory in this controller's v1 hierarchy
    std::string why_not;  // when neither
  };
  Where where_[3];
};

// How many processes of the cgroup the kernel's OOM killer killed
// (memory.events oom_kill, oom_group_kill; v1 memory.oom_control oom_kill);
// 0 when the file cannot be read.
int64_t oom_kills(const std::string& oom_file);

}  // namespace runners::process
