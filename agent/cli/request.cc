#include "agent/cli/request.h"

#include <algorithm>
#include <cctype>

#include "agent/common/base64.h"
#include "agent/json/writer.h"

namespace agent::cli {

namespace {

json::Writer& begin(json::Writer& w, int64_t id, std::string_view op) {
  return w.begin_object().kv("id", id).kv("op", op);
}

Errc errc_from_code(std::string_view code) {
  if (code == "not_found") return Errc::kNotFound;
  if (code == "invalid_argument" || code == "invalid_request" || code == "parse_error" ||
      code == "unknown_op" || code == "unsupported_version") {
    return Errc::kInvalidArgument;
  }
  if (code == "resource_exhausted" || code == "oversize" || code == "slow_consumer") {
    return Errc::kResourceExhausted;
  }
  if (code == "unavailable") return Errc::kUnavailable;
  return Errc::kInternal;
}

}  // namespace

std::string hello_request(int64_t id) {
  std::string out;
  json::Writer w(out);
  begin(w, id, "hello").key("versions").begin_array().number(kProtocolVersion).end_array();
  w.kv("client", "runnerctl " RUNNERD_VERSION).end_object();
  return out;
}

std::string submit_request(int64_t id, std::string_view kind, std::string_view doc_json,
                           std::string_view namespace_, std::string_view inputs_json) {
  std::string out;
  json::Writer w(out);
  begin(w, id, "submit").key(kind).raw(doc_json);
  if (kind == "task" && !namespace_.empty()) w.kv("namespace", namespace_);
  if (!inputs_json.empty()) w.key("inputs").raw(inputs_json);
  w.end_object();
  return out;
}

Result<std::string> inputs_object(const std::vector<std::string>& specs,
                                  const std::function<Result<std::string>(const std::string&)>& read_file) {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  std::vector<std::string> seen;
  for (const auto& spec : specs) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Error(Errc::kInvalidArgument, "--input expects NAME=VALUE or NAME=@PATH, not '" + spec + "'");
    }
    std::string name = spec.substr(0, eq);
    std::string value = spec.substr(eq + 1);
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      return Error(Errc::kInvalidArgument, "--input " + name + " is given twice");
    }
    seen.push_back(name);
    w.key(name);
    if (value.size() > 1 && value[0] == '@') {
      std::string path = value.substr(1);
      AGENT_ASSIGN_OR_RETURN(std::string bytes, read_file(path));
      std::string filename = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
      w.begin_object().kv("filename", filename).kv("contentBase64", base64_encode(bytes)).end_object();
    } else {
      w.string(value);
    }
  }
  w.end_object();
  return out;
}

std::string read_file_request(int64_t id, std::string_view uri, int64_t offset, int64_t length) {
  std::string out;
  json::Writer w(out);
  begin(w, id, "readFile").kv("uri", uri).kv("offset", offset).kv("length", length).end_object();
  return out;
}

std::string execution_request(int64_t id, std::string_view op, std::string_view execution_id) {
  std::string out;
  json::Writer w(out);
  begin(w, id, op).kv("executionId", execution_id).end_object();
  return out;
}

std::string logs_request(int64_t id, std::string_view execution_id, bool follow,
                         std::string_view task_run_id, std::optional<int64_t> from) {
  std::string out;
  json::Writer w(out);
  begin(w, id, "logs").kv("executionId", execution_id);
  if (!task_run_id.empty()) w.kv("taskRunId", task_run_id);
  if (from) w.kv("from", *from);
  if (follow) w.kv_bool("follow", true);
  w.end_object();
  return out;
}

std::string list_request(int64_t id, std::optional<int64_t> limit, std::string_view state) {
  std::string out;
  json::Writer w(out);
  begin(w, id, "list");
  if (limit) w.kv("limit", *limit);
  if (!state.empty()) {
    std::string upper(state);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    w.kv("state", upper);
  }
  w.end_object();
  return out;
}

std::string stats_request(int64_t id, bool prometheus) {
  std::string out;
  json::Writer w(out);
  begin(w, id, "stats");
  if (prometheus) w.kv("format", "prometheus");
  w.end_object();
  return out;
}

Result<std::string> document_kind(json::Element doc, std::string_view source) {
  json::Object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return Error(Errc::kInvalidArgument, std::string(source) +
                                             ": expected a flow (an object "
                                             "with 'tasks') or a task (an object with "
                                             "'type'), found " +
                                             std::string(json::type_name(doc)));
  }
  json::Element unused;
  if (obj["tasks"].get(unused) == simdjson::SUCCESS) return std::string("flow");
  if (obj["type"].get(unused) == simdjson::SUCCESS) return std::string("task");
  return Error(Errc::kInvalidArgument,
               std::string(source) + ": neither a flow (no 'tasks') nor a task (no 'type')");
}

std::string_view string_field(json::Element e, std::string_view key) {
  std::string_view s;
  if (e[key].get_string().get(s) != simdjson::SUCCESS) return {};
  return s;
}

bool bool_field(json::Element e, std::string_view key) {
  bool b = false;
  if (e[key].get_bool().get(b) != simdjson::SUCCESS) return false;
  return b;
}

Error protocol_error(json::Element error) {
  std::string_view code = string_field(error, "code");
  std::string_view message = string_field(error, "message");
  std::string_view path = string_field(error, "path");
  std::string msg(message);
  if (msg.empty()) msg = code.empty() ? "the agent sent an error" : std::string(code);
  if (code == "unsupported_version") msg += " (runnerctl and runnerd versions differ)";
  return Error(errc_from_code(code), std::move(msg), std::string(path));
}

}  // namespace agent::cli
