// How late the loop runs what is due: a timer due every 10 ms, each firing's
// delay past its due time recorded in a histogram. A late timer is a late
// everything else (a pipe read, a socket answer, a reaped child), so this is
// the delay a task or a client sees on top of the work itself.
//
// The probe runs only while the owner says there is work (busy()): an idle
// agent does not wake 100 times a second to measure nothing. arm() starts it;
// it stops itself at the first firing that finds the agent idle.
// Ownership: the owner's; destroy before the loop closes. Loop thread only.
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>

#include "agent/uv/timer.h"

namespace agent::uv {

// Delays in microseconds, bucketed as Prometheus histograms are: bucket i
// counts samples <= kLagBoundsUs[i]; the last bucket is +Inf.
inline constexpr std::array<uint64_t, 18> kLagBoundsUs = {
    250,   500,   1000,   2000,   3000,   5000,    7500,    10000,   15000,
    20000, 30000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000};

struct LagHistogram {
  std::array<uint64_t, kLagBoundsUs.size() + 1> buckets{};  // not cumulative
  uint64_t count = 0;
  uint64_t sum_us = 0;
  uint64_t max_us = 0;

  void add(uint64_t us);
  // The delay below which `q` (0..1) of the samples fall, interpolated within
  // its bucket; 0 with no sample.
  double quantile_us(double q) const;
};

class LagProbe {
 public:
  static constexpr uint64_t kIntervalMs = 10;

  LagProbe(uv_loop_t* loop, std::function<bool()> busy);
  ~LagProbe();
  LagProbe(const LagProbe&) = delete;
  LagProbe& operator=(const LagProbe&) = delete;

  void arm();
  const LagHistogram& histogram() const { return hist_; }

 private:
  void schedule();
  void on_tick();

  uv_loop_t* loop_;
  std::function<bool()> busy_;
  std::unique_ptr<Timer> timer_;
  uint64_t due_ns_ = 0;  // uv_hrtime() at which the pending firing is due
  LagHistogram hist_;
};

}  // namespace agent::uv
