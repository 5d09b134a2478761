// The metrics endpoint: a TCP listener on the agent's loop that answers
// GET /metrics (and HEAD) with the Prometheus text exposition; any other path
// is 404, any other method on /metrics 405.
//
// A client cannot hold the loop or grow the agent's memory: each connection
// reads into a fixed buffer of HttpLimits::max_head_bytes (a head that does
// not fit is 431), answers one request at a time (keep-alive and pipelining
// are served in order), must send a whole request head within the request
// timeout of connecting or of its previous answer, and take its answer within
// that time too, else it is closed (408 if it had sent part of a request).
// At most max_connections are open; a new one then evicts the oldest that is
// still waiting for its request head (a scraper's request completes at once,
// an idle or slow client's does not), or is closed when none is.
// Errors are answered with Connection: close, then the connection is shut down
// and what the client still sends is read and dropped for a moment (up to
// 1 s and 64 KiB), so that the answer is not lost to a reset.
// Ownership: the agent's (main.cc); close() before the loop's last run.
// Threading: loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include <uv.h>

#include "agent/common/result.h"
#include "agent/metrics/http_request.h"
#include "agent/metrics/registry.h"

namespace agent::metrics {

struct HttpListenerOptions {
  std::chrono::milliseconds request_timeout{10000};
  size_t max_connections = 16;
  HttpLimits limits;
};

class HttpListener {
 public:
  // `render` builds the exposition text, on the loop, for each GET or HEAD.
  HttpListener(uv_loop_t* loop, std::function<std::string()> render,
               HttpListenerOptions options = {});
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  // Binds a numeric IPv4 or IPv6 address (port 0: any free port) and listens.
  Status listen(const std::string& host, int port);
  int port() const { return port_; }
  // Stops listening and closes every connection (their handles close on the loop).
  void close();

  // The listener's own counters: requests by status, connections.
  void write_metrics(Registry& registry) const;

 private:
  class Socket;
  class Conn;
  static void on_connection(uv_stream_t* server, int status) noexcept;
  void accept_one();
  void drop(Conn& conn);
  // The answer to a complete request: status, extra headers, body.
  void answer(Conn& conn, const HttpRequestHead& head);

  uv_loop_t* loop_;
  std::function<std::string()> render_;
  HttpListenerOptions options_;
  std::unique_ptr<Socket> socket_;
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
  uint64_t next_seq_ = 1;
  int port_ = 0;
  std::map<int, uint64_t> responses_;  // by status code
  uint64_t accepted_ = 0;
  uint64_t timed_out_ = 0;
  uint64_t evicted_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace agent::metrics
