// The control socket: a Unix stream socket (mode 0660 by default) whose
// clients are Connections. Output of every connection is flushed once per loop
// iteration, so a burst of events costs one write per client.
// Threading: loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "agent/common/result.h"
#include "agent/server/connection.h"

namespace agent::server {

class Server {
 public:
  Server(uv_loop_t* loop, ConnectionHandler& handler, size_t max_request, size_t max_backlog);
  ~Server();

  // Binds and listens. A stale socket file (no one accepting) is replaced; a
  // live one is an error naming the path.
  Status listen(const std::string& path, int mode);
  // Stops accepting and removes the socket file. Existing clients carry on.
  void stop_listening();
  // Lets every client's queued output go, then closes it.
  void close_all();

  Connection* find(uint64_t id) const;
  size_t client_count() const { return conns_.size(); }
  uint64_t accepted() const { return accepted_; }

 private:
  class Listener;
  static void on_connection(uv_stream_t* server, int status) noexcept;
  static void on_check(uv_check_t* check) noexcept;
  void drop(Connection& conn);

  uv_loop_t* loop_;
  ConnectionHandler& handler_;
  size_t max_request_;
  size_t max_backlog_;
  std::string path_;
  std::unique_ptr<Listener> listener_;
  uv_check_t* flusher_ = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
  uint64_t next_id_ = 1;
  uint64_t accepted_ = 0;
};

}  // namespace agent::server
