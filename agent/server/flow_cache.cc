#include "agent/server/flow_cache.h"

#include <algorithm>

namespace agent::server {

std::shared_ptr<const flow::Flow> FlowCache::find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second.lock();
}

void FlowCache::put(std::string key, const std::shared_ptr<const flow::Flow>& flow) {
  if (entries_.size() >= sweep_at_) {
    // The flows no execution holds any more go; the next sweep comes when
    // the cache has doubled again, so a put costs O(1) amortised.
    std::erase_if(entries_, [](const auto& kv) { return kv.second.expired(); });
    sweep_at_ = std::max(kMinSweep, 2 * entries_.size());
  }
  entries_.insert_or_assign(std::move(key), flow);
}

}  // namespace agent::server
