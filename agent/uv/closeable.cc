#include "agent/uv/closeable.h"

#include "agent/common/result.h"
#include "agent/common/sanitizers.h"

namespace agent::uv {

namespace {

// Deletes an object that has no handle left to wait for, on the next loop
// iteration, so that it never dies inside one of its own callbacks.
struct DeferredDelete {
  uv_idle_t idle;
  Closeable* victim;
};

void deferred_delete_run(uv_idle_t* idle) noexcept {
  uv_idle_stop(idle);
  uv_close(reinterpret_cast<uv_handle_t*>(idle), [](uv_handle_t* h) noexcept {
    auto* d = static_cast<DeferredDelete*>(h->data);
    delete d->victim;
    delete d;
  });
}

#if defined(AGENT_TSAN)
extern "C" void __sanitizer_syscall_pre_impl_close(long fd);
extern "C" void __sanitizer_syscall_post_impl_close(long res, long fd);
#endif

// uv_close, telling ThreadSanitizer when it closes a descriptor: libuv closes
// a stream's descriptor with syscall(SYS_close), which TSan does not see, so
// the number given again to a file a thread-pool job opens would look like
// the old descriptor used from two threads. The notice comes after uv_close,
// which also touches the descriptor (epoll_ctl) before it closes it; a job
// given the number in between is told apart by test/tsan.supp.
void close_handle_now(uv_handle_t* h, uv_close_cb cb) noexcept {
#if defined(AGENT_TSAN)
  uv_os_fd_t fd = -1;
  bool stream = h->type == UV_NAMED_PIPE || h->type == UV_TCP || h->type == UV_TTY;
  if (stream && uv_fileno(h, &fd) == 0 && fd >= 0) {
    uv_close(h, cb);  // a stream's descriptor is closed by now
    __sanitizer_syscall_pre_impl_close(fd);
    __sanitizer_syscall_post_impl_close(0, fd);
    return;
  }
#endif
  uv_close(h, cb);
}

}  // namespace

void Closeable::close(std::unique_ptr<Closeable> self) noexcept {
  Closeable* obj = self.release();
  obj->released_ = true;
  for (int i = 0; i < obj->count_; i++) {
    uv_handle_t* h = obj->handles_[i];
    if (h != nullptr && !uv_is_closing(h)) {
      obj->pending_++;
      close_handle_now(h, &Closeable::on_closed);
    }
    obj->handles_[i] = nullptr;
  }
  if (obj->pending_ > 0) return;
  if (obj->loop_ == nullptr) {
    delete obj;  // never adopted a handle: nothing of libuv's refers to it
    return;
  }
  auto* d = new DeferredDelete{};
  d->victim = obj;
  d->idle.data = d;
  uv_idle_init(obj->loop_, &d->idle);
  uv_idle_start(&d->idle, deferred_delete_run);
}

void Closeable::close_handle(uv_handle_t* handle) noexcept {
  for (int i = 0; i < count_; i++) {
    if (handles_[i] == handle) {
      handles_[i] = nullptr;
      if (!uv_is_closing(handle)) {
        pending_++;
        close_handle_now(handle, &Closeable::on_closed);
      }
      return;
    }
  }
}

void Closeable::on_closed(uv_handle_t* handle) noexcept {
  auto* obj = static_cast<Closeable*>(handle->data);
  obj->pending_--;
  obj->maybe_delete();
}

void Closeable::maybe_delete() noexcept {
  if (released_ && pending_ == 0) delete this;
}

}  // namespace agent::uv
