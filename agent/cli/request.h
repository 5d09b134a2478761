// The request lines runnerctl sends (see proto/PROTOCOL.md) and the reading of
// error responses. Pure: no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>
#include <optional>
#include <string>
#include <string_view>

#include "agent/common/result.h"
#include "agent/json/read.h"

namespace agent::cli {

constexpr int kProtocolVersion = 1;

// Each builder returns one JSON object without the newline.
std::string hello_request(int64_t id);
// The document is a flow ("flow") or a single task ("task"); `doc_json` is its JSON.
// `namespace_` goes with a single task when not empty.
// `inputs_json`, when not empty, is the submit's "inputs" object.
std::string submit_request(int64_t id, std::string_view kind, std::string_view doc_json,
                           std::string_view namespace_, std::string_view inputs_json = {});
// The "inputs" object of `--input NAME=VALUE` options: VALUE as a string, or
// for NAME=@PATH an upload of the file that `read_file` returns.
Result<std::string> inputs_object(const std::vector<std::string>& specs,
                                  const std::function<Result<std::string>(const std::string&)>& read_file);
std::string read_file_request(int64_t id, std::string_view uri, int64_t offset, int64_t length);
// get, cancel, outputs, watch: {"id":..,"op":..,"executionId":..}
std::string execution_request(int64_t id, std::string_view op, std::string_view execution_id);
std::string logs_request(int64_t id, std::string_view execution_id, bool follow,
                         std::string_view task_run_id, std::optional<int64_t> from);
std::string list_request(int64_t id, std::optional<int64_t> limit, std::string_view state);
// `prometheus`: the Prometheus text exposition instead of the JSON counters.
std::string stats_request(int64_t id, bool prometheus = false);

// "flow" if the document has `tasks`, "task" if it has a `type` and no `tasks`;
// otherwise an error naming `source`.
Result<std::string> document_kind(json::Element doc, std::string_view source);

// A string or boolean property of a message; empty / false when absent or of
// another type.
std::string_view string_field(json::Element e, std::string_view key);
bool bool_field(json::Element e, std::string_view key);

// The error of a response's "error" object: its message and path, and the
// closest Errc for its code. A malformed object still gives a readable error.
Error protocol_error(json::Element error);

}  // namespace agent::cli
