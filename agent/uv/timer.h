// A one-shot or repeating timer with a std::function callback.
// Ownership: unique_ptr in the owner; destroy with agent::uv::close(ptr), which
// frees it after libuv's close callback. Loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "agent/uv/closeable.h"

namespace agent::uv {

class Timer final : public Closeable {
 public:
  static std::unique_ptr<Timer> create(uv_loop_t* loop);
  void start(uint64_t timeout_ms, uint64_t repeat_ms, std::function<void()> cb);
  void stop();
  bool active() const;
  // The loop may end while this timer is pending (uv_unref).
  void unref();

 private:
  Timer() = default;
  static void on_fire(uv_timer_t* t) noexcept;
  uv_timer_t timer_{};
  std::function<void()> cb_;
};

}  // namespace agent::uv
