// The head of an HTTP/1.x request (request line and header fields), parsed
// strictly and within fixed limits, for the metrics listener. Only what a
// scraper sends is accepted: an origin-form target, HTTP/1.0 or 1.1, token
// header names, no line folding, no body. Debian 12 packages no maintained
// HTTP parser for C (llhttp is not packaged; libhttp-parser is archived
// upstream), and a GET-only endpoint needs this much.
// Pure: no I/O, no allocation; what it returns points into the input.
#pragma once

#include <cstddef>
#include <string_view>

namespace agent::metrics {

struct HttpLimits {
  size_t max_head_bytes = 8192;  // request line and every header, with line ends
  size_t max_headers = 64;
  size_t max_target_bytes = 2048;
};

struct HttpRequestHead {
  std::string_view method;
  std::string_view path;   // the target up to '?'
  std::string_view query;  // after '?', may be empty
  int minor_version = 1;   // HTTP/1.<minor>
  size_t header_count = 0;
  // HTTP/1.1 without "Connection: close", or 1.0 with "Connection: keep-alive".
  bool keep_alive = true;
  size_t head_bytes = 0;  // bytes of the head, blank line included
};

enum class HttpParse {
  kIncomplete,  // no error in what came so far; the head is not complete yet
  kComplete,    // `head` is filled; the request starts the input
  kError,       // `status` and `reason` say why; answer and close
};

struct HttpParseResult {
  HttpParse kind = HttpParse::kIncomplete;
  HttpRequestHead head;
  int status = 0;  // kError: 400, 414, 431, 501 or 505
  std::string_view reason;
};

// Parses the request at the start of `input` (a keep-alive connection's next
// request; earlier ones already taken off). Every complete line is checked as
// soon as it is there, so junk is refused at its first line end; a head that
// has not ended within limits.max_head_bytes is 431 (414 if the request line
// alone is that long). A request with a body (Content-Length other than 0, or
// Transfer-Encoding) is 400: nothing here reads bodies.
HttpParseResult parse_http_request(std::string_view input, const HttpLimits& limits = {});

}  // namespace agent::metrics
