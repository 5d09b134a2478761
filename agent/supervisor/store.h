// Final executions are kept as one JSON record each under
// <state>/executions/<id>.json (written atomically), so that `get`, `logs`
// and `outputs` answer after a restart. Durable state for every transition
// (SQLite, WAL) replaces this with the crash-recovery work.
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
// Loads every record in `dir`; unreadable ones are reported in `errors`.
std::vector<std::unique_ptr<Execution>> load_all(const std::string& dir,
                                                 std::vector<std::string>& errors);

}  // namespace agent::store
