// Failures, cancellation and close() of the HttpClient.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "agent/http/client.h"
#include "test/unit/agent/http/http_fixture.h"

namespace agent::http {
namespace {

using HttpErrorsTest = HttpFixture;
using namespace std::chrono_literals;

// A loopback port with nothing listening on it.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST_F(HttpErrorsTest, TimeoutIsDeadlineExceeded) {
  server_.route_slow("/slow", 10s, "late");
  start_server();
  make_client();
  Request req = get("/slow");
  req.timeout = 200ms;
  auto r = fetch(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Errc::kDeadlineExceeded, r.error().code()) << r.error().describe();
  EXPECT_NE(std::string::npos, r.error().message().find(req.url)) << r.error().message();
}

TEST_F(HttpErrorsTest, ConnectionRefusedIsUnavailableNamingTheUrl) {
  make_client();
  Request req;
  req.url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1/things";
  bool called = false;
  std::optional<Result<Response>> out;
  client_->send(req, [&](Result<Response> r) {
    called = true;
    out.emplace(std::move(r));
  });
  EXPECT_FALSE(called);  // never from inside send()
  ASSERT_TRUE(run_until([&] { return called; }));
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(Errc::kUnavailable, out->error().code()) << out->error().describe();
  EXPECT_NE(std::string::npos, out->error().message().find("GET " + req.url))
      << out->error().message();
}

TEST_F(HttpErrorsTest, MissingUnixSocketIsUnavailable) {
  make_client();
  Request req;
  req.url = "http://localhost/_ping";
  req.unix_socket = "/nonexistent/docker.sock";
  auto r = fetch(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Errc::kUnavailable, r.error().code()) << r.error().describe();
  EXPECT_NE(std::string::npos, r.error().message().find("/nonexistent/docker.sock"));
}

TEST_F(HttpErrorsTest, MalformedUrlIsInvalidArgumentAndDeferred) {
  make_client();
  Request req;
  req.url = "ftp://example.invalid/x";
  auto r = fetch(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Errc::kInvalidArgument, r.error().code()) << r.error().describe();
}

TEST_F(HttpErrorsTest, ConnectionClosedMidResponseIsUnavailable) {
  server_.route_close_mid_response("/broken");
  start_server();
  make_client();
  auto r = fetch(get("/broken"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(Errc::kUnavailable, r.error().code()) << r.error().describe();
}

TEST_F(HttpErrorsTest, CancelInFlightCompletesOnceWithCancelled) {
  test::Gate& received = new_gate();
  test::Gate& release = new_gate();
  server_.route("/hold", [&](const test::HttpRequestSeen&, test::HttpExchange& ex) {
    received.open();
    release.wait();
    ex.respond(200, "too late");
  });
  server_.route_fixed("/after", 200, "after");
  start_server();
  make_client();
  int calls = 0;
  std::optional<Result<Response>> out;
  RequestId id = client_->send(get("/hold"), [&](Result<Response> r) {
    calls++;
    out.emplace(std::move(r));
  });
  ASSERT_TRUE(run_until([&] { return received.is_open(); }));
  client_->cancel(id);
  EXPECT_EQ(0, calls);  // never from inside cancel()
  client_->cancel(id);  // twice: still one completion
  ASSERT_TRUE(run_until([&] { return calls > 0; }));
  release.open();
  // Another round trip: nothing more arrives for the cancelled request.
  auto r = fetch(get("/after"));
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(1, calls);
  ASSERT_FALSE(out->ok());
  EXPECT_EQ(Errc::kCancelled, out->error().code());
  EXPECT_EQ(0u, client_->in_flight());
  stop_server();
}

TEST_F(HttpErrorsTest, CloseCancelsEverythingInFlight) {
  server_.route_slow("/slow", 10s, "late");
  start_server();
  make_client();
  constexpr int kCount = 20;
  std::vector<int> calls(kCount, 0);
  std::vector<Errc> codes(kCount, Errc::kInternal);
  for (int i = 0; i < kCount; i++) {
    client_->send(get("/slow"), [&, i](Result<Response> r) {
      calls[i]++;
      if (!r.ok()) codes[i] = r.error().code();
    });
  }
  ASSERT_TRUE(run_until([&] { return server_.requests() == kCount; }));
  bool closed = false;
  int seen_at_close = -1;
  client_->close([&] {
    closed = true;
    int n = 0;
    for (int c : calls) n += c;
    seen_at_close = n;
  });
  ASSERT_TRUE(run_until([&] { return closed; }));
  EXPECT_EQ(kCount, seen_at_close);  // every completion ran before `done`
  for (int i = 0; i < kCount; i++) {
    EXPECT_EQ(1, calls[i]);
    EXPECT_EQ(Errc::kCancelled, codes[i]);
  }
  client_.reset();
}

TEST_F(HttpErrorsTest, SendDuringCloseIsCancelled) {
  server_.route_slow("/slow", 10s, "late");
  start_server();
  make_client();
  std::optional<Errc> late_code;
  client_->send(get("/slow"), [&](Result<Response>) {
    // A completion that starts another request while the client closes.
    client_->send(get("/slow"), [&](Result<Response> r) {
      late_code = r.ok() ? Errc::kInternal : r.error().code();
    });
  });
  ASSERT_TRUE(run_until([&] { return server_.requests() == 1; }));
  bool closed = false;
  client_->close([&] { closed = true; });
  ASSERT_TRUE(run_until([&] { return closed; }));
  ASSERT_TRUE(late_code.has_value());
  EXPECT_EQ(Errc::kCancelled, *late_code);
  client_.reset();
}

TEST_F(HttpErrorsTest, CloseWithNothingInFlightAndDestroyInDone) {
  make_client();
  bool closed = false;
  HttpClient* raw = client_.release();
  raw->close([&closed, raw] {
    closed = true;
    delete raw;
  });
  ASSERT_TRUE(run_until([&] { return closed; }));
}

}  // namespace
}  // namespace agent::http
