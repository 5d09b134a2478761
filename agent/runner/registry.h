// Runners by Kestra type string. runners/builtin.cc fills it from one table;
// the core never names a runner.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <uv.h>

#include "agent/common/result.h"
#include "agent/runner/runner.h"

namespace agent {
struct AgentConfig;
}

namespace agent::runner {

// What a runner factory may use to build its runner.
struct RunnerContext {
  uv_loop_t* loop;
  const AgentConfig* config;
};

class RunnerFactory {
 public:
  virtual ~RunnerFactory() = default;
  virtual std::string_view type() const = 0;  // canonical Kestra type
  // Older names that still run, each with a deprecation warning.
  virtual std::vector<std::string_view> aliases() const { return {}; }
  virtual Result<std::unique_ptr<Runner>> create(RunnerContext& ctx) = 0;
};

// What the agent must know of a runner besides its type.
struct RunnerTraits {
  // A task that was running when the agent died is started again with
  // TaskSpec::resumed, and finds its earlier work (a container, a pod, a job)
  // by its labels. Without it, the attempt is recorded RESUBMITTED and the task
  // runs again as a new attempt (Kestra's Process runner).
  bool reattaches = false;
};

struct Lookup {
  Runner* runner = nullptr;        // nullptr: unknown type
  std::string_view canonical;      // the canonical type
  bool deprecated_alias = false;   // found under an old name
  RunnerTraits traits;
};

class Registry {
 public:
  Status add(std::unique_ptr<RunnerFactory> factory, RunnerTraits traits = {});
  // Creates every runner; the first failure is returned.
  Status create_all(RunnerContext& ctx);
  Lookup find(std::string_view type) const;
  std::vector<std::string> types() const;  // canonical names, sorted
  std::vector<Runner*> runners() const;
  void close_all();  // Runner::close on each

 private:
  struct Entry {
    std::unique_ptr<RunnerFactory> factory;
    std::unique_ptr<Runner> runner;
    RunnerTraits traits;
  };
  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::pair<size_t, bool>> by_name_;  // index, is alias
};

}  // namespace agent::runner
