#include "runners/process/spawner.h"

#include <malloc.h>
#include <pthread.h>

#include <exception>
#include <algorithm>
#include <utility>

namespace runners::process {

Spawner::~Spawner() {
  // Normally stop() ran; a runner torn down without close() still must not
  // leave the thread running.
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  slots_.close();
}

agent::Status Spawner::start(uv_loop_t* loop) {
  if (!slots_.open().ok()) slots_.close();  // spawns then copy the descriptor table, as before
  auto* async = new uv_async_t;
  int rc = uv_async_init(loop, async,
                         [](uv_async_t* h) noexcept { static_cast<Spawner*>(h->data)->deliver(); });
  if (rc != 0) {
    delete async;
    return agent::Error::from_uv(rc, "starting the spawner");
  }
  async->data = this;
  // It keeps the loop running only while a spawn is on its way (submit).
  uv_unref(reinterpret_cast<uv_handle_t*>(async));
  async_ = async;
  try {
    thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "runnerd-spawn");  // for top -H, perf, /proc
      run();
    });
  } catch (const std::exception& e) {
    uv_close(reinterpret_cast<uv_handle_t*>(async_),
             [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_async_t*>(h); });
    async_ = nullptr;
    return agent::Error(agent::Errc::kResourceExhausted,
                        std::string("starting the spawner thread: ") + e.what());
  }
  return {};
}

void Spawner::submit(SpawnRequest request, Done done, bool lone) {
  if (in_flight_++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(async_));
  peak_in_flight_ = std::max(peak_in_flight_, in_flight_);
  // in_flight_ is 1, this one: every earlier job was delivered, so the
  // thread is past its last use of slots_ and waits (spawn.h: one thread at
  // a time).
  if (lone && in_flight_ == 1) {
    Job job{std::move(request), std::move(done)};
    make(job);
    made_on_loop_++;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_.push_back(std::move(job));
    }
    uv_async_send(async_);  // delivered at the next iteration, as the thread's
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    todo_.push_back(Job{std::move(request), std::move(done)});
  }
  cv_.notify_one();
}

void Spawner::make(Job& job) {
  const SpawnRequest& r = job.request;
  try {
    job.result = spawn_task(r.argv, r.env, r.cwd, r.cgroup_dir_fd, r.user, r.join_fds, &slots_);
  } catch (const std::exception& e) {  // allocation failure: said, not thrown
    job.result = agent::Error(
        agent::Errc::kResourceExhausted,
        "cannot start '" + (r.argv.empty() ? std::string() : r.argv[0]) + "': " + e.what());
  }
}

void Spawner::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !todo_.empty(); });
    if (todo_.empty()) return;  // stopping, and nothing left
    Job job = std::move(todo_.front());
    todo_.pop_front();
    lock.unlock();
    make(job);
    lock.lock();
    done_.push_back(std::move(job));
    uv_async_send(async_);
  }
}

void Spawner::deliver() {
  std::deque<Job> ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ready.swap(done_);
  }
  in_flight_ -= ready.size();
  if (in_flight_ == 0 && !ready.empty()) uv_unref(reinterpret_cast<uv_handle_t*>(async_));
  for (Job& job : ready) job.done(std::move(job.result));
  ready.clear();
  // A burst queues requests (each with the task's environment) faster than
  // children start; freed, that heap stays the agent's. What of it is free
  // whole pages goes back once the burst is through. (The supervisor also
  // caps the queue: Supervisor::kMaxStarting. With 6,637 sleeping tasks
  // started at once: 11.0 KiB of PSS a task with neither, 10.4 with the trim,
  // 8.3 with both.)
  if (in_flight_ == 0 && peak_in_flight_ >= kTrimAfterBurst) {
    peak_in_flight_ = 0;
    malloc_trim(0);
  }
}

void Spawner::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
  slots_.close();
  deliver();  // whatever the thread finished after the last wakeup
  uv_close(reinterpret_cast<uv_handle_t*>(async_),
           [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_async_t*>(h); });
  async_ = nullptr;
}

}  // namespace runners::process
