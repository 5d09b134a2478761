#include "proto/request.h"

namespace proto {

DecodeResult decode_request(simdjson::dom::parser& parser, std::string_view line) {
  DecodeResult r;
  r.request.id_json = "null";
  auto fail = [&r](const char* code, std::string message, const char* path) {
    r.code = code;
    r.message = std::move(message);
    r.path = path;
    return r;
  };
  simdjson::dom::element doc;
  auto err = parser.parse(line.data(), line.size(), true).get(doc);
  if (err != simdjson::SUCCESS) {
    return fail("parse_error", std::string("request is not valid JSON: ") + simdjson::error_message(err), "");
  }
  if (doc.get_object().get(r.request.body) != simdjson::SUCCESS) {
    return fail("invalid_request", "a request must be a JSON object", "");
  }
  simdjson::dom::element id;
  if (r.request.body["id"].get(id) != simdjson::SUCCESS) {
    return fail("invalid_request", "required property missing", "id");
  }
  if (!id.is_string() && !id.is_int64() && !id.is_uint64()) {
    return fail("invalid_request", "id must be a string or an integer", "id");
  }
  r.request.id_json = simdjson::minify(id);
  std::string_view op;
  simdjson::dom::element ope;
  if (r.request.body["op"].get(ope) != simdjson::SUCCESS) {
    return fail("invalid_request", "required property missing", "op");
  }
  if (ope.get_string().get(op) != simdjson::SUCCESS) {
    return fail("invalid_request", "op must be a string", "op");
  }
  r.request.op = std::string(op);
  r.ok = true;
  return r;
}

agent::Status check_keys(simdjson::dom::object body, std::initializer_list<std::string_view> allowed) {
  for (auto field : body) {
    if (field.key == "id" || field.key == "op") continue;
    bool ok = false;
    for (std::string_view a : allowed) ok = ok || a == field.key;
    if (!ok) {
      return agent::Error(agent::Errc::kInvalidArgument, "unknown property", std::string(field.key));
    }
  }
  return {};
}

}  // namespace proto
