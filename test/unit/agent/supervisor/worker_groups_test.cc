// WorkerGroups on its own: groups from the configuration, routing, the
// default runner, capacity checks, admission and give-back of CPUs, memory
// and GPU ids, and queue positions.
#include "agent/supervisor/worker_groups.h"

#include <gtest/gtest.h>

#include "agent/supervisor/execution.h"

namespace {

using agent::runner::ResourceRequest;

class FakeRunner final : public agent::runner::Runner {
 public:
  agent::Status validate(std::string_view) const override { return {}; }
  agent::Result<std::unique_ptr<agent::runner::RunnerTask>> start(const agent::runner::TaskSpec&,
                                                                  agent::runner::TaskObserver&) override {
    return agent::Error(agent::Errc::kInvalidArgument, "not here");
  }
  void kill(agent::runner::RunnerTask&, agent::runner::KillMode) override {}
  void set_output_paused(agent::runner::RunnerTask&, bool) override {}
  void release(std::unique_ptr<agent::runner::RunnerTask>) override {}
};

class FakeFactory final : public agent::runner::RunnerFactory {
 public:
  explicit FakeFactory(std::string type, std::vector<std::string_view> aliases = {})
      : type_(std::move(type)), aliases_(std::move(aliases)) {}
  std::string_view type() const override { return type_; }
  std::vector<std::string_view> aliases() const override { return aliases_; }
  agent::Result<std::unique_ptr<agent::runner::Runner>> create(agent::runner::RunnerContext&) override {
    return std::unique_ptr<agent::runner::Runner>(new FakeRunner());
  }

 private:
  std::string type_;
  std::vector<std::string_view> aliases_;
};

struct Fixture {
  agent::runner::Registry registry;
  agent::AgentConfig config;
  Fixture() {
    EXPECT_TRUE(registry.add(std::make_unique<FakeFactory>("x.Process", std::vector<std::string_view>{"x.OldProcess"})).ok());
    EXPECT_TRUE(registry.add(std::make_unique<FakeFactory>("x.Docker")).ok());
    config.default_runner = "x.Docker";
    config.max_running = 7;
    config.max_queued = 70;
  }
};

agent::WorkerGroupConfig group(std::string key) {
  agent::WorkerGroupConfig g;
  g.key = std::move(key);
  return g;
}

TEST(WorkerGroups, TheDefaultGroupAlwaysExistsWithTheAgentsLimits) {
  Fixture f;
  agent::WorkerGroups groups;
  ASSERT_TRUE(groups.configure(f.config, f.registry).ok());
  ASSERT_EQ(groups.all().size(), 1u);
  agent::WorkerGroup* d = groups.route("");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->key, "default");
  EXPECT_EQ(d->max_running, 7);
  EXPECT_EQ(d->max_queued, 70u);
  EXPECT_EQ(groups.route("gpu"), nullptr);
  agent::WorkerGroup& waiting = groups.unserved("gpu");
  EXPECT_FALSE(waiting.served);
  EXPECT_EQ(&groups.unserved("gpu"), &waiting) << "one waiting group per key";
  EXPECT_EQ(groups.route("gpu"), nullptr) << "a waiting group is not served";
  EXPECT_EQ(groups.served_keys(), "default");
}

TEST(WorkerGroups, RunnersResolveToCanonicalNamesAndGiveTheDefault) {
  Fixture f;
  auto g = group("boxed");
  g.task_runner = "x.OldProcess";
  g.runners = {"x.OldProcess"};
  f.config.worker_groups = {g};
  agent::WorkerGroups groups;
  ASSERT_TRUE(groups.configure(f.config, f.registry).ok());
  EXPECT_EQ(groups.find("boxed")->task_runner, "x.Process");
  EXPECT_EQ(groups.find("boxed")->runners, std::vector<std::string>{"x.Process"});
  EXPECT_EQ(groups.runner_type("", "boxed"), "x.Process");
  EXPECT_EQ(groups.runner_type("x.Docker", "boxed"), "x.Docker") << "the task's own wins";
  EXPECT_EQ(groups.runner_type("", ""), "x.Docker");
  EXPECT_EQ(groups.runner_type("", "nowhere"), "x.Docker");
}

TEST(WorkerGroups, CpusMemoryAndGpusAreHandedOutAndGivenBack) {
  Fixture f;
  auto g = group("gpu");
  g.max_running = 3;
  g.millicpus = 2000;
  g.memory_bytes = int64_t{4} << 30;
  g.gpus = {"a", "b", "c"};
  f.config.worker_groups = {g};
  agent::WorkerGroups groups;
  ASSERT_TRUE(groups.configure(f.config, f.registry).ok());
  agent::WorkerGroup& w = *groups.route("gpu");

  ResourceRequest one;
  one.millicpus = 1500;
  one.memory_bytes = int64_t{1} << 30;
  one.gpus = 2;
  ASSERT_TRUE(groups.fits_now(w, one));
  auto first = groups.take(w, one);
  EXPECT_EQ(first.gpu_ids, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(w.running, 1);
  EXPECT_EQ(w.millicpus_used, 1500);

  // 1.5 + 1 CPUs > 2: waits; so does a named GPU already out.
  ResourceRequest cpu;
  cpu.millicpus = 1000;
  EXPECT_FALSE(groups.fits_now(w, cpu));
  ResourceRequest named;
  named.gpu_ids = {"b"};
  EXPECT_FALSE(groups.fits_now(w, named));
  named.gpu_ids = {"c"};
  ASSERT_TRUE(groups.fits_now(w, named));
  auto second = groups.take(w, named);
  EXPECT_EQ(second.gpu_ids, std::vector<std::string>{"c"});
  ResourceRequest all;
  all.gpus = -1;
  EXPECT_FALSE(groups.fits_now(w, all));

  groups.give_back(w, first);
  groups.give_back(w, second);
  EXPECT_EQ(w.running, 0);
  EXPECT_EQ(w.millicpus_used, 0);
  EXPECT_EQ(w.memory_used, 0);
  EXPECT_EQ(w.gpus_free(), 3);
  ASSERT_TRUE(groups.fits_now(w, all));
  EXPECT_EQ(groups.take(w, all).gpu_ids, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(WorkerGroups, ARequestBeyondTheGroupIsAnErrorNamingBoth) {
  Fixture f;
  auto g = group("small");
  g.millicpus = 1500;
  g.memory_bytes = int64_t{512} << 20;
  g.gpus = {"a"};
  f.config.worker_groups = {g, group("plain")};
  agent::WorkerGroups groups;
  ASSERT_TRUE(groups.configure(f.config, f.registry).ok());
  const agent::WorkerGroup& w = *groups.route("small");
  auto message = [&](const agent::WorkerGroup& grp, ResourceRequest r) {
    agent::Status st = groups.check_capacity(grp, r, "tasks[0].taskRunner");
    EXPECT_FALSE(st.ok());
    if (st.ok()) return std::string();
    EXPECT_EQ(st.error().path(), "tasks[0].taskRunner");
    return st.error().message();
  };
  ResourceRequest r;
  r.millicpus = 2000;
  EXPECT_EQ(message(w, r), "asks 2 CPUs; worker group 'small' hands out 1.5 in all");
  r = {};
  r.memory_bytes = int64_t{1} << 30;
  EXPECT_EQ(message(w, r), "asks 1024 MiB of memory; worker group 'small' hands out 512 MiB in all");
  r = {};
  r.gpus = 2;
  EXPECT_EQ(message(w, r), "asks 2 GPUs; worker group 'small' has 1");
  r = {};
  r.gpu_ids = {"z"};
  EXPECT_EQ(message(w, r), "asks for GPU 'z'; worker group 'small' has a");
  r = {};
  r.gpus = 1;
  EXPECT_EQ(message(*groups.route("plain"), r),
            "asks for GPUs; worker group 'plain' has none (workerGroups[].gpus)");
  // What fits is fine; a group that counts nothing takes any CPU and memory.
  r = {};
  r.millicpus = 1500;
  r.gpu_ids = {"a"};
  EXPECT_TRUE(groups.check_capacity(w, r, "p").ok());
  r = {};
  r.millicpus = 64000;
  r.memory_bytes = int64_t{1} << 40;
  EXPECT_TRUE(groups.check_capacity(*groups.route("plain"), r, "p").ok());
}

TEST(WorkerGroups, PositionsFollowTheQueueAsItChanges) {
  Fixture f;
  agent::WorkerGroups groups;
  ASSERT_TRUE(groups.configure(f.config, f.registry).ok());
  agent::WorkerGroup& w = *groups.route("");
  agent::Execution a, b, c, d;
  w.push(a, false);
  w.push(b, false);
  w.push(c, false);
  w.push(d, /*front=*/true);  // a resubmitted task keeps its place ahead
  EXPECT_EQ(w.position_of(d), 1u);
  EXPECT_EQ(w.position_of(a), 2u);
  EXPECT_EQ(w.position_of(c), 4u);
  w.erase(b);
  EXPECT_FALSE(b.queued);
  EXPECT_EQ(b.queued_in, nullptr);
  EXPECT_EQ(w.position_of(c), 3u);
  w.erase(d);
  w.erase(a);
  EXPECT_EQ(w.position_of(c), 1u);
  EXPECT_EQ(groups.queued(), 1u);
}

}  // namespace
