// The Docker runner against a scripted engine: a container that exits 137
// without a kill from the agent is inspected, and State.OOMKilled makes the
// outcome Signaled{SIGKILL, out_of_memory}; granted GPU ids reach the create
// body. (Podman 4.3 on a cgroup v1 host never reports OOMKilled, so the real
// engine cannot show this path.)
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>

#include "agent/config/config.h"
#include "agent/log/log.h"
#include "runners/docker/docker_runner.h"
#include "test/helpers/http_test_server.h"
#include "test/helpers/loop_test.h"
#include "test/helpers/task_recorder.h"

namespace {

using agent::runner::ExitStatus;

constexpr const char* kId = "c0ffee00c0ffee00c0ffee00";

using Recorder = test::TaskRecorder;

class DockerOom : public test::LoopTest {
 protected:
  void SetUp() override {
    test::LoopTest::SetUp();
    agent::log::set_min_severity(agent::log::Severity::kError);
    socket_ = "/tmp/runnerd-docker-oom-" + std::to_string(::getpid()) + ".sock";
    std::string c = std::string("/v1.41/containers/") + kId;
    server_.route("/v1.41/containers/create", [this](const test::HttpRequestSeen& req, test::HttpExchange& ex) {
      std::lock_guard<std::mutex> lock(mu_);
      create_body_ = req.body;
      ex.respond(201, std::string(R"({"Id":")") + kId + "\"}");
    });
    server_.route_fixed(c + "/start", 204, "");
    server_.route_fixed(c + "/logs", 200, "");
    server_.route_fixed(c + "/wait", 200, R"({"StatusCode":137})");
    server_.route(c + "/json", [this](const test::HttpRequestSeen&, test::HttpExchange& ex) {
      inspected_++;
      ex.respond(200, std::string(R"({"Id":")") + kId + R"(","State":{"Status":"exited","ExitCode":137,"OOMKilled":)" +
                          (oom_killed_ ? "true" : "false") + "}}");
    });
    server_.route_fixed(c, 204, "");  // DELETE
    ASSERT_TRUE(server_.start(socket_));
    config_.docker.host = "unix://" + socket_;
    agent::runner::RunnerContext ctx{&loop_, &config_};
    runners::docker::Factory f;
    auto r = f.create(ctx);
    ASSERT_TRUE(r.ok()) << r.error().message();
    runner_ = std::move(r).value();
  }
  void TearDown() override {
    runner_->close();
    test::LoopTest::TearDown();
    runner_.reset();
    server_.stop();
    ::unlink(socket_.c_str());
  }
  agent::Result<ExitStatus> run(agent::runner::TaskSpec s) {
    Recorder rec;
    auto t = runner_->start(s, rec);
    if (!t.ok()) return t.error();
    EXPECT_TRUE(run_until([&] { return rec.finished > 0; }));
    runner_->release(std::move(t).value());
    return rec.outcome;
  }
  agent::runner::TaskSpec spec() {
    agent::runner::TaskSpec s;
    s.task_run_id = "oom";
    s.argv = {"/bin/sh", "-c", "exec tail /dev/zero"};
    s.working_dir = "/tmp";
    s.container_image = "busybox";
    s.runner_json = R"({"type":"io.kestra.plugin.scripts.runner.docker.Docker","fileHandlingStrategy":"MOUNT",
      "memory":{"memory":"32MB"},"deviceRequests":[{"driver":"nvidia","count":1,"capabilities":[["gpu"]]}]})";
    return s;
  }

  std::string socket_;
  test::HttpTestServer server_;
  std::mutex mu_;
  std::string create_body_;
  std::atomic<bool> oom_killed_{true};
  std::atomic<int> inspected_{0};
  agent::AgentConfig config_;
  std::unique_ptr<agent::runner::Runner> runner_;
};

TEST_F(DockerOom, AnOomKilledContainerIsReportedOutOfMemory) {
  auto s = spec();
  s.resources.memory_bytes = 32LL << 20;
  s.resources.gpu_ids = {"2"};
  auto outcome = run(s);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  auto* sig = std::get_if<agent::runner::Signaled>(&*outcome);
  ASSERT_NE(sig, nullptr);
  EXPECT_EQ(sig->signal, SIGKILL);
  EXPECT_TRUE(sig->out_of_memory);
  EXPECT_EQ(inspected_.load(), 1);
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_NE(create_body_.find(R"("Memory":33554432)"), std::string::npos) << create_body_;
  EXPECT_NE(create_body_.find(R"("DeviceRequests":[{"Driver":"nvidia","Count":0,"DeviceIDs":["2"],"Capabilities":[["gpu"]]}])"),
            std::string::npos)
      << create_body_;
}

TEST_F(DockerOom, A137WithoutOomKilledKeepsItsExitCode) {
  oom_killed_ = false;
  auto outcome = run(spec());
  ASSERT_TRUE(outcome.ok()) << outcome.error().message();
  auto* e = std::get_if<agent::runner::Exited>(&*outcome);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, 137);
  EXPECT_EQ(inspected_.load(), 1);
}

}  // namespace
