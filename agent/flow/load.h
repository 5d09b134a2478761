// From a submitted flow object to the compiled model: plugin defaults (the
// flow's and the agent's), then validation (every problem at once), then
// compilation. One function, used by the agent at submit and by
// `runnerctl validate`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/common/result.h"
#include "agent/flow/defaults.h"
#include "agent/flow/flow.h"
#include "agent/flow/validate.h"
#include "agent/yaml/line_map.h"

namespace agent::flow {

struct LoadOptions {
  const std::vector<PluginDefault>* global_defaults = nullptr;  // the agent's pluginDefaults
  const yaml::LineMap* lines = nullptr;                         // for line numbers, when known
};

// Every diagnostic (errors and warnings) is appended to `diagnostics` when
// given; the error returned names the first problem, with `path` prefixed
// ("flow.tasks[0].commands").
Result<Flow> load_flow(json::Element flow, std::string_view path, const LoadOptions& options,
                       std::vector<Diagnostic>* diagnostics);

// A single task run as a flow of its own (flow id = task id). Error paths
// start with `path` ("task.commands").
Result<Flow> load_single_task(json::Element task, const std::string& namespace_,
                              std::string_view path, const LoadOptions& options,
                              std::vector<Diagnostic>* diagnostics);

}  // namespace agent::flow
