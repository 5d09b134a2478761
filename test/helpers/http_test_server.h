// A small HTTP/1.1 server for tests, on its own threads with blocking sockets:
// one thread accepts, one thread per connection runs the route handlers.
// Listens on 127.0.0.1 with an ephemeral port and, optionally, on a Unix socket.
// Keep-alive is honoured; request bodies need a Content-Length.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace test {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequestSeen {
  std::string method;
  std::string target;  // as sent: path and query
  std::string path;    // without the query
  HttpHeaders headers;
  std::string body;
  // The first header of that name (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

// A one-shot flag that threads can wait on (test <-> server coordination).
class Gate {
 public:
  void open();
  bool is_open();
  // True once open; false after the timeout.
  bool wait(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

class HttpTestServer;

// What a handler writes with. Write failures (the client went away) return false.
class HttpExchange {
 public:
  bool write(std::string_view bytes);
  bool respond(int status, std::string_view body, const HttpHeaders& headers = {});
  bool begin_chunked(int status, const HttpHeaders& headers = {});
  bool chunk(std::string_view data);
  bool end_chunked();
  // Close the connection once the handler returns, instead of keeping it alive.
  void close_after() { close_ = true; }
  // Waits for the server to stop, at most `timeout`; true if it stopped.
  bool wait_stopped(std::chrono::milliseconds timeout);

 private:
  friend class HttpTestServer;
  HttpExchange(HttpTestServer* server, int fd) : server_(server), fd_(fd) {}
  HttpTestServer* server_;
  int fd_;
  bool close_ = false;
};

class HttpTestServer {
 public:
  using Handler = std::function<void(const HttpRequestSeen&, HttpExchange&)>;

  HttpTestServer() = default;
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;
  ~HttpTestServer() { stop(); }

  // Routes are exact paths (the query is ignored); add them before start().
  // Unknown paths get a 404 "no route".
  void route(std::string path, Handler handler);
  // Scripted routes.
  void route_fixed(std::string path, int status, std::string body, HttpHeaders headers = {});
  // 200; the body is the request body; headers X-Echo-Method, X-Echo-Target and
  // one "X-Echo-<name in lower case>" per request header.
  void route_echo(std::string path);
  // Responds after `delay` (or when the server stops).
  void route_slow(std::string path, std::chrono::milliseconds delay, std::string body);
  // A chunked response written in pieces, `gap` apart.
  void route_chunks(std::string path, std::vector<std::string> chunks,
                    std::chrono::milliseconds gap);
  // Promises 1000 bytes, sends 10, closes the connection.
  void route_close_mid_response(std::string path);

  // Listens on 127.0.0.1:0 and, if non-empty, on `unix_path`. False on failure.
  bool start(const std::string& unix_path = "");
  void stop();

  int port() const { return port_; }
  // "http://127.0.0.1:PORT" + path.
  std::string url(std::string_view path) const;
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }

 private:
  friend class HttpExchange;
  void accept_loop();
  void serve(int fd);
  void dispatch(const HttpRequestSeen& req, HttpExchange& ex);

  std::map<std::string, Handler> routes_;
  int tcp_fd_ = -1;
  int unix_fd_ = -1;
  int wake_[2] = {-1, -1};
  int port_ = 0;
  std::string unix_path_;
  std::thread acceptor_;
  std::mutex mu_;
  std::condition_variable stopped_cv_;
  bool stopping_ = false;
  std::set<int> conn_fds_;
  std::vector<std::thread> conn_threads_;
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
};

}  // namespace test
