// The Docker runner's pure parts: the multiplexed log stream, container
// labels, and Kestra's size strings.
#include <gtest/gtest.h>

#include "runners/docker/labels.h"
#include "runners/docker/log_demux.h"
#include "runners/docker/sizes.h"

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
  using runners::docker::parse_size;
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
