// io.kestra.plugin.core.runner.Process: a task is a child process of the agent.
// Kestra's runner has no properties besides `type`; runnerd adds one,
// `resources` (resources.h), enforced through the task's cgroup (task_limits.h).
#pragma once

#include <memory>

#include "agent/runner/registry.h"

namespace runners::process {

class Factory final : public agent::runner::RunnerFactory {
 public:
  std::string_view type() const override { return "io.kestra.plugin.core.runner.Process"; }
  std::vector<std::string_view> aliases() const override {
    return {"io.kestra.core.models.script.types.ProcessTaskRunner",
            "io.kestra.core.models.tasks.runners.types.ProcessTaskRunner",
            "io.kestra.plugin.core.runner.ProcessTaskRunner"};
  }
  agent::Result<std::unique_ptr<agent::runner::Runner>> create(
      agent::runner::RunnerContext& ctx) override;
};

}  // namespace runners::process
