#include "agent/supervisor/worker_groups.h"

#include <algorithm>
#include <map>

#include "agent/common/time.h"
#include "agent/supervisor/execution.h"

namespace agent {

int WorkerGroup::gpus_free() const {
  return static_cast<int>(std::count(gpu_busy.begin(), gpu_busy.end(), false));
}

runner::ResourceRequest WorkerGroup::effective(runner::ResourceRequest req) const {
  if (req.gpus == 0 && req.gpu_ids.empty()) req.gpus = gpus_per_task;
  return req;
}

void WorkerGroup::push(Execution& exec, bool front) {
  exec.queued = true;
  exec.queued_in = this;
  exec.queued_since_ms = now_ms();
  if (front) {
    exec.queue_ticket = next_front--;
    queue.push_front(&exec);
  } else {
    exec.queue_ticket = next_back++;
    queue.push_back(&exec);
  }
}

void WorkerGroup::erase(Execution& exec) {
  auto it = std::lower_bound(queue.begin(), queue.end(), exec.queue_ticket,
                             [](const Execution* e, int64_t t) { return e->queue_ticket < t; });
  if (it != queue.end() && *it == &exec) queue.erase(it);
  exec.queued = false;
  exec.queued_in = nullptr;
}

size_t WorkerGroup::position_of(const Execution& exec) const {
  auto it = std::lower_bound(queue.begin(), queue.end(), exec.queue_ticket,
                             [](const Execution* e, int64_t t) { return e->queue_ticket < t; });
  return static_cast<size_t>(it - queue.begin()) + 1;
}

namespace {

Result<std::string> canonical_runner(const runner::Registry& registry, const std::string& type,
                                     const std::string& path) {
  runner::Lookup found = registry.find(type);
  if (found.canonical.empty()) {
    std::string available;
    for (const auto& t : registry.types()) available += (available.empty() ? "" : ", ") + t;
    return Error(Errc::kInvalidArgument, "unknown task runner '" + type + "' (available: " + available + ")",
                 path);
  }
  return std::string(found.canonical);
}

std::string cpus_text(int64_t millicpus) {
  std::string s = std::to_string(millicpus / 1000);
  if (millicpus % 1000 != 0) {
    std::string frac = std::to_string(1000 + millicpus % 1000).substr(1);
    while (frac.back() == '0') frac.pop_back();
    s += "." + frac;
  }
  return s;
}

std::string mib_text(int64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

Status WorkerGroups::configure(const AgentConfig& config, const runner::Registry& registry) {
  groups_.clear();
  default_key_ = config.default_worker_group;
  default_runner_ = config.default_runner;
  std::map<std::string, std::string> gpu_owner;
  bool has_default = false;
  for (size_t i = 0; i < config.worker_groups.size(); i++) {
    const WorkerGroupConfig& c = config.worker_groups[i];
    std::string path = "workerGroups[" + std::to_string(i) + "]";
    auto g = std::make_unique<WorkerGroup>();
    g->key = c.key;
    g->max_running = c.max_running > 0 ? c.max_running : config.max_running;
    g->max_queued = c.max_queued > 0 ? c.max_queued : config.max_queued;
    g->millicpus = c.millicpus;
    g->memory_bytes = c.memory_bytes;
    g->gpus = c.gpus;
    g->gpu_busy.assign(c.gpus.size(), false);
    g->gpus_per_task = c.gpus_per_task;
    for (size_t j = 0; j < c.gpus.size(); j++) {
      auto [it, fresh] = gpu_owner.emplace(c.gpus[j], c.key);
      if (!fresh) {
        return Error(Errc::kInvalidArgument,
                     "GPU '" + c.gpus[j] + "' is already handed out by worker group '" + it->second +
                         "'; a GPU belongs to one group",
                     path + ".gpus[" + std::to_string(j) + "]");
      }
    }
    if (!c.task_runner.empty()) {
      AGENT_ASSIGN_OR_RETURN(g->task_runner, canonical_runner(registry, c.task_runner, path + ".taskRunner"));
    }
    for (size_t j = 0; j < c.runners.size(); j++) {
      AGENT_ASSIGN_OR_RETURN(std::string r, canonical_runner(registry, c.runners[j],
                                                             path + ".runners[" + std::to_string(j) + "]"));
      g->runners.push_back(std::move(r));
    }
    if (!g->runners.empty()) {
      std::string own = g->task_runner.empty() ? std::string(registry.find(default_runner_).canonical)
                                               : g->task_runner;
      if (std::find(g->runners.begin(), g->runners.end(), own) == g->runners.end()) {
        return Error(Errc::kInvalidArgument,
                     "the group's default runner '" + own + "' is not among its runners",
                     path + (g->task_runner.empty() ? ".runners" : ".taskRunner"));
      }
    }
    has_default = has_default || c.key == default_key_;
    groups_.push_back(std::move(g));
  }
  if (!has_default) {
    // The default group is always served; declared or not, it takes the
    // agent's own maxRunning and maxQueued.
    auto g = std::make_unique<WorkerGroup>();
    g->key = default_key_;
    g->max_running = config.max_running;
    g->max_queued = config.max_queued;
    groups_.insert(groups_.begin(), std::move(g));
  }
  return {};
}

WorkerGroup* WorkerGroups::find(std::string_view key) {
  for (auto& g : groups_) {
    if (g->key == key) return g.get();
  }
  return nullptr;
}

const WorkerGroup* WorkerGroups::find(std::string_view key) const {
  for (const auto& g : groups_) {
    if (g->key == key) return g.get();
  }
  return nullptr;
}

WorkerGroup* WorkerGroups::route(std::string_view key) {
  WorkerGroup* g = find(key.empty() ? std::string_view(default_key_) : key);
  return g != nullptr && g->served ? g : nullptr;
}

WorkerGroup& WorkerGroups::unserved(const std::string& key) {
  if (WorkerGroup* g = find(key)) return *g;
  auto g = std::make_unique<WorkerGroup>();
  g->key = key;
  g->served = false;
  groups_.push_back(std::move(g));
  return *groups_.back();
}

std::string WorkerGroups::served_keys() const {
  std::string out;
  for (const auto& g : groups_) {
    if (g->served) out += (out.empty() ? "" : ", ") + g->key;
  }
  return out;
}

size_t WorkerGroups::queued() const {
  size_t n = 0;
  for (const auto& g : groups_) n += g->queue.size();
  return n;
}

std::string WorkerGroups::runner_type(std::string_view task_runner_type, std::string_view group_key) const {
  if (!task_runner_type.empty()) return std::string(task_runner_type);
  const WorkerGroup* g = find(group_key.empty() ? std::string_view(default_key_) : group_key);
  if (g != nullptr && !g->task_runner.empty()) return g->task_runner;
  return default_runner_;
}

Status WorkerGroups::check_capacity(const WorkerGroup& g, const runner::ResourceRequest& req,
                                    const std::string& path) const {
  std::string group = "worker group '" + g.key + "'";
  if (g.millicpus > 0 && req.millicpus > g.millicpus) {
    return Error(Errc::kInvalidArgument,
                 "asks " + cpus_text(req.millicpus) + " CPUs; " + group + " hands out " +
                     cpus_text(g.millicpus) + " in all",
                 path);
  }
  if (g.memory_bytes > 0 && req.memory_bytes > g.memory_bytes) {
    return Error(Errc::kInvalidArgument,
                 "asks " + mib_text(req.memory_bytes) + " of memory; " + group + " hands out " +
                     mib_text(g.memory_bytes) + " in all",
                 path);
  }
  if (req.gpus != 0 && g.gpus.empty()) {
    return Error(Errc::kInvalidArgument, "asks for GPUs; " + group + " has none (workerGroups[].gpus)", path);
  }
  if (req.gpus > 0 && static_cast<size_t>(req.gpus) > g.gpus.size()) {
    return Error(Errc::kInvalidArgument,
                 "asks " + std::to_string(req.gpus) + " GPUs; " + group + " has " +
                     std::to_string(g.gpus.size()),
                 path);
  }
  for (const auto& id : req.gpu_ids) {
    if (std::find(g.gpus.begin(), g.gpus.end(), id) == g.gpus.end()) {
      std::string have;
      for (const auto& x : g.gpus) have += (have.empty() ? "" : ", ") + x;
      return Error(Errc::kInvalidArgument,
                   "asks for GPU '" + id + "'; " + group + " has " + (have.empty() ? "none" : have), path);
    }
  }
  return {};
}

bool WorkerGroups::fits_now(const WorkerGroup& g, const runner::ResourceRequest& req) const {
  if (!g.served || g.running >= g.max_running) return false;
  if (g.millicpus > 0 && g.millicpus_used + req.millicpus > g.millicpus) return false;
  if (g.memory_bytes > 0 && g.memory_used + req.memory_bytes > g.memory_bytes) return false;
  if (req.gpus < 0) return g.gpus_free() == static_cast<int>(g.gpus.size());
  if (g.gpus_free() < req.gpus) return false;
  for (const auto& id : req.gpu_ids) {
    auto it = std::find(g.gpus.begin(), g.gpus.end(), id);
    if (it == g.gpus.end() || g.gpu_busy[static_cast<size_t>(it - g.gpus.begin())]) return false;
  }
  return true;
}

runner::ResourceGrant WorkerGroups::take(WorkerGroup& g, const runner::ResourceRequest& req) {
  runner::ResourceGrant grant;
  grant.millicpus = req.millicpus;
  grant.memory_bytes = req.memory_bytes;
  grant.pids = req.pids;
  g.running++;
  g.started++;
  if (g.millicpus > 0) g.millicpus_used += req.millicpus;
  if (g.memory_bytes > 0) g.memory_used += req.memory_bytes;
  for (const auto& id : req.gpu_ids) {
    size_t i = static_cast<size_t>(std::find(g.gpus.begin(), g.gpus.end(), id) - g.gpus.begin());
    g.gpu_busy[i] = true;
    grant.gpu_ids.push_back(id);
  }
  int want = req.gpus < 0 ? static_cast<int>(g.gpus.size()) : req.gpus;
  for (size_t i = 0; i < g.gpus.size() && static_cast<int>(grant.gpu_ids.size()) < want; i++) {
    if (!g.gpu_busy[i]) {
      g.gpu_busy[i] = true;
      grant.gpu_ids.push_back(g.gpus[i]);
    }
  }
  return grant;
}

void WorkerGroups::give_back(WorkerGroup& g, const runner::ResourceGrant& grant) {
  g.running--;
  if (g.millicpus > 0) g.millicpus_used -= grant.millicpus;
  if (g.memory_bytes > 0) g.memory_used -= grant.memory_bytes;
  for (const auto& id : grant.gpu_ids) {
    auto it = std::find(g.gpus.begin(), g.gpus.end(), id);
    if (it != g.gpus.end()) g.gpu_busy[static_cast<size_t>(it - g.gpus.begin())] = false;
  }
}

}  // namespace agent
