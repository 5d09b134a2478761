// Spawning off the loop thread. A spawn blocks the thread that makes it until
// the child has exec'd (CLONE_VFORK: the child borrows the parent's memory
// until then): about 0.3 ms for /bin/true on an idle 2-core host, more as the
// descriptor table grows. Made on the loop, that wait was a third of the
// loop's time per task and capped dispatch; here a thread of its own waits
// and the loop goes on with the other tasks, clients and pipes.
//
// Requests run one at a time in submission order; each result comes back on
// the loop thread, never from inside submit(). The thread makes only system
// calls and allocations (spawn.h): no loop state is touched off the loop.
//
// A lone spawn is the exception: when the caller has no other task running
// and the thread has nothing to do, the loop has nothing else to serve while
// the child execs. It is made on the loop thread, which then reports the
// start at once; through the thread, the report waited for a core that the
// new child and the spawner held (2 vCPUs). One task at a time, submit to
// running 0.83 -> 0.47 ms p50 (bench/latency.py, median of 6 alternating
// rounds); submit to result is unchanged (1.10 ms): the child's run, not
// the report, is on that path.
#pragma once

#include <uv.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/common/result.h"
#include "agent/config/identity.h"
#include "runners/process/spawn.h"

namespace runners::process {

struct SpawnRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd;
  // spawn_task()'s arguments. The descriptors stay the caller's (closed by
  // the completion, on the loop); `user` outlives the spawner.
  int cgroup_dir_fd = -1;
  std::vector<int> join_fds;
  const agent::TaskUser* user = nullptr;
};

class Spawner {
 public:
  using Done = std::function<void(agent::Result<Spawned>)>;

  Spawner() = default;
  ~Spawner();
  Spawner(const Spawner&) = delete;
  Spawner& operator=(const Spawner&) = delete;

  agent::Status start(uv_loop_t* loop);
  // Loop thread. `done` runs on the loop thread once the child was started
  // (or could not be). `lone`: the caller has no other task running, so the
  // spawn may be made on the loop thread (above) if the thread is idle.
  void submit(SpawnRequest request, Done done, bool lone = false);
  // Spawns made on the loop thread so far.
  uint64_t made_on_loop() const { return made_on_loop_; }
  // Loop thread, with nothing submitted still waiting for its `done`: ends
  // the thread and closes the handle.
  void stop();

 private:
  struct Job {
    SpawnRequest request;
    Done done;
    agent::Result<Spawned> result = agent::Error(agent::Errc::kInternal, "not spawned");
  };
  void run();
  void deliver();
  // Either thread: the spawn itself, its failure as a value.
  void make(Job& job);

  uv_async_t* async_ = nullptr;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> todo_;  // guarded by mu_
  std::deque<Job> done_;  // guarded by mu_
  SpawnSlots slots_;      // the thread's (spawn.h); opened at start, while numbers are low
  bool stopping_ = false;
  size_t in_flight_ = 0;  // loop thread: submitted, `done` not yet called
  size_t peak_in_flight_ = 0;
  uint64_t made_on_loop_ = 0;
  static constexpr size_t kTrimAfterBurst = 512;
};

}  // namespace runners::process
