#include "runners/process/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace runners::process {

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

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
  int out_w;
  int err_w;
  volatile int* error;  // errno of the step that failed, read by the parent
  volatile int* step;   // which step failed
};

enum Step { kCgroup = 1, kSetsid, kStdin, kStdout, kStderr, kChdir, kExec };
const char* const kStepNames[] = {"",          "joining its cgroup", "setsid",
                                  "opening /dev/null", "redirecting stdout", "redirecting stderr",
                                  "changing to its working directory", "exec"};

[[noreturn]] void child_fail(const ChildPlan& p, int step) {
  *p.error = errno;
  *p.step = step;
  _exit(127);
}

[[noreturn]] void run_child(const ChildPlan& p) {
  if (p.cgroup_fd >= 0 && write(p.cgroup_fd, "0", 1) != 1) child_fail(p, kCgroup);
  if (setsid() < 0) child_fail(p, kSetsid);
  int null_fd = open("/dev/null", O_RDONLY);
  if (null_fd < 0) child_fail(p, kStdin);
  if (null_fd != 0 && (dup2(null_fd, 0) < 0 || close(null_fd) != 0)) child_fail(p, kStdin);
  if (dup2(p.out_w, 1) < 0) child_fail(p, kStdout);
  if (dup2(p.err_w, 2) < 0) child_fail(p, kStderr);
  if (chdir(p.cwd) != 0) child_fail(p, kChdir);
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

// vfork in a function of its own, with nothing live across it but `plan`.
pid_t start_child(const ChildPlan& plan) {
  pid_t pid = vfork();
  if (pid == 0) run_child(plan);
  return pid;
}

}  // namespace

agent::Result<Spawned> spawn_task(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& env, const std::string& cwd,
                                  int cgroup_procs_fd) {
  if (argv.empty() || argv[0].empty()) {
    return agent::Error(agent::Errc::kInvalidArgument, "empty command line");
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
  std::vector<char*> cenv;
  cenv.reserve(env.size() + 1);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  volatile int child_errno = 0;
  volatile int child_step = 0;
  ChildPlan plan{cargv.data(), cenv.data(), cwd.c_str(), cgroup_procs_fd, out[1], err[1],
                 &child_errno, &child_step};

  // No handler of the agent's may run in the child while it shares our memory.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = start_child(plan);
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close_fd(out[1]);
  close_fd(err[1]);

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
  fcntl(s.pidfd, F_SETFD, FD_CLOEXEC);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  s.stdout_fd = out[0];
  s.stderr_fd = err[0];
  return s;
}

}  // namespace runners::process
