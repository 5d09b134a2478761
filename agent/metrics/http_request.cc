#include "agent/metrics/http_request.h"

#include <algorithm>

namespace agent::metrics {

namespace {

// RFC 9110 tchar.
bool is_tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return is_tchar(static_cast<unsigned char>(c));
  });
}

// A field value: visible ASCII, space, tab, obs-text; no control characters.
bool is_field_value(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    unsigned char c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

// origin-form: "/" then visible ASCII (no space, no control, no DEL).
bool is_origin_form(std::string_view s) {
  return !s.empty() && s[0] == '/' && std::all_of(s.begin(), s.end(), [](char ch) {
    unsigned char c = static_cast<unsigned char>(ch);
    return c > 0x20 && c < 0x7f;
  });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether a comma-separated Connection value names `option`.
bool has_option(std::string_view value, std::string_view option) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    if (iequals(trim_ows(value.substr(0, comma)), option)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

HttpParseResult error(int status, std::string_view reason) {
  HttpParseResult r;
  r.kind = HttpParse::kError;
  r.status = status;
  r.reason = reason;
  return r;
}

// The next line of `input` from `at`, without its CRLF (or bare LF); false
// when no line end is there yet. A CR not followed by LF is an error.
enum class Line { kNone, kLine, kBadCr };
Line next_line(std::string_view input, size_t at, std::string_view& line, size_t& next) {
  size_t lf = input.find('\n', at);
  size_t cr = input.find('\r', at);
  if (cr != std::string_view::npos && (lf == std::string_view::npos || cr < lf)) {
    if (cr + 1 >= input.size()) return Line::kNone;  // the LF may come next
    if (input[cr + 1] != '\n') return Line::kBadCr;
    line = input.substr(at, cr - at);
    next = cr + 2;
    return Line::kLine;
  }
  if (lf == std::string_view::npos) return Line::kNone;
  line = input.substr(at, lf - at);
  next = lf + 1;
  return Line::kLine;
}

HttpParseResult request_line(std::string_view line, const HttpLimits& limits, HttpRequestHead& head) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return error(400, "malformed request line");
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return error(400, "malformed request line");
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return error(400, "malformed method");
  if (target.size() > limits.max_target_bytes) return error(414, "request target too long");
  if (!is_origin_form(target)) return error(400, "malformed request target");
  if (version.size() != 8 || !version.starts_with("HTTP/")) return error(400, "malformed HTTP version");
  if (version[5] != '1' || version[6] != '.' || (version[7] != '0' && version[7] != '1')) {
    if (version[5] >= '0' && version[5] <= '9' && version[6] == '.' && version[7] >= '0' &&
        version[7] <= '9') {
      return error(505, "HTTP version not supported");
    }
    return error(400, "malformed HTTP version");
  }
  head.method = method;
  size_t q = target.find('?');
  head.path = target.substr(0, q);
  head.query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  head.minor_version = version[7] - '0';
  head.keep_alive = head.minor_version == 1;
  return {};
}

}  // namespace

HttpParseResult parse_http_request(std::string_view input, const HttpLimits& limits) {
  HttpRequestHead head;
  std::string_view in = input.substr(0, std::min(input.size(), limits.max_head_bytes));
  bool seen_request_line = false;
  bool seen_host = false;
  bool close = false, keep_alive = false;
  size_t at = 0;
  for (;;) {
    std::string_view line;
    size_t next = 0;
    Line got = next_line(in, at, line, next);
    if (got == Line::kBadCr) return error(400, "bare CR in the request head");
    if (got == Line::kNone) {
      if (input.size() < limits.max_head_bytes) return {};
      if (!seen_request_line) return error(414, "request line too long");
      return error(431, "request head too large");
    }
    at = next;
    if (!seen_request_line) {
      // RFC 9112 2.2: empty lines before the request line may be skipped; a
      // few, not a stream of them.
      if (line.empty() && at <= 4) continue;
      HttpParseResult r = request_line(line, limits, head);
      if (r.kind == HttpParse::kError) return r;
      seen_request_line = true;
      continue;
    }
    if (line.empty()) break;  // the end of the head
    if (line[0] == ' ' || line[0] == '\t') return error(400, "obsolete line folding");
    if (++head.header_count > limits.max_headers) return error(431, "too many header fields");
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return error(400, "malformed header field");
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    if (!is_token(name)) return error(400, "malformed header field name");
    if (!is_field_value(value)) return error(400, "malformed header field value");
    value = trim_ows(value);
    if (iequals(name, "host")) {
      if (seen_host) return error(400, "more than one Host field");
      seen_host = true;
    } else if (iequals(name, "content-length")) {
      if (value.empty() || !std::all_of(value.begin(), value.end(), [](char c) { return c == '0'; })) {
        return error(400, "a request body is not accepted");
      }
    } else if (iequals(name, "transfer-encoding")) {
      return error(400, "a request body is not accepted");
    } else if (iequals(name, "connection")) {
      if (has_option(value, "close")) close = true;
      if (has_option(value, "keep-alive")) keep_alive = true;
    }
  }
  if (head.minor_version == 1 && !seen_host) return error(400, "HTTP/1.1 request without Host");
  if (close) {
    head.keep_alive = false;
  } else if (keep_alive) {
    head.keep_alive = true;
  }
  head.head_bytes = at;
  HttpParseResult r;
  r.kind = HttpParse::kComplete;
  r.head = head;
  return r;
}

}  // namespace agent::metrics
