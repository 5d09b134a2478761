#include "runners/process/fd_watch.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>

namespace runners::process {

namespace {

// Events handled per wakeup; more are reported at the next iteration, so
// that clients and timers are served in between.
constexpr int kBatch = 256;

}  // namespace

FdWatch::~FdWatch() { stop(); }

agent::Status FdWatch::start(uv_loop_t* loop) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return agent::Error::from_errno(errno, "creating the task descriptor set");
  poll_ = new uv_poll_t;
  int rc = uv_poll_init(loop, poll_, epoll_fd_);
  if (rc == 0) rc = uv_poll_start(poll_, UV_READABLE, &FdWatch::on_ready);
  if (rc != 0) {
    delete poll_;  // uv_poll_init fails before it registers the handle
    poll_ = nullptr;
    ::close(epoll_fd_);
    epoll_fd_ = -1;
    return agent::Error::from_uv(rc, "watching the task descriptor set");
  }
  poll_->data = this;
  // Like the handles it replaces, it keeps the loop alive while it watches
  // something (add, remove).
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  return {};
}

void FdWatch::stop() {
  if (poll_ != nullptr) {
    // The set is closed once libuv no longer watches it.
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) noexcept {
      ::close(static_cast<int>(reinterpret_cast<intptr_t>(h->data)));
      delete reinterpret_cast<uv_poll_t*>(h);
    });
    poll_->data = reinterpret_cast<void*>(static_cast<intptr_t>(epoll_fd_));
    poll_ = nullptr;
    epoll_fd_ = -1;
  } else if (epoll_fd_ >= 0) {
    ::close(epoll_fd_);
    epoll_fd_ = -1;
  }
}

agent::Status FdWatch::add(int fd, Watched* w) {
  struct epoll_event e {};
  e.events = EPOLLIN;
  e.data.ptr = w;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &e) != 0) {
    return agent::Error::from_errno(errno, "watching a task descriptor");
  }
  if (watched_++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  return {};
}

void FdWatch::remove(int fd) {
  struct epoll_event e {};  // ignored, but older kernels want one
  (void)epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, &e);
  if (--watched_ == 0) uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
}

void FdWatch::on_ready(uv_poll_t* p, int status, int) noexcept {
  auto* self = static_cast<FdWatch*>(p->data);
  if (status < 0) return;  // the set itself cannot fail; nothing to report
  struct epoll_event events[kBatch];
  int n = epoll_wait(self->epoll_fd_, events, kBatch, 0);
  for (int i = 0; i < n; i++) static_cast<Watched*>(events[i].data.ptr)->ready(events[i].events);
}

}  // namespace runners::process
