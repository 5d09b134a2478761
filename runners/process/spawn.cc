#include "runners/process/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace runners::process {

namespace {

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

struct FileActions {
  posix_spawn_file_actions_t fa;
  FileActions() { posix_spawn_file_actions_init(&fa); }
  ~FileActions() { posix_spawn_file_actions_destroy(&fa); }
};

struct Attr {
  posix_spawnattr_t attr;
  Attr() { posix_spawnattr_init(&attr); }
  ~Attr() { posix_spawnattr_destroy(&attr); }
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

agent::Result<Spawned> spawn_task(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& env, const std::string& cwd) {
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

  FileActions fa;
  posix_spawn_file_actions_addopen(&fa.fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa.fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa.fa, err[1], 2);
  posix_spawn_file_actions_addchdir_np(&fa.fa, cwd.c_str());

  Attr attr;
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr.attr, &none);
  posix_spawnattr_setsigdefault(&attr.attr, &all);
  posix_spawnattr_setflags(&attr.attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> cargv;
  cargv.reserve(argv.size() + 1);
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::vector<char*> cenv;
  cenv.reserve(env.size() + 1);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  Spawned s;
  int rc = posix_spawnp(&s.pid, cargv[0], &fa.fa, &attr.attr, cargv.data(), cenv.data());
  close_fd(out[1]);
  close_fd(err[1]);
  if (rc != 0) {
    close_fd(out[0]);
    close_fd(err[0]);
    return agent::Error::from_errno(rc, "cannot start '" + argv[0] + "'");
  }
  s.pidfd = pidfd_open(s.pid);
  if (s.pidfd < 0) {
    int e = errno;
    // Without a pidfd the child cannot be reaped by event: end it now.
    kill(-s.pid, SIGKILL);
    waitpid(s.pid, nullptr, 0);
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
