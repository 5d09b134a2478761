#include "agent/http/client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "test/unit/agent/http/http_fixture.h"

namespace agent::http {
namespace {

using HttpClientTest = HttpFixture;

TEST_F(HttpClientTest, GetRoundTrip) {
  server_.route_fixed("/hello", 200, "hi there", {{"X-Answer", "42"}});
  start_server();
  make_client();
  auto r = fetch(get("/hello"));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(200, r->status);
  EXPECT_EQ("hi there", r->body);
  ASSERT_NE(nullptr, r->header("x-answer"));
  EXPECT_EQ("42", *r->header("x-answer"));
  EXPECT_EQ(nullptr, r->header("x-missing"));
}

TEST_F(HttpClientTest, PostRoundTripWithHeadersAndBody) {
  server_.route_echo("/echo");
  start_server();
  make_client();
  Request req = get("/echo?x=1");
  req.method = "POST";
  req.headers = {{"Content-Type", "application/json"}, {"X-Custom", "v1"}};
  req.body = R"({"a":1})";
  auto r = fetch(req);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(200, r->status);
  EXPECT_EQ(R"({"a":1})", r->body);
  EXPECT_EQ("POST", *r->header("X-Echo-Method"));
  EXPECT_EQ("/echo?x=1", *r->header("X-Echo-Target"));
  EXPECT_EQ("application/json", *r->header("X-Echo-content-type"));
  EXPECT_EQ("v1", *r->header("X-Echo-x-custom"));
  EXPECT_EQ(nullptr, r->header("X-Echo-expect"));
}

TEST_F(HttpClientTest, OtherMethodsAndEmptyPost) {
  server_.route_echo("/echo");
  start_server();
  make_client();
  for (const char* method : {"PUT", "DELETE", "PATCH", "POST"}) {
    Request req = get("/echo");
    req.method = method;
    auto r = fetch(req);
    ASSERT_TRUE(r.ok()) << r.error().describe();
    EXPECT_EQ(method, *r->header("X-Echo-Method"));
    EXPECT_EQ("", r->body);
    if (std::string(method) != "DELETE") {
      EXPECT_EQ("0", *r->header("X-Echo-content-length")) << method;
    }
  }
}

TEST_F(HttpClientTest, ThousandConcurrentRequestsCompleteExactlyOnce) {
  server_.route_echo("/echo");
  start_server();
  make_client({.max_host_connections = 64, .max_total_connections = 0});
  constexpr int kCount = 1000;
  std::vector<int> calls(kCount, 0);
  std::vector<std::string> bodies(kCount);
  int done = 0;
  for (int i = 0; i < kCount; i++) {
    Request req = get("/echo");
    req.method = "POST";
    req.body = "request " + std::to_string(i);
    client_->send(std::move(req), [&, i](Result<Response> r) {
      calls[i]++;
      done++;
      if (r.ok()) bodies[i] = r->body;
    });
  }
  EXPECT_EQ(size_t(kCount), client_->in_flight());
  EXPECT_EQ(0, done);  // never from inside send()
  ASSERT_TRUE(run_until([&] { return done == kCount; }));
  for (int i = 0; i < kCount; i++) {
    EXPECT_EQ(1, calls[i]) << i;
    EXPECT_EQ("request " + std::to_string(i), bodies[i]) << i;
  }
  EXPECT_EQ(0u, client_->in_flight());
  EXPECT_LE(server_.connections(), 64);
  EXPECT_EQ(kCount, server_.requests());
}

TEST_F(HttpClientTest, ReusesConnections) {
  server_.route_fixed("/a", 200, "a");
  start_server();
  make_client();
  for (int i = 0; i < 5; i++) {
    auto r = fetch(get("/a"));
    ASSERT_TRUE(r.ok()) << r.error().describe();
  }
  EXPECT_EQ(1, server_.connections());
  EXPECT_EQ(5, server_.requests());
}

TEST_F(HttpClientTest, OverUnixSocket) {
  server_.route_echo("/v1.43/containers/json");
  start_server(/*with_unix=*/true);
  make_client();
  Request req;
  req.url = "http://localhost/v1.43/containers/json?all=1";
  req.unix_socket = unix_path_;
  auto r = fetch(req);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(200, r->status);
  EXPECT_EQ("/v1.43/containers/json?all=1", *r->header("X-Echo-Target"));
  EXPECT_EQ("localhost", *r->header("X-Echo-host"));
}

TEST_F(HttpClientTest, NotFoundIsAResponse) {
  start_server();
  make_client();
  auto r = fetch(get("/nothing/here"));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(404, r->status);
  Error e = error_from_http(*r, "inspecting container abc");
  EXPECT_EQ(Errc::kNotFound, e.code());
  EXPECT_EQ("inspecting container abc: HTTP 404: no route for /nothing/here", e.message());
}

TEST(HttpErrorFromHttp, MapsStatusesAndFormatsOneLine) {
  Response r;
  r.body = "{\"message\":\n  \"No such container\"}\n";
  struct Case {
    long status;
    Errc code;
  };
  for (Case c : {Case{404, Errc::kNotFound}, Case{401, Errc::kPermissionDenied},
                 Case{403, Errc::kPermissionDenied}, Case{429, Errc::kUnavailable},
                 Case{503, Errc::kUnavailable}, Case{400, Errc::kInvalidArgument},
                 Case{409, Errc::kInvalidArgument}, Case{500, Errc::kInternal}}) {
    r.status = c.status;
    Error e = error_from_http(r, "what");
    EXPECT_EQ(c.code, e.code()) << c.status;
    EXPECT_EQ("what: HTTP " + std::to_string(c.status) + ": {\"message\": \"No such container\"}",
              e.message());
  }
  r.body = std::string(1000, 'x');
  Error long_body = error_from_http(r, "w");
  EXPECT_LT(long_body.message().size(), 250u);
  EXPECT_EQ(std::string::npos, long_body.message().find('\n'));
  r.body.clear();
  EXPECT_EQ("w: HTTP 500", error_from_http(r, "w").message());
}

// Measures 10k small requests, all submitted at once and then with at most 256
// in flight; run by hand with --gtest_also_run_disabled_tests.
TEST_F(HttpClientTest, DISABLED_Throughput10kSmallRequests) {
  server_.route_fixed("/small", 200, "ok");
  start_server();
  make_client({.max_host_connections = 16, .max_total_connections = 0});
  constexpr int kCount = 10000;
  for (int window : {kCount, 256}) {
    int sent = 0;
    int done = 0;
    int failed = 0;
    std::function<void()> send_one = [&] {
      sent++;
      client_->send(get("/small"), [&](Result<Response> r) {
        done++;
        if (!r.ok() || r->status != 200) failed++;
        if (sent < kCount) send_one();
      });
    };
    auto start = std::chrono::steady_clock::now();
    while (sent < window) send_one();
    ASSERT_TRUE(run_until([&] { return done == kCount; }, std::chrono::seconds(120)));
    double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(0, failed);
    std::printf("%d requests, %d in flight at most: %.3f s, %.0f requests/s\n", kCount, window,
                secs, kCount / secs);
  }
  std::printf("%d connections in all\n", server_.connections());
}

}  // namespace
}  // namespace agent::http
