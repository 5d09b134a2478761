#include "agent/http/request.h"

#include <strings.h>

namespace agent::http {

namespace {

constexpr size_t kExcerptMax = 200;

// The body on one line: whitespace runs collapsed, control bytes dropped, cut
// at kExcerptMax bytes.
std::string excerpt(std::string_view body) {
  std::string out;
  bool space = false;
  for (char c : body) {
    if (out.size() >= kExcerptMax) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (u < 0x20 || u == 0x7f) continue;
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

Errc errc_from_status(long status) {
  switch (status) {
    case 404: return Errc::kNotFound;
    case 401:
    case 403: return Errc::kPermissionDenied;
    case 429:
    case 502:
    case 503:
    case 504: return Errc::kUnavailable;
    default: break;
  }
  if (status >= 400 && status < 500) return Errc::kInvalidArgument;
  return Errc::kInternal;
}

}  // namespace

const std::string* Response::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n.size() == name.size() && ::strncasecmp(n.data(), name.data(), n.size()) == 0) {
      return &v;
    }
  }
  return nullptr;
}

Error error_from_http(const Response& response, std::string_view what) {
  std::string msg(what);
  msg += ": HTTP ";
  msg += std::to_string(response.status);
  std::string body = excerpt(response.body);
  if (!body.empty()) {
    msg += ": ";
    msg += body;
  }
  return Error(errc_from_status(response.status), std::move(msg));
}

}  // namespace agent::http
