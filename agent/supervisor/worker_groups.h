// The worker groups this agent serves (config `workerGroups`): each has its
// own queue and its own share of the host, the tasks it runs at once and the
// CPUs, memory and GPUs it hands out. A task's workerGroup.key routes it; a
// task with none runs in the default group. A key the agent does not serve
// gets a group of its own that never runs anything: its tasks wait there
// (fallback WAIT) until an agent started with that group takes them up.
// Loop thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/common/result.h"
#include "agent/config/config.h"
#include "agent/runner/registry.h"
#include "agent/runner/resources.h"

namespace agent {

struct Execution;

struct WorkerGroup {
  std::string key;
  bool served = true;           // false: tasks wait here for a key not served
  int max_running = 0;
  size_t max_queued = 0;
  int64_t millicpus = 0;        // capacity; 0: not counted
  int64_t memory_bytes = 0;     // capacity; 0: not counted
  std::vector<std::string> gpus;
  int gpus_per_task = 0;        // given to a task that asks for none
  std::string task_runner;      // canonical; empty: the agent's defaultRunner
  std::vector<std::string> runners;  // canonical; empty: any

  std::deque<Execution*> queue;  // executions whose next task waits here
  int running = 0;
  int64_t millicpus_used = 0;
  int64_t memory_used = 0;
  std::vector<bool> gpu_busy;    // by index in `gpus`
  uint64_t started = 0;
  int64_t next_back = 0;    // queue tickets: the queue is in ticket order
  int64_t next_front = -1;

  int gpus_free() const;
  // What a task asks of this group: `req`, or gpusPerTask GPUs if it asks none.
  runner::ResourceRequest effective(runner::ResourceRequest req) const;
  void push(Execution& exec, bool front);
  void erase(Execution& exec);
  // 1 for the next to start; found by ticket in O(log n), so that listing
  // thousands of queued executions stays cheap.
  size_t position_of(const Execution& exec) const;
};

class WorkerGroups {
 public:
  // Builds the groups from the configuration; runner names are resolved to
  // their canonical types, and a GPU may belong to one group only.
  Status configure(const AgentConfig& config, const runner::Registry& registry);

  WorkerGroup* find(std::string_view key);
  const WorkerGroup* find(std::string_view key) const;
  // The group of a task whose workerGroup.key is `key` (empty: the default).
  // Null when the agent does not serve it.
  WorkerGroup* route(std::string_view key);
  // Where tasks wait for a key this agent does not serve.
  WorkerGroup& unserved(const std::string& key);
  const std::vector<std::unique_ptr<WorkerGroup>>& all() const { return groups_; }
  std::string served_keys() const;  // "default, gpu"
  size_t queued() const;

  // The runner type of a task: its own, else its group's, else the agent's.
  std::string runner_type(std::string_view task_runner_type, std::string_view group_key) const;

  // An error when `req` could never be granted by `g` (more than it has, a
  // GPU it does not have); `path` is where the request was written.
  Status check_capacity(const WorkerGroup& g, const runner::ResourceRequest& req,
                        const std::string& path) const;
  // Whether `g` can grant `req` now (a slot, and what it asks).
  bool fits_now(const WorkerGroup& g, const runner::ResourceRequest& req) const;
  // Takes a slot and what `req` asks; GPUs are picked from the free ones.
  runner::ResourceGrant take(WorkerGroup& g, const runner::ResourceRequest& req);
  void give_back(WorkerGroup& g, const runner::ResourceGrant& grant);

 private:
  std::vector<std::unique_ptr<WorkerGroup>> groups_;  // served ones first, in config order
  std::string default_key_;
  std::string default_runner_;
};

}  // namespace agent
