#include "agent/metrics/http_listener.h"

#include <cstring>

#include "agent/uv/closeable.h"

namespace agent::metrics {

namespace {

// How long an answered error waits for the client's last bytes (and its FIN)
// before the connection is closed, so that the answer is not lost to a reset.
constexpr uint64_t kLingerMs = 1000;
// ... and for at most this much of them: a client that keeps sending is closed.
constexpr size_t kLingerBytes = 64 * 1024;

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

}  // namespace

class HttpListener::Socket final : public uv::Closeable {
 public:
  explicit Socket(HttpListener& owner) : owner_(owner) {}
  int init(uv_loop_t* loop) {
    int rc = uv_tcp_init(loop, &tcp_);
    if (rc == 0) adopt(&tcp_);
    return rc;
  }
  uv_tcp_t tcp_{};
  HttpListener& owner_;
};

class HttpListener::Conn final : public uv::Closeable {
 public:
  enum class Phase { kReading, kWriting, kLingering };

  Conn(HttpListener& owner, uint64_t seq)
      : owner_(&owner), seq_(seq), cap_(owner.options_.limits.max_head_bytes),
        buf_(new char[cap_]) {}

  int init(uv_loop_t* loop) {
    int rc = uv_tcp_init(loop, &tcp_);
    if (rc != 0) return rc;
    adopt(&tcp_);
    rc = uv_timer_init(loop, &timer_);
    if (rc != 0) return rc;
    adopt(&timer_);
    write_.data = static_cast<uv::Closeable*>(this);
    shutdown_.data = static_cast<uv::Closeable*>(this);
    return 0;
  }

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  void start() {
    arm(static_cast<uint64_t>(owner_->options_.request_timeout.count()));
    read(true);
  }

  // Queues a whole answer; reading stops until it is written.
  void send(int status, std::string_view extra_headers, std::string_view content_type,
            std::string body, bool head_only, bool keep_alive) {
    owner_->responses_[status]++;
    read(false);
    phase_ = Phase::kWriting;
    close_after_ = !keep_alive;
    out_ = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) + "\r\n";
    out_ += "Content-Type: ";
    out_ += content_type;
    out_ += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    out_ += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
    out_ += extra_headers;
    out_ += "\r\n";
    if (!head_only) out_ += body;
    arm(static_cast<uint64_t>(owner_->options_.request_timeout.count()));
    uv_buf_t b = uv_buf_init(out_.data(), static_cast<unsigned>(out_.size()));
    if (uv_write(&write_, stream(), &b, 1, on_write) != 0) owner_->drop(*this);
  }

  void send_error(int status, std::string_view reason) {
    std::string body(reason);
    body += '\n';
    send(status, "", "text/plain; charset=utf-8", std::move(body), false, false);
  }

  HttpListener* owner_;  // null once dropped: callbacks still due do nothing
  uint64_t seq_;
  Phase phase_ = Phase::kReading;

 private:
  void arm(uint64_t ms) { uv_timer_start(&timer_, on_timer, ms, 0); }

  void read(bool on) {
    if (on == reading_) return;
    reading_ = on;
    if (on) {
      if (uv_read_start(stream(), on_alloc, on_read) != 0) owner_->drop(*this);
    } else {
      uv_read_stop(stream());
    }
  }

  // Takes the requests that are complete in the buffer, one at a time.
  void process() {
    HttpParseResult r = parse_http_request(std::string_view(buf_.get(), len_), owner_->options_.limits);
    switch (r.kind) {
      case HttpParse::kIncomplete:
        read(true);
        return;
      case HttpParse::kError:
        send_error(r.status, r.reason);
        return;
      case HttpParse::kComplete:
        consumed_ = r.head.head_bytes;
        owner_->answer(*this, r.head);
        return;
    }
  }

  void linger() {
    phase_ = Phase::kLingering;
    len_ = 0;
    if (uv_shutdown(&shutdown_, stream(), [](uv_shutdown_t*, int) noexcept {}) != 0) {
      owner_->drop(*this);
      return;
    }
    arm(kLingerMs);
    read(true);
  }

  static void on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
    Conn& c = owner<Conn>(h);
    // While lingering, what comes is dropped: the buffer is reused from its start.
    size_t at = c.phase_ == Phase::kLingering ? 0 : c.len_;
    buf->base = c.buf_.get() + at;
    buf->len = c.cap_ - at;
  }

  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t*) noexcept {
    Conn& c = owner<Conn>(s);
    if (c.owner_ == nullptr) return;
    if (n < 0) {  // EOF, a reset, or no room (cannot happen: a full head is an error)
      c.owner_->drop(c);
      return;
    }
    if (c.phase_ == Phase::kLingering) {
      c.lingered_ += static_cast<size_t>(n);
      if (c.lingered_ > kLingerBytes) c.owner_->drop(c);
      return;
    }
    if (n == 0) return;
    c.len_ += static_cast<size_t>(n);
    c.process();
  }

  static void on_write(uv_write_t* req, int status) noexcept {
    Conn& c = *static_cast<Conn*>(static_cast<uv::Closeable*>(req->data));
    if (c.owner_ == nullptr) return;
    std::string().swap(c.out_);
    if (status != 0) {
      c.owner_->drop(c);
      return;
    }
    if (c.close_after_) {
      c.linger();
      return;
    }
    // Keep-alive: the next request may be in the buffer already.
    std::memmove(c.buf_.get(), c.buf_.get() + c.consumed_, c.len_ - c.consumed_);
    c.len_ -= c.consumed_;
    c.consumed_ = 0;
    c.phase_ = Phase::kReading;
    c.arm(static_cast<uint64_t>(c.owner_->options_.request_timeout.count()));
    c.process();
  }

  static void on_timer(uv_timer_t* t) noexcept {
    Conn& c = owner<Conn>(t);
    if (c.owner_ == nullptr) return;
    if (c.phase_ == Phase::kLingering) {
      c.owner_->drop(c);
      return;
    }
    c.owner_->timed_out_++;
    if (c.phase_ == Phase::kReading && c.len_ > 0) {
      c.send_error(408, "the request head did not arrive in time");
      return;
    }
    c.owner_->drop(c);  // idle, or not reading its answer
  }

  uv_tcp_t tcp_{};
  uv_timer_t timer_{};
  uv_write_t write_{};
  uv_shutdown_t shutdown_{};
  size_t cap_;
  std::unique_ptr<char[]> buf_;
  size_t len_ = 0;
  size_t consumed_ = 0;  // head bytes of the request being answered
  size_t lingered_ = 0;  // bytes dropped while lingering
  std::string out_;
  bool close_after_ = false;
  bool reading_ = false;
};

HttpListener::HttpListener(uv_loop_t* loop, std::function<std::string()> render,
                           HttpListenerOptions options)
    : loop_(loop), render_(std::move(render)), options_(options) {}

HttpListener::~HttpListener() { close(); }

Status HttpListener::listen(const std::string& host, int port) {
  std::string what = "metrics: listening on " +
                     (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                     std::to_string(port);
  sockaddr_storage addr{};
  int rc = host.find(':') != std::string::npos
               ? uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr))
               : uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) return Error::from_uv(rc, what);
  auto socket = std::make_unique<Socket>(*this);
  rc = socket->init(loop_);
  if (rc == 0) rc = uv_tcp_bind(&socket->tcp_, reinterpret_cast<const sockaddr*>(&addr), 0);
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(&socket->tcp_), 64, on_connection);
  }
  if (rc != 0) {
    uv::close(socket);
    return Error::from_uv(rc, what);
  }
  sockaddr_storage bound{};
  int len = sizeof bound;
  if (uv_tcp_getsockname(&socket->tcp_, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
    port_ = bound.ss_family == AF_INET6
                ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  socket_ = std::move(socket);
  return {};
}

void HttpListener::close() {
  uv::close(socket_);
  for (auto& [raw, conn] : conns_) {
    conn->owner_ = nullptr;
    uv::close(conn);
  }
  conns_.clear();
}

void HttpListener::on_connection(uv_stream_t* server, int status) noexcept {
  auto& s = *static_cast<Socket*>(static_cast<uv::Closeable*>(server->data));
  if (status != 0) return;  // out of descriptors: libuv sheds the waiting client
  s.owner_.accept_one();
}

void HttpListener::accept_one() {
  auto conn = std::make_unique<Conn>(*this, next_seq_++);
  if (conn->init(loop_) != 0 ||
      uv_accept(reinterpret_cast<uv_stream_t*>(&socket_->tcp_), conn->stream()) != 0) {
    conn->owner_ = nullptr;
    uv::close(conn);
    return;
  }
  accepted_++;
  if (conns_.size() >= options_.max_connections) {
    // The oldest client still waiting for its request head goes; if every
    // slot is answering, the new client does.
    Conn* oldest = nullptr;
    for (auto& [raw, c] : conns_) {
      if (c->phase_ != Conn::Phase::kWriting && (oldest == nullptr || c->seq_ < oldest->seq_)) {
        oldest = raw;
      }
    }
    if (oldest == nullptr) {
      refused_++;
      conn->owner_ = nullptr;
      uv::close(conn);
      return;
    }
    evicted_++;
    drop(*oldest);
  }
  Conn* raw = conn.get();
  conns_.emplace(raw, std::move(conn));
  raw->start();
}

void HttpListener::drop(Conn& conn) {
  auto it = conns_.find(&conn);
  if (it == conns_.end()) return;
  std::unique_ptr<Conn> owned = std::move(it->second);
  conns_.erase(it);
  owned->owner_ = nullptr;
  uv::close(owned);
}

void HttpListener::answer(Conn& conn, const HttpRequestHead& head) {
  bool head_only = head.method == "HEAD";
  if (head.path != "/metrics") {
    conn.send(404, "", "text/plain; charset=utf-8", "not found: the metrics are at /metrics\n",
              head_only, head.keep_alive);
    return;
  }
  if (head.method != "GET" && !head_only) {
    conn.send(405, "Allow: GET, HEAD\r\n", "text/plain; charset=utf-8",
              "method not allowed: GET or HEAD\n", false, head.keep_alive);
    return;
  }
  conn.send(200, "", kContentType, render_(), head_only, head.keep_alive);
}

void HttpListener::write_metrics(Registry& registry) const {
  Family& requests = registry.counter("runnerd_metrics_http_responses_total",
                                      "Answers of the metrics endpoint, by HTTP status.");
  for (const auto& [status, n] : responses_) {
    requests.add({{"code", std::to_string(status)}}, static_cast<double>(n));
  }
  registry.gauge("runnerd_metrics_http_connections", "Open connections to the metrics endpoint.")
      .add({}, static_cast<double>(conns_.size()));
  registry
      .counter("runnerd_metrics_http_connections_accepted_total",
               "Connections accepted by the metrics endpoint.")
      .add({}, static_cast<double>(accepted_));
  registry
      .counter("runnerd_metrics_http_connections_closed_total",
               "Connections to the metrics endpoint closed by the agent: timeout (no whole "
               "request, or its answer not read, within the request timeout), evicted (the "
               "oldest waiting one, for a new one at the connection limit), refused (at the "
               "limit with every connection answering).")
      .add({{"reason", "timeout"}}, static_cast<double>(timed_out_))
      .add({{"reason", "evicted"}}, static_cast<double>(evicted_))
      .add({{"reason", "refused"}}, static_cast<double>(refused_));
}

}  // namespace agent::metrics
