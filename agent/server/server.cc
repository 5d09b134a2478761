#include "agent/server/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "agent/common/fs.h"
#include "agent/log/log.h"

namespace agent::server {

class Server::Listener final : public uv::Closeable {
 public:
  explicit Listener(Server& server) : server_(server) {}
  int init(uv_loop_t* loop) {
    int rc = uv_pipe_init(loop, &pipe_, 0);
    if (rc == 0) adopt(&pipe_);
    return rc;
  }
  uv_pipe_t pipe_{};
  Server& server_;
};

Server::Server(uv_loop_t* loop, ConnectionHandler& handler, size_t max_request,
               size_t max_backlog)
    : loop_(loop), handler_(handler), max_request_(max_request), max_backlog_(max_backlog) {
  flusher_ = new uv_check_t;
  uv_check_init(loop_, flusher_);
  flusher_->data = this;
  uv_check_start(flusher_, on_check);
  uv_unref(reinterpret_cast<uv_handle_t*>(flusher_));
}

Server::~Server() {
  stop_listening();
  for (auto& [id, conn] : conns_) {
    conn->on_gone = nullptr;
    uv::close(conn);
  }
  conns_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(flusher_),
           [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_check_t*>(h); });
}

static bool someone_listens(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  bool live = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return live;
}

Status Server::listen(const std::string& path, int mode) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Error(Errc::kInvalidArgument, "socket path too long (max " +
                                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                             " bytes): " + path);
  }
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    AGENT_TRY(fs::make_dirs(path.substr(0, slash), 0755));
  }
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Error(Errc::kAlreadyExists, path + " exists and is not a socket");
    }
    if (someone_listens(path)) {
      return Error(Errc::kAlreadyExists,
                   "another runnerd is already listening on " + path +
                       " (stop it, or start this one with --socket PATH)");
    }
    unlink(path.c_str());
  }
  listener_ = std::make_unique<Listener>(*this);
  int rc = listener_->init(loop_);
  if (rc != 0) return Error::from_uv(rc, "creating the socket");
  // The socket is created with the final mode: no window with a wider one.
  mode_t old = umask(static_cast<mode_t>(~mode & 0777));
  rc = uv_pipe_bind(&listener_->pipe_, path.c_str());
  umask(old);
  if (rc != 0) return Error::from_uv(rc, "binding " + path);
  chmod(path.c_str(), static_cast<mode_t>(mode));
  rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_->pipe_), 511, on_connection);
  if (rc != 0) return Error::from_uv(rc, "listening on " + path);
  path_ = path;
  return {};
}

void Server::stop_listening() {
  if (!listener_) return;
  uv::close(listener_);
  if (!path_.empty()) unlink(path_.c_str());
  path_.clear();
}

void Server::close_all() {
  std::vector<Connection*> all;
  for (auto& [id, conn] : conns_) all.push_back(conn.get());
  for (Connection* c : all) c->shutdown();
}

Connection* Server::find(uint64_t id) const {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

void Server::on_connection(uv_stream_t* stream, int status) noexcept {
  auto& listener = *static_cast<Listener*>(static_cast<uv::Closeable*>(stream->data));
  Server& self = listener.server_;
  if (status != 0) {
    log::warn(std::string("accepting a client: ") + uv_strerror(status));
    return;
  }
  uint64_t id = self.next_id_++;
  auto conn = std::make_unique<Connection>(id, self.handler_, self.max_request_, self.max_backlog_);
  int rc = conn->accept(stream);
  if (rc != 0) {
    // Out of file descriptors and the like: the agent stays up; the client is refused.
    log::warn(std::string("accepting a client: ") + uv_strerror(rc) + "; refusing it");
    uv::close(conn);
    return;
  }
  conn->on_gone = [&self](Connection& c) { self.drop(c); };
  self.accepted_++;
  self.conns_.emplace(id, std::move(conn));
}

void Server::drop(Connection& conn) {
  auto it = conns_.find(conn.id());
  if (it == conns_.end()) return;
  std::unique_ptr<Connection> owned = std::move(it->second);
  conns_.erase(it);
  uv::close(owned);
}

void Server::on_check(uv_check_t* check) noexcept {
  auto& self = *static_cast<Server*>(check->data);
  std::vector<uint64_t> pending;
  for (auto& [id, conn] : self.conns_) {
    if (conn->has_pending()) pending.push_back(id);
  }
  for (uint64_t id : pending) {
    if (Connection* c = self.find(id)) c->flush();
  }
}

}  // namespace agent::server
