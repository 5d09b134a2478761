// The engine calls' kinds (from method and path) and their counts, errors and
// latencies as the runner's counters report them, also through a real Engine
// on a scripted engine socket.
#include "runners/docker/engine_stats.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/http/client.h"
#include "runners/docker/engine.h"
#include "test/helpers/http_test_server.h"
#include "test/helpers/loop_test.h"

namespace {

using runners::docker::call_kind;
using runners::docker::call_kind_name;
using runners::docker::CallKind;
using runners::docker::EngineStats;

// ---------------------------------------------------------------------------
// Kinds

TEST(DockerEngineStats, TheCallsOfATasksSequence) {
  EXPECT_EQ(call_kind("POST", "/containers/create"), CallKind::kCreate);
  EXPECT_EQ(call_kind("POST", "/containers/create?name=x"), CallKind::kCreate);
  EXPECT_EQ(call_kind("POST", "/containers/0123abcd/start"), CallKind::kStart);
  EXPECT_EQ(call_kind("POST", "/containers/0123abcd/wait"), CallKind::kWait);
  EXPECT_EQ(call_kind("GET", "/containers/0123abcd/logs?stdout=1&stderr=1&follow=1"), CallKind::kLogs);
  EXPECT_EQ(call_kind("DELETE", "/containers/0123abcd?force=1&v=1"), CallKind::kDelete);
  EXPECT_EQ(call_kind("DELETE", "/containers/0123abcd"), CallKind::kDelete);
}

TEST(DockerEngineStats, TheOtherKinds) {
  EXPECT_EQ(call_kind("GET", "/containers/0123abcd/json"), CallKind::kInspect);
  EXPECT_EQ(call_kind("GET", "/images/busybox/json"), CallKind::kInspect);
  EXPECT_EQ(call_kind("GET", "/images/ghcr.io/kestra-io/pydata/json"), CallKind::kInspect);
  EXPECT_EQ(call_kind("GET", "/containers/json?all=1&filters=%7B%7D"), CallKind::kList);
  EXPECT_EQ(call_kind("GET", "/images/json"), CallKind::kList);
  EXPECT_EQ(call_kind("POST", "/images/create?fromImage=busybox&tag=latest"), CallKind::kPull);
  EXPECT_EQ(call_kind("PUT", "/containers/0123abcd/archive?path=%2F"), CallKind::kArchive);
  EXPECT_EQ(call_kind("GET", "/containers/0123abcd/archive?path=%2Ftmp%2Fw"), CallKind::kArchive);
  EXPECT_EQ(call_kind("POST", "/containers/0123abcd/stop?t=10"), CallKind::kOther);
  EXPECT_EQ(call_kind("POST", "/containers/0123abcd/kill"), CallKind::kOther);
  EXPECT_EQ(call_kind("GET", "/_ping"), CallKind::kOther);
  EXPECT_EQ(call_kind("GET", "/version"), CallKind::kOther);
  EXPECT_EQ(call_kind("GET", ""), CallKind::kOther);
  EXPECT_EQ(call_kind("GET", "/"), CallKind::kOther);
}

TEST(DockerEngineStats, TheMethodTellsApartCallsOnTheSamePath) {
  // A container named "create" or "json" is reached by DELETE, never by the
  // POST / GET that make or list containers.
  EXPECT_EQ(call_kind("DELETE", "/containers/create"), CallKind::kOther);
  EXPECT_EQ(call_kind("GET", "/containers/create"), CallKind::kOther);
  EXPECT_EQ(call_kind("POST", "/containers/json"), CallKind::kOther);
  EXPECT_EQ(call_kind("GET", "/containers/0123abcd"), CallKind::kOther);
  EXPECT_EQ(call_kind("GET", "/containers/0123abcd/start"), CallKind::kOther);
  EXPECT_EQ(call_kind("POST", "/containers/0123abcd/logs"), CallKind::kOther);
  EXPECT_EQ(call_kind("GET", "/images/create"), CallKind::kOther);
  EXPECT_EQ(call_kind("DELETE", "/images/busybox"), CallKind::kOther);
}

// ---------------------------------------------------------------------------
// Counting

std::map<std::string, int64_t> counters(const EngineStats& s) {
  std::vector<std::pair<std::string, int64_t>> v;
  s.append_counters(v);
  std::map<std::string, int64_t> m(v.begin(), v.end());
  EXPECT_EQ(m.size(), v.size()) << "a counter name twice";
  return m;
}

TEST(DockerEngineStats, EveryKindHasThreeCountersFromZero) {
  EngineStats s;
  auto m = counters(s);
  EXPECT_EQ(m.size(), 3 * runners::docker::kCallKinds);
  for (const char* kind : {"Create", "Start", "Wait", "Logs", "Delete", "Inspect", "List", "Pull",
                           "Archive", "Other"}) {
    for (const char* what : {"engineCalls", "engineCallErrors", "engineCallUs"}) {
      std::string name = std::string(what) + kind;
      ASSERT_TRUE(m.count(name)) << name;
      EXPECT_EQ(m[name], 0) << name;
    }
  }
  EXPECT_EQ(call_kind_name(CallKind::kDelete), "Delete");
}

TEST(DockerEngineStats, RecordCountsCallsErrorsAndMicroseconds) {
  EngineStats s;
  s.record(CallKind::kCreate, false, 1'500'000);  // 1.5 ms
  s.record(CallKind::kCreate, true, 2'000'999);
  s.record(CallKind::kLogs, false, 999);  // under a microsecond: counted, 0 us
  auto m = counters(s);
  EXPECT_EQ(m["engineCallsCreate"], 2);
  EXPECT_EQ(m["engineCallErrorsCreate"], 1);
  EXPECT_EQ(m["engineCallUsCreate"], 3500);
  EXPECT_EQ(m["engineCallsLogs"], 1);
  EXPECT_EQ(m["engineCallErrorsLogs"], 0);
  EXPECT_EQ(m["engineCallUsLogs"], 0);
  EXPECT_EQ(m["engineCallsStart"], 0);
  EXPECT_EQ(s.of(CallKind::kCreate).calls, 2);
}

// ---------------------------------------------------------------------------
// Through the Engine

class DockerEngineStatsOnASocket : public test::LoopTest {
 protected:
  void SetUp() override {
    test::LoopTest::SetUp();
    sock_ = "/tmp/runnerd-engine-stats-" + std::to_string(::getpid()) + ".sock";
    auto c = agent::http::HttpClient::create(&loop_);
    ASSERT_TRUE(c.ok()) << c.error().describe();
    http_ = std::move(c).value();
  }
  void TearDown() override {
    if (http_) {
      bool closed = false;
      http_->close([&] { closed = true; });
      EXPECT_TRUE(run_until([&] { return closed; }));
      http_.reset();
    }
    server_.stop();
    ::unlink(sock_.c_str());
    test::LoopTest::TearDown();
  }

  void call(runners::docker::Engine& engine, std::string method, std::string path) {
    bool done = false;
    engine.call(std::move(method), std::move(path), "", [&](agent::Result<agent::http::Response>) { done = true; },
                {}, std::chrono::seconds(10));
    ASSERT_TRUE(run_until([&] { return done; }));
  }

  std::string sock_;
  std::unique_ptr<agent::http::HttpClient> http_;
  test::HttpTestServer server_;
};

TEST_F(DockerEngineStatsOnASocket, CallsAndStreamsAreCountedWithTheirLatency) {
  server_.route_fixed("/v1.41/containers/create", 201, R"({"Id":"abc"})");
  server_.route_fixed("/v1.41/containers/abc/start", 204, "");
  server_.route_slow("/v1.41/containers/abc/wait", std::chrono::milliseconds(50), R"({"StatusCode":0})");
  server_.route_chunks("/v1.41/containers/abc/logs", {"a", "b"}, std::chrono::milliseconds(30));
  server_.route_fixed("/v1.41/containers/abc", 409, R"({"message":"busy"})");
  ASSERT_TRUE(server_.start(sock_));
  EngineStats stats;
  runners::docker::Engine engine(*http_, sock_, &stats);

  call(engine, "POST", "/containers/create");
  call(engine, "POST", "/containers/abc/start");
  call(engine, "POST", "/containers/abc/wait");
  std::optional<agent::Status> end;
  engine.stream("/containers/abc/logs?follow=1", nullptr, [](std::string_view) {},
                [&](agent::Status st) { end = st; });
  ASSERT_TRUE(run_until([&] { return end.has_value(); }));
  call(engine, "DELETE", "/containers/abc?force=1&v=1");  // 409: an answer, but an error

  auto m = counters(stats);
  EXPECT_EQ(m["engineCallsCreate"], 1);
  EXPECT_EQ(m["engineCallsStart"], 1);
  EXPECT_EQ(m["engineCallsWait"], 1);
  EXPECT_EQ(m["engineCallsLogs"], 1);
  EXPECT_EQ(m["engineCallsDelete"], 1);
  EXPECT_EQ(m["engineCallErrorsCreate"] + m["engineCallErrorsStart"] + m["engineCallErrorsWait"] +
                m["engineCallErrorsLogs"],
            0);
  EXPECT_EQ(m["engineCallErrorsDelete"], 1);
  // The slow answer and the stream's pieces are in the latencies: the wait's
  // from its request to its answer, the log stream's to its end.
  EXPECT_GE(m["engineCallUsWait"], 45'000);
  EXPECT_GE(m["engineCallUsLogs"], 25'000);
  EXPECT_GT(m["engineCallUsCreate"], 0);
}

TEST_F(DockerEngineStatsOnASocket, AMissingSocketAndAnUnknownPathAreErrors) {
  EngineStats stats;
  runners::docker::Engine engine(*http_, sock_, &stats);  // nobody listens yet
  call(engine, "POST", "/containers/abc/start");
  std::optional<agent::Status> end;
  engine.stream("/containers/abc/logs", nullptr, [](std::string_view) {}, [&](agent::Status st) { end = st; });
  ASSERT_TRUE(run_until([&] { return end.has_value(); }));
  EXPECT_FALSE(end->ok());
  ASSERT_TRUE(server_.start(sock_));
  call(engine, "GET", "/images/busybox/json");  // no route: 404
  auto m = counters(stats);
  EXPECT_EQ(m["engineCallsStart"], 1);
  EXPECT_EQ(m["engineCallErrorsStart"], 1);
  EXPECT_EQ(m["engineCallsLogs"], 1);
  EXPECT_EQ(m["engineCallErrorsLogs"], 1);
  EXPECT_EQ(m["engineCallsInspect"], 1);
  EXPECT_EQ(m["engineCallErrorsInspect"], 1);
}

}  // namespace
