// The `workerGroups` option: a list of groups, each checked key by key.
//
//   workerGroups:
//     - key: gpu
//       maxRunning: 2
//       cpus: 8
//       memory: 32GiB
//       gpus: ["0", "1"]
//       taskRunner: io.kestra.plugin.core.runner.Process
//       runners: [io.kestra.plugin.core.runner.Process]
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>

#include "agent/common/size.h"
#include "agent/config/config.h"

namespace agent {

namespace {

bool valid_key(std::string_view s) {
  if (s.empty() || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

Result<int64_t> count_in(json::Element e, const std::string& path, int64_t lo, int64_t hi) {
  AGENT_ASSIGN_OR_RETURN(int64_t n, json::as_int(e, path));
  if (n < lo || n > hi) {
    return Error(Errc::kInvalidArgument,
                 "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", found " +
                     std::to_string(n),
                 path);
  }
  return n;
}

// CPUs as a number (1.5) or a numeric string ("1.5"), in thousandths.
Result<int64_t> cpus_value(json::Element e, const std::string& path) {
  double cpus = 0;
  if (e.is_number()) {
    if (e.get_double().get(cpus) != simdjson::SUCCESS) return json::type_error(path, "a number of CPUs", e);
  } else {
    AGENT_ASSIGN_OR_RETURN(std::string text, json::as_string(e, path));
    char* end = nullptr;
    cpus = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0') return Error(Errc::kInvalidArgument, "expected a number of CPUs, found '" + text + "'", path);
  }
  if (!(cpus >= 0.001 && cpus <= 100000)) {
    return Error(Errc::kInvalidArgument, "must be between 0.001 and 100000 CPUs", path);
  }
  return static_cast<int64_t>(std::llround(cpus * 1000));
}

Result<int64_t> memory_value(json::Element e, const std::string& path) {
  int64_t bytes = 0;
  if (e.is_int64() || e.is_uint64()) {
    AGENT_ASSIGN_OR_RETURN(bytes, json::as_int(e, path));
  } else {
    AGENT_ASSIGN_OR_RETURN(std::string text, json::as_string(e, path));
    auto parsed = parse_size(text, SizeUnits::kExact);
    if (!parsed.ok()) return Error(Errc::kInvalidArgument, parsed.error().message(), path);
    bytes = *parsed;
  }
  if (bytes < (int64_t{1} << 20)) return Error(Errc::kInvalidArgument, "must be at least 1 MiB", path);
  return bytes;
}

Result<WorkerGroupConfig> parse_group(json::Element e, const std::string& path) {
  AGENT_ASSIGN_OR_RETURN(json::Object obj, json::as_object(e, path));
  WorkerGroupConfig g;
  bool has_key = false;
  for (auto f : obj) {
    std::string fpath = path + "." + std::string(f.key);
    if (f.key == "key") {
      AGENT_ASSIGN_OR_RETURN(g.key, json::as_string(f.value, fpath));
      if (!valid_key(g.key)) {
        return Error(Errc::kInvalidArgument, "'" + g.key + "' must match ^[a-zA-Z0-9][a-zA-Z0-9_-]*$", fpath);
      }
      has_key = true;
    } else if (f.key == "maxRunning") {
      AGENT_ASSIGN_OR_RETURN(int64_t n, count_in(f.value, fpath, 1, 1000000));
      g.max_running = static_cast<int>(n);
    } else if (f.key == "maxQueued") {
      AGENT_ASSIGN_OR_RETURN(int64_t n, count_in(f.value, fpath, 1, 100000000));
      g.max_queued = static_cast<size_t>(n);
    } else if (f.key == "cpus") {
      AGENT_ASSIGN_OR_RETURN(g.millicpus, cpus_value(f.value, fpath));
    } else if (f.key == "memory") {
      AGENT_ASSIGN_OR_RETURN(g.memory_bytes, memory_value(f.value, fpath));
    } else if (f.key == "gpus") {
      AGENT_ASSIGN_OR_RETURN(g.gpus, json::as_string_list(f.value, fpath));
      std::set<std::string> seen;
      for (size_t i = 0; i < g.gpus.size(); i++) {
        if (g.gpus[i].empty() || g.gpus[i].find(',') != std::string::npos) {
          return Error(Errc::kInvalidArgument, "a GPU id is not empty and has no comma",
                       json::index(fpath, i));
        }
        if (!seen.insert(g.gpus[i]).second) {
          return Error(Errc::kInvalidArgument, "GPU '" + g.gpus[i] + "' is listed twice", json::index(fpath, i));
        }
      }
    } else if (f.key == "gpusPerTask") {
      AGENT_ASSIGN_OR_RETURN(int64_t n, count_in(f.value, fpath, 0, 1024));
      g.gpus_per_task = static_cast<int>(n);
    } else if (f.key == "taskRunner") {
      AGENT_ASSIGN_OR_RETURN(g.task_runner, json::as_string(f.value, fpath));
    } else if (f.key == "runners") {
      AGENT_ASSIGN_OR_RETURN(g.runners, json::as_string_list(f.value, fpath));
    } else {
      return Error(Errc::kInvalidArgument,
                   "unknown option (key, maxRunning, maxQueued, cpus, memory, gpus, gpusPerTask, taskRunner, runners)", fpath);
    }
  }
  if (!has_key) return Error(Errc::kInvalidArgument, "required option missing", path + ".key");
  if (static_cast<size_t>(g.gpus_per_task) > g.gpus.size()) {
    return Error(Errc::kInvalidArgument,
                 "gives " + std::to_string(g.gpus_per_task) + " GPUs per task; the group has " +
                     std::to_string(g.gpus.size()),
                 path + ".gpusPerTask");
  }
  return g;
}

}  // namespace

Status parse_worker_groups(json::Element v, std::string_view key, std::vector<WorkerGroupConfig>& out) {
  out.clear();
  if (v.is_null()) return {};  // `workerGroups:` with every entry commented out
  simdjson::dom::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) return json::type_error(key, "a list of worker groups", v);
  std::set<std::string> keys;
  size_t i = 0;
  for (json::Element e : arr) {
    std::string path = json::index(key, i++);
    AGENT_ASSIGN_OR_RETURN(WorkerGroupConfig g, parse_group(e, path));
    if (!keys.insert(g.key).second) {
      return Error(Errc::kInvalidArgument, "worker group '" + g.key + "' is declared twice", path + ".key");
    }
    out.push_back(std::move(g));
  }
  return {};
}

}  // namespace agent
