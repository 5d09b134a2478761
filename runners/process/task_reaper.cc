#include "runners/process/task_reaper.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>

#include "runners/process/spawn.h"
#include "runners/process/task_cgroup.h"

namespace runners::process {

namespace {

std::string g_program;

// While the agent is busy, the reaper reads its messages this often rather
// than at each one: every write to a pipe with a sleeping reader woke it, two
// context switches per task started or ended, on the cores the tasks need.
constexpr int kBusyDrainMs = 50;
// The pipe then holds what comes meanwhile: at 2,000 tasks/s, 50 ms of
// messages is about 10 KiB.
constexpr int kPipeBytes = 1 << 20;

// Applies whole lines of `buf` to the sets and drops them from it; true at
// the goodbye.
bool apply_lines(std::string& buf, std::set<std::string>& cgroups, std::set<pid_t>& groups) {
  size_t start = 0;
  for (size_t nl; (nl = buf.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string_view line(buf.data() + start, nl - start);
    if (line == "q") return true;  // goodbye: nothing to kill
    if (line.size() < 3) continue;
    std::string id(line.substr(2));
    if (line[1] == 'c') {
      if (line[0] == '+') cgroups.insert(id); else cgroups.erase(id);
    } else if (line[1] == 'p') {
      pid_t pgid = static_cast<pid_t>(std::strtol(id.c_str(), nullptr, 10));
      if (pgid <= 1) continue;
      if (line[0] == '+') groups.insert(pgid); else groups.erase(pgid);
    }
  }
  buf.erase(0, start);
  return false;
}

}  // namespace

void enable_task_reaper(std::string program) { g_program = std::move(program); }

int run_task_reaper(const char* cgroup_root) {
  // Signals meant for the agent (a terminal's Ctrl-C, a service manager's
  // SIGTERM to the group) must not stop the cleanup.
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) signal(sig, SIG_IGN);
  prctl(PR_SET_NAME, "runnerd-reaper", 0, 0, 0);
  std::set<std::string> cgroups;
  std::set<pid_t> groups;
  std::string buf;
  char chunk[4096];
  // The agent's death wakes the reaper through a pidfd of it; its messages
  // wake it only while it is quiet (`listening`). Once one has, the pipe is
  // left out of the poll and read every kBusyDrainMs, until a read finds
  // nothing new. Without a pidfd (kernel < 5.3): a blocking read, as the pipe
  // reaching end of file says as much.
  pid_t agent = getppid();
  int agent_fd = pidfd_open(agent);
  if (agent_fd >= 0 && getppid() != agent) {  // it died before we looked
    close(agent_fd);
    agent_fd = -1;
  }
  if (agent_fd >= 0) fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
  bool listening = true;
  bool eof = false;
  while (!eof) {
    if (agent_fd >= 0) {
      struct pollfd fds[2] = {{agent_fd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
      if (poll(fds, listening ? 2 : 1, listening ? -1 : kBusyDrainMs) < 0 && errno != EINTR) break;
    }
    bool got = false;
    for (;;) {
      ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n == 0 || (n < 0 && errno != EAGAIN)) {
        eof = true;  // the agent is gone (with what it wrote read first)
        break;
      }
      if (n < 0) break;  // EAGAIN: all read for now
      got = true;
      buf.append(chunk, static_cast<size_t>(n));
      if (agent_fd < 0) break;  // blocking: one read per turn
    }
    if (apply_lines(buf, cgroups, groups)) return 0;
    listening = !got;
  }
  std::string root = cgroup_root;
  for (const auto& name : cgroups) {
    if (root != "-" && name.find('/') == std::string::npos) cgroup::signal_all(root + "/" + name, SIGKILL);
  }
  for (pid_t pgid : groups) kill(-pgid, SIGKILL);
  if (!cgroups.empty() || !groups.empty()) {
    std::fprintf(stderr, "runnerd-reaper: the agent died: killed what was left of %zu tasks\n",
                 cgroups.size() + groups.size());
  }
  return 0;
}

TaskReaper::~TaskReaper() {
  if (fd_ >= 0) close(fd_);  // without a goodbye: the reaper kills what is named
}

agent::Status TaskReaper::start(const std::string& cgroup_root) {
  if (g_program.empty()) return {};
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return agent::Error::from_errno(errno, "starting the task reaper");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setpgroup(&attr, 0);  // a group of its own: a kill of the agent's group misses it
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
  std::string root = cgroup_root.empty() ? "-" : cgroup_root;
  char* argv[] = {const_cast<char*>(g_program.c_str()), const_cast<char*>("--task-reaper"),
                  const_cast<char*>(root.c_str()), nullptr};
  char* envp[] = {nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, g_program.c_str(), &actions, &attr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(fds[0]);
  if (rc != 0) {
    close(fds[1]);
    return agent::Error::from_errno(rc, "starting the task reaper " + g_program);
  }
  // Never block the loop on the reaper: a message that does not fit is dropped.
  fcntl(fds[1], F_SETFL, O_NONBLOCK);
  (void)fcntl(fds[1], F_SETPIPE_SZ, kPipeBytes);  // refused: the default, read sooner
  fd_ = fds[1];
  pid_ = pid;
  return {};
}

void TaskReaper::send(const std::string& message) {
  if (fd_ < 0) return;
  std::string line = message + "\n";
  ssize_t n = write(fd_, line.data(), line.size());
  (void)n;  // EAGAIN: dropped; the next start's sweep covers it
}

void TaskReaper::stop() {
  if (fd_ < 0) return;
  send("q");
  close(fd_);
  fd_ = -1;
  // It exits at once on the goodbye.
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace runners::process
