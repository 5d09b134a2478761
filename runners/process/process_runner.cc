#include "runners/process/process_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "agent/config/config.h"
#include "agent/json/read.h"
#include "agent/log/log.h"
#include "agent/metrics/registry.h"
#include "agent/uv/closeable.h"
#include "runners/process/fd_watch.h"
#include "runners/process/resources.h"
#include "runners/process/spawn.h"
#include "runners/process/spawner.h"
#include "runners/process/task_cgroup.h"
#include "runners/process/task_limits.h"
#include "runners/process/task_reaper.h"

namespace runners::process {

namespace {

using agent::runner::ExitStatus;
using agent::runner::KillMode;
using agent::runner::OutputStream;
using agent::runner::TaskObserver;

class ProcessRunner;

constexpr uint8_t kFullReadsToGrow = 4;     // reads that filled the buffer make a task chatty
constexpr uint8_t kGrowRefused = 0xff;      // full_reads_ once the kernel refused to grow a pipe
constexpr int kChattyPipeBytes = 1 << 20;  // its size then (the default pipe-max-size)
constexpr int kMaxChattyPipes = 64;        // at most this many at once: 64 MiB of kernel memory
constexpr int kReadsPerWakeup = 32;        // full reads of one pipe per wakeup (as libuv's streams)

// A cgroup's name to the reaper: its directory's name.
std::string base_name(const std::string& dir) { return dir.substr(dir.rfind('/') + 1); }

// One child: its pid, its pidfd and two output pipes (on the runner's
// FdWatch), and a drain timer.
// Ownership: the supervisor holds it (as a RunnerTask) until release(), which
// closes its descriptors and the timer; the timer's close callback frees it,
// after the loop iteration (so after any event of the same batch). Loop
// thread only.
// It exists before its child does: the spawner (spawner.h) starts the child
// and then spawned() opens the rest; a kill or pause asked meanwhile is kept
// and applied then.
class ProcessTask final : public agent::uv::Closeable, public agent::runner::RunnerTask {
 public:
  ProcessTask(ProcessRunner& runner, TaskObserver& observer) : runner_(runner), observer_(observer) {}

  agent::Status init(uv_loop_t* loop);
  void spawned(agent::Result<Spawned> result);
  std::string external_id() const override { return "pid " + std::to_string(pid_); }
  int64_t pid() const override { return pid_; }
  bool started() const override { return !spawning_; }
  bool left_nothing_running() const override { return nothing_left_; }

  void kill(KillMode mode);
  void set_paused(bool paused);

  std::string cgroup_dir;
  std::vector<std::string> v1_dirs;  // its limits on a hybrid host (task_limits.h)
  std::string oom_file;              // where the kernel counts its OOM kills; "" without a memory limit
  bool reusable_cgroup = false;      // ran without limits: its cgroup may serve another task
  // Its cgroup was killed through cgroup.kill: not used again. A child later
  // started into it with CLONE_INTO_CGROUP was found killed at birth (Linux
  // 6.18, the crash loop: every task after a cancelled one in its cgroup).
  bool cgroup_killed = false;

 private:
  // The pidfd, or one pipe, as the runner's FdWatch reports it.
  struct Source final : Watched {
    enum Kind : uint8_t { kExit, kStdout, kStderr };
    Source(ProcessTask* t, Kind k) : task(t), kind(k) {}
    void ready(uint32_t events) noexcept override;
    ProcessTask* task;
    Kind kind;
    int fd = -1;           // a pipe's: -1 once it is done
    bool watched = false;  // in the set (a paused pipe is not)
    bool grown = false;    // the pipe holds one of the runner's kMaxChattyPipes
  };

  static void on_drain_timeout(uv_timer_t* t) noexcept;
  void on_exit();
  void on_readable(Source& pipe, bool to_end = false);
  void watch(Source& s, bool on);
  void pipe_done(Source& pipe);
  void close_pipe(Source& pipe);
  void close_pipes();
  void maybe_finish();
  void kill_leftovers();
  void grow_pipe_if_chatty(Source& pipe);

  ProcessRunner& runner_;
  TaskObserver& observer_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  Source exit_{this, Source::kExit};
  Source out_{this, Source::kStdout};
  Source err_{this, Source::kStderr};
  uv_timer_t drain_timer_{};
  bool exited_ = false;
  bool finished_ = false;
  bool paused_ = false;
  bool spawning_ = true;
  uint8_t full_reads_ = 0;  // reads that filled the buffer, up to kFullReadsToGrow (or kGrowRefused)
  bool nothing_left_ = false;  // its cgroup was empty when it ended (none: unknown)
  int pending_signal_ = 0;  // the strongest kill asked while spawning
  int wait_status_ = 0;

  agent::Status open(const Spawned& s);
  void fail_spawn(const agent::Error& error);

  friend class ProcessRunner;

 public:
  // Runs after the timer's close callback; release() took its descriptors
  // out of the set.
  ~ProcessTask() override {
    if (pidfd_ >= 0) ::close(pidfd_);
  }
};

class ProcessRunner final : public agent::runner::Runner {
 public:
  ProcessRunner(uv_loop_t* loop, const agent::AgentConfig& config) : loop_(loop), config_(config) {}
  agent::Status start_spawner() { return spawner_.start(loop_); }
  agent::Status start_watch() { return watch_.start(loop_); }
  FdWatch& fd_watch() { return watch_; }

  void close() override {
    spawner_.stop();  // idle: every task has ended
    watch_.stop();
    reaper_.stop();  // every task has ended: nothing for it to kill
    for (auto& dir : idle_cgroups_) (void)cgroup::remove(dir);
    idle_cgroups_.clear();
    for (auto& dir : pending_cgroups_) (void)cgroup::remove(dir);
    pending_cgroups_.clear();
    // The agent's own cgroup directories go when its last task's did.
    if (cgroups_.enabled()) (void)cgroup::remove(cgroups_.dir());
    for (const auto& dir : limits_.v1_roots()) (void)cgroup::remove(dir);
    for (uv_timer_t** timer : {&retry_timer_, &trim_timer_}) {
      if (*timer == nullptr) continue;
      uv_close(reinterpret_cast<uv_handle_t*>(*timer),
               [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_timer_t*>(h); });
      *timer = nullptr;
    }
  }

  void init_cgroups() {
    if (!config_.process_cgroups) {
      agent::log::info("process runner: cgroups disabled by configuration; tasks are tracked by "
                       "process group, and tasks that ask for resource limits cannot start");
      limits_.init(false, "", "", "");
      return;
    }
    // One directory per agent state dir, so side-by-side agents never touch
    // each other's tasks.
    uint64_t h = 1469598103934665603ull;
    for (char c : config_.state_dir) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    char name[40];
    std::snprintf(name, sizeof name, "runnerd-%016llx", static_cast<unsigned long long>(h));
    agent::Status st = cgroups_.init(name);
    if (!st.ok()) {
      agent::log::warn("process runner: " + st.error().message() +
                       "; tasks are tracked by process group only, so a descendant that calls "
                       "setsid can outlive its task");
    } else {
      agent::log::info("process runner: task cgroups under " + cgroups_.dir());
    }
    limits_.init(true, cgroups_.enabled() ? cgroups_.dir() : std::string(),
                 st.ok() ? std::string() : "cgroup v2: " + st.error().message(), name);
    agent::log::info("process runner: task resource limits: " + limits_.describe());
    if (cgroups_.enabled()) sweep_cgroups(cgroups_.dir());
    for (const auto& dir : limits_.v1_roots()) sweep_cgroups(dir);
    start_reaper();
  }

  void start_reaper() {
    agent::Status st = reaper_.start(cgroups_.enabled() ? cgroups_.dir() : std::string());
    if (!st.ok()) {
      agent::log::warn("process runner: " + st.error().message() +
                       "; tasks left by an agent that dies are killed only at its next start");
    }
  }

  // The reaper's names: a cgroup by its directory name, else the process group.
  void track(const ProcessTask& task, bool add) {
    if (!task.cgroup_dir.empty()) {
      std::string name = base_name(task.cgroup_dir);
      if (add) reaper_.track_cgroup(name); else reaper_.untrack_cgroup(name);
    } else if (add) {
      reaper_.track_group(task.pid_);
    } else {
      reaper_.untrack_group(task.pid_);
    }
  }

  // Task cgroups left by an agent of this state directory that died: their
  // processes (setsid or double-forked ones too) must not outlive it. The
  // supervisor records those attempts RESUBMITTED and runs them again.
  void sweep_cgroups(const std::string& root) {
    std::vector<std::string> left = cgroup::children(root);
    if (left.empty()) return;
    agent::log::warn("process runner: killing what is left of " + std::to_string(left.size()) +
                     " tasks of an earlier agent (task cgroups under " + root + ")");
    for (auto& dir : left) {
      cgroup::signal_all(dir, SIGKILL);
      if (!cgroup::remove(dir).ok()) remove_cgroup_later(std::move(dir));
    }
  }

  agent::Status validate(std::string_view runner_json) const override {
    auto r = parse_process_runner(runner_json);
    if (!r.ok()) return std::move(r).error();
    return {};
  }

  agent::Result<agent::runner::ResourceRequest> requests(std::string_view runner_json) const override {
    return parse_process_runner(runner_json);
  }

  agent::Result<std::unique_ptr<agent::runner::RunnerTask>> start(
      const agent::runner::TaskSpec& spec, TaskObserver& observer) override {
    // The child is in its cgroup before it execs: nothing it starts can be
    // outside. Without one, the process group is all there is.
    std::string task_name = spec.task_run_id + "-" + std::to_string(spec.attempt);
    std::string cgroup_dir;
    int cgroup_fd = -1;
    bool limited = Limits::limits_anything(spec.resources);
    bool reused = false;  // from the idle pool: still named to the reaper
    if (cgroups_.enabled() && !limited && !idle_cgroups_.empty()) {
      cgroup_dir = std::move(idle_cgroups_.back());
      idle_cgroups_.pop_back();
      cgroup_fd = cgroup::open_dir(cgroup_dir);
      if (cgroup_fd < 0) {
        (void)cgroup::remove(cgroup_dir);
        reaper_.untrack_cgroup(base_name(cgroup_dir));
        cgroup_dir.clear();
      } else {
        reused = true;
      }
    }
    if (cgroups_.enabled() && cgroup_fd < 0) {
      auto dir = cgroup::create(cgroups_, task_name);
      if (dir.ok()) {
        cgroup_fd = cgroup::open_dir(*dir);
        if (cgroup_fd >= 0) {
          cgroup_dir = *dir;
        } else {
          (void)cgroup::remove(*dir);
        }
      }
    }
    // The grant's limits are in place before the child starts: it is born
    // limited (or joins its v1 directories before it execs).
    TaskLimits limits;
    if (limited) {
      auto applied = limits_.apply(spec.resources, cgroup_dir, task_name);
      if (!applied.ok()) {
        if (cgroup_fd >= 0) ::close(cgroup_fd);
        if (!cgroup_dir.empty()) (void)cgroup::remove(cgroup_dir);
        return std::move(applied).error();
      }
      limits = std::move(applied).value();
    }
    auto task = std::make_unique<ProcessTask>(*this, observer);
    agent::Status st = task->init(loop_);
    if (!st.ok()) {
      if (cgroup_fd >= 0) ::close(cgroup_fd);
      limits.close_fds();
      if (!cgroup_dir.empty()) (void)cgroup::remove(cgroup_dir);
      if (reused) reaper_.untrack_cgroup(base_name(cgroup_dir));
      for (const auto& d : limits.v1_dirs) (void)cgroup::remove(d);
      agent::uv::close(task);
      return st.error();
    }
    task->cgroup_dir = std::move(cgroup_dir);
    task->v1_dirs = std::move(limits.v1_dirs);
    task->oom_file = std::move(limits.oom_file);
    task->reusable_cgroup = !limited;
    SpawnRequest request;
    request.argv = spec.argv;
    request.env = spec.env;
    request.cwd = spec.working_dir;
    request.cgroup_dir_fd = cgroup_fd;
    request.join_fds = std::move(limits.join_fds);
    request.user = config_.task_user ? &*config_.task_user : nullptr;
    ProcessTask* t = task.get();
    // Named to the reaper before the child exists: an agent killed during
    // the spawn leaves nothing in the cgroup behind. A reused cgroup was
    // named by its first task and stayed so in the pool.
    if (!t->cgroup_dir.empty() && !reused) track(*t, true);
    std::vector<int> fds = request.join_fds;
    spawner_.submit(
        std::move(request),
        [t, cgroup_fd, fds = std::move(fds)](agent::Result<Spawned> r) {
          if (cgroup_fd >= 0) ::close(cgroup_fd);
          for (int fd : fds) ::close(fd);
          t->spawned(std::move(r));
        },
        /*lone=*/running_ == 0);
    return std::unique_ptr<agent::runner::RunnerTask>(std::move(task));
  }

  // The child of `task` exists and its handles are open. A task with a
  // cgroup was named to the reaper before its spawn; one without is named by
  // its process group, known only now.
  void child_started(ProcessTask& task) {
    spawned_++;
    running_++;
    if (task.cgroup_dir.empty()) track(task, true);
  }

  void kill(agent::runner::RunnerTask& task, KillMode mode) override {
    static_cast<ProcessTask&>(task).kill(mode);
  }

  void set_output_paused(agent::runner::RunnerTask& task, bool paused) override {
    static_cast<ProcessTask&>(task).set_paused(paused);
  }

  void release(std::unique_ptr<agent::runner::RunnerTask> task) override {
    auto* pt = static_cast<ProcessTask*>(task.release());
    pt->close_pipes();  // released with its pipes open
    pt->watch(pt->exit_, false);
    agent::uv::Closeable::close(std::unique_ptr<agent::uv::Closeable>(pt));
  }

  std::vector<std::pair<std::string, int64_t>> counters() const override {
    return {{"process_spawned", spawned_},
            {"process_spawned_on_loop", static_cast<int64_t>(spawner_.made_on_loop())},
            {"process_leftovers_killed", leftovers_killed_},
            {"process_running", running_},
            {"process_cgroups", cgroups_.enabled() ? 1 : 0},
            {"process_cgroups_pending_removal", static_cast<int64_t>(pending_cgroups_.size())}};
  }

  void write_metrics(agent::metrics::Registry& registry) const override {
    registry.counter("runnerd_process_spawned_total", "Processes the Process runner started.")
        .add({}, static_cast<double>(spawned_));
    registry.gauge("runnerd_process_cgroups_enabled",
                   "1 when Process tasks get a cgroup each, else 0 (process groups only).")
        .add({}, cgroups_.enabled() ? 1 : 0);
  }

  // A cgroup that still had exiting processes: removed on a later tick.
  void remove_cgroup_later(std::string dir) {
    pending_cgroups_.push_back(std::move(dir));
    if (retry_timer_ == nullptr) {
      retry_timer_ = new uv_timer_t;
      uv_timer_init(loop_, retry_timer_);
      retry_timer_->data = this;
      uv_unref(reinterpret_cast<uv_handle_t*>(retry_timer_));
    }
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(retry_timer_))) {
      uv_timer_start(retry_timer_, &ProcessRunner::on_retry, 50, 0);
    }
  }

  void task_finished() { running_--; }
  void leftovers_killed() { leftovers_killed_++; }

  // The cgroup of a task that ran without limits, once nothing is left in it:
  // kept for the next such task (true), as working directories are
  // (agent/supervisor/work_dir_pool.h). Making a cgroup creates its control
  // files in kernfs and removing it tears them down: together about a fifth
  // of the loop's time per trivial task. Kept while tasks come; removed after
  // kIdleTrimMs without any running.
  bool give_back_cgroup(const std::string& dir) {
    // As many as can run at once: what ends gives back what starts takes.
    size_t most = static_cast<size_t>(std::clamp(config_.max_running, 64, 4096));
    if (idle_cgroups_.size() >= most || !cgroup::reusable(dir)) return false;
    idle_cgroups_.push_back(dir);
    if (trim_timer_ == nullptr) {
      trim_timer_ = new uv_timer_t;
      uv_timer_init(loop_, trim_timer_);
      trim_timer_->data = this;
      uv_unref(reinterpret_cast<uv_handle_t*>(trim_timer_));
    }
    uv_timer_start(trim_timer_, &ProcessRunner::on_trim, kIdleTrimMs, 0);
    return true;
  }
  uv_buf_t read_buffer() { return uv_buf_init(read_buf_, sizeof read_buf_); }
  // Pipes grown for chatty tasks (ProcessTask::grow_pipe_if_chatty), bounded.
  bool take_chatty_pipe() {
    if (chatty_pipes_ >= kMaxChattyPipes) return false;
    chatty_pipes_++;
    return true;
  }
  void give_back_chatty_pipe() { chatty_pipes_--; }

 private:
  static constexpr uint64_t kIdleTrimMs = 1000;

  static void on_trim(uv_timer_t* t) noexcept {
    auto* self = static_cast<ProcessRunner*>(t->data);
    if (self->running_ > 0) {  // still in use: look again later
      uv_timer_start(t, &ProcessRunner::on_trim, kIdleTrimMs, 0);
      return;
    }
    self->remove_idle_cgroups();
  }

  void remove_idle_cgroups() {
    for (auto& dir : idle_cgroups_) {
      if (cgroup::remove(dir).ok()) {
        reaper_.untrack_cgroup(base_name(dir));
      } else {
        remove_cgroup_later(std::move(dir));  // untracked once removed
      }
    }
    idle_cgroups_.clear();
  }

  static void on_retry(uv_timer_t* t) noexcept {
    auto* self = static_cast<ProcessRunner*>(t->data);
    std::vector<std::string> still;
    for (auto& dir : self->pending_cgroups_) {
      cgroup::signal_all(dir, SIGKILL);
      if (cgroup::remove(dir).ok()) {
        // The reaper follows v2 task cgroups only (v1 ones hold the same processes).
        bool v2 = self->cgroups_.enabled() && dir.rfind(self->cgroups_.dir() + "/", 0) == 0;
        if (v2) self->reaper_.untrack_cgroup(base_name(dir));
      } else {
        still.push_back(dir);
      }
    }
    self->pending_cgroups_ = std::move(still);
    if (!self->pending_cgroups_.empty()) uv_timer_start(t, &ProcessRunner::on_retry, 200, 0);
  }

  uv_loop_t* loop_;
  const agent::AgentConfig& config_;
  CgroupRoot cgroups_;
  Limits limits_;
  TaskReaper reaper_;
  Spawner spawner_;
  FdWatch watch_;
  int64_t spawned_ = 0;
  int64_t leftovers_killed_ = 0;  // tasks whose pipes were still held when they exited
  int64_t running_ = 0;
  int chatty_pipes_ = 0;
  std::vector<std::string> pending_cgroups_;
  uv_timer_t* retry_timer_ = nullptr;
  std::vector<std::string> idle_cgroups_;  // empty task cgroups, for tasks without limits
  uv_timer_t* trim_timer_ = nullptr;
  // One read buffer for every task: the observer consumes bytes synchronously.
  char read_buf_[64 * 1024];
};

agent::Status ProcessTask::init(uv_loop_t* loop) {
  int rc = uv_timer_init(loop, &drain_timer_);
  if (rc != 0) return agent::Error::from_uv(rc, "creating the task's drain timer");
  adopt(&drain_timer_);
  return {};
}

void ProcessTask::spawned(agent::Result<Spawned> result) {
  spawning_ = false;
  if (!result.ok()) {
    fail_spawn(result.error());
    return;
  }
  const Spawned& s = *result;
  pid_ = s.pid;
  pidfd_ = s.pidfd;
  agent::Status st = open(s);
  if (!st.ok()) {
    // The child must not outlive its task.
    ::kill(-s.pid, SIGKILL);
    waitpid(s.pid, nullptr, 0);
    fail_spawn(st.error());
    return;
  }
  runner_.child_started(*this);
  observer_.on_started(*this);
  if (pending_signal_ != 0) kill(pending_signal_ == SIGKILL ? KillMode::kForce : KillMode::kGraceful);
}

// Nothing of the task runs: its cgroups go, and the task ends with the reason.
void ProcessTask::fail_spawn(const agent::Error& error) {
  finished_ = true;
  nothing_left_ = true;
  if (!cgroup_dir.empty()) {
    (void)cgroup::remove(cgroup_dir);
    runner_.track(*this, false);
  }
  for (const auto& d : v1_dirs) (void)cgroup::remove(d);
  observer_.on_finished(*this, error);
}

agent::Status ProcessTask::open(const Spawned& s) {
  exit_.fd = s.pidfd;  // pidfd_ owns it: closed with the task
  out_.fd = s.stdout_fd;
  err_.fd = s.stderr_fd;
  agent::Status st = runner_.fd_watch().add(exit_.fd, &exit_);
  if (st.ok()) exit_.watched = true;
  for (Source* p : {&out_, &err_}) {
    if (!st.ok() || paused_) break;
    st = runner_.fd_watch().add(p->fd, p);
    if (st.ok()) p->watched = true;
  }
  if (!st.ok()) {
    close_pipes();
    watch(exit_, false);
    return std::move(st).error().context("watching the task's output");
  }
  return {};
}

void ProcessTask::Source::ready(uint32_t events) noexcept {
  // Taken out of the set earlier in the same batch: what it still reported
  // is stale.
  if (!watched) return;
  if (kind == kExit) {
    task->on_exit();
  } else {
    // A hangup: every writer is gone, so what is left is read to EOF now and
    // the pipe closed in this pass, as libuv's streams did. Left for the next
    // pass, each ended task's pipes stayed open while its log file opened:
    // 6,636 sleepers ending at once ran the agent out of descriptors.
    task->on_readable(*this, (events & (EPOLLHUP | EPOLLERR)) != 0);
  }
}

// Reads until the pipe is empty for now (a read that does not fill the
// buffer), at most kReadsPerWakeup times: a level-triggered set reports a
// pipe that still holds data again at the next iteration. `to_end` (the
// child has exited, or the pipe hung up): reads go on past a short one, to
// EOF or until nothing is there (something left still holds the pipe).
void ProcessTask::on_readable(Source& pipe, bool to_end) {
  OutputStream which = pipe.kind == Source::kStdout ? OutputStream::kStdout : OutputStream::kStderr;
  for (int i = 0; i < kReadsPerWakeup; i++) {
    uv_buf_t buf = runner_.read_buffer();
    ssize_t n = ::read(pipe.fd, buf.base, buf.len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
      pipe_done(pipe);  // EOF, or an error that ends the stream alike
      return;
    }
    bool full = static_cast<size_t>(n) == buf.len;
    if (full) grow_pipe_if_chatty(pipe);
    observer_.on_output(*this, which, std::string_view(buf.base, static_cast<size_t>(n)));
    if (!pipe.watched) return;  // paused or released meanwhile
    if (!full && !to_end) return;  // drained for now
  }
}

void ProcessTask::watch(Source& s, bool on) {
  if (s.fd < 0 || s.watched == on) return;
  if (!on) {
    runner_.fd_watch().remove(s.fd);
    s.watched = false;
    return;
  }
  agent::Status st = runner_.fd_watch().add(s.fd, &s);
  if (st.ok()) {
    s.watched = true;
  } else if (s.kind != Source::kExit) {
    // Output that cannot be followed any more ends here rather than hang the task.
    agent::log::warn("process runner: " + st.error().message() + "; output of pid " +
                     std::to_string(pid_) + " is cut");
    pipe_done(s);
  }
}

// A task that keeps its pipe full waits on it each time the agent works
// through one read (a 64 KiB pipe holds one). Its pipe grows to 1 MiB, so it
// goes on writing meanwhile: one task writing 1 GiB of log, 600-700 -> 750-840
// MB/s stored. The kernel takes the pages only as they fill, charged to the
// task's memory cgroup, and only a task that writes this much gets it (a quiet
// one keeps the default), at most kMaxChattyPipes at once.
void ProcessTask::grow_pipe_if_chatty(Source& pipe) {
  if (full_reads_ < kFullReadsToGrow) {
    full_reads_++;
    return;
  }
  if (full_reads_ == kGrowRefused) return;
  // Chatty: whichever of its pipes next fills a read grows, stdout or stderr.
  if (pipe.grown || !runner_.take_chatty_pipe()) return;
  if (fcntl(pipe.fd, F_SETPIPE_SZ, kChattyPipeBytes) >= 0) {
    pipe.grown = true;
    return;
  }
  runner_.give_back_chatty_pipe();
  full_reads_ = kGrowRefused;  // pipe-max-size or pipe-user-pages: not asked again
}

void ProcessTask::close_pipe(Source& pipe) {
  if (pipe.fd < 0) return;
  watch(pipe, false);  // out of the set first: a child being spawned may hold a copy
  ::close(pipe.fd);
  pipe.fd = -1;
  if (pipe.grown) runner_.give_back_chatty_pipe();
  pipe.grown = false;
}

void ProcessTask::close_pipes() {
  close_pipe(out_);
  close_pipe(err_);
}

void ProcessTask::pipe_done(Source& pipe) {
  close_pipe(pipe);
  maybe_finish();
}

void ProcessTask::on_exit() {
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return;  // spurious wakeup
  watch(exit_, false);
  exited_ = true;
  wait_status_ = r == pid_ ? status : 0;
  // Its pipes reached EOF as it exited, unless something it left holds them;
  // the set may report that after the exit, so they are read out here.
  for (Source* p : {&out_, &err_}) {
    if (p->watched) on_readable(*p, /*to_end=*/true);
  }
  if (finished_) return;
  // What the task left running dies with it; its pipes then reach EOF.
  if (out_.fd >= 0 || err_.fd >= 0) {
    kill_leftovers();
    // A process outside the cgroup and the process group may still hold a pipe.
    uv_timer_start(&drain_timer_, on_drain_timeout, 2000, 0);
  }
  maybe_finish();
}

void ProcessTask::on_drain_timeout(uv_timer_t* t) noexcept {
  auto& self = owner<ProcessTask>(t);
  if (self.out_.fd >= 0) self.pipe_done(self.out_);
  if (self.err_.fd >= 0) self.pipe_done(self.err_);
}

void ProcessTask::kill_leftovers() {
  runner_.leftovers_killed();
  ::kill(-pid_, SIGKILL);
  cgroup_killed = true;
  if (!cgroup_dir.empty()) cgroup::signal_all(cgroup_dir, SIGKILL);
  else if (!v1_dirs.empty()) cgroup::signal_all(v1_dirs.front(), SIGKILL);
}

void ProcessTask::kill(KillMode mode) {
  if (finished_) return;
  int sig = mode == KillMode::kGraceful ? SIGTERM : SIGKILL;
  if (spawning_) {  // no pid yet: sent once there is one
    if (pending_signal_ != SIGKILL) pending_signal_ = sig;
    return;
  }
  if (!exited_) ::kill(-pid_, sig);  // the task's process group (it is a session leader)
  if (sig == SIGKILL) cgroup_killed = true;
  if (!cgroup_dir.empty()) cgroup::signal_all(cgroup_dir, sig);  // and whoever left the group
  else if (!v1_dirs.empty()) cgroup::signal_all(v1_dirs.front(), sig);
}

void ProcessTask::set_paused(bool paused) {
  if (paused == paused_) return;
  paused_ = paused;
  if (spawning_) return;  // open() reads or not as it is then
  watch(out_, !paused);
  watch(err_, !paused);
}

void ProcessTask::maybe_finish() {
  if (finished_ || !exited_ || out_.fd >= 0 || err_.fd >= 0) return;
  finished_ = true;
  uv_timer_stop(&drain_timer_);
  runner_.task_finished();
  // Read before the cgroup goes: did the kernel kill any of it at its memory limit?
  int64_t oom_kills = runners::process::oom_kills(oom_file);
  bool pooled = !cgroup_dir.empty() && reusable_cgroup && !cgroup_killed &&
                runner_.give_back_cgroup(cgroup_dir);
  if (pooled) {
    nothing_left_ = true;  // an empty cgroup: nothing of the task runs; still named to the
                           // reaper, for the next task in it
  } else if (!cgroup_dir.empty() && cgroup::remove(cgroup_dir).ok()) {
    nothing_left_ = true;
    runner_.track(*this, false);
  } else if (cgroup_dir.empty()) {
    runner_.track(*this, false);
  } else {
    runner_.remove_cgroup_later(cgroup_dir);  // still named to the reaper meanwhile
  }
  for (const auto& dir : v1_dirs) {
    if (!cgroup::remove(dir).ok()) runner_.remove_cgroup_later(dir);
  }
  ExitStatus status = agent::runner::Exited{0};
  bool clean_exit = false;
  if (WIFEXITED(wait_status_)) {
    status = agent::runner::Exited{WEXITSTATUS(wait_status_)};
    clean_exit = WEXITSTATUS(wait_status_) == 0;
  } else if (WIFSIGNALED(wait_status_)) {
    status = agent::runner::Signaled{WTERMSIG(wait_status_)};
  }
  if (oom_kills > 0) {
    if (clean_exit) {
      // A child was killed, yet the task handled it and succeeded: said, not failed.
      observer_.on_note(*this, true,
                        "the kernel killed " + std::to_string(oom_kills) +
                            " process(es) of the task: they hit its memory limit");
    } else {
      // The task, or a child it depended on, was killed at its memory limit.
      status = agent::runner::Signaled{SIGKILL, /*out_of_memory=*/true};
    }
  }
  observer_.on_finished(*this, status);
}

}  // namespace

agent::Result<std::unique_ptr<agent::runner::Runner>> Factory::create(
    agent::runner::RunnerContext& ctx) {
  auto runner = std::make_unique<ProcessRunner>(ctx.loop, *ctx.config);
  AGENT_TRY(runner->start_spawner());
  AGENT_TRY(runner->start_watch());
  runner->init_cgroups();
  return std::unique_ptr<agent::runner::Runner>(std::move(runner));
}

}  // namespace runners::process
