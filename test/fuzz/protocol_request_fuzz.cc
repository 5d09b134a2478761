// The protocol's request decoder (proto/request.h) on any line a client may
// send: never crashes, and what it accepts is a request with an op and an id
// that is itself JSON.
#include <simdjson.h>

#include "proto/request.h"
#include "test/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static simdjson::dom::parser parser;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  proto::DecodeResult r = proto::decode_request(parser, line);
  simdjson::dom::parser check;
  simdjson::dom::element id;
  if (check.parse(r.request.id_json).get(id) != simdjson::SUCCESS) fuzz::fail("id_json is not JSON");
  if (r.ok) {
    if (r.request.op.empty()) fuzz::fail("a request without an op was accepted");
  } else if (r.code != "parse_error" && r.code != "invalid_request") {
    fuzz::fail("unknown error code");
  }
  return 0;
}
