// The engine calls as Prometheus metrics: counters for every kind, a latency
// histogram (seconds) for the kinds called, labelled {runner, call}.
#include <gtest/gtest.h>

#include "agent/metrics/registry.h"
#include "runners/docker/engine_stats.h"

namespace {

using runners::docker::CallKind;
using runners::docker::EngineStats;

TEST(EngineMetrics, CallsErrorsAndLatencyByKind) {
  EngineStats stats;
  stats.record(CallKind::kCreate, false, 3'000'000);    // 3 ms
  stats.record(CallKind::kCreate, true, 40'000'000);    // 40 ms, failed
  stats.record(CallKind::kPull, false, 90'000'000'000);  // 90 s
  EXPECT_EQ(stats.latency(CallKind::kCreate).count(), 2u);

  agent::metrics::Registry r;
  stats.write_metrics(r, "docker");
  std::string text = r.text();
  auto has = [&](const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos;
  };
  EXPECT_TRUE(has("runnerd_engine_api_calls_total{runner=\"docker\",call=\"create\"} 2")) << text;
  EXPECT_TRUE(has("runnerd_engine_api_calls_total{runner=\"docker\",call=\"start\"} 0"));
  EXPECT_TRUE(has("runnerd_engine_api_errors_total{runner=\"docker\",call=\"create\"} 1"));
  EXPECT_TRUE(has("runnerd_engine_api_errors_total{runner=\"docker\",call=\"pull\"} 0"));
  EXPECT_TRUE(has(
      "runnerd_engine_api_call_duration_seconds_bucket{runner=\"docker\",call=\"create\",le=\"0.0025\"} 0"));
  EXPECT_TRUE(has(
      "runnerd_engine_api_call_duration_seconds_bucket{runner=\"docker\",call=\"create\",le=\"0.005\"} 1"));
  EXPECT_TRUE(has(
      "runnerd_engine_api_call_duration_seconds_bucket{runner=\"docker\",call=\"create\",le=\"0.05\"} 2"));
  EXPECT_NE(text.find("\nrunnerd_engine_api_call_duration_seconds_sum{runner=\"docker\",call=\"create\"} 0.04"),
            std::string::npos);
  EXPECT_TRUE(has("runnerd_engine_api_call_duration_seconds_count{runner=\"docker\",call=\"pull\"} 1"));
  EXPECT_TRUE(has(
      "runnerd_engine_api_call_duration_seconds_bucket{runner=\"docker\",call=\"pull\",le=\"60\"} 0"));
  // Kinds never called have counters, not histograms.
  EXPECT_EQ(text.find("call_duration_seconds_count{runner=\"docker\",call=\"start\"}"), std::string::npos);
  EXPECT_NE(text.find("# TYPE runnerd_engine_api_call_duration_seconds histogram"), std::string::npos);
}

}  // namespace
