#include "agent/uv/timer.h"

namespace agent::uv {

std::unique_ptr<Timer> Timer::create(uv_loop_t* loop) {
  std::unique_ptr<Timer> t(new Timer());
  uv_timer_init(loop, &t->timer_);  // cannot fail on Linux
  t->adopt(&t->timer_);
  return t;
}

void Timer::start(uint64_t timeout_ms, uint64_t repeat_ms, std::function<void()> cb) {
  cb_ = std::move(cb);
  uv_timer_start(&timer_, &Timer::on_fire, timeout_ms, repeat_ms);
}

void Timer::stop() { uv_timer_stop(&timer_); }

void Timer::unref() { uv_unref(reinterpret_cast<uv_handle_t*>(&timer_)); }

bool Timer::active() const {
  return uv_is_active(reinterpret_cast<const uv_handle_t*>(&timer_)) != 0;
}

void Timer::on_fire(uv_timer_t* t) noexcept {
  auto& self = owner<Timer>(t);
  // Copy: the callback may restart the timer with a new function.
  auto cb = self.cb_;
  if (cb) cb();
}

}  // namespace agent::uv
