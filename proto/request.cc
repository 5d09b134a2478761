#include "proto/request.h"

namespace proto {

DecodeResult decode_request(simdjson::dom::parser& parser, std::string_view line) {
  DecodeResult r;
  r.request.id_json = "null";
  simdjson::dom::element doc;
  auto err = parser.parse(line.data(), line.size(), true).get(doc);
  if (err != simdjson::SUCCESS) {
    r.code = "parse_error";
    r.message = std::string("request is not valid JSON: ") + simdjson::error_message(err);
    return r;
  }
  if (doc.get_object().get(r.request.body) != simdjson::SUCCESS) {
    r.code = "invalid_request";
    r.message = "a request must be a JSON object";
    return r;
  }
  simdjson::dom::element id;
  if (r.request.body["id"].get(id) != simdjson::SUCCESS) {
    r.code = "invalid_request";
    r.message = "required property missing";
    r.path = "id";
    return r;
  }
  if (!id.is_string() && !id.is_int64() && !id.is_uint64()) {
    r.code = "invalid_request";
    r.message = "id must be a string or an integer";
    r.path = "id";
    return r;
  }
  r.request.id_json = simdjson::minify(id);
  std::string_view op;
  simdjson::dom::element ope;
  if (r.request.body["op"].get(ope) != simdjson::SUCCESS) {
    r.code = "invalid_request";
    r.message = "required property missing";
    r.path = "op";
    return r;
  }
  if (ope.get_string().get(op) != simdjson::SUCCESS) {
    r.code = "invalid_request";
    r.message = "op must be a string";
    r.path = "op";
    return r;
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
