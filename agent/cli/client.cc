#include "agent/cli/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "agent/cli/request.h"

namespace agent::cli {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
// A response bigger than this is not one runnerd sends; stop rather than grow.
constexpr size_t kMaxLine = 512u << 20;

Error connect_error(const std::string& path, std::string_view reason) {
  return Error(Errc::kUnavailable,
               "cannot connect to " + path + ": " + std::string(reason) +
                   " (is runnerd running? start it with 'runnerd', or pass --socket)");
}

}  // namespace

bool message_id(json::Element message, int64_t& id) {
  return message["id"].get_int64().get(id) == simdjson::SUCCESS;
}

Result<Client> Client::connect(const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) {
    return connect_error(socket_path, "path too long for a Unix socket");
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error::from_errno(errno, "socket");
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;
    ::close(fd);
    return connect_error(socket_path, std::strerror(err));
  }
  Client client(fd, socket_path);
  AGENT_TRY(client.hello());
  return client;
}

Client::Client(Client&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      buffer_(std::move(other.buffer_)),
      start_(other.start_),
      scanned_(other.scanned_),
      next_id_(other.next_id_),
      hello_json_(std::move(other.hello_json_)) {}

Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    buffer_ = std::move(other.buffer_);
    start_ = other.start_;
    scanned_ = other.scanned_;
    next_id_ = other.next_id_;
    hello_json_ = std::move(other.hello_json_);
  }
  return *this;
}

Client::~Client() { close(); }

void Client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status Client::send(std::string_view line) {
  std::string data(line);
  data += '\n';
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, "sending to runnerd at " + path_);
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

Result<json::Element> Client::read(simdjson::dom::parser& parser, int interrupt_fd) {
  for (;;) {
    size_t nl = buffer_.find('\n', scanned_);
    if (nl != std::string::npos) {
      const char* line = buffer_.data() + start_;
      size_t len = nl - start_;
      start_ = nl + 1;
      scanned_ = start_;
      json::Element e;
      auto err = parser.parse(line, len).get(e);
      if (err != simdjson::SUCCESS) {
        return Error(Errc::kInternal, std::string("runnerd sent a line that is not JSON: ") +
                                          simdjson::error_message(err));
      }
      return e;
    }
    scanned_ = buffer_.size();
    if (start_ > 0 && start_ >= buffer_.size() / 2) {
      buffer_.erase(0, start_);
      scanned_ -= start_;
      start_ = 0;
    }
    if (buffer_.size() - start_ > kMaxLine) {
      return Error(Errc::kResourceExhausted, "runnerd sent a line longer than 512 MiB");
    }
    pollfd fds[2] = {{fd_, POLLIN, 0}, {interrupt_fd, POLLIN, 0}};
    int rc = ::poll(fds, interrupt_fd >= 0 ? 2 : 1, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, "poll");
    }
    if (interrupt_fd >= 0 && (fds[1].revents & POLLIN) != 0) {
      return Error(Errc::kCancelled, "interrupted");
    }
    if (fds[0].revents == 0) continue;
    size_t old = buffer_.size();
    buffer_.resize(old + kReadChunk);
    ssize_t n = ::recv(fd_, buffer_.data() + old, kReadChunk, 0);
    buffer_.resize(old + static_cast<size_t>(n > 0 ? n : 0));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Error::from_errno(errno, "reading from runnerd at " + path_);
    }
    if (n == 0) {
      return Error(Errc::kUnavailable, buffer_.size() > start_
                                           ? "runnerd closed the connection mid-message"
                                           : "runnerd closed the connection");
    }
  }
}

Result<json::Element> Client::call(std::string_view request_line, int64_t id,
                                   simdjson::dom::parser& parser) {
  AGENT_TRY(send(request_line));
  for (;;) {
    AGENT_ASSIGN_OR_RETURN(json::Element msg, read(parser));
    bool ok = false;
    if (msg["ok"].get_bool().get(ok) != simdjson::SUCCESS) continue;  // an event
    int64_t got = 0;
    bool has_id = message_id(msg, got);
    if (has_id && got != id) continue;
    if (!has_id && ok) continue;
    // An error with "id": null is about a request the agent could not read;
    // ours is the one waiting, so it is ours.
    if (!ok) {
      json::Element error;
      if (msg["error"].get(error) != simdjson::SUCCESS) {
        return Error(Errc::kInternal, "runnerd answered with an error without details");
      }
      return protocol_error(error);
    }
    json::Element result;
    if (msg["result"].get(result) != simdjson::SUCCESS) {
      return Error(Errc::kInternal, "runnerd's response has no result");
    }
    return result;
  }
}

Status Client::hello() {
  simdjson::dom::parser parser;
  int64_t id = next_id();
  auto result = call(hello_request(id), id, parser);
  if (!result.ok()) return std::move(result).error().context("hello");
  int64_t version = 0;
  if ((*result)["version"].get_int64().get(version) != simdjson::SUCCESS ||
      version != kProtocolVersion) {
    json::Element v;
    std::string got = (*result)["version"].get(v) == simdjson::SUCCESS ? json::to_json(v) : "none";
    return Error(Errc::kInvalidArgument, "runnerd answered hello with protocol version " + got +
                                             "; runnerctl speaks " +
                                             std::to_string(kProtocolVersion));
  }
  hello_json_ = json::to_json(*result);
  return {};
}

}  // namespace agent::cli
