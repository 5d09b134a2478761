#include "agent/server/server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
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
  waker_ = new uv_idle_t;
  uv_idle_init(loop_, waker_);
  uv_unref(reinterpret_cast<uv_handle_t*>(waker_));
  resume_timer_ = new uv_timer_t;
  uv_timer_init(loop_, resume_timer_);
  resume_timer_->data = this;
}

Server::~Server() {
  stop_listening();
  for (auto& [id, conn] : conns_) {
    conn->on_gone = nullptr;
    conn->abandon();
    uv::close(conn);
  }
  conns_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(flusher_),
           [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_check_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(waker_),
           [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_idle_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(resume_timer_),
           [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_timer_t*>(h); });
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

static std::string octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Whoever can write the socket's directory can put a socket of their own in
// its place (or a symlink to one) and talk to every client: the directory
// must be a real one, the agent's user's or root's, writable by no one else.
static Status check_socket_dir(const std::string& dir) {
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) return Error::from_errno(errno, "socket directory " + dir);
  if (S_ISLNK(st.st_mode)) {
    return Error(Errc::kPermissionDenied, "socket directory " + dir +
                                              " is a symbolic link; refusing to listen there (name the "
                                              "real directory)");
  }
  if (!S_ISDIR(st.st_mode)) {
    return Error(Errc::kInvalidArgument, "socket directory " + dir + " is not a directory");
  }
  if (st.st_uid != geteuid() && st.st_uid != 0) {
    return Error(Errc::kPermissionDenied, "socket directory " + dir + " belongs to uid " +
                                              std::to_string(st.st_uid) +
                                              ", not to the agent's user or root; refusing to listen there");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Error(Errc::kPermissionDenied,
                 "socket directory " + dir + " (mode " + octal(st.st_mode) +
                     ") is writable by " + ((st.st_mode & S_IWOTH) != 0 ? "everyone" : "its group") +
                     ", who could replace the socket; refusing to listen there (use a directory only "
                     "the agent's user can write, e.g. chmod 0755)");
  }
  return {};
}

Status Server::listen(const AgentConfig& config) {
  set_access_policy(AccessPolicy{config.allowed_uids, config.allowed_gids});
  return listen(config.socket_path, config.socket_mode, config.socket_gid);
}

Status Server::listen(const std::string& path, int mode, std::optional<gid_t> group) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return Error(Errc::kInvalidArgument, "socket path too long (max " +
                                             std::to_string(sizeof(sockaddr_un::sun_path) - 1) +
                                             " bytes): " + path);
  }
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (slash != std::string::npos && slash > 0) AGENT_TRY(fs::make_dirs(dir, 0755));
  AGENT_TRY(check_socket_dir(dir));
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
  AGENT_TRY(bind_in_place(path, dir, mode, group));
  path_ = path;
  spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int fd = fcntl(listen_fd_copy_, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) return Error::from_errno(errno, "listening on " + path);
  return start_listener(fd, "listening on " + path);
}

// Binds under a temporary name in the same directory, gives the socket its
// mode and group, listens, and only then renames it into place. A client that
// sees the path can connect at once (no ECONNREFUSED between bind and listen),
// and the path never names a socket with a wider mode. libuv gets the
// descriptor, never the path, so closing its handle (pause_accepting) does not
// unlink the socket; stop_listening does. The listening socket is kept in
// listen_fd_copy_.
Status Server::bind_in_place(const std::string& path, const std::string& dir, int mode,
                             std::optional<gid_t> group) {
  std::string tmp = dir + "/.runnerd-" + std::to_string(getpid()) + ".sock";
  // A temporary name too long for sun_path (the final one fits): bind in place.
  if (tmp.size() >= sizeof(sockaddr_un::sun_path)) tmp = path;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return Error::from_errno(errno, "creating the socket");
  auto fail = [&](const std::string& what) -> Status {
    Error err = Error::from_errno(errno, what);
    close(fd);
    if (tmp != path) unlink(tmp.c_str());
    return err;
  };
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  tmp.copy(addr.sun_path, sizeof addr.sun_path - 1);
  if (tmp != path) unlink(tmp.c_str());  // left by a process of this pid that died
  // The socket is created with the final mode: no window with a wider one.
  mode_t old = umask(static_cast<mode_t>(~mode & 0777));
  int rc = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (rc != 0) {
    Error err = Error::from_errno(errno, "binding " + path);
    close(fd);
    return err;
  }
  if (fchmodat(AT_FDCWD, tmp.c_str(), static_cast<mode_t>(mode), 0) != 0) {
    return fail("setting the mode of " + path);
  }
  if (group && fchownat(AT_FDCWD, tmp.c_str(), static_cast<uid_t>(-1), *group, AT_SYMLINK_NOFOLLOW) != 0) {
    return fail("giving " + path + " to group " + std::to_string(*group) + " (socketGroup)");
  }
  if (::listen(fd, 511) != 0) return fail("listening on " + path);
  if (tmp != path && rename(tmp.c_str(), path.c_str()) != 0) return fail("moving the socket to " + path);
  listen_fd_copy_ = fd;
  return {};
}

// Takes up accepting again on the socket kept open by listen_fd_copy_.
Status Server::start_listener(int fd, std::string_view what) {
  auto listener = std::make_unique<Listener>(*this);
  int rc = listener->init(loop_);
  if (rc == 0) rc = uv_pipe_open(&listener->pipe_, fd);
  if (rc != 0) {
    close(fd);
    uv::close(listener);
    return Error::from_uv(rc, what);
  }
  rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener->pipe_), 511, on_connection);
  if (rc != 0) {
    uv::close(listener);
    return Error::from_uv(rc, what);
  }
  listener_ = std::move(listener);
  return {};
}

void Server::stop_listening() {
  uv_timer_stop(resume_timer_);
  if (listener_) uv::close(listener_);
  if (listen_fd_copy_ >= 0) close(listen_fd_copy_);
  listen_fd_copy_ = -1;
  if (spare_fd_ >= 0) close(spare_fd_);
  spare_fd_ = -1;
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
  if (status == UV_EMFILE || status == UV_ENFILE) {
    self.shed_load();
    return;
  }
  if (status != 0) {
    log::warn(std::string("accepting a client: ") + uv_strerror(status));
    return;
  }
  uint64_t id = self.next_id_++;
  auto conn = std::make_unique<Connection>(id, self.handler_, self.max_request_, self.max_backlog_);
  conn->set_waker(self.waker_);
  int rc = conn->accept(stream, self.policy_);
  if (rc != 0) {
    // Out of file descriptors and the like: the agent stays up; the client is refused.
    log::warn(std::string("accepting a client: ") + uv_strerror(rc) + "; refusing it");
    uv::close(conn);
    return;
  }
  if (conn->refused()) {
    const Peer& p = conn->peer();
    self.refused_policy_++;
    log::warn("refused a client: uid " + std::to_string(p.uid) + " gid " + std::to_string(p.gid) + " pid " +
              std::to_string(p.pid) + " is not in allowedUids / allowedGids");
  }
  conn->on_gone = [&self](Connection& c) { self.drop(c); };
  if (!conn->refused()) self.accepted_++;
  self.conns_.emplace(id, std::move(conn));
}

// Out of descriptors with clients waiting: libuv gave up its own spare (or
// had none). Ours goes, the waiting clients are accepted, told why and closed,
// and the spare is taken again; the listening socket is then empty, so
// accepting does not spin. If no descriptor could be had even so, accepting
// pauses for 100 ms.
void Server::shed_load() {
  uv_os_fd_t lfd = -1;
  if (!listener_ || uv_fileno(reinterpret_cast<uv_handle_t*>(&listener_->pipe_), &lfd) != 0) return;
  if (spare_fd_ >= 0) close(spare_fd_);
  spare_fd_ = -1;
  static constexpr std::string_view kBusy =
      "{\"id\":null,\"ok\":false,\"error\":{\"code\":\"resource_exhausted\",\"message\":\"the agent is out "
      "of file descriptors; try again shortly\",\"path\":\"\"}}\n";
  uint64_t shed = 0;
  int err = 0;
  while (true) {
    int c = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    (void)send(c, kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    close(c);
    shed++;
  }
  spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  refused_fds_ += shed;
  uint64_t now = uv_now(loop_);
  if (refused_fds_logged_ == 0 || now - last_fd_log_ms_ >= 10000) {
    log::warn("out of file descriptors: refused " + std::to_string(refused_fds_ - refused_fds_logged_) +
              " clients (" + std::to_string(conns_.size()) + " connected); serving the connected ones");
    refused_fds_logged_ = refused_fds_;
    last_fd_log_ms_ = now;
  }
  if (spare_fd_ < 0 || (shed == 0 && err != EAGAIN && err != EWOULDBLOCK)) pause_accepting();
}

void Server::pause_accepting() {
  if (!listener_ || listen_fd_copy_ < 0) return;
  // Closing the handle ends libuv's accept loop; the copy keeps the socket
  // listening (clients wait in its backlog) until on_resume takes it up.
  uv::close(listener_);
  uv_timer_start(resume_timer_, on_resume, 100, 0);
}

void Server::on_resume(uv_timer_t* timer) noexcept {
  auto& self = *static_cast<Server*>(timer->data);
  if (self.listener_ || self.listen_fd_copy_ < 0) return;
  if (self.spare_fd_ < 0) self.spare_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int fd = fcntl(self.listen_fd_copy_, F_DUPFD_CLOEXEC, 0);
  if (fd < 0 || !self.start_listener(fd).ok()) uv_timer_start(timer, on_resume, 100, 0);
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
  uv_idle_stop(self.waker_);
  std::vector<uint64_t> pending;
  for (auto& [id, conn] : self.conns_) {
    if (conn->has_pending()) pending.push_back(id);
  }
  for (uint64_t id : pending) {
    if (Connection* c = self.find(id)) c->flush();
  }
}

}  // namespace agent::server
