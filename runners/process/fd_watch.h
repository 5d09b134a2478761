// The Process runner's per-task descriptors (each child's pidfd and its two
// output pipes) on an epoll set of the runner's own, which the loop watches
// through one uv_poll. As libuv handles, each task cost 15 system calls on
// the loop besides its reads: uv_poll_init tries the pidfd on the loop's
// epoll set (an add and a delete) before adding it, uv_pipe_open asks each
// pipe's flags and sets them again, and a closing handle deletes its
// descriptor from the set a second time (ENOENT). Here a descriptor costs an
// add and a delete, and a level-triggered set reports a pipe that stays
// readable again at the next iteration, as libuv did.
//
// A watched descriptor is deleted from the set before it is closed: a
// child being spawned may hold a copy of the agent's descriptor table until
// it execs, and the set forgets a descriptor only when its last copy closes.
//
// Loop thread only. An event names its Watched; the runner keeps a task's
// memory until after the iteration that removed it (its close callbacks),
// and a Watched whose descriptor was removed meanwhile ignores what the same
// batch still reports.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>

#include "agent/common/result.h"

namespace runners::process {

class Watched {
 public:
  // `events`: EPOLLIN, EPOLLHUP, EPOLLERR as epoll reported them.
  virtual void ready(uint32_t events) noexcept = 0;

 protected:
  ~Watched() = default;
};

class FdWatch {
 public:
  FdWatch() = default;
  FdWatch(const FdWatch&) = delete;
  FdWatch& operator=(const FdWatch&) = delete;
  ~FdWatch();

  agent::Status start(uv_loop_t* loop);
  // Closes the set once the loop has let go of its poll handle. Every
  // descriptor is removed by then (every task has ended).
  void stop();

  // Watches `fd` for reading; `w` outlives the registration. Each add is
  // matched by one remove, before `fd` is closed.
  agent::Status add(int fd, Watched* w);
  void remove(int fd);

 private:
  static void on_ready(uv_poll_t* p, int status, int events) noexcept;

  int epoll_fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  size_t watched_ = 0;  // descriptors in the set
};

}  // namespace runners::process
