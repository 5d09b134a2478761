// Shared fixture for the HttpClient tests: a loop, a local test server and a
// client; TearDown closes the client and checks that the loop closes cleanly.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "agent/http/client.h"
#include "test/helpers/http_test_server.h"
#include "test/helpers/loop_test.h"

namespace agent::http {

class HttpFixture : public test::LoopTest {
 protected:
  void SetUp() override {
    LoopTest::SetUp();
    unix_path_ = "/tmp/runnerd_http_test." + std::to_string(::getpid()) + ".sock";
  }
  void TearDown() override {
    close_client();
    stop_server();
    LoopTest::TearDown();
  }

  // A gate owned by the fixture: it outlives every handler thread that waits on it.
  test::Gate& new_gate() { return gates_.emplace_back(); }
  // Opens every gate and stops the server. A test whose handlers capture its
  // locals calls it last, so no handler thread runs on after those locals die.
  void stop_server() {
    for (auto& g : gates_) g.open();
    server_.stop();
  }

  // Routes must be added before.
  void start_server(bool with_unix = false) {
    ASSERT_TRUE(server_.start(with_unix ? unix_path_ : ""));
  }
  void make_client(HttpClient::Options options = {}) {
    auto c = HttpClient::create(&loop_, options);
    ASSERT_TRUE(c.ok()) << c.error().describe();
    client_ = std::move(c).value();
  }
  void close_client() {
    if (!client_) return;
    bool closed = false;
    client_->close([&] { closed = true; });
    EXPECT_TRUE(run_until([&] { return closed; }));
    client_.reset();
  }

  // Sends and runs the loop until the response.
  Result<Response> fetch(Request req) {
    std::optional<Result<Response>> out;
    client_->send(std::move(req), [&](Result<Response> r) { out.emplace(std::move(r)); });
    if (!run_until([&] { return out.has_value(); })) {
      return Error(Errc::kInternal, "test: no completion");
    }
    return std::move(*out);
  }

  Request get(const std::string& path) {
    Request r;
    r.url = server_.url(path);
    return r;
  }

  std::deque<test::Gate> gates_;
  test::HttpTestServer server_;
  std::unique_ptr<HttpClient> client_;
  std::string unix_path_;
};

}  // namespace agent::http
