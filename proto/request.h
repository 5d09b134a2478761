// Decoding of request envelopes: {"id": <string|integer>, "op": "<name>", ...}.
#pragma once

#include <simdjson.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "agent/common/result.h"

namespace proto {

inline constexpr int kVersion = 1;

struct Request {
  std::string id_json;  // the id as JSON text, echoed verbatim ("null" if unreadable)
  std::string op;
  simdjson::dom::object body;  // valid until the parser parses again
};

// Parses one request line. On failure `code` is parse_error or invalid_request
// and `request.id_json` is the id if it could be read, else "null".
struct DecodeResult {
  bool ok = false;
  Request request;
  std::string code;     // when !ok
  std::string message;  // when !ok
  std::string path;     // when !ok
};
DecodeResult decode_request(simdjson::dom::parser& parser, std::string_view line);

// Checks that `body` has only the envelope keys and `allowed`.
agent::Status check_keys(simdjson::dom::object body, std::initializer_list<std::string_view> allowed);

}  // namespace proto
