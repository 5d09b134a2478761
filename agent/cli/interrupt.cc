#include "agent/cli/interrupt.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace agent::cli {

namespace {

volatile sig_atomic_t g_write_fd = -1;

extern "C" void on_sigint(int) {
  int saved = errno;
  int fd = g_write_fd;
  if (fd >= 0) {
    char c = 1;
    (void)!::write(fd, &c, 1);
  }
  errno = saved;
}

}  // namespace

Result<InterruptPipe> InterruptPipe::install() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return Error::from_errno(errno, "pipe");
  InterruptPipe pipe(fds[0], fds[1]);
  g_write_fd = fds[1];
  struct sigaction sa = {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (::sigaction(SIGINT, &sa, nullptr) != 0) return Error::from_errno(errno, "sigaction");
  return pipe;
}

InterruptPipe::InterruptPipe(InterruptPipe&& other) noexcept
    : read_fd_(std::exchange(other.read_fd_, -1)), write_fd_(std::exchange(other.write_fd_, -1)) {}

InterruptPipe::~InterruptPipe() {
  if (write_fd_ < 0) return;
  struct sigaction sa = {};
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  g_write_fd = -1;
  ::close(read_fd_);
  ::close(write_fd_);
}

int InterruptPipe::take() {
  int count = 0;
  char buf[64];
  for (;;) {
    ssize_t n = ::read(read_fd_, buf, sizeof buf);
    if (n > 0) {
      count += static_cast<int>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return count;
  }
}

}  // namespace agent::cli
