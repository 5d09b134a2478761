#include "agent/notify/notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "test/helpers/agent_harness.h"

namespace {

// A datagram socket standing in for systemd's notify socket; sets
// $NOTIFY_SOCKET for the test's duration.
class NotifySocket {
 public:
  NotifySocket() : path_(dir_.path() + "/notify.sock") {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path_.copy(addr.sun_path, sizeof addr.sun_path - 1);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  ~NotifySocket() {
    unsetenv("NOTIFY_SOCKET");
    close(fd_);
  }
  std::string receive() {
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    return n > 0 ? std::string(buf, n) : std::string();
  }

 private:
  test::TempDir dir_;
  std::string path_;
  int fd_ = -1;
};

TEST(Notify, ReadyAndStoppingReachTheServiceManager) {
  NotifySocket systemd;
  ASSERT_TRUE(agent::notify::ready("listening on /run/x.sock").ok());
  EXPECT_EQ(systemd.receive(), "READY=1\nSTATUS=listening on /run/x.sock");
  ASSERT_TRUE(agent::notify::stopping("draining").ok());
  EXPECT_EQ(systemd.receive(), "STOPPING=1\nSTATUS=draining");
}

TEST(Notify, NothingToDoWithoutNotifySocket) {
  unsetenv("NOTIFY_SOCKET");
  EXPECT_TRUE(agent::notify::ready("").ok());
  EXPECT_TRUE(agent::notify::stopping("").ok());
}

TEST(Notify, AnUnreachableSocketIsAnError) {
  setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock", 1);
  agent::Status st = agent::notify::ready("");
  unsetenv("NOTIFY_SOCKET");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("READY=1"), std::string::npos) << st.error().message();
}

}  // namespace
