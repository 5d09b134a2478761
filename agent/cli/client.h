// A blocking client of runnerd's socket: newline-delimited JSON requests out,
// responses and events in (proto/PROTOCOL.md). One per connection; not
// thread-safe.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "agent/common/result.h"
#include "agent/json/read.h"

namespace agent::cli {

class Client {
 public:
  // Connects and says hello. A connection failure reads
  // "cannot connect to PATH: REASON (is runnerd running? ...)".
  static Result<Client> connect(const std::string& socket_path);

  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  int64_t next_id() { return next_id_++; }

  // Sends one request line (the newline is added).
  Status send(std::string_view line);

  // Reads the next message into `parser`; the element lives until the parser's
  // next use. When `interrupt_fd` (>= 0) becomes readable first, returns an
  // Errc::kCancelled error and leaves the connection as it was.
  Result<json::Element> read(simdjson::dom::parser& parser, int interrupt_fd = -1);

  // Sends a request and returns the `result` of its response, skipping
  // messages of other requests. An error response becomes its Error (message
  // and path as the agent sent them).
  Result<json::Element> call(std::string_view request_line, int64_t id,
                             simdjson::dom::parser& parser);

  // The result of the hello exchange made by connect(), as JSON.
  const std::string& hello_json() const { return hello_json_; }

 private:
  Client(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  Status hello();
  void close();

  int fd_ = -1;
  std::string path_;
  std::string buffer_;  // bytes read; buffer_[start_, end) not yet returned
  size_t start_ = 0;
  size_t scanned_ = 0;  // buffer_[start_, scanned_) holds no newline
  int64_t next_id_ = 1;
  std::string hello_json_;
};

// The id of a message, when it is an integer.
bool message_id(json::Element message, int64_t& id);

}  // namespace agent::cli
