#include "agent/supervisor/work_dir_pool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent/files/tree.h"

namespace agent {

namespace {

constexpr int kOpenDir = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

// Reading a directory the task's start changed would update its atime
// (relatime), a journalled inode write per task: O_NOATIME, where the
// agent may (it owns the directory, or is root).
int open_dir_at(int at, const char* path) {
  int fd = openat(at, path, kOpenDir | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = openat(at, path, kOpenDir);
  return fd;
}

// The directory holds exactly `name` (a directory), or nothing when `name` is
// empty. Reads to the end: a directory holding more than fits one read is
// not one to keep anyway.
bool holds_only(int fd, const std::string& name) {
  alignas(8) char buf[2048];
  int seen = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0) return false;
    if (n == 0) break;
    for (long off = 0; off < n;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buf + off);
      off += d->d_reclen;
      if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
      if (name.empty() || d->d_name != name || ++seen > 1) return false;
    }
  }
  return seen == (name.empty() ? 0 : 1);
}

}  // namespace

Status WorkDirPool::init(const std::string& root, const std::string& name, size_t capacity,
                         uid_t owner) {
  pool_dir_ = root + "/" + name;
  owner_ = owner;
  Status cleared = files::remove_tree(pool_dir_);  // an earlier agent's
  if (!cleared.ok()) return cleared;
  if (mkdir(pool_dir_.c_str(), 0750) != 0) {
    return Error::from_errno(errno, "creating " + pool_dir_);
  }
  // The mode a task's directories get (mkdir 0750 under our umask), read
  // back rather than by umask(2), which would change it for every thread.
  struct stat st;
  if (stat(pool_dir_.c_str(), &st) != 0) return Error::from_errno(errno, "reading " + pool_dir_);
  mode_ = st.st_mode & 07777;
  if (chmod(pool_dir_.c_str(), 0700) != 0) return Error::from_errno(errno, "chmod " + pool_dir_);
  capacity_ = capacity;
  return {};
}

std::optional<WorkDirPool::Entry> WorkDirPool::take() {
  if (idle_.empty()) return std::nullopt;
  Entry e = std::move(idle_.back());
  idle_.pop_back();
  return e;
}

void WorkDirPool::put_back(std::string path, std::string output_name) {
  idle_.push_back(Entry{std::move(path), std::move(output_name)});
}

bool WorkDirPool::give_back(const std::string& dir, const std::string& output_dir) {
  if (idle_.size() >= capacity_) return false;
  size_t slash = output_dir.rfind('/');
  if (slash == std::string::npos || output_dir.compare(0, slash, dir) != 0 || slash != dir.size()) {
    return false;
  }
  std::string name = output_dir.substr(slash + 1);
  auto as_made = [this](int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == mode_ &&
           st.st_uid == owner_;
  };
  int fd = open_dir_at(AT_FDCWD, dir.c_str());
  if (fd < 0) return false;
  bool same = as_made(fd) && holds_only(fd, name);
  if (same) {
    int out = open_dir_at(fd, name.c_str());
    same = out >= 0 && as_made(out) && holds_only(out, "");
    if (out >= 0) close(out);
  }
  close(fd);
  if (!same) return false;
  std::string to = pool_dir_ + "/" + std::to_string(next_++);
  if (renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) return false;
  idle_.push_back(Entry{std::move(to), std::move(name)});
  return true;
}

void WorkDirPool::clear() {
  for (const Entry& e : idle_) {
    (void)rmdir((e.path + "/" + e.output_name).c_str());
    (void)rmdir(e.path.c_str());
  }
  idle_.clear();
  (void)rmdir(pool_dir_.c_str());  // fails if a taken pair's rename failed: left for the next start
}

}  // namespace agent
