// A fixture that owns a libuv loop and checks, at the end of every test, that
// nothing was left open: uv_loop_close() must return 0.
#pragma once

#include <uv.h>

#include <chrono>
#include <functional>

#include <gtest/gtest.h>

namespace test {

class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(0, uv_loop_init(&loop_)); }
  void TearDown() override {
    // Run until nothing is alive (close callbacks included), with a watchdog.
    for (int i = 0; i < 5000 && uv_loop_alive(&loop_); i++) uv_run(&loop_, UV_RUN_NOWAIT);
    uv_run(&loop_, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop_);
    if (rc != 0) uv_print_all_handles(&loop_, stderr);
    ASSERT_EQ(0, rc) << "a handle was left open";
  }
  // Runs the loop until `done()` or the timeout; false on timeout.
  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(&loop_, UV_RUN_ONCE);
    }
    return true;
  }
  uv_loop_t loop_;
};

}  // namespace test
