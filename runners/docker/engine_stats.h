// Counts of the Docker Engine API calls by kind, with their errors and total
// latency, so the container benchmark can put each step of the agent's
// sequence (create, start, wait, logs, delete) next to a raw client's, and an
// operator can see from `stats` which calls an engine makes slow or fails.
// One instance per runner, shared by its tasks' Engine objects. Loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/metrics/registry.h"

namespace runners::docker {

enum class CallKind { kCreate, kStart, kWait, kLogs, kDelete, kInspect, kList, kPull, kArchive, kOther };
inline constexpr size_t kCallKinds = 10;

// The kind of a call from its method and API path (no version prefix; a query
// string is allowed): POST /containers/create is kCreate, GET
// /containers/ID/json kInspect, POST /images/create kPull, and so on; what no
// step of a task's sequence names (stop, kill, ping, version) is kOther.
CallKind call_kind(std::string_view method, std::string_view path);

// "Create", "Start", ...: the suffix of the counter names.
std::string_view call_kind_name(CallKind kind);

class EngineStats {
 public:
  struct PerKind {
    int64_t calls = 0;
    int64_t errors = 0;  // no answer (transport failure, timeout, cancel) or HTTP status >= 400
    int64_t us = 0;      // summed from each request to its answer (a stream: to its end)
  };

  void record(CallKind kind, bool error, uint64_t elapsed_ns);
  const PerKind& of(CallKind kind) const { return per_[static_cast<size_t>(kind)]; }
  // Each call's latency, in seconds.
  const agent::metrics::Histogram& latency(CallKind kind) const {
    return latency_[static_cast<size_t>(kind)];
  }

  // engineCallsCreate, engineCallErrorsCreate, engineCallUsCreate, ... for
  // every kind (zeros included, so a reader can take differences without
  // guessing which keys exist).
  void append_counters(std::vector<std::pair<std::string, int64_t>>& out) const;

  // runnerd_engine_api_calls_total, runnerd_engine_api_errors_total and
  // runnerd_engine_api_call_duration_seconds, labelled {runner, call} (call:
  // create, start, wait, logs, ... in lower case): the counters for every
  // kind, the histogram for the kinds called.
  void write_metrics(agent::metrics::Registry& registry, std::string_view runner) const;

 private:
  std::array<PerKind, kCallKinds> per_{};
  std::array<agent::metrics::Histogram, kCallKinds> latency_;
};

}  // namespace runners::docker
