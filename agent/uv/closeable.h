// Base for heap objects that embed libuv handles by value.
// Ownership: the parent holds a std::unique_ptr until it calls close(); from
// then on the loop owns the object and the last close callback deletes it.
// Threading: loop thread only.
#pragma once

#include <uv.h>

#include <array>
#include <memory>

namespace agent::uv {

class Closeable {
 public:
  Closeable(const Closeable&) = delete;
  Closeable& operator=(const Closeable&) = delete;
  virtual ~Closeable() = default;

  // Closes every adopted handle; the object is deleted after the last close
  // callback (or on the next loop iteration if no handle was adopted). Safe to
  // call from the object's own callbacks.
  static void close(std::unique_ptr<Closeable> self) noexcept;

 protected:
  Closeable() = default;

  // Call once per handle, right after its uv_*_init succeeded.
  template <typename H>
  void adopt(H* handle) noexcept {
    handle->data = this;
    loop_ = handle->loop;
    handles_[count_++] = reinterpret_cast<uv_handle_t*>(handle);
  }

  template <typename Derived, typename H>
  static Derived& owner(H* handle) noexcept {
    return *static_cast<Derived*>(static_cast<Closeable*>(handle->data));
  }

  // Closes one adopted handle early (e.g. a pipe at EOF) without freeing the
  // object; close() later skips it.
  void close_handle(uv_handle_t* handle) noexcept;

 private:
  static void on_closed(uv_handle_t* handle) noexcept;
  void maybe_delete() noexcept;
  static constexpr int kMaxHandles = 6;
  std::array<uv_handle_t*, kMaxHandles> handles_{};
  uv_loop_t* loop_ = nullptr;
  int count_ = 0;
  int pending_ = 0;       // handles whose close callback has not run yet
  bool released_ = false;  // close() was called: delete when pending_ is 0
};

template <typename T>
void close(std::unique_ptr<T>& obj) noexcept {
  if (obj) Closeable::close(std::unique_ptr<Closeable>(obj.release()));
}

}  // namespace agent::uv
