// Encoders for the protocol's objects (see PROTOCOL.md). The same encoding of
// an execution, with outputs, is the record stored under executions/.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/json/writer.h"
#include "agent/logstream/line.h"
#include "agent/supervisor/execution.h"

namespace proto {

struct ExecutionDetail {
  bool outputs = false;  // vars and metrics of each task run
  // The execution's state to write instead of its current one: the final state
  // is stored before it becomes the execution's state.
  std::optional<agent::State> state;
  bool task_runs = true;  // false: the execution alone (the state database's row)
};

void write_task_run(agent::json::Writer& w, const agent::Execution& exec,
                    const agent::TaskRun& run, ExecutionDetail detail);
void write_execution(agent::json::Writer& w, const agent::Execution& exec,
                     ExecutionDetail detail);
// The `outputs` result of one execution.
void write_outputs(agent::json::Writer& w, const agent::Execution& exec);
void write_metrics(agent::json::Writer& w, const agent::logstream::MetricSet& metrics);

// Whole lines, each ending in '\n'. `id_json` is the request id as JSON text.
std::string ok_line(std::string_view id_json, std::string_view result_json);
std::string error_line(std::string_view id_json, std::string_view code, std::string_view message,
                       std::string_view path);
std::string state_event_line(std::string_view id_json, const agent::Execution& exec,
                             const agent::TaskRun* run);
std::string end_event_line(std::string_view id_json, agent::State state);
std::string logs_event_line(std::string_view id_json, const agent::TaskRun& run,
                            const std::vector<agent::logstream::Line>& lines);

}  // namespace proto
