// Submissions of one definition share one compiled flow.
//
// A client that submits the same flow thousands of times (a trigger, a
// backfill, a benchmark) would otherwise have it compiled again for each
// execution, and each execution would hold a copy: about 1.5 KiB of a
// sleeping task's 8 (task definitions, property specs, command lists), and
// the compile itself on the loop at every submit. Flows are immutable once
// compiled (executions hold them as shared_ptr<const Flow>), so sharing one
// changes nothing an execution sees.
// Threading: loop thread only.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "agent/flow/flow.h"

namespace agent::server {

class FlowCache {
 public:
  // The flow compiled from `key` if an execution still holds it, else null.
  // `key` names everything the compile read: the definition's JSON and, for
  // a single task, its namespace.
  std::shared_ptr<const flow::Flow> find(const std::string& key) const;
  void put(std::string key, const std::shared_ptr<const flow::Flow>& flow);
  size_t size() const { return entries_.size(); }

 private:
  // Weak: a flow lives as long as its executions, not as long as the cache.
  std::unordered_map<std::string, std::weak_ptr<const flow::Flow>> entries_;
  size_t sweep_at_ = kMinSweep;  // entries_ size at which expired ones are dropped
  static constexpr size_t kMinSweep = 64;
};

}  // namespace agent::server
