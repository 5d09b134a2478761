// runnerctl against the real runnerd: what a user types, what they see, and
// the exit status scripts rely on.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

#include "test/helpers/agent_harness.h"

namespace {

using Output = test::CommandResult;

class Runnerctl : public ::testing::Test {
 protected:
  void SetUp() override {
    agent_ = test::AgentProcess::start(RUNNERD_BIN, "killGracePeriod: PT2S\n");
    ASSERT_TRUE(agent_);
  }
  void TearDown() override {
    if (agent_) {
      EXPECT_TRUE(agent_->stop(SIGTERM, std::chrono::seconds(20)).has_value());
    }
  }
  // Runs runnerctl with `args` (stderr kept apart) and returns stdout and the exit status.
  Output ctl(const std::string& args) {
    std::string cmd = std::string(RUNNERCTL_BIN) + " --socket " + agent_->socket() + " " + args +
                      " 2>" + agent_->dir() + "/ctl.err";
    return test::run_command(cmd);
  }
  std::string err() {
    std::ifstream in(agent_->dir() + "/ctl.err");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::string write_flow(const std::string& name, const std::string& yaml) {
    std::string path = agent_->dir() + "/" + name;
    std::ofstream(path) << yaml;
    return path;
  }
  std::unique_ptr<test::AgentProcess> agent_;
};

constexpr const char* kHello = R"(id: hello
namespace: dev
tasks:
  - id: greet
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner:
      type: io.kestra.plugin.core.runner.Process
    commands:
      - echo "hello world"
      - echo '::{"outputs":{"greeting":"hi"},"metrics":[{"name":"n","type":"counter","value":3}]}::'
)";

TEST_F(Runnerctl, RunStreamsLogsAndExitsWithTheOutcome) {
  Output o = ctl("run " + write_flow("hello.yaml", kHello));
  EXPECT_EQ(o.status, 0) << err();
  EXPECT_NE(o.out.find("INFO  [greet] hello world"), std::string::npos) << o.out;
  EXPECT_NE(err().find("SUCCESS"), std::string::npos) << err();

  Output f = ctl("run " + write_flow("fail.yaml", R"(id: f
namespace: dev
tasks:
  - id: boom
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: {type: io.kestra.plugin.core.runner.Process}
    commands: ["echo oops >&2", "exit 4"]
)"));
  EXPECT_EQ(f.status, 1);
  EXPECT_NE(f.out.find("ERROR [boom] oops"), std::string::npos) << f.out;
}

TEST_F(Runnerctl, DetachedRunThenOutputsPsAndLogs) {
  Output d = ctl("run -d " + write_flow("hello.yaml", kHello));
  ASSERT_EQ(d.status, 0) << err();
  std::string id = d.out.substr(0, d.out.find('\n'));
  ASSERT_EQ(id.size(), 22u) << d.out;
  Output l = ctl("logs -f " + id);
  EXPECT_EQ(l.status, 0);
  EXPECT_NE(l.out.find("hello world"), std::string::npos);

  Output outs = ctl("outputs --json " + id);
  ASSERT_EQ(outs.status, 0);
  auto m = test::parse_message(outs.out);
  ASSERT_TRUE(m) << outs.out;
  EXPECT_EQ(m->str("/taskRuns/0/vars/greeting"), "hi") << outs.out;

  Output human = ctl("outputs " + id);
  EXPECT_NE(human.out.find("greeting"), std::string::npos) << human.out;

  Output ps = ctl("ps");
  EXPECT_EQ(ps.status, 0);
  EXPECT_NE(ps.out.find(id), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("dev.hello"), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("SUCCESS"), std::string::npos) << ps.out;

  Output psj = ctl("ps --json");
  auto pm = test::parse_message(psj.out);
  ASSERT_TRUE(pm) << psj.out;
  EXPECT_EQ(pm->str("/executions/0/id"), id);

  Output g = ctl("get --json " + id.substr(0, 6));
  auto gm = test::parse_message(g.out);
  ASSERT_TRUE(gm) << g.out;
  EXPECT_EQ(gm->str("/taskRuns/0/runner"), "io.kestra.plugin.core.runner.Process");
}

TEST_F(Runnerctl, CancelKillsARunningExecution) {
  Output d = ctl("run -d " + write_flow("sleep.yaml", R"(id: s
namespace: dev
tasks:
  - id: nap
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: {type: io.kestra.plugin.core.runner.Process}
    commands: ["sleep 300"]
)"));
  ASSERT_EQ(d.status, 0) << err();
  std::string id = d.out.substr(0, d.out.find('\n'));
  Output c = ctl("cancel " + id);
  EXPECT_EQ(c.status, 0) << err();
  EXPECT_NE((c.out + err()).find("KILLED"), std::string::npos) << c.out << err();
  Output l = ctl("logs -f " + id);
  EXPECT_EQ(l.status, 2);
}

TEST_F(Runnerctl, ErrorsAreOneLineWithThePropertyPath) {
  Output o = ctl("run " + write_flow("bad.yaml", R"(id: bad
namespace: dev
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    taskRunner: {type: io.kestra.plugin.core.runner.Process}
    commands: echo not a list
)"));
  EXPECT_NE(o.status, 0);
  std::string e = err();
  EXPECT_NE(e.find("flow.tasks[0].commands"), std::string::npos) << e;
  EXPECT_EQ(std::count(e.begin(), e.end(), '\n'), 1) << e;

  std::string missing_sock = std::string(RUNNERCTL_BIN) + " --socket " + agent_->dir() +
                             "/none.sock ps 2>&1";
  auto [st, msg] = test::run_command(missing_sock);
  EXPECT_NE(st, 0);
  EXPECT_NE(msg.find("cannot connect"), std::string::npos) << msg;
}

}  // namespace
