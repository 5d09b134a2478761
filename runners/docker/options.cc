#include "runners/docker/options.h"

#include <simdjson.h>

#include <cmath>
#include <strings.h>

#include "agent/common/time.h"
#include "agent/json/read.h"
#include "agent/common/size.h"

namespace runners::docker {

namespace {

using agent::Error;
using agent::Errc;
using agent::json::Element;

agent::Result<int64_t> size_value(Element e, const std::string& path) {
  int64_t n;
  if (e.get_int64().get(n) == simdjson::SUCCESS) return n;
  AGENT_ASSIGN_OR_RETURN(std::string text, agent::json::as_string(e, path));
  auto parsed = agent::parse_size(text);
  if (!parsed.ok()) return Error::invalid(path, parsed.error().message());
  return parsed;
}

template <typename E>
agent::Result<E> enum_value(Element e, const std::string& path,
                            std::initializer_list<std::pair<std::string_view, E>> values) {
  AGENT_ASSIGN_OR_RETURN(std::string s, agent::json::as_string(e, path));
  std::string list;
  for (const auto& [name, v] : values) {
    if (s == name) return v;
    list += (list.empty() ? "" : ", ") + std::string(name);
  }
  return Error::invalid(path, "expected one of " + list + ", found '" + s + "'");
}

}  // namespace

agent::Result<Options> parse_options(std::string_view runner_json) {
  Options o;
  if (runner_json.empty()) return o;
  simdjson::dom::parser parser;
  Element doc;
  if (parser.parse(runner_json.data(), runner_json.size()).get(doc) != simdjson::SUCCESS) {
    return Error::invalid("", "taskRunner is not valid JSON");
  }
  AGENT_ASSIGN_OR_RETURN(agent::json::Object obj, agent::json::as_object(doc, ""));
  for (auto field : obj) {
    std::string key(field.key);
    Element v = field.value;
    if (key == "type") {
      continue;
    } else if (key == "host") {
      AGENT_ASSIGN_OR_RETURN(o.host, agent::json::as_string(v, key));
      if (!o.host.starts_with("unix://") && !o.host.starts_with("/")) {
        return Error::invalid(key, "only Unix sockets are supported (unix:///var/run/docker.sock or a path), "
                            "found '" + o.host + "'");
      }
    } else if (key == "image") {
      AGENT_ASSIGN_OR_RETURN(o.image, agent::json::as_string(v, key));
    } else if (key == "pullPolicy") {
      AGENT_ASSIGN_OR_RETURN(o.pull_policy, enum_value<PullPolicy>(v, key, {{"IF_NOT_PRESENT", PullPolicy::kIfNotPresent},
                                                                            {"ALWAYS", PullPolicy::kAlways},
                                                                            {"NEVER", PullPolicy::kNever}}));
    } else if (key == "user") {
      AGENT_ASSIGN_OR_RETURN(o.user, agent::json::as_string(v, key));
    } else if (key == "entryPoint") {
      AGENT_ASSIGN_OR_RETURN(auto ep, agent::json::as_string_list(v, key));
      o.entry_point = std::move(ep);
    } else if (key == "extraHosts") {
      AGENT_ASSIGN_OR_RETURN(o.extra_hosts, agent::json::as_string_list(v, key));
    } else if (key == "networkMode") {
      AGENT_ASSIGN_OR_RETURN(o.network_mode, agent::json::as_string(v, key));
    } else if (key == "portBindings") {
      AGENT_ASSIGN_OR_RETURN(o.port_bindings, agent::json::as_string_list(v, key));
    } else if (key == "volumes") {
      AGENT_ASSIGN_OR_RETURN(o.volumes, agent::json::as_string_list(v, key));
    } else if (key == "deviceRequests") {
      if (!v.is_array()) return agent::json::type_error(key, "a list of device requests", v);
      o.device_requests_json = agent::json::to_json(v);
      AGENT_TRY(read_device_requests(o.device_requests_json));
    } else if (key == "credentials") {
      AGENT_TRY(agent::json::as_object(v, key));
      o.credentials_json = agent::json::to_json(v);
    } else if (key == "config") {
      o.config_json = v.is_string() ? std::string(v.get_string().value_unsafe()) : agent::json::to_json(v);
    } else if (key == "cpu") {
      AGENT_ASSIGN_OR_RETURN(agent::json::Object cpu, agent::json::as_object(v, key));
      for (auto c : cpu) {
        std::string cpath = key + "." + std::string(c.key);
        if (c.key != "cpus") return Error::invalid(cpath, "unknown property (cpu takes cpus)");
        double d;
        if (c.value.get_double().get(d) != simdjson::SUCCESS) {
          int64_t n;
          if (c.value.get_int64().get(n) != simdjson::SUCCESS) {
            return agent::json::type_error(cpath, "a number of CPUs", c.value);
          }
          d = static_cast<double>(n);
        }
        if (!(d > 0)) return Error::invalid(cpath, "must be more than 0");
        o.cpus = d;
      }
    } else if (key == "memory") {
      AGENT_ASSIGN_OR_RETURN(agent::json::Object mem, agent::json::as_object(v, key));
      for (auto m : mem) {
        std::string mpath = key + "." + std::string(m.key);
        if (m.key == "memory") {
          AGENT_ASSIGN_OR_RETURN(o.memory, size_value(m.value, mpath));
        } else if (m.key == "memorySwap") {
          AGENT_ASSIGN_OR_RETURN(o.memory_swap, size_value(m.value, mpath));
        } else if (m.key == "memoryReservation") {
          AGENT_ASSIGN_OR_RETURN(o.memory_reservation, size_value(m.value, mpath));
        } else if (m.key == "kernelMemory") {
          AGENT_ASSIGN_OR_RETURN(o.kernel_memory, size_value(m.value, mpath));
        } else if (m.key == "memorySwappiness") {
          AGENT_ASSIGN_OR_RETURN(o.memory_swappiness, size_value(m.value, mpath));
        } else if (m.key == "oomKillDisable") {
          AGENT_ASSIGN_OR_RETURN(bool b, agent::json::as_bool(m.value, mpath));
          o.oom_kill_disable = b;
        } else {
          return Error::invalid(mpath, "unknown property (memory, memorySwap, memorySwappiness, "
                                "memoryReservation, kernelMemory, oomKillDisable)");
        }
      }
    } else if (key == "shmSize") {
      AGENT_ASSIGN_OR_RETURN(o.shm_size, size_value(v, key));
    } else if (key == "privileged") {
      AGENT_ASSIGN_OR_RETURN(o.privileged, agent::json::as_bool(v, key));
    } else if (key == "fileHandlingStrategy") {
      AGENT_ASSIGN_OR_RETURN(o.file_handling, enum_value<FileHandling>(v, key, {{"VOLUME", FileHandling::kVolume},
                                                                                {"MOUNT", FileHandling::kMount}}));
    } else if (key == "delete") {
      AGENT_ASSIGN_OR_RETURN(o.delete_, agent::json::as_bool(v, key));
    } else if (key == "wait") {
      AGENT_ASSIGN_OR_RETURN(o.wait, agent::json::as_bool(v, key));
    } else if (key == "resume") {
      AGENT_ASSIGN_OR_RETURN(o.resume, agent::json::as_bool(v, key));
    } else if (key == "killGracePeriod") {
      AGENT_ASSIGN_OR_RETURN(std::string text, agent::json::as_string(v, key));
      auto d = agent::parse_duration(text);
      if (!d.ok()) return Error::invalid(key, d.error().message());
      o.kill_grace = *d;
    } else {
      return Error::invalid(key, "unknown property of the Docker runner");
    }
  }
  return o;
}

namespace {

bool same_key(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

agent::Result<DeviceRequests> read_device_requests(std::string_view json) {
  DeviceRequests d;
  if (json.empty()) return d;
  simdjson::dom::parser parser;
  Element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) {
    return Error::invalid("deviceRequests", "not valid JSON");
  }
  simdjson::dom::array entries;
  if (doc.get_array().get(entries) != simdjson::SUCCESS) {
    return agent::json::type_error("deviceRequests", "a list of device requests", doc);
  }
  size_t i = 0;
  bool by_count = false;
  for (Element entry : entries) {
    std::string path = agent::json::index("deviceRequests", i++);
    AGENT_ASSIGN_OR_RETURN(agent::json::Object obj, agent::json::as_object(entry, path));
    std::string driver;
    int64_t count = 0;
    bool has_count = false;
    std::vector<std::string> ids;
    bool gpu = false;
    for (auto f : obj) {
      std::string fpath = path + "." + std::string(f.key);
      if (same_key(f.key, "driver")) {
        AGENT_ASSIGN_OR_RETURN(driver, agent::json::as_string(f.value, fpath));
      } else if (same_key(f.key, "count")) {
        AGENT_ASSIGN_OR_RETURN(count, agent::json::as_int(f.value, fpath));
        if (count < -1) return Error::invalid(fpath, "must be a number of devices, or -1 for all of them");
        has_count = count != 0;
      } else if (same_key(f.key, "deviceIds")) {
        AGENT_ASSIGN_OR_RETURN(ids, agent::json::as_string_list(f.value, fpath));
      } else if (same_key(f.key, "capabilities")) {
        simdjson::dom::array sets;
        if (f.value.get_array().get(sets) != simdjson::SUCCESS) {
          return agent::json::type_error(fpath, "a list of capability lists ([[gpu]])", f.value);
        }
        size_t j = 0;
        for (Element set : sets) {
          AGENT_ASSIGN_OR_RETURN(std::vector<std::string> caps,
                                 agent::json::as_string_list(set, agent::json::index(fpath, j++)));
          for (const auto& c : caps) gpu = gpu || c == "gpu";
        }
      } else if (same_key(f.key, "options")) {
        AGENT_TRY(agent::json::as_object(f.value, fpath));
      } else {
        return Error::invalid(fpath, "unknown property (a device request takes driver, count, deviceIds, "
                              "capabilities, options)");
      }
    }
    if (has_count && !ids.empty()) {
      return Error::invalid(path + ".deviceIds", "give either count or deviceIds, not both");
    }
    gpu = gpu || driver == "nvidia";
    if (!gpu) {
      d.others.push_back(agent::json::to_json(entry));
      continue;
    }
    if (!d.gpu) d.gpu_driver = driver;
    d.gpu = true;
    if ((by_count && !ids.empty()) || (!d.gpu_ids.empty() && has_count)) {
      return Error::invalid(path, "GPUs asked both by count and by deviceIds across entries: use one way");
    }
    if (has_count) {
      by_count = true;
      d.gpu_count = (count == -1 || d.gpu_count == -1) ? -1 : d.gpu_count + static_cast<int>(count);
    }
    for (auto& id : ids) d.gpu_ids.push_back(std::move(id));
  }
  return d;
}

agent::Result<agent::runner::ResourceRequest> resource_request(const Options& o) {
  agent::runner::ResourceRequest r;
  if (o.cpus) r.millicpus = std::max<int64_t>(1, std::llround(*o.cpus * 1000));
  if (o.memory) r.memory_bytes = *o.memory;
  AGENT_ASSIGN_OR_RETURN(DeviceRequests d, read_device_requests(o.device_requests_json));
  r.gpus = d.gpu_ids.empty() ? d.gpu_count : 0;
  r.gpu_ids = std::move(d.gpu_ids);
  return r;
}

}  // namespace runners::docker
