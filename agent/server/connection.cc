#include "agent/server/connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "proto/encode.h"

namespace agent::server {

namespace {

struct WriteReq {
  uv_write_t req;
  std::string data;
};

}  // namespace

bool AccessPolicy::allows(const Peer& peer, const std::vector<gid_t>& groups) const {
  if (open() || peer.uid == geteuid()) return true;
  if (std::find(uids.begin(), uids.end(), peer.uid) != uids.end()) return true;
  if (std::find(gids.begin(), gids.end(), peer.gid) != gids.end()) return true;
  for (gid_t g : groups) {
    if (std::find(gids.begin(), gids.end(), g) != gids.end()) return true;
  }
  return false;
}

namespace {

// The peer's supplementary groups (SO_PEERGROUPS, Linux 4.13), as they were
// when it connected.
std::vector<gid_t> peer_groups(int fd) {
  std::vector<gid_t> groups(64);
  while (true) {
    socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      return groups;
    }
    if (errno != ERANGE || len / sizeof(gid_t) <= groups.size()) return {};
    groups.resize(len / sizeof(gid_t));
  }
}

}  // namespace

int Connection::accept(uv_stream_t* server, const AccessPolicy& policy) {
  int rc = uv_pipe_init(server->loop, &pipe_, 0);
  if (rc != 0) return rc;
  adopt(&pipe_);
  rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(&pipe_));
  if (rc != 0) return rc;
  uv_os_fd_t fd = -1;
  bool known = false;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&pipe_), &fd) == 0) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      peer_ = Peer{cred.pid, cred.uid, cred.gid};
      known = true;
    }
  }
  if (!policy.open()) {
    // Decided before reading anything: a refused client never gets a byte parsed.
    std::vector<gid_t> groups = known && !policy.gids.empty() ? peer_groups(fd) : std::vector<gid_t>{};
    if (!known || !policy.allows(peer_, groups)) {
      refused_ = true;
      std::string who = known ? "uid " + std::to_string(peer_.uid) : "a client whose credentials are unknown";
      out_ = proto::error_line("null", "permission_denied",
                               who + " is not allowed to use this agent (allowedUids / allowedGids)", "");
      shutdown_after_flush_ = true;
      return 0;
    }
  }
  return uv_read_start(reinterpret_cast<uv_stream_t*>(&pipe_), on_alloc, on_read);
}

void Connection::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
  auto& self = owner<Connection>(h);
  *buf = uv_buf_init(self.read_buf_, sizeof self.read_buf_);
}

void Connection::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto& self = owner<Connection>(s);
  if (nread > 0) {
    self.consume(std::string_view(buf->base, static_cast<size_t>(nread)));
  } else if (nread < 0) {
    uv_read_stop(s);
    if (nread != UV_EOF) {
      self.fail();
      return;
    }
    // EOF: the client is done sending (it may have shut down only its write
    // side). Its answers and open streams still go out; then it is closed.
    if (!self.in_.empty() && !self.discarding_) {
      std::string last = std::move(self.in_);
      self.in_.clear();
      self.handler_.on_request(self, last);
    }
    self.read_eof_ = true;
    self.maybe_finish_after_eof();
  }
}

void Connection::consume(std::string_view data) {
  while (!data.empty() && !closing_) {
    size_t nl = data.find('\n');
    if (discarding_) {
      if (nl == std::string_view::npos) return;
      discarding_ = false;
      data.remove_prefix(nl + 1);
      continue;
    }
    if (nl == std::string_view::npos) {
      if (in_.size() + data.size() > max_request_) {
        in_.clear();
        discarding_ = true;
        handler_.on_oversize(*this, max_request_);
        return;
      }
      in_.append(data);
      return;
    }
    if (in_.size() + nl > max_request_) {
      in_.clear();
      handler_.on_oversize(*this, max_request_);
    } else if (in_.empty()) {
      handler_.on_request(*this, data.substr(0, nl));
    } else {
      in_.append(data.substr(0, nl));
      std::string line = std::move(in_);
      in_.clear();
      handler_.on_request(*this, line);
    }
    data.remove_prefix(nl + 1);
  }
}

void Connection::send(std::string_view line) {
  if (closing_ || overflowed_) return;
  if (backlog() + line.size() > max_backlog_) {
    // The client does not read what it asked for: drop it rather than grow.
    // Not here: the caller may be walking its list of streams. The next
    // flush closes it.
    overflowed_ = true;
    out_.clear();
    wake();
    return;
  }
  if (out_.empty()) wake();
  out_.append(line);
  if (backlog() >= kLowWater) was_backlogged_ = true;
}

void Connection::wake() {
  if (waker_ != nullptr) uv_idle_start(waker_, [](uv_idle_t*) noexcept {});
}

void Connection::flush() {
  if (overflowed_) {
    fail();
    return;
  }
  if (closing_ || out_.empty()) return;
  auto* req = new WriteReq{};
  req->data.swap(out_);
  req->req.data = this;
  uv_buf_t buf = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
  in_flight_ += req->data.size();
  int rc = uv_write(&req->req, reinterpret_cast<uv_stream_t*>(&pipe_), &buf, 1, on_written);
  if (rc != 0) {
    in_flight_ -= req->data.size();
    delete req;
    fail();
  }
}

void Connection::on_written(uv_write_t* req, int status) noexcept {
  auto* w = reinterpret_cast<WriteReq*>(req);
  auto& self = *static_cast<Connection*>(req->data);
  self.in_flight_ -= w->data.size();
  delete w;
  if (status != 0) {
    self.fail();
    return;
  }
  if (self.shutdown_after_flush_ && self.backlog() == 0) {
    self.fail();
    return;
  }
  self.maybe_finish_after_eof();
  if (self.closing_) return;
  if (self.was_backlogged_ && self.backlog() < kLowWater && !self.closing_) {
    self.was_backlogged_ = false;
    self.handler_.on_drain(self);
  }
}

void Connection::maybe_finish_after_eof() {
  if (!read_eof_ || closing_ || backlog() != 0) return;
  if (!handler_.has_streams(*this) || peer_gone()) fail();
}

// A client that only shut down its write side still reads its streams; one
// that closed its socket (POLLHUP) reads nothing more, and a stream with no
// further event would otherwise hold the connection for good.
bool Connection::peer_gone() {
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&pipe_), &fd) != 0 || fd < 0) return false;
  pollfd p{fd, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

void Connection::shutdown() {
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&pipe_));
  shutdown_after_flush_ = true;
  if (backlog() == 0) fail();
}

void Connection::fail() {
  if (closing_) return;
  closing_ = true;
  handler_.on_closed(*this);
  if (on_gone) on_gone(*this);
}

}  // namespace agent::server
