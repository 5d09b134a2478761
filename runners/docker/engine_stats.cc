#include "runners/docker/engine_stats.h"

#include <cctype>

namespace runners::docker {

namespace {

// What a kind depends on: the first two segments, the last one, and how many
// there are (an image's name may hold slashes: /images/ghcr.io/org/img/json).
struct Segments {
  std::string_view s[2];
  std::string_view last;
  size_t n = 0;
};

Segments split(std::string_view path) {
  Segments out;
  if (size_t q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  while (!path.empty()) {
    size_t slash = path.find('/');
    std::string_view seg = path.substr(0, slash);
    path.remove_prefix(slash == std::string_view::npos ? path.size() : slash + 1);
    if (seg.empty()) continue;
    if (out.n < 2) out.s[out.n] = seg;
    out.last = seg;
    out.n++;
  }
  return out;
}

CallKind containers_kind(std::string_view method, const Segments& p) {
  if (p.n == 2) {
    if (p.s[1] == "create") return method == "POST" ? CallKind::kCreate : CallKind::kOther;
    if (p.s[1] == "json") return method == "GET" ? CallKind::kList : CallKind::kOther;
    return method == "DELETE" ? CallKind::kDelete : CallKind::kOther;  // DELETE /containers/ID
  }
  if (p.n != 3) return CallKind::kOther;
  std::string_view op = p.last;
  if (op == "start" && method == "POST") return CallKind::kStart;
  if (op == "wait" && method == "POST") return CallKind::kWait;
  if (op == "logs" && method == "GET") return CallKind::kLogs;
  if (op == "json" && method == "GET") return CallKind::kInspect;
  if (op == "archive") return CallKind::kArchive;  // PUT in, GET out, HEAD to stat
  return CallKind::kOther;                         // stop, kill, attach, ...
}

CallKind images_kind(std::string_view method, const Segments& p) {
  if (p.n == 2 && p.s[1] == "create") return method == "POST" ? CallKind::kPull : CallKind::kOther;
  if (p.n == 2 && p.s[1] == "json") return method == "GET" ? CallKind::kList : CallKind::kOther;
  if (p.n >= 3 && p.last == "json" && method == "GET") return CallKind::kInspect;
  return CallKind::kOther;
}

}  // namespace

CallKind call_kind(std::string_view method, std::string_view path) {
  Segments p = split(path);
  if (p.n == 0) return CallKind::kOther;
  if (p.s[0] == "containers") return containers_kind(method, p);
  if (p.s[0] == "images") return images_kind(method, p);
  return CallKind::kOther;
}

std::string_view call_kind_name(CallKind kind) {
  switch (kind) {
    case CallKind::kCreate: return "Create";
    case CallKind::kStart: return "Start";
    case CallKind::kWait: return "Wait";
    case CallKind::kLogs: return "Logs";
    case CallKind::kDelete: return "Delete";
    case CallKind::kInspect: return "Inspect";
    case CallKind::kList: return "List";
    case CallKind::kPull: return "Pull";
    case CallKind::kArchive: return "Archive";
    case CallKind::kOther: return "Other";
  }
  return "Other";
}

void EngineStats::record(CallKind kind, bool error, uint64_t elapsed_ns) {
  PerKind& k = per_[static_cast<size_t>(kind)];
  k.calls++;
  if (error) k.errors++;
  k.us += static_cast<int64_t>(elapsed_ns / 1000);
  latency_[static_cast<size_t>(kind)].observe(static_cast<double>(elapsed_ns) / 1e9);
}

void EngineStats::write_metrics(agent::metrics::Registry& registry, std::string_view runner) const {
  auto& calls = registry.counter("runnerd_engine_api_calls_total",
                                 "Calls to a runner's engine or cloud API, by kind of call.");
  auto& errors = registry.counter(
      "runnerd_engine_api_errors_total",
      "Engine API calls that failed: no answer (transport failure, timeout, cancel) or an HTTP "
      "status of 400 or more.");
  auto& latency = registry.histogram(
      "runnerd_engine_api_call_duration_seconds",
      "Time from an engine API request to its answer (a streamed answer: to its end).");
  for (size_t i = 0; i < kCallKinds; i++) {
    std::string call(call_kind_name(static_cast<CallKind>(i)));
    for (char& c : call) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    agent::metrics::Labels labels = {{"runner", std::string(runner)}, {"call", call}};
    calls.add(labels, static_cast<double>(per_[i].calls));
    errors.add(labels, static_cast<double>(per_[i].errors));
    // A histogram only for the kinds called (23 series each).
    if (per_[i].calls > 0) latency.add(labels, latency_[i]);
  }
}

void EngineStats::append_counters(std::vector<std::pair<std::string, int64_t>>& out) const {
  for (size_t i = 0; i < kCallKinds; i++) {
    std::string name(call_kind_name(static_cast<CallKind>(i)));
    const PerKind& k = per_[i];
    out.emplace_back("engineCalls" + name, k.calls);
    out.emplace_back("engineCallErrors" + name, k.errors);
    out.emplace_back("engineCallUs" + name, k.us);
  }
}

}  // namespace runners::docker
