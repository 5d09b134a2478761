// The Docker runner's properties (the task's taskRunner object), parsed and
// checked at submission: Kestra's names, defaults and value forms (reference
// §3.2). Errors name the property ("memory.memory: invalid size '12XB' ...").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/common/result.h"

namespace runners::docker {

enum class PullPolicy { kIfNotPresent, kAlways, kNever };
enum class FileHandling { kVolume, kMount };

struct Options {
  std::string host;  // "unix:///path" or a path; empty: the agent's default
  PullPolicy pull_policy = PullPolicy::kIfNotPresent;
  std::string image;  // legacy `image` (docker.image); the task's containerImage otherwise
  std::string user;
  std::optional<std::vector<std::string>> entry_point;  // unset: [""] (no ENTRYPOINT)
  std::vector<std::string> extra_hosts;
  std::string network_mode;
  std::vector<std::string> port_bindings;
  std::vector<std::string> volumes;
  std::string device_requests_json;  // HostConfig.DeviceRequests, as written
  std::string credentials_json;      // for X-Registry-Auth
  std::string config_json;
  std::optional<double> cpus;
  std::optional<int64_t> memory, memory_swap, memory_reservation, kernel_memory;
  std::optional<int64_t> memory_swappiness;
  std::optional<bool> oom_kill_disable;
  std::optional<int64_t> shm_size;
  bool privileged = false;
  FileHandling file_handling = FileHandling::kVolume;
  bool delete_ = true;
  bool wait = true;
  std::chrono::milliseconds kill_grace{0};
  bool resume = true;
};

agent::Result<Options> parse_options(std::string_view runner_json);

}  // namespace runners::docker
