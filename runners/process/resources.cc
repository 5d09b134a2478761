#include "runners/process/resources.h"

#include <simdjson.h>

#include <cmath>
#include <cstdlib>
#include <set>

#include "agent/flow/did_you_mean.h"
#include "agent/json/read.h"
#include "agent/common/size.h"

namespace runners::process {

namespace {

using agent::Errc;
using agent::Error;
using agent::json::Element;

Error unknown(std::string path, std::string_view key, std::initializer_list<std::string_view> known,
              std::string_view what) {
  std::string close = agent::flow::did_you_mean(key, known);
  if (!close.empty()) return Error::invalid(std::move(path), "unknown property; did you mean '" + close + "'?");
  std::string list;
  for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
  return Error::invalid(std::move(path), "unknown property (" + std::string(what) + " takes " + list + ")");
}

// A number, or a string holding one ("1.5").
agent::Result<double> number_value(Element e, const std::string& path) {
  double d;
  if (e.get_double().get(d) == simdjson::SUCCESS) return d;
  int64_t n;
  if (e.get_int64().get(n) == simdjson::SUCCESS) return static_cast<double>(n);
  std::string_view s;
  if (e.get_string().get(s) == simdjson::SUCCESS) {
    std::string text(s);
    char* end = nullptr;
    d = std::strtod(text.c_str(), &end);
    if (!text.empty() && end == text.c_str() + text.size() && std::isfinite(d)) return d;
    return Error::invalid(path, "expected a number of CPUs, found '" + text + "'");
  }
  return agent::json::type_error(path, "a number of CPUs", e);
}

agent::Result<int64_t> memory_value(Element e, const std::string& path) {
  int64_t n;
  if (e.get_int64().get(n) == simdjson::SUCCESS) return n;
  std::string_view s;
  if (e.get_string().get(s) != simdjson::SUCCESS) return agent::json::type_error(path, "a size", e);
  auto parsed = agent::parse_size(s, agent::SizeUnits::kExact);
  if (!parsed.ok()) return Error::invalid(path, parsed.error().message());
  return parsed;
}

agent::Status read_resources(Element v, agent::runner::ResourceRequest& r) {
  const std::string base = "resources";
  AGENT_ASSIGN_OR_RETURN(agent::json::Object obj, agent::json::as_object(v, base));
  bool has_gpus = false;
  for (auto field : obj) {
    std::string key(field.key);
    std::string path = base + "." + key;
    Element e = field.value;
    if (key == "cpus") {
      AGENT_ASSIGN_OR_RETURN(double cpus, number_value(e, path));
      if (!(cpus > 0)) return Error::invalid(path, "must be more than 0");
      if (cpus > 1024) return Error::invalid(path, "must be at most 1024");
      // cpu.max takes a quota of at least 1 ms per 100 ms period.
      if (cpus < 0.01) return Error::invalid(path, "must be at least 0.01 (the kernel's smallest CPU quota)");
      r.millicpus = std::llround(cpus * 1000);
    } else if (key == "memory") {
      AGENT_ASSIGN_OR_RETURN(int64_t bytes, memory_value(e, path));
      if (bytes < (1 << 20)) return Error::invalid(path, "must be at least 1 MiB");
      r.memory_bytes = bytes;
    } else if (key == "pids") {
      AGENT_ASSIGN_OR_RETURN(int64_t pids, agent::json::as_int(e, path));
      if (pids < 1) return Error::invalid(path, "must be at least 1");
      r.pids = pids;
    } else if (key == "gpus") {
      AGENT_ASSIGN_OR_RETURN(int64_t gpus, agent::json::as_int(e, path));
      if (gpus < -1 || gpus > 4096) return Error::invalid(path, "must be a number of GPUs, or -1 for all of them");
      if (!r.gpu_ids.empty()) return Error::invalid(path, "give either gpus or gpuIds, not both");
      r.gpus = static_cast<int>(gpus);
      has_gpus = true;
    } else if (key == "gpuIds") {
      AGENT_ASSIGN_OR_RETURN(std::vector<std::string> ids, agent::json::as_string_list(e, path));
      if (has_gpus) return Error::invalid(path, "give either gpus or gpuIds, not both");
      if (ids.empty()) return Error::invalid(path, "must name at least one GPU");
      std::set<std::string> seen;
      for (size_t i = 0; i < ids.size(); i++) {
        std::string ipath = agent::json::index(path, i);
        if (ids[i].empty()) return Error::invalid(ipath, "a GPU id cannot be empty");
        if (ids[i].find(',') != std::string::npos) return Error::invalid(ipath, "a GPU id cannot hold ','");
        if (!seen.insert(ids[i]).second) return Error::invalid(ipath, "GPU '" + ids[i] + "' is named twice");
      }
      r.gpu_ids = std::move(ids);
    } else {
      return unknown(path, key, {"cpus", "memory", "pids", "gpus", "gpuIds"}, "resources");
    }
  }
  return {};
}

}  // namespace

agent::Result<agent::runner::ResourceRequest> parse_process_runner(std::string_view runner_json) {
  agent::runner::ResourceRequest r;
  if (runner_json.empty()) return r;
  static thread_local simdjson::dom::parser reused;  // nothing below parses again
  simdjson::dom::parser own;
  Element doc;
  if (agent::json::parse_reusing(reused, own, runner_json, doc) != simdjson::SUCCESS) {
    return Error::invalid("", "taskRunner is not valid JSON");
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) return r;
  for (auto field : obj) {
    if (field.key == "type") continue;
    if (field.key == "resources") {
      AGENT_TRY(read_resources(field.value, r));
      continue;
    }
    std::string close = agent::flow::did_you_mean(field.key, {"resources"});
    return Error::invalid(std::string(field.key),
                   close.empty() ? "unknown property: the Process runner takes only 'type' and "
                                   "'resources' (a runnerd extension)"
                                 : "unknown property; did you mean 'resources'?");
  }
  return r;
}

}  // namespace runners::process
