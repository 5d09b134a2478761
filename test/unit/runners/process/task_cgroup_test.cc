// cgroup::reusable on a real cgroup v2 directory: what decides whether an
// ended task's cgroup serves the next task (process_runner.cc).
#include "runners/process/task_cgroup.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace {

std::string cgroup2_mount() {
  std::ifstream mounts("/proc/self/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream in(line);
    std::string source, target, type;
    in >> source >> target >> type;
    if (type == "cgroup2") return target;
  }
  return "";
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

class CgroupReusable : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string root = cgroup2_mount();
    ASSERT_FALSE(root.empty()) << "no cgroup2 mount in /proc/self/mounts: these tests need one";
    dir_ = root + "/runnerd-unit-reusable-" + std::to_string(getpid());
    ASSERT_EQ(mkdir(dir_.c_str(), 0755), 0) << dir_ << ": " << strerror(errno);
  }
  void TearDown() override {
    rmdir((dir_ + "/below").c_str());
    rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST_F(CgroupReusable, AnEmptyCgroupWithNothingBelowServesAgain) {
  EXPECT_TRUE(runners::process::cgroup::reusable(dir_));
}

TEST_F(CgroupReusable, ACgroupWithOneBelowItDoesNotUntilThatOneIsGone) {
  ASSERT_EQ(mkdir((dir_ + "/below").c_str(), 0755), 0);
  EXPECT_FALSE(runners::process::cgroup::reusable(dir_));
  ASSERT_EQ(rmdir((dir_ + "/below").c_str()), 0);
  EXPECT_TRUE(runners::process::cgroup::reusable(dir_));
}

TEST_F(CgroupReusable, AProcessLeftInItOrAFreezeMakesItUnfit) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    pause();
    _exit(0);
  }
  ASSERT_TRUE(write_file(dir_ + "/cgroup.procs", std::to_string(pid)));
  EXPECT_FALSE(runners::process::cgroup::reusable(dir_));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  // "populated" follows the exit; give the kernel a moment.
  for (int i = 0; i < 100 && !runners::process::cgroup::reusable(dir_); i++) usleep(10 * 1000);
  EXPECT_TRUE(runners::process::cgroup::reusable(dir_));
  ASSERT_TRUE(write_file(dir_ + "/cgroup.freeze", "1"));
  EXPECT_FALSE(runners::process::cgroup::reusable(dir_));
  ASSERT_TRUE(write_file(dir_ + "/cgroup.freeze", "0"));
}

TEST_F(CgroupReusable, ACgroupThatIsGoneIsNot) {
  ASSERT_EQ(rmdir(dir_.c_str()), 0);
  EXPECT_FALSE(runners::process::cgroup::reusable(dir_));
}

}  // namespace
