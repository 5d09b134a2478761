#include "agent/http/transfer.h"

#include <cstdlib>
#include <cstring>
#include <utility>

namespace agent::http {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' ||
                        s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

Errc errc_from_curl(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_WEIRD_SERVER_REPLY:
      return Errc::kUnavailable;
    case CURLE_OPERATION_TIMEDOUT:
      return Errc::kDeadlineExceeded;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_UNKNOWN_OPTION:
      return Errc::kInvalidArgument;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_LOGIN_DENIED:
      return Errc::kPermissionDenied;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FILESIZE_EXCEEDED:
      return Errc::kResourceExhausted;
    default:
      return Errc::kInternal;
  }
}

bool needs_body(const std::string& method) {
  return method == "POST" || method == "PUT" || method == "PATCH";
}

}  // namespace

std::unique_ptr<Transfer> Transfer::buffered(Request request, HttpClient::DoneFn done) {
  std::unique_ptr<Transfer> t(new Transfer(std::move(request)));
  t->done_ = std::move(done);
  return t;
}

std::unique_ptr<Transfer> Transfer::streaming(Request request, HttpClient::HeadFn on_head,
                                              HttpClient::DataFn on_data,
                                              HttpClient::EndFn on_end) {
  std::unique_ptr<Transfer> t(new Transfer(std::move(request)));
  t->streaming_ = true;
  t->on_head_ = std::move(on_head);
  t->on_data_ = std::move(on_data);
  t->on_end_ = std::move(on_end);
  return t;
}

Transfer::~Transfer() {
  if (easy_ != nullptr) curl_easy_cleanup(easy_);
  curl_slist_free_all(header_list_);
}

Status Transfer::prepare(HttpClient* client) {
  client_ = client;
  easy_ = curl_easy_init();
  if (easy_ == nullptr) return Error(Errc::kResourceExhausted, "curl_easy_init failed");
  CURLcode rc = CURLE_OK;
  auto set = [&](CURLoption opt, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(easy_, opt, value);
  };
  set(CURLOPT_ERRORBUFFER, error_buf_);
  set(CURLOPT_PRIVATE, static_cast<void*>(this));
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_URL, request_.url.c_str());
  set(CURLOPT_OPENSOCKETFUNCTION, &HttpClient::on_open_socket);
  set(CURLOPT_OPENSOCKETDATA, static_cast<void*>(client));
  set(CURLOPT_CLOSESOCKETFUNCTION, &HttpClient::on_close_socket);
  set(CURLOPT_CLOSESOCKETDATA, static_cast<void*>(client));
  set(CURLOPT_WRITEFUNCTION, &Transfer::on_write);
  set(CURLOPT_WRITEDATA, static_cast<void*>(this));
  set(CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  set(CURLOPT_HEADERDATA, static_cast<void*>(this));
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  if (!request_.unix_socket.empty()) set(CURLOPT_UNIX_SOCKET_PATH, request_.unix_socket.c_str());
  if (request_.timeout.count() > 0) set(CURLOPT_TIMEOUT_MS, long(request_.timeout.count()));
  if (request_.connect_timeout.count() > 0) {
    set(CURLOPT_CONNECTTIMEOUT_MS, long(request_.connect_timeout.count()));
  }

  const std::string& method = request_.method;
  if (method == "HEAD") {
    set(CURLOPT_NOBODY, 1L);
  } else if (method != "GET" && method != "POST") {
    set(CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (!request_.body.empty() || needs_body(method)) {
    // POSTFIELDS does not copy: request_ lives as long as the easy handle.
    set(CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request_.body.size()));
    set(CURLOPT_POSTFIELDS, request_.body.data());
  }
  // No "Expect: 100-continue" round trip for large bodies.
  header_list_ = curl_slist_append(header_list_, "Expect:");
  for (const auto& [name, value] : request_.headers) {
    // "Name;" is curl's way of sending a header with an empty value.
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    curl_slist* next = curl_slist_append(header_list_, line.c_str());
    if (next == nullptr) return Error(Errc::kResourceExhausted, "curl_slist_append failed");
    header_list_ = next;
  }
  set(CURLOPT_HTTPHEADER, header_list_);
  if (rc != CURLE_OK) return curl_error(rc);
  return {};
}

size_t Transfer::on_write(char* data, size_t size, size_t n, void* userp) noexcept {
  auto* self = static_cast<Transfer*>(userp);
  size_t len = size * n;
  if (self->streaming_) {
    self->pending_.append(data, len);
    self->client_->mark_dirty(self);
  } else {
    self->response_.body.append(data, len);
  }
  return len;
}

size_t Transfer::on_header(char* data, size_t size, size_t n, void* userp) noexcept {
  auto* self = static_cast<Transfer*>(userp);
  self->header_line(std::string_view(data, size * n));
  return size * n;
}

void Transfer::header_line(std::string_view line) {
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after 1xx or a redirect): start over.
    response_.headers.clear();
    headers_done_ = false;
    size_t sp = line.find(' ');
    response_.status = sp == std::string_view::npos ? 0 : std::atol(line.data() + sp + 1);
    return;
  }
  if (headers_done_) return;  // trailers
  std::string_view t = trim(line);
  if (t.empty()) {
    if (response_.status >= 200) {
      headers_done_ = true;
      if (streaming_) {
        head_ready_ = true;
        client_->mark_dirty(this);
      }
    }
    return;
  }
  size_t colon = t.find(':');
  if (colon == std::string_view::npos) return;
  response_.headers.emplace_back(std::string(trim(t.substr(0, colon))),
                                 std::string(trim(t.substr(colon + 1))));
}

void Transfer::complete(Status status) {
  if (status.ok() && easy_ != nullptr) {
    long code = 0;
    if (curl_easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code != 0) {
      response_.status = code;
    }
  }
  if (streaming_) {
    auto end = std::move(on_end_);
    if (end) end(std::move(status));
  } else {
    auto done = std::move(done_);
    if (!done) return;
    if (status.ok()) {
      done(std::move(response_));
    } else {
      done(std::move(status).error());
    }
  }
}

Error Transfer::curl_error(CURLcode code) const {
  std::string msg = request_.method + " " + request_.url;
  if (!request_.unix_socket.empty()) msg += " (via unix:" + request_.unix_socket + ")";
  msg += ": ";
  msg += error_buf_[0] != '\0' ? error_buf_ : curl_easy_strerror(code);
  return Error(errc_from_curl(code), std::move(msg));
}

Error Transfer::cancelled_error(std::string_view why) const {
  return Error(Errc::kCancelled, request_.method + " " + request_.url + ": " + std::string(why));
}

}  // namespace agent::http
