// Paths that come from a flow or a container, resolved beneath a directory.
// Every open goes through openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS
// where the kernel has it (Linux 5.6), else through a walk that opens one
// component at a time with O_NOFOLLOW: nothing outside the directory is ever
// opened, created or removed, and no symbolic link is followed, not even one
// swapped in while the walk runs. Names are checked first only so that errors
// are clear; the resolution is what keeps a path inside.
// Blocking: thread pool (or startup), never the loop.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "agent/common/result.h"

namespace agent::files {

// Bounds on a relative path named by a flow or a container.
inline constexpr size_t kMaxPathBytes = 4095;   // PATH_MAX - 1
inline constexpr size_t kMaxNameBytes = 255;    // NAME_MAX
inline constexpr size_t kMaxPathDepth = 64;     // components; the output walk goes as deep

// An owned file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// The components of a relative path: "a//b", "./a" and "a/./b" are a/b. Refused
// with a message saying why: empty, absolute, a ".." component, a NUL byte, a
// control character (newline, tab...), a name longer than 255 bytes, a path
// longer than 4095 bytes or deeper than 64 components, nothing but "." and
// "/", and, unless `allow_trailing_slash`, a trailing '/' (a directory, not a
// file). Backslashes and bytes that are not UTF-8 are ordinary name bytes, as
// on any Linux file system.
Result<std::vector<std::string>> split_relative(std::string_view path, bool allow_trailing_slash = false);

// Opens a directory the agent made (O_DIRECTORY, the last component not a link).
Result<UniqueFd> open_dir(const std::string& path);

// Opens `rel` (checked by split_relative) beneath `dirfd` with `flags`
// (O_CLOEXEC | O_NOFOLLOW always added); `mode` for O_CREAT.
Result<UniqueFd> open_beneath(int dirfd, std::string_view rel, int flags, mode_t mode = 0);
// The same for components already split.
Result<UniqueFd> open_beneath(int dirfd, const std::vector<std::string>& parts, int flags,
                              mode_t mode = 0);

// A regular file beneath `dirfd`, opened for reading with O_NONBLOCK (a FIFO
// never blocks) and checked with fstat on the descriptor; `st` receives it.
Result<UniqueFd> open_regular_beneath(int dirfd, std::string_view rel, struct stat* st = nullptr);

// The directories of `parts` beneath `dirfd` (all of them, or all but the last
// when `last_is_file`), created with `mode` where missing; an existing
// symlink, file or FIFO on the way is refused, never followed. Returns the
// last directory.
Result<UniqueFd> make_dirs_beneath(int dirfd, const std::vector<std::string>& parts, bool last_is_file,
                                   mode_t mode = 0750);

// Creates (or truncates) the regular file `parts` beneath `dirfd`, creating
// its directories. A symlink, FIFO, socket or device in its place is refused
// (a FIFO is opened O_NONBLOCK, so that it never blocks, then refused).
Result<UniqueFd> create_file_beneath(int dirfd, const std::vector<std::string>& parts, mode_t mode = 0640);

// create_file_beneath + write_all for a path relative to the directory `dir`
// (a task's Script file, say): never through a link left in the directory.
Status write_file_beneath(const std::string& dir, std::string_view rel, std::string_view data,
                          mode_t mode = 0640);

// Writes all of `data` to `fd`.
Status write_all(int fd, std::string_view data);
// Copies `from` to `to` from their current offsets; refuses past `max_bytes`.
Status copy_fd(int from, int to, uint64_t max_bytes = UINT64_MAX);
// Reads the whole of a regular file opened by the functions above, up to `max_bytes`.
Result<std::string> read_fd(int fd, uint64_t max_bytes = uint64_t{1} << 32);

// The path an open descriptor names now (readlink of /proc/self/fd/N).
Result<std::string> fd_path(int fd);

// What the last resolutions used; for tests and diagnostics.
bool openat2_available();
// Tests only: force the O_NOFOLLOW walk even where openat2 exists.
void force_component_walk_for_tests(bool on);

}  // namespace agent::files
