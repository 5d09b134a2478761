// FdWatch on real pipes: what it reports, that it keeps the loop alive only
// while it watches something, and that a descriptor removed before its close
// is not reported again while another copy of it stays open.
#include "runners/process/fd_watch.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "test/helpers/loop_test.h"

namespace {

struct Counter final : runners::process::Watched {
  void ready(uint32_t events) noexcept override {
    calls++;
    last = events;
    if (drain_fd >= 0) {
      char buf[64];
      while (read(drain_fd, buf, sizeof buf) > 0) {
      }
    }
  }
  int calls = 0;
  uint32_t last = 0;
  int drain_fd = -1;
};

class FdWatchTest : public test::LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    ASSERT_EQ(pipe2(fds_, O_CLOEXEC | O_NONBLOCK), 0);
    ASSERT_TRUE(watch_.start(&loop_).ok());
  }
  void TearDown() override {
    watch_.stop();
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
    LoopTest::TearDown();
  }
  runners::process::FdWatch watch_;
  int fds_[2] = {-1, -1};
};

TEST_F(FdWatchTest, AReadablePipeIsReportedAndTheLoopLivesOnlyWhileOneIsWatched) {
  EXPECT_FALSE(uv_loop_alive(&loop_)) << "an empty set keeps the loop alive";
  Counter c;
  c.drain_fd = fds_[0];
  ASSERT_TRUE(watch_.add(fds_[0], &c).ok());
  EXPECT_TRUE(uv_loop_alive(&loop_));
  ASSERT_EQ(write(fds_[1], "x", 1), 1);
  ASSERT_TRUE(run_until([&] { return c.calls > 0; }));
  EXPECT_TRUE(c.last & EPOLLIN);
  // Drained: nothing more to report (level-triggered, so an undrained pipe would be).
  for (int i = 0; i < 5; i++) uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(c.calls, 1);
  watch_.remove(fds_[0]);
  EXPECT_FALSE(uv_loop_alive(&loop_));
}

// The case remove() before close() is for: a child being spawned holds a
// copy of the agent's descriptors until it execs, and epoll forgets a
// descriptor only when its last copy closes.
TEST_F(FdWatchTest, ARemovedDescriptorIsNotReportedWhileACopyOfItStaysOpen) {
  Counter c;
  ASSERT_TRUE(watch_.add(fds_[0], &c).ok());
  int copy = dup(fds_[0]);
  ASSERT_GE(copy, 0);
  watch_.remove(fds_[0]);
  close(fds_[0]);
  fds_[0] = -1;
  ASSERT_EQ(write(fds_[1], "x", 1), 1);
  for (int i = 0; i < 5; i++) uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(c.calls, 0);
  close(copy);
}

}  // namespace
