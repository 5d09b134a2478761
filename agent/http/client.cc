#include "agent/http/client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <utility>

#include "agent/http/transfer.h"
#include "agent/uv/closeable.h"

namespace agent::http {

// One curl socket watched by the loop. A socket we opened (on_open_socket) is
// closed here, after the poll handle's close callback: never under a live poll.
class SocketWatch final : public uv::Closeable {
 public:
  static std::unique_ptr<SocketWatch> create(HttpClient* client, curl_socket_t fd) {
    std::unique_ptr<SocketWatch> w(new SocketWatch());
    if (uv_poll_init_socket(client->loop_, &w->poll_, fd) != 0) return nullptr;
    w->adopt(&w->poll_);
    w->client_ = client;
    w->fd_ = fd;
    client->live_handles_++;
    return w;
  }
  ~SocketWatch() override {
    if (close_fd_) ::close(fd_);
    if (client_ != nullptr) client_->on_handle_freed();
  }
  // UV_READABLE / UV_WRITABLE, or 0 to stop watching.
  void watch(int events) {
    if (events == 0) {
      uv_poll_stop(&poll_);
    } else {
      uv_poll_start(&poll_, events, &SocketWatch::on_event);
    }
  }
  void close_fd_when_freed() { close_fd_ = true; }

 private:
  SocketWatch() = default;
  static void on_event(uv_poll_t* p, int status, int events) noexcept {
    auto& self = owner<SocketWatch>(p);
    // May close this watch: nothing of it is used afterwards.
    self.client_->on_poll(self.fd_, status, events);
  }
  uv_poll_t poll_{};
  HttpClient* client_ = nullptr;
  curl_socket_t fd_ = -1;
  bool close_fd_ = false;
};

// curl's timer, and a zero timer that runs deferred completions.
class ClientTimers final : public uv::Closeable {
 public:
  static std::unique_ptr<ClientTimers> create(HttpClient* client) {
    std::unique_ptr<ClientTimers> t(new ClientTimers());
    uv_timer_init(client->loop_, &t->curl_timer);  // cannot fail on Linux
    t->adopt(&t->curl_timer);
    uv_timer_init(client->loop_, &t->defer_timer);
    t->adopt(&t->defer_timer);
    t->client_ = client;
    client->live_handles_++;
    return t;
  }
  ~ClientTimers() override { client_->on_handle_freed(); }
  static void on_curl(uv_timer_t* t) noexcept { owner<ClientTimers>(t).client_->on_timer(); }
  static void on_defer(uv_timer_t* t) noexcept { owner<ClientTimers>(t).client_->on_defer(); }

  uv_timer_t curl_timer{};
  uv_timer_t defer_timer{};

 private:
  ClientTimers() = default;
  HttpClient* client_ = nullptr;
};

Result<std::unique_ptr<HttpClient>> HttpClient::create(uv_loop_t* loop, Options options) {
  static CURLcode global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (global_rc != CURLE_OK) {
    return Error(Errc::kInternal,
                 std::string("curl_global_init: ") + curl_easy_strerror(global_rc));
  }
  std::unique_ptr<HttpClient> c(new HttpClient(loop));
  c->multi_ = curl_multi_init();
  if (c->multi_ == nullptr) return Error(Errc::kResourceExhausted, "curl_multi_init failed");
  CURLMcode rc = CURLM_OK;
  auto set = [&](CURLMoption opt, auto value) {
    if (rc == CURLM_OK) rc = curl_multi_setopt(c->multi_, opt, value);
  };
  set(CURLMOPT_SOCKETFUNCTION, &HttpClient::on_curl_socket);
  set(CURLMOPT_SOCKETDATA, static_cast<void*>(c.get()));
  set(CURLMOPT_TIMERFUNCTION, &HttpClient::on_curl_timer);
  set(CURLMOPT_TIMERDATA, static_cast<void*>(c.get()));
  set(CURLMOPT_MAX_HOST_CONNECTIONS, options.max_host_connections);
  set(CURLMOPT_MAX_TOTAL_CONNECTIONS, options.max_total_connections);
  if (rc != CURLM_OK) {
    return Error(Errc::kInternal, std::string("curl_multi_setopt: ") + curl_multi_strerror(rc));
  }
  c->timers_ = ClientTimers::create(c.get());
  return c;
}

HttpClient::HttpClient(uv_loop_t* loop) : loop_(loop) {}

HttpClient::~HttpClient() {
  // Handles still open would call back into a dead object.
  AGENT_CHECK(closed_ || (timers_ == nullptr && live_handles_ == 0));
  if (multi_ != nullptr) curl_multi_cleanup(multi_);
}

RequestId HttpClient::send(Request request, DoneFn done) {
  return start(Transfer::buffered(std::move(request), std::move(done)));
}

RequestId HttpClient::stream(Request request, HeadFn on_head, DataFn on_data, EndFn on_end) {
  return start(Transfer::streaming(std::move(request), std::move(on_head), std::move(on_data),
                                   std::move(on_end)));
}

RequestId HttpClient::start(std::unique_ptr<Transfer> transfer) {
  AGENT_CHECK(timers_ != nullptr);  // not after close() finished
  RequestId id = next_id_++;
  transfer->id = id;
  Status status;
  if (closing_) {
    status = transfer->cancelled_error("http client is closing");
  } else {
    status = transfer->prepare(this);
  }
  if (status.ok()) {
    // Calls on_curl_timer(0): the transfer starts on the next loop iteration.
    CURLMcode mc = curl_multi_add_handle(multi_, transfer->easy());
    if (mc != CURLM_OK) {
      status = Error(Errc::kInternal, std::string("curl_multi_add_handle: ") +
                                          curl_multi_strerror(mc));
    }
  }
  if (!status.ok()) {
    auto t = std::shared_ptr<Transfer>(std::move(transfer));
    defer([t, status]() { t->complete(status); });
    return id;
  }
  transfers_.emplace(id, std::move(transfer));
  return id;
}

void HttpClient::cancel(RequestId id) {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  auto t = std::shared_ptr<Transfer>(std::move(it->second));
  transfers_.erase(it);
  curl_multi_remove_handle(multi_, t->easy());
  // The transfer lives until its completion runs: a callback of its own that
  // called cancel() is still running on it.
  defer([t]() { t->complete(t->cancelled_error("cancelled")); });
}

void HttpClient::pause(RequestId id, bool paused) {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  // Resuming may hand buffered data to on_write right here: deliver it soon.
  curl_easy_pause(it->second->easy(), paused ? CURLPAUSE_RECV : CURLPAUSE_CONT);
  if (!paused) defer([] {});
}

void HttpClient::close(std::function<void()> done) {
  AGENT_CHECK(!closing_);
  closing_ = true;
  close_done_ = std::move(done);
  std::vector<RequestId> ids;
  ids.reserve(transfers_.size());
  for (const auto& [id, t] : transfers_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  for (RequestId id : ids) {
    auto t = std::shared_ptr<Transfer>(std::move(transfers_[id]));
    curl_multi_remove_handle(multi_, t->easy());
    defer([t]() { t->complete(t->cancelled_error("http client closed")); });
  }
  transfers_.clear();
  dirty_.clear();
  // Closes the pooled connections through on_close_socket.
  curl_multi_cleanup(multi_);
  multi_ = nullptr;
  // Anything curl did not close (nothing expected).
  while (!watches_.empty()) {
    curl_socket_t fd = watches_.begin()->first;
    close_watch(fd, owned_fds_.erase(fd) != 0);
  }
  for (curl_socket_t fd : owned_fds_) ::close(fd);
  owned_fds_.clear();
  uv_timer_stop(&timers_->curl_timer);
  defer([] {});  // on_defer closes the timers once the completions ran
}

int HttpClient::on_curl_socket(CURL*, curl_socket_t fd, int what, void* userp, void*) noexcept {
  auto* self = static_cast<HttpClient*>(userp);
  if (what == CURL_POLL_REMOVE) {
    auto it = self->watches_.find(fd);
    if (it == self->watches_.end()) return 0;
    if (self->owned_fds_.count(fd) != 0) {
      it->second->watch(0);  // kept until curl closes the socket (pooled connection)
    } else {
      self->close_watch(fd, false);  // not ours: curl closes it itself
    }
    return 0;
  }
  int events = 0;
  if ((what & CURL_POLL_IN) != 0) events |= UV_READABLE;
  if ((what & CURL_POLL_OUT) != 0) events |= UV_WRITABLE;
  auto& w = self->watches_[fd];
  if (w == nullptr) {
    w = SocketWatch::create(self, fd);
    if (w == nullptr) {
      self->watches_.erase(fd);  // the transfer fails on its timeout
      return 0;
    }
  }
  w->watch(events);
  return 0;
}

int HttpClient::on_curl_timer(CURLM*, long timeout_ms, void* userp) noexcept {
  auto* self = static_cast<HttpClient*>(userp);
  if (self->timers_ == nullptr) return 0;
  if (timeout_ms < 0) {
    uv_timer_stop(&self->timers_->curl_timer);
  } else {
    uv_timer_start(&self->timers_->curl_timer, &ClientTimers::on_curl, uint64_t(timeout_ms), 0);
  }
  return 0;
}

curl_socket_t HttpClient::on_open_socket(void* clientp, curlsocktype,
                                         struct curl_sockaddr* address) noexcept {
  auto* self = static_cast<HttpClient*>(clientp);
  int fd = ::socket(address->family, address->socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    address->protocol);
  if (fd < 0) return CURL_SOCKET_BAD;
  self->owned_fds_.insert(fd);
  return fd;
}

int HttpClient::on_close_socket(void* clientp, curl_socket_t fd) noexcept {
  auto* self = static_cast<HttpClient*>(clientp);
  self->owned_fds_.erase(fd);
  if (!self->close_watch(fd, true)) ::close(fd);
  return 0;
}

bool HttpClient::close_watch(curl_socket_t fd, bool close_fd) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return false;
  std::unique_ptr<SocketWatch> w = std::move(it->second);
  watches_.erase(it);
  if (close_fd) w->close_fd_when_freed();
  uv::close(w);
  return true;
}

void HttpClient::on_poll(curl_socket_t fd, int status, int events) noexcept {
  if (multi_ == nullptr) return;
  int flags = 0;
  if (status < 0) {
    flags = CURL_CSELECT_ERR;
  } else {
    if ((events & UV_READABLE) != 0) flags |= CURL_CSELECT_IN;
    if ((events & UV_WRITABLE) != 0) flags |= CURL_CSELECT_OUT;
  }
  int running = 0;
  curl_multi_socket_action(multi_, fd, flags, &running);
  process();
}

void HttpClient::on_timer() noexcept {
  if (multi_ == nullptr) return;
  int running = 0;
  curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  process();
}

void HttpClient::process() noexcept {
  // Stream heads and data first, so that they come before the end.
  while (!dirty_.empty()) {
    std::vector<RequestId> ids = std::move(dirty_);
    dirty_.clear();
    for (RequestId id : ids) flush(id);
  }
  if (multi_ == nullptr) return;  // a callback closed the client
  // Collect first: completions may cancel or start other requests.
  std::vector<std::pair<RequestId, CURLcode>> finished;
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    char* priv = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    auto* t = reinterpret_cast<Transfer*>(priv);
    finished.emplace_back(t->id, msg->data.result);
  }
  for (const auto& [id, code] : finished) finish(id, code);
}

void HttpClient::flush(RequestId id) {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  Transfer* t = it->second.get();
  t->dirty = false;
  if (!t->is_stream()) return;
  if (t->take_head() && t->on_head()) {
    t->on_head()(t->response());
    // The callback may have cancelled it (then `t` lives on in its completion).
    if (transfers_.count(id) == 0) return;
  }
  std::string data = t->take_pending();
  if (!data.empty() && t->on_data()) t->on_data()(data);
}

void HttpClient::finish(RequestId id, CURLcode code) {
  flush(id);
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;  // cancelled by a callback
  std::unique_ptr<Transfer> t = std::move(it->second);
  transfers_.erase(it);
  if (multi_ != nullptr) curl_multi_remove_handle(multi_, t->easy());
  t->complete(code == CURLE_OK ? Status() : Status(t->curl_error(code)));
}

void HttpClient::mark_dirty(Transfer* t) {
  if (t->dirty) return;
  t->dirty = true;
  dirty_.push_back(t->id);
}

void HttpClient::defer(std::function<void()> fn) {
  deferred_.push_back(std::move(fn));
  uv_timer_start(&timers_->defer_timer, &ClientTimers::on_defer, 0, 0);
}

void HttpClient::on_defer() noexcept {
  while (!deferred_.empty()) {
    std::vector<std::function<void()>> batch = std::move(deferred_);
    deferred_.clear();
    for (auto& fn : batch) fn();
  }
  process();
  if (closing_ && deferred_.empty() && timers_ != nullptr) uv::close(timers_);
}

void HttpClient::on_handle_freed() noexcept {
  live_handles_--;
  maybe_done();
}

void HttpClient::maybe_done() noexcept {
  if (!closing_ || closed_ || timers_ != nullptr || live_handles_ != 0) return;
  closed_ = true;
  auto done = std::move(close_done_);
  if (done) done();  // may destroy this client
}

}  // namespace agent::http
