#include "runners/builtin.h"

#include "runners/docker/docker_runner.h"
#include "runners/process/process_runner.h"

namespace runners {

agent::Status register_builtin_runners(agent::runner::Registry& registry) {
  // Adding a runner: one folder under runners/ and one line here.
  AGENT_TRY(registry.add(std::make_unique<process::Factory>()));  // io.kestra.plugin.core.runner.Process
  // Containers outlive the agent: a restarted agent follows them again.
  AGENT_TRY(registry.add(std::make_unique<docker::Factory>(), {.reattaches = true}));  // io.kestra.plugin.scripts.runner.docker.Docker
  return {};
}

}  // namespace runners
