#include "agent/uv/lag_probe.h"

#include <gtest/gtest.h>
#include <uv.h>

#include <chrono>
#include <thread>

namespace agent::uv {
namespace {

TEST(LagHistogram, BucketsAndQuantiles) {
  LagHistogram h;
  EXPECT_EQ(h.quantile_us(0.99), 0);
  for (int i = 0; i < 98; i++) h.add(100);  // first bucket (<= 250)
  h.add(4000);                               // (3000, 5000]
  h.add(40000);                              // (30000, 50000]
  EXPECT_EQ(h.count, 100u);
  EXPECT_EQ(h.sum_us, 98u * 100 + 4000 + 40000);
  EXPECT_EQ(h.max_us, 40000u);
  EXPECT_EQ(h.buckets[0], 98u);
  EXPECT_EQ(h.buckets[5], 1u);
  EXPECT_EQ(h.buckets[11], 1u);
  EXPECT_LE(h.quantile_us(0.5), 250);
  EXPECT_GT(h.quantile_us(0.99), 3000);
  EXPECT_LE(h.quantile_us(0.99), 5000);
  EXPECT_EQ(h.quantile_us(1.0), 40000);
}

TEST(LagHistogram, BeyondTheLastBoundEndsAtTheMax) {
  LagHistogram h;
  h.add(9000000);
  EXPECT_EQ(h.buckets.back(), 1u);
  EXPECT_EQ(h.quantile_us(0.99), 9000000 * 0.99 + 5000000 * 0.01);
}

// A loop blocked for 60 ms while the probe is armed shows as one late firing;
// the probe stops once busy() says the work is done, and the loop then ends.
TEST(LagProbe, MeasuresABlockedLoopAndStopsWhenIdle) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  int ticks_left = 5;
  {
    LagProbe probe(&loop, [&] { return --ticks_left > 0; });
    probe.arm();
    uv_idle_t block;
    uv_idle_init(&loop, &block);
    static bool blocked = false;
    blocked = false;
    uv_idle_start(&block, [](uv_idle_t* h) {
      if (!blocked) {
        blocked = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(60));
      }
      uv_idle_stop(h);
    });
    // The probe's timer is unref'd: keep the loop alive until it stopped.
    uv_timer_t keep;
    uv_timer_init(&loop, &keep);
    uv_timer_start(&keep, [](uv_timer_t*) {}, 200, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    EXPECT_EQ(probe.histogram().count, 5u);
    EXPECT_GE(probe.histogram().max_us, 45000u);
    uv_close(reinterpret_cast<uv_handle_t*>(&block), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&keep), nullptr);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
}  // namespace agent::uv
