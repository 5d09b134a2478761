// Ctrl-C while following an execution: SIGINT is caught and turned into a
// readable pipe (the self-pipe trick) so that a blocking read can wait on the
// socket and on Ctrl-C at once, without races.
#pragma once

#include "agent/common/result.h"

namespace agent::cli {

class InterruptPipe {
 public:
  // Catches SIGINT until destroyed; then SIGINT is back to its default.
  static Result<InterruptPipe> install();

  InterruptPipe(InterruptPipe&& other) noexcept;
  InterruptPipe& operator=(InterruptPipe&&) = delete;
  InterruptPipe(const InterruptPipe&) = delete;
  InterruptPipe& operator=(const InterruptPipe&) = delete;
  ~InterruptPipe();

  // Readable once SIGINT arrived and until take().
  int fd() const { return read_fd_; }
  // How many SIGINTs arrived since the last call.
  int take();

 private:
  InterruptPipe(int read_fd, int write_fd) : read_fd_(read_fd), write_fd_(write_fd) {}
  int read_fd_ = -1;
  int write_fd_ = -1;
};

}  // namespace agent::cli
