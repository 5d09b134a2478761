#include "agent/uv/lag_probe.h"

#include <algorithm>

namespace agent::uv {

void LagHistogram::add(uint64_t us) {
  size_t i = static_cast<size_t>(std::lower_bound(kLagBoundsUs.begin(), kLagBoundsUs.end(), us) -
                                 kLagBoundsUs.begin());
  buckets[i]++;
  count++;
  sum_us += us;
  max_us = std::max(max_us, us);
}

double LagHistogram::quantile_us(double q) const {
  if (count == 0) return 0;
  double rank = q * static_cast<double>(count);
  uint64_t below = 0;
  for (size_t i = 0; i < buckets.size(); i++) {
    if (buckets[i] == 0) continue;
    if (static_cast<double>(below + buckets[i]) >= rank) {
      double lo = i == 0 ? 0 : static_cast<double>(kLagBoundsUs[i - 1]);
      // The +Inf bucket ends at the largest sample seen.
      double hi = i < kLagBoundsUs.size() ? static_cast<double>(kLagBoundsUs[i])
                                          : static_cast<double>(max_us);
      double frac = (rank - static_cast<double>(below)) / static_cast<double>(buckets[i]);
      return std::min(lo + (hi - lo) * frac, static_cast<double>(max_us));
    }
    below += buckets[i];
  }
  return static_cast<double>(max_us);
}

LagProbe::LagProbe(uv_loop_t* loop, std::function<bool()> busy)
    : loop_(loop), busy_(std::move(busy)), timer_(Timer::create(loop)) {
  timer_->unref();  // never what keeps the loop alive
}

LagProbe::~LagProbe() { close(timer_); }

void LagProbe::arm() {
  if (!timer_->active()) schedule();
}

void LagProbe::schedule() {
  // libuv runs a timer once the loop's clock (milliseconds, read at the start
  // of an iteration) reaches start + timeout: reading the clock now makes the
  // due time exact to the millisecond.
  uv_update_time(loop_);
  due_ns_ = (uv_now(loop_) + kIntervalMs) * 1000000u;
  timer_->start(kIntervalMs, 0, [this] { on_tick(); });
}

void LagProbe::on_tick() {
  uint64_t now = uv_hrtime();
  hist_.add(now > due_ns_ ? (now - due_ns_) / 1000u : 0);
  if (busy_()) schedule();
}

}  // namespace agent::uv
