#include "agent/files/beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>

namespace agent::files {

namespace {

// -1: not tried yet, 0: the kernel lacks openat2, 1: it has it.
std::atomic<int> g_openat2{-1};
std::atomic<bool> g_force_walk{false};

Error refuse(std::string_view why) { return Error(Errc::kInvalidArgument, std::string(why)); }

// The error of a failed resolution of `rel`, by errno.
Error resolve_error(int err, std::string_view rel) {
  std::string name = "'" + std::string(rel) + "'";
  switch (err) {
    case ELOOP: return Error(Errc::kPermissionDenied, name + " goes through a symbolic link");
    case EXDEV: return Error(Errc::kPermissionDenied, name + " leaves its directory");
    case ENOTDIR: return Error(Errc::kInvalidArgument, name + " goes through something that is not a directory");
    case ENOENT: return Error(Errc::kNotFound, name + " does not exist");
    case EISDIR: return Error(Errc::kInvalidArgument, name + " is a directory");
    case ENAMETOOLONG: return Error(Errc::kInvalidArgument, name + " is too long");
    default: return Error::from_errno(err, "opening " + name);
  }
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

// A directory component relative to `dir`, never through a symlink. With
// O_DIRECTORY the kernel reports a symlink as ENOTDIR: told apart here, so
// that the error says what it is.
int open_dir_at(int dir, const char* name) {
  int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == ENOTDIR) {
    struct stat st;
    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) errno = ELOOP;
    else errno = ENOTDIR;
  }
  return fd;
}

int sys_openat2(int dirfd, const char* path, int flags, mode_t mode) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

// One component at a time, each opened with O_NOFOLLOW relative to the last:
// a component swapped for a symlink between two steps is refused by the open
// itself. Components never contain "/" or "..", so the walk cannot climb.
int walk_open(int dirfd, const std::vector<std::string>& parts, int flags, mode_t mode) {
  int dir = dirfd;
  for (size_t i = 0; i + 1 < parts.size(); i++) {
    int next = open_dir_at(dir, parts[i].c_str());
    int e = errno;
    if (dir != dirfd) close(dir);
    if (next < 0) {
      errno = e;
      return -1;
    }
    dir = next;
  }
  int fd = openat(dir, parts.back().c_str(), flags, mode);
  int e = errno;
  if (dir != dirfd) close(dir);
  errno = e;
  return fd;
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<std::vector<std::string>> split_relative(std::string_view path, bool allow_trailing_slash) {
  if (path.empty()) return refuse("is empty");
  if (path[0] == '/') return refuse("is absolute: names are relative to the working directory");
  if (path.size() > kMaxPathBytes) {
    return refuse("is longer than " + std::to_string(kMaxPathBytes) + " bytes");
  }
  for (char c : path) {
    if (c == '\0') return refuse("contains a NUL byte");
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return refuse("contains a control character");
  }
  if (!allow_trailing_slash && path.back() == '/') return refuse("ends with '/': it names a directory");
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return refuse("escapes the directory: it has a '..' component");
    if (part.size() > kMaxNameBytes) {
      return refuse("has a name longer than " + std::to_string(kMaxNameBytes) + " bytes");
    }
    if (parts.size() == kMaxPathDepth) {
      return refuse("is deeper than " + std::to_string(kMaxPathDepth) + " directories");
    }
    parts.emplace_back(part);
  }
  if (parts.empty()) return refuse("names no file");
  return parts;
}

Result<UniqueFd> open_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Error::from_errno(errno, "opening directory " + path);
  return UniqueFd(fd);
}

Result<UniqueFd> open_beneath(int dirfd, std::string_view rel, int flags, mode_t mode) {
  AGENT_ASSIGN_OR_RETURN(std::vector<std::string> parts, split_relative(rel, true));
  return open_beneath(dirfd, parts, flags, mode);
}

Result<UniqueFd> open_beneath(int dirfd, const std::vector<std::string>& parts, int flags, mode_t mode) {
  if (parts.empty()) return refuse("names no file");
  flags |= O_CLOEXEC | O_NOFOLLOW;
  std::string rel = joined(parts);
  if (!g_force_walk.load(std::memory_order_relaxed) && g_openat2.load(std::memory_order_relaxed) != 0) {
    int fd = -1;
    for (int attempt = 0; attempt < 8; attempt++) {
      fd = sys_openat2(dirfd, rel.c_str(), flags, mode);
      if (fd >= 0 || errno != EAGAIN) break;  // EAGAIN: a rename raced the lookup; again
    }
    if (fd >= 0) {
      g_openat2.store(1, std::memory_order_relaxed);
      return UniqueFd(fd);
    }
    if (errno != ENOSYS && errno != EPERM) return resolve_error(errno, rel);
    // ENOSYS: an old kernel; EPERM: a seccomp filter that refuses it.
    if (errno == ENOSYS) g_openat2.store(0, std::memory_order_relaxed);
  }
  int fd = walk_open(dirfd, parts, flags, mode);
  if (fd < 0) return resolve_error(errno, rel);
  return UniqueFd(fd);
}

Result<UniqueFd> open_regular_beneath(int dirfd, std::string_view rel, struct stat* st) {
  AGENT_ASSIGN_OR_RETURN(UniqueFd fd, open_beneath(dirfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY));
  struct stat s;
  if (fstat(fd.get(), &s) != 0) return Error::from_errno(errno, "reading '" + std::string(rel) + "'");
  if (!S_ISREG(s.st_mode)) {
    return Error(Errc::kInvalidArgument, "'" + std::string(rel) + "' is not a regular file");
  }
  // Back to blocking reads: it is a regular file.
  int fl = fcntl(fd.get(), F_GETFL);
  if (fl >= 0) (void)fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
  if (st != nullptr) *st = s;
  return fd;
}

Result<UniqueFd> make_dirs_beneath(int dirfd, const std::vector<std::string>& parts, bool last_is_file,
                                   mode_t mode) {
  size_t n = last_is_file && !parts.empty() ? parts.size() - 1 : parts.size();
  int first = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (first < 0) return Error::from_errno(errno, "dup");
  UniqueFd dir(first);
  std::string done;
  for (size_t i = 0; i < n; i++) {
    if (!done.empty()) done += '/';
    done += parts[i];
    // mkdirat never follows a symlink in its last component (EEXIST), and the
    // open below refuses one; nothing but a real directory is entered.
    if (mkdirat(dir.get(), parts[i].c_str(), mode) != 0 && errno != EEXIST) {
      return Error::from_errno(errno, "creating directory '" + done + "'");
    }
    int next = open_dir_at(dir.get(), parts[i].c_str());
    if (next < 0) return resolve_error(errno, done);
    dir.reset(next);
  }
  return dir;
}

Result<UniqueFd> create_file_beneath(int dirfd, const std::vector<std::string>& parts, mode_t mode) {
  if (parts.empty()) return refuse("names no file");
  AGENT_ASSIGN_OR_RETURN(UniqueFd dir, make_dirs_beneath(dirfd, parts, true));
  const std::string& name = parts.back();
  std::string rel = joined(parts);
  struct stat pre;
  if (fstatat(dir.get(), name.c_str(), &pre, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(pre.st_mode)) return Error(Errc::kPermissionDenied, "'" + rel + "' is a symbolic link");
    // A hard link shares its inode with a file elsewhere: replaced, never
    // truncated in place.
    if (S_ISREG(pre.st_mode) && pre.st_nlink > 1 && unlinkat(dir.get(), name.c_str(), 0) != 0) {
      return Error::from_errno(errno, "replacing '" + rel + "'");
    }
  }
  int fd = openat(dir.get(), name.c_str(),
                  O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
  if (fd < 0) {
    if (errno == ENXIO) return Error(Errc::kInvalidArgument, "'" + rel + "' is a FIFO or a socket");
    if (errno == ELOOP) return Error(Errc::kPermissionDenied, "'" + rel + "' is a symbolic link");
    return resolve_error(errno, rel);
  }
  UniqueFd file(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return Error::from_errno(errno, "creating '" + rel + "'");
  if (!S_ISREG(st.st_mode)) {
    return Error(Errc::kInvalidArgument, "'" + rel + "' exists and is not a regular file");
  }
  if (st.st_nlink > 1) {
    return Error(Errc::kPermissionDenied, "'" + rel + "' became a hard link while it was being written");
  }
  // Truncated only now that it is known to be a file of this directory alone.
  if (ftruncate(fd, 0) != 0) return Error::from_errno(errno, "truncating '" + rel + "'");
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return file;
}

Status write_file_beneath(const std::string& dir, std::string_view rel, std::string_view data, mode_t mode) {
  AGENT_ASSIGN_OR_RETURN(std::vector<std::string> parts, split_relative(rel));
  AGENT_ASSIGN_OR_RETURN(UniqueFd root, open_dir(dir));
  AGENT_ASSIGN_OR_RETURN(UniqueFd fd, create_file_beneath(root.get(), parts, mode));
  Status st = write_all(fd.get(), data);
  if (!st.ok()) return std::move(st).error().context("writing '" + std::string(rel) + "'");
  return {};
}

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "writing");
    if (n == 0) return Error::from_errno(EIO, "writing");
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Status copy_fd(int from, int to, uint64_t max_bytes) {
  char buf[1 << 16];
  uint64_t total = 0;
  while (true) {
    ssize_t n = ::read(from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "reading");
    if (n == 0) return {};
    total += static_cast<uint64_t>(n);
    if (total > max_bytes) {
      return Error(Errc::kResourceExhausted, "larger than " + std::to_string(max_bytes) + " bytes");
    }
    AGENT_TRY(write_all(to, std::string_view(buf, static_cast<size_t>(n))));
  }
}

Result<std::string> read_fd(int fd, uint64_t max_bytes) {
  std::string out;
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) <= max_bytes) {
    out.reserve(static_cast<size_t>(st.st_size));
  }
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "reading");
    if (n == 0) return out;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      return Error(Errc::kResourceExhausted, "larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buf, static_cast<size_t>(n));
  }
}

Result<std::string> fd_path(int fd) {
  char link[64];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  char target[PATH_MAX];
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 0) return Error::from_errno(errno, "reading " + std::string(link));
  return std::string(target, static_cast<size_t>(n));
}

bool openat2_available() {
  if (g_openat2.load() < 0) {
    int fd = sys_openat2(AT_FDCWD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd >= 0) {
      close(fd);
      g_openat2.store(1);
    } else if (errno == ENOSYS) {
      g_openat2.store(0);
    }
  }
  return g_openat2.load() == 1;
}

void force_component_walk_for_tests(bool on) { g_force_walk.store(on); }

}  // namespace agent::files
