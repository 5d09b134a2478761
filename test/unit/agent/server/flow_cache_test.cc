#include "agent/server/flow_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

using agent::flow::Flow;
using agent::server::FlowCache;

std::shared_ptr<const Flow> flow_named(const std::string& id) {
  Flow f;
  f.id = id;
  return std::make_shared<const Flow>(std::move(f));
}

TEST(FlowCache, ASecondSubmitOfOneDefinitionGetsTheSameFlow) {
  FlowCache cache;
  EXPECT_EQ(cache.find("flow {\"id\":\"a\"}"), nullptr);
  auto a = flow_named("a");
  cache.put("flow {\"id\":\"a\"}", a);
  EXPECT_EQ(cache.find("flow {\"id\":\"a\"}"), a);
  EXPECT_EQ(cache.find("flow {\"id\":\"b\"}"), nullptr);
  EXPECT_EQ(cache.find("task default {\"id\":\"a\"}"), nullptr);
}

TEST(FlowCache, AFlowNoExecutionHoldsIsNotKeptAlive) {
  FlowCache cache;
  auto a = flow_named("a");
  std::weak_ptr<const Flow> weak = a;
  cache.put("a", a);
  a.reset();
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(cache.find("a"), nullptr);
}

TEST(FlowCache, ExpiredEntriesAreDroppedAsTheCacheGrows) {
  FlowCache cache;
  std::vector<std::shared_ptr<const Flow>> held;
  for (int i = 0; i < 10000; i++) {
    auto f = flow_named(std::to_string(i));
    cache.put(std::to_string(i), f);
    if (i % 100 == 0) held.push_back(f);  // 1 in 100 still has an execution
  }
  EXPECT_LT(cache.size(), 400u);
  for (const auto& f : held) EXPECT_EQ(cache.find(f->id), f);
}

}  // namespace
