#include "agent/common/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace agent::fs {

Status make_dirs(const std::string& path, int mode) {
  if (path.empty()) return Error(Errc::kInvalidArgument, "empty directory path");
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (mkdir(cur.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
      return Error::from_errno(errno, "creating directory " + cur);
    }
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Error(Errc::kInvalidArgument, path + " exists and is not a directory");
  }
  return {};
}

static Status write_all(int fd, std::string_view data, const std::string& path) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, "writing " + path);
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

Status write_file(const std::string& path, std::string_view data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Error::from_errno(errno, "creating " + path);
  Status st = write_all(fd, data, path);
  close(fd);
  return st;
}

Status write_file_atomic(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Error::from_errno(errno, "creating " + tmp);
  Status st = write_all(fd, data, tmp);
  if (!st.ok()) {
    close(fd);
    unlink(tmp.c_str());
    return st;
  }
  if (fdatasync(fd) != 0) {
    int e = errno;
    close(fd);
    unlink(tmp.c_str());
    return Error::from_errno(e, "syncing " + tmp);
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return Error::from_errno(e, "renaming " + tmp);
  }
  return {};
}

Result<std::string> read_file(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno(errno, "opening " + path);
  std::string out;
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return Error::from_errno(e, "reading " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

Result<std::pair<std::string, int64_t>> read_range(const std::string& path, int64_t offset,
                                                   int64_t length) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno(errno, "opening " + path);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return Error::from_errno(e, "reading " + path);
  }
  int64_t size = st.st_size;
  std::string out;
  if (offset < size) {
    out.resize(static_cast<size_t>(std::min(length, size - offset)));
    size_t got = 0;
    while (got < out.size()) {
      ssize_t n = pread(fd, out.data() + got, out.size() - got, offset + static_cast<int64_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int e = errno;
        close(fd);
        return Error::from_errno(e, "reading " + path);
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    out.resize(got);
  }
  close(fd);
  return std::make_pair(std::move(out), size);
}

}  // namespace agent::fs
