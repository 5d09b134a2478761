// Kestra's `resume`: a container left by an agent that stopped (still running,
// or exited meanwhile) carries the six kestra.io/* labels of its task run; the
// Docker runner started again for that task run follows it instead of making
// a new one: its logs, its real exit code, then its removal. Runner level,
// against podman (the agent's own restart with durable state is issue 5).
#include <unistd.h>

#include <gtest/gtest.h>

#include "agent/config/config.h"
#include "agent/runner/registry.h"
#include "runners/docker/docker_runner.h"
#include "test/helpers/engine_client.h"
#include "test/helpers/loop_test.h"

namespace {

using agent::runner::ExitStatus;
using agent::runner::OutputStream;

struct Recorder : agent::runner::TaskObserver {
  std::string out, notes;
  int finished = 0;
  agent::Result<ExitStatus> outcome = agent::Error(agent::Errc::kInternal, "none");
  void on_output(agent::runner::RunnerTask&, OutputStream s, std::string_view b) override {
    if (s == OutputStream::kStdout) out.append(b);
  }
  void on_note(agent::runner::RunnerTask&, bool, std::string_view text) override {
    notes.append(text).append("\n");
  }
  void on_finished(agent::runner::RunnerTask&, agent::Result<ExitStatus> o) override {
    finished++;
    outcome = std::move(o);
  }
};

class DockerResume : public test::LoopTest {
 protected:
  void SetUp() override {
    auto missing = test::engine_missing();
    ASSERT_FALSE(missing) << *missing;
    test::LoopTest::SetUp();
    config_.docker.host = "unix://" + test::test_engine_socket();
    agent::runner::RunnerContext ctx{&loop_, &config_};
    runners::docker::Factory f;
    auto r = f.create(ctx);
    ASSERT_TRUE(r.ok()) << r.error().message();
    runner_ = std::move(r).value();
    run_id_ = "resume" + std::to_string(getpid()) + "x" + std::to_string(counter_++);
  }
  void TearDown() override {
    test::remove_containers_with_label("kestra.io/taskrun-id", run_id_);
    if (runner_) runner_->close();
    test::LoopTest::TearDown();
    runner_.reset();
  }

  agent::runner::TaskSpec spec() {
    agent::runner::TaskSpec s;
    s.execution_id = "exec" + run_id_;
    s.namespace_ = "dev.resume";
    s.flow_id = "resume";
    s.task_id = "long";
    s.task_run_id = run_id_;
    s.attempt = 1;
    s.resumed = true;
    s.argv = {"/bin/sh", "-c", "echo should-not-run"};
    s.working_dir = "/tmp";
    s.container_image = "busybox";
    s.runner_json = R"({"type":"io.kestra.plugin.scripts.runner.docker.Docker","fileHandlingStrategy":"MOUNT"})";
    return s;
  }

  // A container as an earlier agent would have left it: the task run's labels.
  std::string leave_container(const std::string& script) {
    auto s = spec();
    std::string body = R"({"Image":"busybox","Entrypoint":[""],"Cmd":["/bin/sh","-c",)" +
                       test::json_quote(script) + R"(],"Labels":{)" +
                       R"("kestra.io/namespace":"dev.resume","kestra.io/flow-id":"resume",)" +
                       R"("kestra.io/task-id":"long","kestra.io/execution-id":)" +
                       test::json_quote(s.execution_id) + R"(,"kestra.io/taskrun-id":)" +
                       test::json_quote(run_id_) + R"(,"kestra.io/taskrun-attempt":"1"}})";
    auto c = test::engine_call("POST", "/containers/create", body);
    EXPECT_EQ(c.status, 201) << c.body;
    auto m = test::parse_message(c.body);
    std::string id = m ? m->str("/Id") : "";
    auto st = test::engine_call("POST", "/containers/" + id + "/start");
    EXPECT_EQ(st.status, 204) << st.body;
    return id;
  }

  size_t left() {
    auto list = test::containers_with_label("kestra.io/taskrun-id", run_id_);
    simdjson::dom::array arr;
    if (!list || list->root.get_array().get(arr) != simdjson::SUCCESS) return 999;
    return arr.size();
  }

  agent::AgentConfig config_;
  std::unique_ptr<agent::runner::Runner> runner_;
  std::string run_id_;
  static inline int counter_ = 0;
};

TEST_F(DockerResume, FollowsARunningContainerAgain) {
  leave_container("echo before; sleep 2; echo after; exit 3");
  Recorder rec;
  auto t = runner_->start(spec(), rec);
  ASSERT_TRUE(t.ok()) << t.error().message();
  ASSERT_TRUE(run_until([&] { return rec.finished > 0; }, std::chrono::seconds(60)));
  EXPECT_NE(rec.notes.find("resuming container"), std::string::npos) << rec.notes;
  EXPECT_EQ(rec.out, "before\nafter\n");
  ASSERT_TRUE(rec.outcome.ok()) << rec.outcome.error().message();
  EXPECT_EQ(std::get<agent::runner::Exited>(*rec.outcome).code, 3);
  runner_->release(std::move(t).value());
  EXPECT_EQ(left(), 0u);  // removed once followed, as delete: true says
}

TEST_F(DockerResume, CollectsAContainerThatExitedMeanwhile) {
  std::string id = leave_container("echo done while the agent was away; exit 5");
  auto w = test::engine_call("POST", "/containers/" + id + "/wait");
  ASSERT_EQ(w.status, 200) << w.body;
  Recorder rec;
  auto t = runner_->start(spec(), rec);
  ASSERT_TRUE(t.ok()) << t.error().message();
  ASSERT_TRUE(run_until([&] { return rec.finished > 0; }, std::chrono::seconds(60)));
  EXPECT_EQ(rec.out, "done while the agent was away\n");
  ASSERT_TRUE(rec.outcome.ok()) << rec.outcome.error().message();
  EXPECT_EQ(std::get<agent::runner::Exited>(*rec.outcome).code, 5);
  runner_->release(std::move(t).value());
  EXPECT_EQ(left(), 0u);
}

TEST_F(DockerResume, ResumeFalseStartsANewContainer) {
  leave_container("sleep 30");
  auto s = spec();
  s.runner_json = R"({"type":"io.kestra.plugin.scripts.runner.docker.Docker","resume":false,"fileHandlingStrategy":"MOUNT"})";
  Recorder rec;
  auto t = runner_->start(s, rec);
  ASSERT_TRUE(t.ok()) << t.error().message();
  ASSERT_TRUE(run_until([&] { return rec.finished > 0; }, std::chrono::seconds(60)));
  EXPECT_EQ(rec.out, "should-not-run\n");
  EXPECT_EQ(rec.notes.find("resuming"), std::string::npos);
  runner_->release(std::move(t).value());
  EXPECT_EQ(left(), 1u);  // the old one is still there (removed in TearDown)
}

}  // namespace
