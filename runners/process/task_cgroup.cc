#include "runners/process/task_cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <string_view>

#include "runners/process/control_files.h"

namespace runners::process {

agent::Status CgroupRoot::init(const std::string& name) {
  std::string mount;
  if (exists("/sys/fs/cgroup/cgroup.controllers")) {
    mount = "/sys/fs/cgroup";
  } else if (exists("/sys/fs/cgroup/unified/cgroup.procs")) {
    mount = "/sys/fs/cgroup/unified";
  } else {
    return agent::Error(agent::Errc::kUnavailable, "no cgroup v2 hierarchy is mounted");
  }
  std::string own;
  std::istringstream lines(read_file("/proc/self/cgroup"));
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("0::", 0) == 0) own = line.substr(3);
  }
  if (own.empty()) return agent::Error(agent::Errc::kUnavailable, "no v2 entry in /proc/self/cgroup");
  std::string base = mount + (own == "/" ? "" : own);
  std::string dir = base + "/" + name;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return agent::Error::from_errno(errno, "creating cgroup " + dir);
  }
  if (access((dir + "/cgroup.procs").c_str(), W_OK) != 0) {
    return agent::Error::from_errno(errno, "cgroup " + dir + " is not writable");
  }
  dir_ = dir;
  return {};
}

namespace cgroup {

agent::Result<std::string> create(const CgroupRoot& root, const std::string& name) {
  std::string dir = root.dir() + "/" + name;
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return agent::Error::from_errno(errno, "creating cgroup " + dir);
  }
  return dir;
}

int open_dir(const std::string& dir) {
  return open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

void signal_all(const std::string& dir, int sig) {
  if (sig == SIGKILL && write_file(dir + "/cgroup.kill", "1").ok()) return;
  std::istringstream procs(read_file(dir + "/cgroup.procs"));
  for (pid_t pid; procs >> pid;) kill(pid, sig);
}

std::vector<std::string> children(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    out.push_back(dir + "/" + e->d_name);
  }
  closedir(d);
  return out;
}

bool reusable(const std::string& dir) {
  // This runs for every task that ends, so with one read: cgroup.events is
  // two short lines. (A descriptor of the directory held from the spawn to
  // the end would spare the two path walks, at one more descriptor per
  // running task: a quarter fewer tasks per RLIMIT_NOFILE.)
  int fd = open((dir + "/cgroup.events").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return false;
  std::string_view events(buf, static_cast<size_t>(n));
  if (events.find("populated 0\n") == std::string_view::npos ||
      events.find("frozen 1") != std::string_view::npos) {
    return false;
  }
  // No cgroup below it: kernfs keeps a directory's link count at 2 plus its
  // subdirectories, so one stat answers what reading cgroup.stat
  // (nr_descendants) would with an open, a read and a close.
  struct stat st;
  return stat(dir.c_str(), &st) == 0 && st.st_nlink == 2;
}

agent::Status remove(const std::string& dir) {
  if (rmdir(dir.c_str()) != 0 && errno != ENOENT) {
    return agent::Error::from_errno(errno, "removing cgroup " + dir);
  }
  return {};
}


}  // namespace cgroup

}  // namespace runners::process
