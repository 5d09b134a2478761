// The protocol's request decoder (proto/request.h) on any line a client may
// send, with one parser reused across lines as the server reuses its own.
// Checked against a second, independent reading of the same line: a line is
// a parse_error exactly when it is not JSON; it is accepted exactly when it
// is an object whose "id" is a string or an integer and whose "op" is a
// string; what is accepted carries that op and that id, and the id echoed in
// every answer is JSON. check_keys on the envelope alone always passes.
#include <simdjson.h>

#include "proto/request.h"
#include "test/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static simdjson::dom::parser parser;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  proto::DecodeResult r = proto::decode_request(parser, line);

  simdjson::dom::parser check;
  simdjson::dom::element echoed;
  if (check.parse(r.request.id_json).get(echoed) != simdjson::SUCCESS) fuzz::fail("id_json is not JSON");
  if (r.request.id_json != "null" && !echoed.is_string() && !echoed.is_int64() && !echoed.is_uint64()) {
    fuzz::fail("an id that is neither a string nor an integer was echoed");
  }

  simdjson::dom::parser independent;
  simdjson::dom::element doc;
  if (independent.parse(line.data(), line.size(), true).get(doc) != simdjson::SUCCESS) {
    fuzz::check(!r.ok && r.code == "parse_error", "a line that is not JSON was not a parse_error");
    return 0;
  }
  fuzz::check(r.code != "parse_error", "JSON was called a parse_error");
  simdjson::dom::object obj;
  simdjson::dom::element id, op;
  std::string_view op_text;
  bool valid = doc.get_object().get(obj) == simdjson::SUCCESS &&
               obj["id"].get(id) == simdjson::SUCCESS &&
               (id.is_string() || id.is_int64() || id.is_uint64()) &&
               obj["op"].get(op) == simdjson::SUCCESS && op.get_string().get(op_text) == simdjson::SUCCESS;
  if (!valid) {
    fuzz::check(!r.ok && r.code == "invalid_request", "an invalid envelope was not invalid_request");
    fuzz::check(!r.message.empty(), "an error without a message");
    return 0;
  }
  fuzz::check(r.ok, "a valid envelope was refused");
  fuzz::check(r.request.op == op_text, "the op decoded is not the op sent");
  fuzz::check(r.request.id_json == simdjson::minify(id), "the id echoed is not the id sent");
  bool only_envelope = true;
  for (auto field : obj) only_envelope = only_envelope && (field.key == "id" || field.key == "op");
  fuzz::check(proto::check_keys(r.request.body, {}).ok() == only_envelope,
              "check_keys disagrees about the envelope's keys");
  return 0;
}
