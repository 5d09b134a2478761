// What the HTTP client sends and receives. Plain values, no libcurl types.
// HTTP statuses are not errors at this layer: a 404 is a Response; callers that
// want an error turn it into one with error_from_http().
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/common/result.h"

namespace agent::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Identifies one request of one HttpClient; never 0.
using RequestId = uint64_t;

struct Request {
  std::string method = "GET";
  // With unix_socket set, only the path and query matter ("http://localhost/v1.43/info").
  std::string url;
  // Sent as given. A header with an empty value is sent empty ("X-Empty:").
  Headers headers;
  // Sent when non-empty, and always for POST, PUT and PATCH (Content-Length: 0).
  std::string body;
  // CURLOPT_UNIX_SOCKET_PATH: talk HTTP over this socket (the Docker Engine API).
  std::string unix_socket;
  // Whole request, connect included; 0 means no limit (streams usually want 0).
  std::chrono::milliseconds timeout{0};
  std::chrono::milliseconds connect_timeout{10'000};
};

struct Response {
  long status = 0;
  // In arrival order, names as sent by the server, values trimmed.
  Headers headers;
  // Empty for a stream: its body goes to on_data.
  std::string body;

  // The first header of that name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

// A one-line error for a response the caller does not accept:
// "<what>: HTTP 404: <body excerpt>". 404 -> kNotFound, 401/403 ->
// kPermissionDenied, 429/502/503/504 -> kUnavailable, other 4xx ->
// kInvalidArgument, anything else -> kInternal.
Error error_from_http(const Response& response, std::string_view what);

}  // namespace agent::http
