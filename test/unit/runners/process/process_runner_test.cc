#include "runners/process/process_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "agent/config/config.h"
#include "agent/log/log.h"
#include "test/helpers/loop_test.h"
#include "test/helpers/task_recorder.h"

extern char** environ;

namespace {

using agent::runner::ExitStatus;
using agent::runner::OutputStream;

using Recorder = test::TaskRecorder;

class ProcessRunnerTest : public test::LoopTest {
 protected:
  void SetUp() override {
    test::LoopTest::SetUp();
    agent::log::set_min_severity(agent::log::Severity::kWarn);
    config_.state_dir = "/tmp/runnerd-unit-" + std::to_string(getpid());
    agent::runner::RunnerContext ctx{&loop_, &config_};
    runners::process::Factory f;
    auto r = f.create(ctx);
    ASSERT_TRUE(r.ok());
    runner_ = std::move(r).value();
  }
  void TearDown() override {
    runner_->close();
    test::LoopTest::TearDown();
    runner_.reset();
  }
  agent::runner::TaskSpec spec(std::vector<std::string> argv) {
    agent::runner::TaskSpec s;
    // Unique in the process: the cgroup of an earlier test's task may still
    // be on its way out, and its removal retried (a SIGKILL to whatever is in
    // it) must not find a new task of the same name there.
    static int counter = 0;
    s.task_run_id = "unit" + std::to_string(counter++);
    s.argv = std::move(argv);
    for (char** e = environ; *e != nullptr; e++) s.env.emplace_back(*e);
    s.working_dir = "/tmp";
    return s;
  }
  agent::AgentConfig config_;
  std::unique_ptr<agent::runner::Runner> runner_;
};

TEST_F(ProcessRunnerTest, CapturesBothStreamsAndTheExitCode) {
  Recorder rec;
  auto t = runner_->start(spec({"/bin/sh", "-c", "echo out; echo err >&2; printf tail; exit 3"}), rec);
  ASSERT_TRUE(t.ok()) << t.error().message();
  ASSERT_TRUE(run_until([&] { return rec.finished > 0; }));
  // Spawned off the loop: the pid is known once the child exists, before it ends.
  EXPECT_EQ(rec.started, 1);
  EXPECT_GT(rec.pid, 0);
  EXPECT_EQ((*t)->pid(), rec.pid);
  EXPECT_EQ(rec.out, "out\ntail");
  EXPECT_EQ(rec.err, "err\n");
  ASSERT_TRUE(rec.outcome.ok());
  EXPECT_EQ(std::get<agent::runner::Exited>(*rec.outcome).code, 3);
  runner_->release(std::move(t).value());
  EXPECT_EQ(rec.finished, 1);
}

int64_t counter(const agent::runner::Runner& runner, const std::string& name) {
  for (const auto& [n, v] : runner.counters()) {
    if (n == name) return v;
  }
  return -1;
}

// A task that writes and exits before the loop looks: its last output, its
// pipes' end and its exit are all pending at once, in whatever order the
// kernel reports them. Its output is read whole and nothing is taken for a
// process left behind (which would kill its cgroup, keep it from the next
// task, and after a 2 s drain cut what was still unread).
TEST_F(ProcessRunnerTest, OutputAndExitPendingTogetherAreReadWholeAndLeaveNothingToKill) {
  for (int i = 0; i < 5; i++) {
    Recorder rec;
    auto t = runner_->start(spec({"/bin/sh", "-c", "echo last; echo err >&2"}), rec);
    ASSERT_TRUE(t.ok()) << t.error().message();
    ASSERT_TRUE(run_until([&] { return rec.started > 0; }));
    usleep(200 * 1000);  // the loop does not run: the child writes and exits meanwhile
    ASSERT_TRUE(run_until([&] { return rec.finished > 0; }));
    EXPECT_EQ(rec.out, "last\n");
    EXPECT_EQ(rec.err, "err\n");
    EXPECT_TRUE((*t)->left_nothing_running());
    runner_->release(std::move(t).value());
  }
  EXPECT_EQ(counter(*runner_, "process_leftovers_killed"), 0);
}

// The child starts on the agent's descriptor table and makes its own of the
// few below the spawner's slots (spawn.h): it must end with exactly 0, 1 and
// 2, and the agent's own 0, 1 and 2 must be what they were.
TEST_F(ProcessRunnerTest, TheTaskHoldsOnlyItsThreeStandardDescriptorsAndOursStayAsTheyWere) {
  struct stat before[3];
  for (int fd = 0; fd < 3; fd++) ASSERT_EQ(fstat(fd, &before[fd]), 0);
  std::vector<int> ours;  // descriptors of the agent's, above the slots
  for (int i = 0; i < 300; i++) ours.push_back(open("/dev/null", O_RDONLY));  // not close-on-exec
  Recorder rec;
  auto t = runner_->start(spec({"/bin/ls", "/proc/self/fd"}), rec);  // 3: ls reading the directory
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(run_until([&] { return rec.finished > 0; }));
  EXPECT_EQ(rec.out, "0\n1\n2\n3\n") << rec.err;
  runner_->release(std::move(t).value());
  for (int fd : ours) close(fd);
  for (int fd = 0; fd < 3; fd++) {
    struct stat now;
    ASSERT_EQ(fstat(fd, &now), 0);
    EXPECT_EQ(now.st_ino, before[fd].st_ino) << "descriptor " << fd;
    EXPECT_EQ(now.st_dev, before[fd].st_dev) << "descriptor " << fd;
  }
}

// Cgroups are used again (process_runner.cc), but not one emptied through
// cgroup.kill: a child started into it afterwards was killed at birth.
TEST_F(ProcessRunnerTest, TasksAfterAForceKilledOneStartAndEndNormally) {
  for (int round = 0; round < 3; round++) {
    Recorder killed;
    auto t = runner_->start(spec({"/bin/sh", "-c", "echo up; sleep 30"}), killed);
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(run_until([&] { return killed.out == "up\n"; }));
    runner_->kill(**t, agent::runner::KillMode::kForce);
    ASSERT_TRUE(run_until([&] { return killed.finished > 0; }));
    runner_->release(std::move(t).value());
    for (int i = 0; i < 3; i++) {
      Recorder rec;
      auto n = runner_->start(spec({"/bin/sh", "-c", "exit 3"}), rec);
      ASSERT_TRUE(n.ok());
      ASSERT_TRUE(run_until([&] { return rec.finished > 0; }));
      ASSERT_TRUE(rec.outcome.ok());
      ASSERT_TRUE(std::holds_alternative<agent::runner::Exited>(*rec.outcome))
          << "round " << round << " task " << i << " was killed";
      EXPECT_EQ(std::get<agent::runner::Exited>(*rec.outcome).code, 3);
      runner_->release(std::move(n).value());
    }
  }
}

TEST_F(ProcessRunnerTest, RunsInTheGivenDirectoryWithTheGivenEnvironment) {
  Recorder rec;
  auto s = spec({"/bin/sh", "-c", "pwd; echo $ONLY"});
  s.env = {"ONLY=this", "PATH=/usr/bin:/bin"};
  s.working_dir = "/usr";
  auto t = runner_->start(s, rec);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(run_until([&] { return rec.finished > 0; }));
  EXPECT_EQ(rec.out, "/usr\nthis\n");
  runner_->release(std::move(t).value());
}

TEST_F(ProcessRunnerTest, AMissingProgramEndsTheTaskWithAnErrorAndNothingStarts) {
  Recorder rec;
  auto t = runner_->start(spec({"/does/not/exist"}), rec);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(rec.finished, 0);  // never from inside start()
  ASSERT_TRUE(run_until([&] { return rec.finished > 0; }));
  ASSERT_FALSE(rec.outcome.ok());
  EXPECT_NE(rec.outcome.error().message().find("cannot start '/does/not/exist'"), std::string::npos)
      << rec.outcome.error().message();
  EXPECT_EQ(rec.started, 0);
  runner_->release(std::move(t).value());
  EXPECT_EQ(rec.finished, 1);
}

TEST_F(ProcessRunnerTest, AKillAskedBeforeTheChildExistsReachesItOnceItDoes) {
  Recorder rec;
  auto t = runner_->start(spec({"/bin/sh", "-c", "echo started; sleep 30"}), rec);
  ASSERT_TRUE(t.ok());
  runner_->kill(**t, agent::runner::KillMode::kForce);  // the spawner has not answered yet
  EXPECT_EQ(rec.started, 0);
  ASSERT_TRUE(run_until([&] { return rec.finished > 0; }, std::chrono::seconds(10)));
  EXPECT_EQ(rec.started, 1);
  ASSERT_TRUE(rec.outcome.ok());
  ASSERT_TRUE(std::holds_alternative<agent::runner::Signaled>(*rec.outcome));
  EXPECT_EQ(std::get<agent::runner::Signaled>(*rec.outcome).signal, SIGKILL);
  runner_->release(std::move(t).value());
}

TEST_F(ProcessRunnerTest, GracefulKillReachesTheProcessGroupThenForceKillEndsIt) {
  Recorder rec;
  auto t = runner_->start(spec({"/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done"}), rec);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(run_until([&] { return rec.out == "ready\n"; }));
  runner_->kill(**t, agent::runner::KillMode::kGraceful);
  // SIGTERM is ignored by the shell; its `sleep` children die of it, the loop goes on.
  uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(rec.finished, 0);
  runner_->kill(**t, agent::runner::KillMode::kForce);
  ASSERT_TRUE(run_until([&] { return rec.finished > 0; }));
  ASSERT_TRUE(rec.outcome.ok());
  EXPECT_EQ(std::get<agent::runner::Signaled>(*rec.outcome).signal, SIGKILL);
  runner_->release(std::move(t).value());
}

TEST_F(ProcessRunnerTest, PausedOutputBlocksTheWriterUntilResumed) {
  Recorder rec;
  auto t = runner_->start(spec({"/bin/sh", "-c", "head -c 1000000 /dev/zero"}), rec);
  ASSERT_TRUE(t.ok());
  runner_->set_output_paused(**t, true);
  for (int i = 0; i < 20; i++) uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(rec.out.size(), 0u);
  EXPECT_EQ(rec.finished, 0);  // the writer is blocked on the full pipe
  runner_->set_output_paused(**t, false);
  ASSERT_TRUE(run_until([&] { return rec.finished > 0; }));
  EXPECT_EQ(rec.out.size(), 1000000u);
  runner_->release(std::move(t).value());
}

// A task that keeps its stdout pipe full gets a larger one (1 MiB), so that it
// goes on writing while the agent works through a read; a quiet one keeps
// the default. Each pause lets the writer fill the pipe, so that the read
// after it is a full one.
TEST_F(ProcessRunnerTest, AChattyTaskGetsALargerPipe) {
  Recorder rec;
  auto t = runner_->start(
      spec({"/usr/bin/python3", "-c",
            "import fcntl, os, sys\n"
            "size = lambda: sys.stderr.write('%d\\n' % fcntl.fcntl(1, 1032)) and sys.stderr.flush()\n"
            "size()\n"
            "os.write(1, b'0123456789abcdef\\n' * 262144)\n"
            "size()\n"}),
      rec);
  ASSERT_TRUE(t.ok());
  for (int i = 0; i < 8; i++) {
    runner_->set_output_paused(**t, true);
    usleep(100 * 1000);
    runner_->set_output_paused(**t, false);
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  ASSERT_TRUE(run_until([&] { return rec.finished > 0; }));
  EXPECT_EQ(rec.out.size(), 17u * 262144u);
  EXPECT_EQ(rec.err, "65536\n1048576\n");
  runner_->release(std::move(t).value());
}

// spawner.h: with no other task running, the spawn is made on the loop
// thread; beside a running task, on the spawner's. Either way the task's
// start is reported after start() returns, never from inside it.
TEST_F(ProcessRunnerTest, ALoneTaskIsSpawnedOnTheLoopAndOneBesideAnotherOnTheSpawnerThread) {
  auto on_loop = [&] {
    for (const auto& [name, value] : runner_->counters()) {
      if (name == "process_spawned_on_loop") return value;
    }
    return int64_t{-1};
  };
  Recorder first;
  auto a = runner_->start(spec({"/bin/sh", "-c", "echo first; exec sleep 30"}), first);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(first.started, 0);
  EXPECT_EQ(on_loop(), 1);
  ASSERT_TRUE(run_until([&] { return first.out == "first\n"; }));
  EXPECT_EQ(first.started, 1);
  EXPECT_EQ((*a)->pid(), first.pid);

  Recorder second;
  auto b = runner_->start(spec({"/bin/sh", "-c", "echo second; exit 4"}), second);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(second.started, 0);
  ASSERT_TRUE(run_until([&] { return second.finished > 0; }));
  EXPECT_EQ(on_loop(), 1);  // the first still ran: the thread made it
  EXPECT_EQ(second.out, "second\n");
  ASSERT_TRUE(second.outcome.ok());
  EXPECT_EQ(std::get<agent::runner::Exited>(*second.outcome).code, 4);
  runner_->release(std::move(b).value());

  runner_->kill(**a, agent::runner::KillMode::kForce);
  ASSERT_TRUE(run_until([&] { return first.finished > 0; }));
  runner_->release(std::move(a).value());

  Recorder third;  // alone again
  auto c = runner_->start(spec({"/bin/true"}), third);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(run_until([&] { return third.finished > 0; }));
  EXPECT_EQ(on_loop(), 2);
  runner_->release(std::move(c).value());
}

TEST_F(ProcessRunnerTest, HasNoPropertiesButType) {
  EXPECT_TRUE(runner_->validate("").ok());
  EXPECT_TRUE(runner_->validate(R"({"type":"io.kestra.plugin.core.runner.Process"})").ok());
  auto st = runner_->validate(R"({"type":"x","image":"y"})");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().path(), "image");
}

}  // namespace
