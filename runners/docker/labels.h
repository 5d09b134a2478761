// The labels of a task's container (Kestra's ScriptService.labels): namespace,
// flow-id, task-id, execution-id, taskrun-id, taskrun-attempt under a prefix
// (`kestra.io/` for Docker and Kubernetes), each value cut to 63 characters
// with trailing '-', '.' and '_' removed. A restarted agent finds its
// containers again by these labels.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/runner/runner.h"

namespace runners::docker {

std::string label_value(std::string_view value);
std::vector<std::pair<std::string, std::string>> kestra_labels(const agent::runner::TaskSpec& spec,
                                                               std::string_view prefix);

}  // namespace runners::docker
