#include "runners/process/spawn.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "agent/common/sanitizers.h"
#include "agent/files/tree.h"
#include "runners/process/clone_into.h"

namespace runners::process {

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

namespace {

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// What the child needs, prepared by the parent: the child may only make
// system calls (it shares the parent's memory until it execs).
struct ChildPlan {
  char* const* argv;
  char* const* envp;
  const char* cwd;
  int cgroup_fd;
  const int* join_fds;  // v1 cgroup.procs files (task_limits.h)
  size_t join_count;
  int out_w;
  int err_w;
  bool switch_user;
  uid_t uid;
  gid_t gid;
  const gid_t* groups;
  size_t group_count;
  volatile int* error;  // errno of the step that failed, read by the parent
  volatile int* step;   // which step failed
  int status_w;         // >= 0 when the child does not share our memory (below)
  int unshare_from;     // >= 0: the child starts on our descriptor table (SpawnSlots)
};

// ThreadSanitizer turns vfork into fork: the child's writes to `error` and
// `step` would not reach the parent, so under TSan they also go through a
// close-on-exec pipe (EOF: the exec happened).
constexpr bool kChildHasOwnMemory = agent::kThreadSanitizer;

enum Step { kCgroup = 1, kFiles, kSetsid, kStdin, kStdout, kStderr, kChdir, kGroups, kGid, kUid, kNoNewPrivs, kExec };
const char* const kStepNames[] = {"",
                                  "joining its cgroup",
                                  "making its own descriptor table",
                                  "setsid",
                                  "opening /dev/null",
                                  "redirecting stdout",
                                  "redirecting stderr",
                                  "changing to its working directory",
                                  "setting its groups (taskUser)",
                                  "setting its gid (taskUser)",
                                  "setting its uid (taskUser)",
                                  "setting no_new_privs",
                                  "exec"};

[[noreturn]] void child_fail(const ChildPlan& p, int step) {
  *p.error = errno;
  *p.step = step;
  if (p.status_w >= 0) {
    int report[2] = {step, errno};
    (void)!write(p.status_w, report, sizeof report);
  }
  _exit(127);
}

[[noreturn]] void run_child(const ChildPlan& p) {
  if (p.cgroup_fd >= 0 && write(p.cgroup_fd, "0", 1) != 1) child_fail(p, kCgroup);
  for (size_t i = 0; i < p.join_count; i++) {
    if (write(p.join_fds[i], "0", 1) != 1) child_fail(p, kCgroup);
  }
  // On the agent's table so far, which nothing above changed: from here on a
  // table of its own, holding only the descriptors below `unshare_from`.
  if (p.unshare_from >= 0 &&
      syscall(SYS_close_range, static_cast<unsigned>(p.unshare_from), ~0u, CLOSE_RANGE_UNSHARE) != 0) {
    child_fail(p, kFiles);
  }
  if (setsid() < 0) child_fail(p, kSetsid);
  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0) child_fail(p, kStdin);
  if (null_fd != 0 && (dup2(null_fd, 0) < 0 || close(null_fd) != 0)) child_fail(p, kStdin);
  if (dup2(p.out_w, 1) < 0) child_fail(p, kStdout);
  if (dup2(p.err_w, 2) < 0) child_fail(p, kStderr);
  if (chdir(p.cwd) != 0) child_fail(p, kChdir);
  // Raw system calls: glibc's setuid and friends would make every thread of
  // the process change credentials, and in a vfork child those are the
  // agent's threads. Groups, then gid, then uid (after it, the others are no
  // longer allowed), then no_new_privs: nothing it execs can gain privileges.
  if (p.switch_user) {
    if (syscall(SYS_setgroups, p.group_count, p.groups) != 0) child_fail(p, kGroups);
    if (syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0) child_fail(p, kGid);
    if (syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0) child_fail(p, kUid);
  }
  if (p.switch_user && syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) != 0) child_fail(p, kNoNewPrivs);
  // Only 0, 1 and 2 go on (the agent's are close-on-exec; this makes sure).
  if (p.status_w > 3) {  // kept until the exec closes it
    (void)syscall(SYS_close_range, 3u, static_cast<unsigned>(p.status_w - 1), 0u);
    (void)syscall(SYS_close_range, static_cast<unsigned>(p.status_w + 1), ~0u, 0u);
  } else {
    (void)syscall(SYS_close_range, 3u, ~0u, 0u);
  }
  // The child has its own copy of the handlers (no CLONE_SIGHAND): reset them
  // all, so the task starts with defaults (SIGPIPE included), then unblock.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execvpe(p.argv[0], p.argv, p.envp);
  child_fail(p, kExec);
}

void run_child_entry(void* plan) { run_child(*static_cast<const ChildPlan*>(plan)); }

// vfork in a function of its own, with nothing live across it but `plan`.
pid_t vfork_child(const ChildPlan& plan) {
  pid_t pid = vfork();
  if (pid == 0) run_child(plan);
  return pid;
}

// Into its cgroup at birth where the kernel can (clone_into.h), else vfork
// and the child writes itself into `cgroup.procs`. `plan.cgroup_fd` is then
// that file, opened here.
pid_t start_child(ChildPlan& plan, int cgroup_dir_fd) {
  if (cgroup_dir_fd >= 0 && clone_into_available()) {
    pid_t pid = clone_into_cgroup(cgroup_dir_fd, run_child_entry, &plan, plan.unshare_from >= 0);
    if (pid >= 0) return pid;
    remember_refusal(errno);
    if (clone_into_available()) return -1;  // a real failure (EAGAIN, ENOMEM)
  }
  if (cgroup_dir_fd >= 0) {
    plan.cgroup_fd = openat(cgroup_dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
    if (plan.cgroup_fd < 0) return -1;
  }
  pid_t pid = vfork_child(plan);
  int e = errno;
  close_fd(plan.cgroup_fd);
  errno = e;
  return pid;
}

// CLOSE_RANGE_UNSHARE came with Linux 5.9. It cannot be tried: in a thread
// of the agent it would give that thread a table of its own. A child that
// was refused it (a seccomp filter) turns it off for good.
std::atomic<bool> unshare_refused{false};

bool kernel_unshares_ranges() {
  if (unshare_refused.load(std::memory_order_relaxed)) return false;
  static const bool yes = [] {
    struct utsname u;
    int major = 0, minor = 0;
    if (uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return false;
    return major > 5 || (major == 5 && minor >= 9);
  }();
  return yes;
}

}  // namespace

agent::Status SpawnSlots::open() {
  for (int* fd : {&out, &err, &null}) {
    *fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (*fd >= 0 && *fd < 3) {  // an agent started without stdin: never 0, 1 or 2
      int moved = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
      ::close(*fd);
      *fd = moved;
    }
    if (*fd < 0) {
      int e = errno;
      close();
      return agent::Error::from_errno(e, "opening /dev/null");
    }
  }
  return {};
}

void SpawnSlots::close() {
  for (int* fd : {&out, &err, &null}) close_fd(*fd);
}

std::vector<char*> task_environment(const std::vector<std::string>& env) {
  std::vector<char*> out;
  out.reserve(env.size() + 1);
  for (const auto& e : env) {
    std::string_view entry = e;
    char first = entry.empty() ? '\0' : entry[0];
    bool agents_own = (first == 'N' || first == 'W' || first == 'L' || first == 'S') &&
                      (entry.starts_with("NOTIFY_SOCKET=") || entry.starts_with("WATCHDOG_") ||
                       entry.starts_with("LISTEN_") || entry.starts_with("SECRET_"));
    if (agents_own) {
      size_t eq = entry.find('=');
      std::string name(entry.substr(0, eq));
      const char* mine = eq == std::string_view::npos ? nullptr : std::getenv(name.c_str());
      if (mine != nullptr && entry.substr(eq + 1) == mine) continue;
    }
    out.push_back(const_cast<char*>(e.c_str()));
  }
  out.push_back(nullptr);
  return out;
}

agent::Result<Spawned> spawn_task(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& env, const std::string& cwd,
                                  int cgroup_dir_fd, const agent::TaskUser* user,
                                  const std::vector<int>& join_fds, const SpawnSlots* slots) {
  if (argv.empty() || argv[0].empty()) {
    return agent::Error(agent::Errc::kInvalidArgument, "empty command line");
  }
  if (user != nullptr) {
    // The task's files are its user's: what the agent staged (input and
    // namespace files, the script), walked by descriptor; hard links to other
    // files are left alone.
    agent::Status given = agent::files::chown_tree(cwd, user->uid, user->gid);
    if (!given.ok()) return std::move(given).error().context("cannot start '" + argv[0] + "'");
  }
  int out[2] = {-1, -1};
  int err[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) != 0) return agent::Error::from_errno(errno, "creating stdout pipe");
  if (pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    close_fd(out[0]);
    close_fd(out[1]);
    return agent::Error::from_errno(e, "creating stderr pipe");
  }

  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv = task_environment(env);

  volatile int child_errno = 0;
  volatile int child_step = 0;
  int status[2] = {-1, -1};
  if (kChildHasOwnMemory && pipe2(status, O_CLOEXEC) != 0) {
    int e = errno;
    for (int fd : {out[0], out[1], err[0], err[1]}) close_fd(fd);
    return agent::Error::from_errno(e, "creating a status pipe");
  }
  // The pipe ends go to the slots, below every other descriptor the child
  // needs after making its table: it copies those only.
  bool slotted = slots != nullptr && slots->usable() && !kChildHasOwnMemory &&
                 clone_into_available() && kernel_unshares_ranges() &&
                 dup3(out[1], slots->out, O_CLOEXEC) >= 0 && dup3(err[1], slots->err, O_CLOEXEC) >= 0;
  ChildPlan plan{cargv.data(), cenv.data(), cwd.c_str(), -1, join_fds.data(), join_fds.size(),
                 slotted ? slots->out : out[1], slotted ? slots->err : err[1],
                 user != nullptr,
                 user != nullptr ? user->uid : 0,
                 user != nullptr ? user->gid : 0,
                 user != nullptr ? user->groups.data() : nullptr,
                 user != nullptr ? user->groups.size() : 0,
                 &child_errno, &child_step, status[1],
                 slotted ? std::max(slots->out, slots->err) + 1 : -1};

  // No handler of the agent's may run in the child while it shares our memory.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = start_child(plan, cgroup_dir_fd);
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close_fd(out[1]);
  close_fd(err[1]);
  if (slots != nullptr && slots->usable()) {  // the pipes' write ends are the child's alone
    (void)dup3(slots->null, slots->out, O_CLOEXEC);
    (void)dup3(slots->null, slots->err, O_CLOEXEC);
  }
  if (kChildHasOwnMemory) {
    close_fd(status[1]);
    int report[2] = {0, 0};
    ssize_t n;
    do {
      n = pid < 0 ? 0 : read(status[0], report, sizeof report);
    } while (n < 0 && errno == EINTR);
    close_fd(status[0]);
    if (n == static_cast<ssize_t>(sizeof report)) {
      child_step = report[0];
      child_errno = report[1];
    }
  }

  if (slotted && pid >= 0 && child_step == kFiles) {
    // Refused its own table: spawned again the way that copies it.
    waitpid(pid, nullptr, 0);
    close_fd(out[0]);
    close_fd(err[0]);
    unshare_refused.store(true, std::memory_order_relaxed);
    return spawn_task(argv, env, cwd, cgroup_dir_fd, user, join_fds, nullptr);
  }
  if (pid < 0 || child_step != 0) {
    close_fd(out[0]);
    close_fd(err[0]);
    if (pid < 0) return agent::Error::from_errno(fork_errno, "cannot start '" + argv[0] + "'");
    waitpid(pid, nullptr, 0);
    int step = child_step;
    std::string what = "cannot start '" + argv[0] + "'";
    if (step != kExec) what += std::string(" (") + kStepNames[step] + ")";
    return agent::Error::from_errno(child_errno, what);
  }

  Spawned s;
  s.pid = pid;
  s.pidfd = pidfd_open(pid);
  if (s.pidfd < 0) {
    int e = errno;
    // Without a pidfd the child cannot be reaped by event: end it now.
    kill(-pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    close_fd(out[0]);
    close_fd(err[0]);
    return agent::Error::from_errno(e, "pidfd_open");
  }
  // A pidfd is close-on-exec from the start (pidfd_open(2)).
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  s.stdout_fd = out[0];
  s.stderr_fd = err[0];
  return s;
}

}  // namespace runners::process
