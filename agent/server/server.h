// The control socket: a Unix stream socket (mode 0660 by default, owned by the
// configured group) whose clients are Connections. Output of every connection
// is flushed once per loop iteration, so a burst of events costs one write per
// client. Clients are checked against the access policy before any of their
// bytes is read. Out of file descriptors, the agent keeps serving the clients
// it has: a spare descriptor is given up to accept and close the ones waiting
// (libuv's emfile trick, done again here in case libuv's own spare is gone),
// and if even that fails, accepting pauses for a moment instead of spinning.
// Threading: loop thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "agent/common/result.h"
#include "agent/config/config.h"
#include "agent/server/connection.h"

namespace agent::server {

class Server {
 public:
  Server(uv_loop_t* loop, ConnectionHandler& handler, size_t max_request, size_t max_backlog);
  ~Server();

  // Binds and listens as the configuration says: socket path, mode, group
  // (socketGroup) and access policy (allowedUids, allowedGids).
  Status listen(const AgentConfig& config);
  // Binds and listens. The socket's directory must be a real directory owned
  // by the agent's user (or root) that no one else can write, else an error
  // says so. A stale socket file (no one accepting) is replaced; a live one is
  // an error naming the path. `group`: the socket's group, if any.
  Status listen(const std::string& path, int mode, std::optional<gid_t> group = std::nullopt);
  void set_access_policy(AccessPolicy policy) { policy_ = std::move(policy); }
  // Stops accepting and removes the socket file. Existing clients carry on.
  void stop_listening();
  // Lets every client's queued output go, then closes it.
  void close_all();

  Connection* find(uint64_t id) const;
  size_t client_count() const { return conns_.size(); }
  uint64_t accepted() const { return accepted_; }
  uint64_t refused_by_policy() const { return refused_policy_; }
  uint64_t refused_no_fds() const { return refused_fds_; }

 private:
  class Listener;
  static void on_connection(uv_stream_t* server, int status) noexcept;
  static void on_check(uv_check_t* check) noexcept;
  static void on_resume(uv_timer_t* timer) noexcept;
  void drop(Connection& conn);
  Status start_listener(int fd, std::string_view what = "accepting again");
  Status bind_in_place(const std::string& path, const std::string& dir, int mode,
                       std::optional<gid_t> group);
  void shed_load();
  void pause_accepting();

  uv_loop_t* loop_;
  ConnectionHandler& handler_;
  size_t max_request_;
  size_t max_backlog_;
  AccessPolicy policy_;
  std::string path_;
  std::unique_ptr<Listener> listener_;
  int listen_fd_copy_ = -1;  // keeps the socket listening while the handle is paused
  int spare_fd_ = -1;        // given up to shed clients when descriptors run out
  uv_check_t* flusher_ = nullptr;
  uv_idle_t* waker_ = nullptr;  // keeps poll from blocking while output is queued
  uv_timer_t* resume_timer_ = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> conns_;
  uint64_t next_id_ = 1;
  uint64_t accepted_ = 0;
  uint64_t refused_policy_ = 0;
  uint64_t refused_fds_ = 0;
  uint64_t refused_fds_logged_ = 0;
  uint64_t last_fd_log_ms_ = 0;
};

}  // namespace agent::server
