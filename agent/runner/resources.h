// What a task asks of its host (CPU, memory, processes, GPUs) and what the
// supervisor gave it. The supervisor admits each request against the task's
// worker group (agent/supervisor/worker_groups.h); the runner enforces the
// grant: the Process runner through the task's cgroup (cpu.max, memory.max,
// pids.max), the Docker runner through HostConfig (NanoCpus, Memory,
// PidsLimit, DeviceRequests).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace agent::runner {

struct ResourceRequest {
  int64_t millicpus = 0;     // 1000 = one CPU; 0: not asked
  int64_t memory_bytes = 0;  // 0: not asked
  int64_t pids = 0;          // 0: not asked (Process runner only)
  int gpus = 0;              // how many GPUs, any of the group's; -1: all of them
  std::vector<std::string> gpu_ids;  // or these GPUs by id

  bool empty() const {
    return millicpus == 0 && memory_bytes == 0 && pids == 0 && gpus == 0 && gpu_ids.empty();
  }
};

// What the task was given: its request, with the GPUs assigned to it
// exclusively (exported as CUDA_VISIBLE_DEVICES and NVIDIA_VISIBLE_DEVICES).
struct ResourceGrant {
  int64_t millicpus = 0;
  int64_t memory_bytes = 0;
  int64_t pids = 0;
  std::vector<std::string> gpu_ids;
};

}  // namespace agent::runner
