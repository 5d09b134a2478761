#include "test/helpers/http_test_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace test {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

std::string head(int status, const HttpHeaders& headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
  for (const auto& [n, v] : headers) out += n + ": " + v + "\r\n";
  return out;
}

// Parses "METHOD TARGET VERSION\r\nName: value\r\n...". False if malformed.
bool parse_head(std::string_view text, HttpRequestSeen& req) {
  size_t eol = text.find("\r\n");
  std::string_view line = text.substr(0, eol);
  size_t a = line.find(' ');
  size_t b = line.find(' ', a + 1);
  if (a == std::string_view::npos || b == std::string_view::npos) return false;
  req.method = std::string(line.substr(0, a));
  req.target = std::string(line.substr(a + 1, b - a - 1));
  req.path = req.target.substr(0, req.target.find('?'));
  while (eol != std::string_view::npos) {
    size_t start = eol + 2;
    eol = text.find("\r\n", start);
    std::string_view h = text.substr(start, eol == std::string_view::npos ? eol : eol - start);
    size_t colon = h.find(':');
    if (colon == std::string_view::npos) continue;
    req.headers.emplace_back(std::string(trim(h.substr(0, colon))),
                             std::string(trim(h.substr(colon + 1))));
  }
  return true;
}

}  // namespace

std::string HttpRequestSeen::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n.size() == name.size() && ::strncasecmp(n.data(), name.data(), n.size()) == 0) return v;
  }
  return "";
}

void Gate::open() {
  std::lock_guard<std::mutex> lock(mu_);
  open_ = true;
  cv_.notify_all();
}

bool Gate::is_open() {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

bool Gate::wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return open_; });
}

bool HttpExchange::write(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(size_t(n));
  }
  return true;
}

bool HttpExchange::respond(int status, std::string_view body, const HttpHeaders& headers) {
  std::string out = head(status, headers);
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out += body;
  return write(out);
}

bool HttpExchange::begin_chunked(int status, const HttpHeaders& headers) {
  return write(head(status, headers) + "Transfer-Encoding: chunked\r\n\r\n");
}

bool HttpExchange::chunk(std::string_view data) {
  if (data.empty()) return true;  // an empty chunk would end the body
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return write(std::string(size) + std::string(data) + "\r\n");
}

bool HttpExchange::end_chunked() { return write("0\r\n\r\n"); }

bool HttpExchange::wait_stopped(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(server_->mu_);
  return server_->stopped_cv_.wait_for(lock, timeout, [&] { return server_->stopping_; });
}

void HttpTestServer::route(std::string path, Handler handler) {
  routes_[std::move(path)] = std::move(handler);
}

void HttpTestServer::route_fixed(std::string path, int status, std::string body,
                                 HttpHeaders headers) {
  route(std::move(path), [=](const HttpRequestSeen&, HttpExchange& ex) {
    ex.respond(status, body, headers);
  });
}

void HttpTestServer::route_echo(std::string path) {
  route(std::move(path), [](const HttpRequestSeen& req, HttpExchange& ex) {
    HttpHeaders out = {{"X-Echo-Method", req.method}, {"X-Echo-Target", req.target}};
    for (const auto& [n, v] : req.headers) {
      std::string lower;
      for (char c : n) lower += char(std::tolower(static_cast<unsigned char>(c)));
      out.emplace_back("X-Echo-" + lower, v);
    }
    ex.respond(200, req.body, out);
  });
}

void HttpTestServer::route_slow(std::string path, std::chrono::milliseconds delay,
                                std::string body) {
  route(std::move(path), [=](const HttpRequestSeen&, HttpExchange& ex) {
    ex.wait_stopped(delay);
    ex.respond(200, body);
  });
}

void HttpTestServer::route_chunks(std::string path, std::vector<std::string> chunks,
                                  std::chrono::milliseconds gap) {
  route(std::move(path), [=](const HttpRequestSeen&, HttpExchange& ex) {
    if (!ex.begin_chunked(200, {{"Content-Type", "text/plain"}})) return;
    for (size_t i = 0; i < chunks.size(); i++) {
      if (i > 0 && ex.wait_stopped(gap)) return;
      if (!ex.chunk(chunks[i])) return;
    }
    ex.end_chunked();
  });
}

void HttpTestServer::route_close_mid_response(std::string path) {
  route(std::move(path), [](const HttpRequestSeen&, HttpExchange& ex) {
    ex.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
    ex.close_after();
  });
}

bool HttpTestServer::start(const std::string& unix_path) {
  tcp_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (tcp_fd_ < 0) return false;
  int one = 1;
  ::setsockopt(tcp_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(tcp_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
  if (::listen(tcp_fd_, 4096) != 0) return false;
  socklen_t len = sizeof addr;
  if (::getsockname(tcp_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
  port_ = ntohs(addr.sin_port);
  if (!unix_path.empty()) {
    sockaddr_un un{};
    if (unix_path.size() >= sizeof un.sun_path) return false;
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, unix_path.c_str(), unix_path.size() + 1);
    ::unlink(unix_path.c_str());
    unix_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (unix_fd_ < 0) return false;
    if (::bind(unix_fd_, reinterpret_cast<sockaddr*>(&un), sizeof un) != 0) return false;
    if (::listen(unix_fd_, 4096) != 0) return false;
    unix_path_ = unix_path;
  }
  if (::pipe2(wake_, O_CLOEXEC) != 0) return false;
  acceptor_ = std::thread([this] { accept_loop(); });
  return true;
}

void HttpTestServer::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    stopped_cv_.notify_all();
  }
  if (acceptor_.joinable()) {
    char c = 1;
    (void)!::write(wake_[1], &c, 1);
    acceptor_.join();
  }
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : conn_fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(conn_threads_);
  }
  for (auto& t : threads) t.join();
  for (int* fd : {&tcp_fd_, &unix_fd_, &wake_[0], &wake_[1]}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

std::string HttpTestServer::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
}

void HttpTestServer::accept_loop() {
  for (;;) {
    pollfd fds[3] = {{wake_[0], POLLIN, 0}, {tcp_fd_, POLLIN, 0}, {unix_fd_, POLLIN, 0}};
    int n = ::poll(fds, unix_fd_ >= 0 ? 3 : 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || (fds[0].revents & POLLIN) != 0) return;
    for (int i = 1; i < 3; i++) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      int fd = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      connections_++;
      std::lock_guard<std::mutex> lock(mu_);
      conn_fds_.insert(fd);
      conn_threads_.emplace_back([this, fd] { serve(fd); });
    }
  }
}

void HttpTestServer::serve(int fd) {
  std::string buf;
  char tmp[16384];
  bool open = true;
  while (open) {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        open = false;
        break;
      }
      buf.append(tmp, size_t(n));
    }
    if (!open) break;
    HttpRequestSeen req;
    if (!parse_head(std::string_view(buf).substr(0, end), req)) break;
    buf.erase(0, end + 4);
    size_t want = size_t(std::strtoull(req.header("Content-Length").c_str(), nullptr, 10));
    while (buf.size() < want) {
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        open = false;
        break;
      }
      buf.append(tmp, size_t(n));
    }
    if (!open) break;
    req.body = buf.substr(0, want);
    buf.erase(0, want);
    requests_++;
    HttpExchange ex(this, fd);
    dispatch(req, ex);
    if (ex.close_ || ::strcasecmp(req.header("Connection").c_str(), "close") == 0) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  conn_fds_.erase(fd);
  ::close(fd);
}

void HttpTestServer::dispatch(const HttpRequestSeen& req, HttpExchange& ex) {
  auto it = routes_.find(req.path);
  if (it == routes_.end()) {
    ex.respond(404, "no route for " + req.path + "\n");
    return;
  }
  it->second(req, ex);
}

}  // namespace test
