// One client of the control socket: newline-delimited requests in, responses
// and events out, each direction bounded.
// Ownership: the Server holds it until it closes; the last close callback frees
// it. Threading: loop thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/uv/closeable.h"

namespace agent::server {

class Connection;

class ConnectionHandler {
 public:
  virtual ~ConnectionHandler() = default;
  virtual void on_request(Connection& conn, std::string_view line) = 0;
  // The line was longer than the limit; it is being skipped.
  virtual void on_oversize(Connection& conn, size_t limit) = 0;
  // Unwritten output fell below the low-water mark after being above it.
  virtual void on_drain(Connection& conn) = 0;
  // The connection is going away; drop every reference to it.
  virtual void on_closed(Connection& conn) = 0;
  // Whether a stream (watch, logs) of this connection is still open: a client
  // that stopped sending is kept until its streams end and its answers are out.
  virtual bool has_streams(const Connection& conn) const = 0;
};

struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Who may use the socket (allowedUids / allowedGids): checked from
// SO_PEERCRED (and SO_PEERGROUPS) as soon as a client is accepted, before any
// byte of it is read. Empty lists allow anyone who could open the socket; the
// agent's own user is always allowed. The pid is for logs only (it may be
// reused once the client exits).
struct AccessPolicy {
  std::vector<uid_t> uids;
  std::vector<gid_t> gids;
  bool open() const { return uids.empty() && gids.empty(); }
  bool allows(const Peer& peer, const std::vector<gid_t>& groups) const;
};

class Connection final : public uv::Closeable {
 public:
  static constexpr size_t kLowWater = 1u << 20;  // backlogged() below this again: on_drain

  Connection(uint64_t id, ConnectionHandler& handler, size_t max_request, size_t max_backlog)
      : id_(id), handler_(handler), max_request_(max_request), max_backlog_(max_backlog) {}

  // Accepts a pending client of `server` and, if `policy` allows its
  // credentials, starts reading; otherwise it is refused(): it gets one error
  // line and is closed once that is written, and nothing of it is read.
  int accept(uv_stream_t* server, const AccessPolicy& policy);
  bool refused() const { return refused_; }

  uint64_t id() const { return id_; }
  const Peer& peer() const { return peer_; }
  // Queues a whole line (ending in '\n'); written once per loop iteration.
  void send(std::string_view line);
  // Started when output is queued, so that the loop does not block in poll
  // before the flush (output queued from a write or timer callback would
  // otherwise wait for the next event). Null: the owner flushes by itself.
  void set_waker(uv_idle_t* waker) { waker_ = waker; }
  // Bytes queued or being written.
  size_t backlog() const { return out_.size() + in_flight_; }
  bool backlogged() const { return backlog() >= kLowWater; }
  bool closing() const { return closing_; }
  // Writes what is queued now (the server calls it once per loop iteration).
  void flush();
  bool has_pending() const { return !out_.empty() || overflowed_; }
  // Closes a client that stopped sending once everything owed to it is written.
  void maybe_finish_after_eof();
  bool peer_gone();
  // Stops reading, lets queued output go, and closes.
  void shutdown();

  // The server is being destroyed and the handler with it: callbacks still
  // owed by libuv (a write that completed before the close) must not reach
  // the handler, so the connection counts as closing from now on.
  void abandon() { closing_ = true; }

  // Called by the server once it has dropped the connection.
  std::function<void(Connection&)> on_gone;

 private:
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_written(uv_write_t* req, int status) noexcept;
  void consume(std::string_view data);
  void fail();

  void wake();

  uint64_t id_;
  ConnectionHandler& handler_;
  uv_idle_t* waker_ = nullptr;
  size_t max_request_;
  size_t max_backlog_;
  uv_pipe_t pipe_{};
  Peer peer_;
  std::string in_;        // an incomplete request line
  bool discarding_ = false;  // skipping the rest of an oversize line
  std::string out_;       // queued, not yet handed to uv_write
  size_t in_flight_ = 0;  // handed to uv_write, not yet written
  bool was_backlogged_ = false;
  bool closing_ = false;
  bool shutdown_after_flush_ = false;
  bool read_eof_ = false;  // the client will send no more requests
  bool overflowed_ = false;  // unread output passed the bound: closed at the next flush
  bool refused_ = false;     // not allowed by the access policy
  char read_buf_[16384];
};

}  // namespace agent::server
