// The Docker runner's pure parts: the multiplexed log stream, container
// labels, and Kestra's size strings.
#include <gtest/gtest.h>

#include "runners/docker/labels.h"
#include "runners/docker/log_demux.h"
#include "agent/common/size.h"

namespace {

using agent::runner::OutputStream;
using runners::docker::LogDemux;

std::string frame(char type, const std::string& payload) {
  std::string h(8, '\0');
  h[0] = type;
  uint32_t n = static_cast<uint32_t>(payload.size());
  h[4] = static_cast<char>(n >> 24);
  h[5] = static_cast<char>(n >> 16);
  h[6] = static_cast<char>(n >> 8);
  h[7] = static_cast<char>(n);
  return h + payload;
}

TEST(DockerLogDemux, ReassemblesFramesSplitAnywhere) {
  // What podman sent for `echo out; echo err >&2` (captured), plus a stdin
  // frame and a large frame.
  std::string big(70000, 'x');
  std::string stream = frame(1, "out\n") + frame(2, "err\n") + frame(0, "in") + frame(1, big);
  for (size_t piece : {1u, 3u, 7u, 8u, 9u, 4096u, 1000000u}) {
    std::string out, err;
    LogDemux d([&](OutputStream s, std::string_view p) { (s == OutputStream::kStdout ? out : err) += p; });
    for (size_t at = 0; at < stream.size(); at += piece) {
      ASSERT_TRUE(d.feed(std::string_view(stream).substr(at, piece)).ok());
    }
    EXPECT_TRUE(d.at_frame_boundary());
    EXPECT_EQ(out, "out\n" + big) << piece;
    EXPECT_EQ(err, "err\n") << piece;
  }
}

TEST(DockerLogDemux, ANonMultiplexedStreamIsAnError) {
  LogDemux d([](OutputStream, std::string_view) {});
  auto st = d.feed("hello from a tty\n");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("TTY"), std::string::npos);
  LogDemux partial([](OutputStream, std::string_view) {});
  ASSERT_TRUE(partial.feed(frame(1, "abc").substr(0, 9)).ok());
  EXPECT_FALSE(partial.at_frame_boundary());
}

TEST(DockerLabels, KestraLabelsWithItsTruncation) {
  agent::runner::TaskSpec spec;
  spec.namespace_ = "company.team";
  spec.flow_id = std::string(70, 'f');
  spec.task_id = "task_";
  spec.execution_id = "e1";
  spec.task_run_id = "r1";
  spec.attempt = 2;
  auto labels = runners::docker::kestra_labels(spec, "kestra.io/");
  ASSERT_EQ(labels.size(), 6u);
  EXPECT_EQ(labels[0], (std::pair<std::string, std::string>{"kestra.io/namespace", "company.team"}));
  EXPECT_EQ(labels[1].second.size(), 63u);
  EXPECT_EQ(labels[2].second, "task");  // trailing '_' removed
  EXPECT_EQ(labels[5], (std::pair<std::string, std::string>{"kestra.io/taskrun-attempt", "2"}));
  EXPECT_EQ(runners::docker::label_value("a.b-_."), "a.b");
}

TEST(DockerSizes, KestraSizeStrings) {
  using agent::parse_size;
  EXPECT_EQ(*parse_size("1073741824"), 1073741824);
  EXPECT_EQ(*parse_size("512MB"), 512LL << 20);
  EXPECT_EQ(*parse_size("512m"), 512LL << 20);
  EXPECT_EQ(*parse_size("1.5GB"), 3LL << 29);
  EXPECT_EQ(*parse_size("256k"), 256LL << 10);
  EXPECT_EQ(*parse_size("2 GiB"), 2LL << 30);
  for (std::string bad : std::vector<std::string>{"", "MB", "12XB", "-1GB", "1..5G", "1e3", std::string(400, '9')}) {
    EXPECT_FALSE(parse_size(bad).ok()) << bad;
  }
}

}  // namespace

#include "agent/template/value.h"
#include "runners/docker/container_spec.h"
#include "runners/docker/options.h"

namespace {

using runners::docker::parse_options;

TEST(DockerOptions, KestraPropertiesAndDefaults) {
  auto d = parse_options(R"({"type":"io.kestra.plugin.scripts.runner.docker.Docker"})");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->pull_policy, runners::docker::PullPolicy::kIfNotPresent);
  EXPECT_TRUE(d->delete_);
  EXPECT_TRUE(d->wait);
  EXPECT_EQ(d->file_handling, runners::docker::FileHandling::kVolume);
  auto o = parse_options(R"({"type":"x","cpu":{"cpus":1.5},"memory":{"memory":"512MB","memorySwap":"1GB"},
    "shmSize":"64MB","pullPolicy":"NEVER","fileHandlingStrategy":"MOUNT","killGracePeriod":"PT5S",
    "networkMode":"host","extraHosts":["h:1.2.3.4"],"deviceRequests":[{"driver":"nvidia","count":-1}],
    "host":"unix:///run/podman/podman.sock","entryPoint":["/bin/sh"]})");
  ASSERT_TRUE(o.ok()) << o.error().describe();
  EXPECT_DOUBLE_EQ(*o->cpus, 1.5);
  EXPECT_EQ(*o->memory, 512LL << 20);
  EXPECT_EQ(o->kill_grace.count(), 5000);
  EXPECT_EQ(o->pull_policy, runners::docker::PullPolicy::kNever);
}

TEST(DockerOptions, ErrorsNameTheProperty) {
  struct Case { std::string json, path; };
  for (const auto& c : std::vector<Case>{{R"({"memory":{"memory":"12XB"}})", "memory.memory"},
                                         {R"({"cpu":{"cpus":0}})", "cpu.cpus"},
                                         {R"({"cpu":{"cores":1}})", "cpu.cores"},
                                         {R"({"pullPolicy":"SOMETIMES"})", "pullPolicy"},
                                         {R"({"host":"tcp://1.2.3.4:2375"})", "host"},
                                         {R"({"killGracePeriod":"5s"})", "killGracePeriod"},
                                         {R"({"colour":1})", "colour"}}) {
    auto o = parse_options(c.json);
    ASSERT_FALSE(o.ok()) << c.json;
    EXPECT_EQ(o.error().path(), c.path) << o.error().describe();
  }
}

TEST(DockerContainerSpec, KestraContainerBody) {
  auto o = parse_options(R"({"cpu":{"cpus":2},"memory":{"memory":"256MB"},"fileHandlingStrategy":"MOUNT",
    "portBindings":["127.0.0.1:8080:80","9000"],"user":"1000"})");
  ASSERT_TRUE(o.ok());
  runners::docker::ContainerRequest r{"localhost/busybox:latest", {"/bin/sh", "-c", "echo hi"},
                                      {"WORKING_DIR=/w/1"}, "/w/1", {{"kestra.io/task-id", "t"}}, {}};
  auto body = runners::docker::create_body(r, *o, false);
  ASSERT_TRUE(body.ok()) << body.error().describe();
  auto v = agent::template_::parse_json(*body);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->find("Image")->as_string(), "localhost/busybox:latest");
  EXPECT_EQ(v->find("Entrypoint")->as_list()[0].as_string(), "");
  EXPECT_EQ(v->find("WorkingDir")->as_string(), "/w/1");
  EXPECT_EQ(v->find("Labels")->find("kestra.io/task-id")->as_string(), "t");
  const auto* host = v->find("HostConfig");
  EXPECT_EQ(host->find("Binds")->as_list()[0].as_string(), "/w/1:/w/1");
  EXPECT_EQ(host->find("NanoCpus")->as_int(), 2000000000);
  EXPECT_EQ(host->find("Memory")->as_int(), 256LL << 20);
  EXPECT_EQ(host->find("PortBindings")->find("80/tcp")->as_list()[0].find("HostPort")->as_string(), "8080");
  EXPECT_EQ(host->find("PortBindings")->find("9000/tcp")->as_list()[0].find("HostPort")->as_string(), "");

  auto volumes = parse_options(R"({"volumes":["/data:/data"]})");
  auto refused = runners::docker::create_body(r, *volumes, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().path(), "taskRunner.volumes");
  EXPECT_TRUE(runners::docker::create_body(r, *volumes, true).ok());
  r.image.clear();
  EXPECT_EQ(runners::docker::create_body(r, *o, false).error().path(), "containerImage");
}

}  // namespace
