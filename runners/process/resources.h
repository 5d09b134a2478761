// The Process runner's one property besides `type`, a runnerd extension
// (Kestra's Process runner has none):
//
//   taskRunner:
//     type: io.kestra.plugin.core.runner.Process
//     resources:
//       cpus: 1.5        # number or numeric string, > 0 (at least 0.01) and <= 1024
//       memory: 512MiB   # bytes, or KB/MB/GB (1000s) or KiB/MiB/GiB (1024s); >= 1 MiB
//       pids: 200        # >= 1
//       gpus: 1          # how many of the worker group's GPUs (-1: all); or
//       gpuIds: ["0"]    # these GPUs by id (not both)
//
// Errors carry the property path relative to the taskRunner object
// ("resources.cpu: unknown property; did you mean 'cpus'?"). Pure.
#pragma once

#include <string_view>

#include "agent/common/result.h"
#include "agent/runner/resources.h"

namespace runners::process {

agent::Result<agent::runner::ResourceRequest> parse_process_runner(std::string_view runner_json);

}  // namespace runners::process
