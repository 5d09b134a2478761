// The records of the state database (agent/state/state_db.h): an execution
// and each of its task runs as JSON text, in the protocol's encoding (so a
// stored record reads as the `get` answer it came from).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/common/result.h"
#include "agent/supervisor/execution.h"

namespace agent::store {

// `final_state`: the state the record stores (the execution's own until then).
std::string encode_record(const Execution& exec, State final_state);
Result<std::unique_ptr<Execution>> decode_record(std::string_view json);
// An execution's row, without its task runs (they have rows of their own).
std::string encode_execution_row(const Execution& exec, State state);
std::string encode_run_row(const Execution& exec, const TaskRun& run);
Result<std::unique_ptr<TaskRun>> decode_run(std::string_view json);

// The submission as the agent received it, to compile it again after a restart:
// {"definition": <flow or task JSON>, "singleTask": bool, "namespace": "...",
//  "inputs": {...resolved...}, "secrets": ["...", ...]}.
std::string encode_source(const Execution& exec, std::string_view definition_json,
                          bool single_task, std::string_view namespace_);

}  // namespace agent::store
