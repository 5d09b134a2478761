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
#include "agent/runner/resources.h"

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

// `deviceRequests` read for its GPUs: an entry whose capabilities include
// "gpu", or whose driver is "nvidia", asks for GPUs, by `count` (-1: all) or
// by `deviceIds` (not both in one entry, as Docker has it). Keys match in any
// case, as the engine reads them. Errors name the entry
// ("deviceRequests[0].count").
struct DeviceRequests {
  std::vector<std::string> others;  // the entries that are not GPU requests, as written (JSON)
  bool gpu = false;                 // some entry asks for GPUs
  std::string gpu_driver;           // the first GPU entry's driver, as written ("" when none)
  int gpu_count = 0;                // -1: all of them
  std::vector<std::string> gpu_ids;
};
agent::Result<DeviceRequests> read_device_requests(std::string_view device_requests_json);

// What a task with these options asks of its host (Runner::requests):
// cpu.cpus as millicpus, memory.memory, and the GPUs of deviceRequests.
agent::Result<agent::runner::ResourceRequest> resource_request(const Options& options);

}  // namespace runners::docker
