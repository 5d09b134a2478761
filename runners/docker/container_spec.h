// The body of POST /containers/create for one task: Kestra's container (same
// working directory path as the agent's, argv as Cmd with no ENTRYPOINT unless
// set, the task's environment, the six kestra.io/* labels) and the runner's
// HostConfig properties. Pure.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "agent/common/result.h"
#include "runners/docker/options.h"

namespace runners::docker {

struct ContainerRequest {
  std::string image;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value": the task's, not the agent's
  std::string working_dir;
  std::vector<std::pair<std::string, std::string>> labels;
  // The GPUs granted to the task (TaskSpec::resources): they replace the GPU
  // entries of deviceRequests with one naming them.
  std::vector<std::string> gpu_ids;
};

// `volumes_enabled`: the agent's configuration allows the `volumes` property
// (Kestra's volume-enabled); otherwise volumes are an error naming the option.
agent::Result<std::string> create_body(const ContainerRequest& request, const Options& options,
                                       bool volumes_enabled);

}  // namespace runners::docker
