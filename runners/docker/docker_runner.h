// io.kestra.plugin.scripts.runner.docker.Docker: each task attempt is a
// container made through the Docker Engine API on a Unix socket (Docker, or
// podman's Docker-compatible service). Kestra's sequence (reference §3.2):
// resume by labels, pull by policy (retried with backoff), create, copy the
// working directory in (VOLUME) or bind-mount it (MOUNT), start, follow the
// multiplexed logs and wait, copy the working directory back, remove.
#pragma once

#include <memory>

#include "agent/runner/registry.h"

namespace runners::docker {

class Factory final : public agent::runner::RunnerFactory {
 public:
  std::string_view type() const override { return "io.kestra.plugin.scripts.runner.docker.Docker"; }
  std::vector<std::string_view> aliases() const override {
    return {"io.kestra.plugin.scripts.runner.docker.DockerTaskRunner",
            "io.kestra.core.models.script.types.DockerTaskRunner"};
  }
  agent::Result<std::unique_ptr<agent::runner::Runner>> create(
      agent::runner::RunnerContext& ctx) override;
};

}  // namespace runners::docker
