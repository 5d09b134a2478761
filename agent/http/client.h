// An HTTP client on the libuv loop: one libcurl multi handle driven by the loop
// (curl's docs/examples/multi-uv.c): every curl socket is watched by a uv_poll_t,
// curl's timer is one uv_timer_t. Nothing blocks; thousands of requests may be
// in flight; connections are kept alive and reused across requests.
//
// Callbacks: every request ends with exactly one completion (done / on_end),
// always called from the loop and never from inside send(), stream(), cancel()
// or pause(). User callbacks never run inside a libcurl callback, so they may
// call send(), stream(), cancel(), pause() and close() freely.
//
// Ownership: create() returns the client; close() cancels what is in flight and
// closes every handle; the owner may destroy the client once `done` ran (from
// inside `done` too). Destroying it before that aborts. Loop thread only.
#pragma once

#include <uv.h>

#include <curl/curl.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "agent/common/result.h"
#include "agent/http/request.h"

namespace agent::http {

class Transfer;
class SocketWatch;
class ClientTimers;

class HttpClient {
 public:
  struct Options {
    // CURLMOPT_MAX_HOST_CONNECTIONS; 0 means no limit. A stream holds its
    // connection until it ends: a limit lower than the number of concurrent
    // streams to one host queues the rest until one ends.
    long max_host_connections = 0;
    // CURLMOPT_MAX_TOTAL_CONNECTIONS; 0 means no limit.
    long max_total_connections = 0;
  };

  using DoneFn = std::function<void(Result<Response>)>;
  using HeadFn = std::function<void(const Response& head)>;
  using DataFn = std::function<void(std::string_view chunk)>;
  using EndFn = std::function<void(Status)>;

  static Result<std::unique_ptr<HttpClient>> create(uv_loop_t* loop, Options options);
  static Result<std::unique_ptr<HttpClient>> create(uv_loop_t* loop) {
    return create(loop, Options{});
  }
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  ~HttpClient();

  // A request whose response body is buffered whole. Errors: kUnavailable
  // (connection failures), kDeadlineExceeded (timeouts), kCancelled, and
  // kInvalidArgument / kInternal for the rest, each naming the method and URL.
  RequestId send(Request request, DoneFn done);

  // A request whose body is delivered as it arrives: on_head once when the
  // headers are complete (not called if the request fails before), on_data for
  // each piece, on_end exactly once.
  RequestId stream(Request request, HeadFn on_head, DataFn on_data, EndFn on_end);

  // Ends a request in flight with kCancelled; a no-op for a finished or unknown id.
  void cancel(RequestId id);

  // Back-pressure for a stream: stops (true) or resumes (false) reading its body.
  void pause(RequestId id, bool paused);

  // Cancels everything in flight (kCancelled), closes every handle and socket,
  // then calls `done` on the loop. send() and stream() after close() complete
  // with kCancelled.
  void close(std::function<void()> done);

  size_t in_flight() const { return transfers_.size(); }

 private:
  friend class SocketWatch;
  friend class ClientTimers;
  friend class Transfer;

  explicit HttpClient(uv_loop_t* loop);
  RequestId start(std::unique_ptr<Transfer> transfer);

  // libcurl callbacks: they never call user code nor libcurl's multi API.
  static int on_curl_socket(CURL* easy, curl_socket_t fd, int what, void* userp,
                            void* socketp) noexcept;
  static int on_curl_timer(CURLM* multi, long timeout_ms, void* userp) noexcept;
  static curl_socket_t on_open_socket(void* clientp, curlsocktype purpose,
                                      struct curl_sockaddr* address) noexcept;
  static int on_close_socket(void* clientp, curl_socket_t fd) noexcept;

  // Loop events.
  void on_poll(curl_socket_t fd, int status, int events) noexcept;
  void on_timer() noexcept;
  void on_defer() noexcept;
  void on_handle_freed() noexcept;

  // After every socket_action: deliver buffered stream data, then completions.
  void process() noexcept;
  void flush(RequestId id);
  void finish(RequestId id, CURLcode code);
  void mark_dirty(Transfer* t);
  void defer(std::function<void()> fn);
  // Closes the watch of `fd` (and then the fd if close_fd); false if none.
  bool close_watch(curl_socket_t fd, bool close_fd);
  void maybe_done() noexcept;

  uv_loop_t* loop_;
  CURLM* multi_ = nullptr;
  std::unique_ptr<ClientTimers> timers_;
  std::unordered_map<curl_socket_t, std::unique_ptr<SocketWatch>> watches_;
  std::unordered_set<curl_socket_t> owned_fds_;  // opened by on_open_socket, not yet closed
  std::unordered_map<RequestId, std::unique_ptr<Transfer>> transfers_;
  std::vector<RequestId> dirty_;  // streams with data or a head to deliver
  std::vector<std::function<void()>> deferred_;
  RequestId next_id_ = 1;
  int live_handles_ = 0;  // Closeables created and not yet freed
  bool closing_ = false;
  bool closed_ = false;  // every handle freed, done called
  std::function<void()> close_done_;
};

}  // namespace agent::http
