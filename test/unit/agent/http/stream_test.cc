// Streaming bodies: chunks as they arrive, cancel from a callback, pause.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "agent/http/client.h"
#include "agent/uv/timer.h"
#include "test/unit/agent/http/http_fixture.h"

namespace agent::http {
namespace {

using HttpStreamTest = HttpFixture;
using namespace std::chrono_literals;

TEST_F(HttpStreamTest, ChunksArriveBeforeTheServerSendsTheLast) {
  test::Gate& first_received = new_gate();
  std::atomic<bool> last_sent{false};
  server_.route("/logs", [&](const test::HttpRequestSeen&, test::HttpExchange& ex) {
    ex.begin_chunked(200, {{"Content-Type", "application/vnd.docker.raw-stream"}});
    ex.chunk("first line\n");
    if (!first_received.wait()) return;
    last_sent = true;
    ex.chunk("last line\n");
    ex.end_chunked();
  });
  start_server();
  make_client();
  std::vector<std::string> events;
  std::string data;
  std::optional<Status> end;
  client_->stream(
      get("/logs"),
      [&](const Response& head) {
        events.push_back("head " + std::to_string(head.status));
        EXPECT_EQ("application/vnd.docker.raw-stream", *head.header("content-type"));
      },
      [&](std::string_view chunk) {
        if (data.empty()) {
          EXPECT_FALSE(last_sent.load());  // incremental, not buffered whole
          events.push_back("data");
        }
        data += chunk;
        if (data.find('\n') != std::string::npos) first_received.open();
      },
      [&](Status s) {
        events.push_back("end");
        end = s;
      });
  ASSERT_TRUE(run_until([&] { return end.has_value(); }));
  first_received.open();
  ASSERT_TRUE(end->ok()) << end->error().describe();
  EXPECT_EQ("first line\nlast line\n", data);
  EXPECT_EQ((std::vector<std::string>{"head 200", "data", "end"}), events);
  stop_server();
}

TEST_F(HttpStreamTest, ScriptedChunksWithDelays) {
  server_.route_chunks("/chunks", {"a", "bb", "ccc"}, 20ms);
  start_server();
  make_client();
  std::string data;
  int heads = 0;
  std::optional<Status> end;
  client_->stream(
      get("/chunks"), [&](const Response&) { heads++; },
      [&](std::string_view chunk) { data += chunk; }, [&](Status s) { end = s; });
  ASSERT_TRUE(run_until([&] { return end.has_value(); }));
  ASSERT_TRUE(end->ok()) << end->error().describe();
  EXPECT_EQ(1, heads);
  EXPECT_EQ("abbccc", data);
}

TEST_F(HttpStreamTest, HeadWithoutBodyStillEnds) {
  start_server();
  make_client();
  long status = 0;
  std::optional<Status> end;
  client_->stream(
      get("/missing"), [&](const Response& head) { status = head.status; },
      [&](std::string_view) {}, [&](Status s) { end = s; });
  ASSERT_TRUE(run_until([&] { return end.has_value(); }));
  EXPECT_TRUE(end->ok());
  EXPECT_EQ(404, status);  // a status, not an error
}

TEST_F(HttpStreamTest, CancelFromOnDataEndsOnceWithCancelled) {
  test::Gate& release = new_gate();
  server_.route("/watch", [&](const test::HttpRequestSeen&, test::HttpExchange& ex) {
    ex.begin_chunked(200);
    ex.chunk("event 1\n");
    release.wait();
    ex.chunk("event 2\n");
    ex.end_chunked();
  });
  start_server();
  make_client();
  RequestId id = 0;
  int data_calls = 0;
  int ends = 0;
  std::optional<Status> end;
  id = client_->stream(
      get("/watch"), [&](const Response&) {},
      [&](std::string_view) {
        data_calls++;
        client_->cancel(id);
      },
      [&](Status s) {
        ends++;
        end = s;
      });
  ASSERT_TRUE(run_until([&] { return end.has_value(); }));
  release.open();
  EXPECT_EQ(1, data_calls);
  EXPECT_EQ(1, ends);
  EXPECT_EQ(Errc::kCancelled, end->error().code());
  stop_server();
}

TEST_F(HttpStreamTest, PauseHoldsDataBackUntilResumed) {
  test::Gate& paused = new_gate();
  std::atomic<bool> rest_sent{false};
  server_.route("/follow", [&](const test::HttpRequestSeen&, test::HttpExchange& ex) {
    ex.begin_chunked(200);
    ex.chunk("one\n");
    if (!paused.wait()) return;
    ex.chunk("two\n");
    ex.end_chunked();
    rest_sent = true;
  });
  start_server();
  make_client();
  RequestId id = 0;
  std::string data;
  std::optional<Status> end;
  id = client_->stream(
      get("/follow"), [&](const Response&) {},
      [&](std::string_view chunk) {
        data += chunk;
        if (data == "one\n") {
          client_->pause(id, true);
          paused.open();
        }
      },
      [&](Status s) { end = s; });
  ASSERT_TRUE(run_until([&] { return rest_sent.load(); }));
  // The rest is on the socket; give the loop a while to (not) deliver it.
  auto timer = uv::Timer::create(&loop_);
  bool waited = false;
  timer->start(100, 0, [&] { waited = true; });
  ASSERT_TRUE(run_until([&] { return waited; }));
  uv::close(timer);
  EXPECT_EQ("one\n", data);
  EXPECT_FALSE(end.has_value());
  client_->pause(id, false);
  ASSERT_TRUE(run_until([&] { return end.has_value(); }));
  EXPECT_TRUE(end->ok());
  EXPECT_EQ("one\ntwo\n", data);
  stop_server();
}

TEST_F(HttpStreamTest, StreamFailureBeforeHeadSkipsOnHead) {
  make_client();
  Request req;
  req.url = "http://localhost/events";
  req.unix_socket = "/nonexistent/runnerd-test.sock";
  bool head = false;
  std::optional<Status> end;
  client_->stream(
      req, [&](const Response&) { head = true; }, [&](std::string_view) {},
      [&](Status s) { end = s; });
  ASSERT_TRUE(run_until([&] { return end.has_value(); }));
  EXPECT_FALSE(head);
  EXPECT_EQ(Errc::kUnavailable, end->error().code());
}

}  // namespace
}  // namespace agent::http
