// The task reaper: a small process of its own that outlives the agent only to
// kill what the agent's tasks left running, so that no Process task survives
// the agent's death (Kestra: "the process will be interrupted and re-created
// as soon as the worker is restarted").
//
// It is runnerd itself, started again with `--task-reaper`, in a process group
// of its own, reading a pipe whose only writer is the agent. The agent names
// each task's cgroup (or, without cgroups, its process group) as it starts and
// ends. When the pipe reaches end of file without a goodbye (the agent died,
// even by SIGKILL), the reaper kills every task still named and exits. A
// graceful stop says goodbye after its tasks ended. A task cgroup kept empty
// for the next task (process_runner.cc) stays named meanwhile, so a reused
// cgroup costs no message.
//
// Messages are a few bytes on a non-blocking pipe (1 MiB where allowed); one
// that does not fit is dropped, and the sweep of task cgroups at the next
// start covers it. The reaper sleeps on a pidfd of the agent and, while the
// agent is busy, reads the pipe every 50 ms rather than at each message.
#pragma once

#include <sys/types.h>

#include <string>

#include "agent/common/result.h"

namespace runners::process {

// Which program to start as the reaper (runnerd's own path); until it is set,
// no reaper starts (test binaries that build the runner).
void enable_task_reaper(std::string program);

// The reaper's main: `cgroup_root` is the runner's task cgroup directory, or
// "-" without cgroups.
int run_task_reaper(const char* cgroup_root);

class TaskReaper {
 public:
  TaskReaper() = default;
  ~TaskReaper();
  TaskReaper(const TaskReaper&) = delete;
  TaskReaper& operator=(const TaskReaper&) = delete;

  agent::Status start(const std::string& cgroup_root);
  bool running() const { return fd_ >= 0; }
  // A task's cgroup (its directory name under the root) or process group.
  void track_cgroup(const std::string& name) { send("+c" + name); }
  void untrack_cgroup(const std::string& name) { send("-c" + name); }
  void track_group(pid_t pgid) { send("+p" + std::to_string(pgid)); }
  void untrack_group(pid_t pgid) { send("-p" + std::to_string(pgid)); }
  // Goodbye: every task has ended; the reaper exits without killing.
  void stop();

 private:
  void send(const std::string& message);

  int fd_ = -1;
  pid_t pid_ = -1;
};

}  // namespace runners::process
