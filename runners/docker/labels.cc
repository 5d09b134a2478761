#include "runners/docker/labels.h"

namespace runners::docker {

std::string label_value(std::string_view value) {
  std::string out(value.substr(0, 63));
  while (!out.empty() && (out.back() == '-' || out.back() == '.' || out.back() == '_')) out.pop_back();
  return out;
}

std::vector<std::pair<std::string, std::string>> kestra_labels(const agent::runner::TaskSpec& spec,
                                                               std::string_view prefix) {
  std::string p(prefix);
  return {
      {p + "namespace", label_value(spec.namespace_)},
      {p + "flow-id", label_value(spec.flow_id)},
      {p + "task-id", label_value(spec.task_id)},
      {p + "execution-id", label_value(spec.execution_id)},
      {p + "taskrun-id", label_value(spec.task_run_id)},
      {p + "taskrun-attempt", std::to_string(spec.attempt)},
  };
}

}  // namespace runners::docker
