#include "runners/process/control_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace runners::process {

bool exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

std::string read_file(const std::string& path) {
  // Plain system calls: control files are read per task (cgroup reuse).
  std::string out;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

agent::Status write_file(const std::string& path, std::string_view data, int* err) {
  if (err != nullptr) *err = 0;
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (err != nullptr) *err = e;
    return agent::Error::from_errno(e, "opening " + path);
  }
  ssize_t n = write(fd, data.data(), data.size());
  int e = errno;
  close(fd);
  if (n < 0) {
    if (err != nullptr) *err = e;
    return agent::Error::from_errno(e, "writing '" + std::string(data) + "' to " + path);
  }
  return {};
}

}  // namespace runners::process
