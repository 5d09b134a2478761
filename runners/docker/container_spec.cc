#include "runners/docker/container_spec.h"

#include <cmath>

#include "agent/json/writer.h"

namespace runners::docker {

namespace {

using agent::Error;
using agent::Errc;

struct PortBinding {
  std::string container;  // "80/tcp"
  std::string host_ip, host_port;
};

// [ip:][hostPort:]containerPort[/proto]
agent::Result<PortBinding> parse_port(const std::string& text, size_t index) {
  std::string path = "portBindings[" + std::to_string(index) + "]";
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t colon = text.find(':', start);
    parts.push_back(text.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.empty() || parts.size() > 3 || parts.back().empty()) {
    return Error(Errc::kInvalidArgument, "expected [ip:][hostPort:]containerPort[/proto], found '" + text + "'",
                 path);
  }
  PortBinding b;
  b.container = parts.back();
  if (b.container.find('/') == std::string::npos) b.container += "/tcp";
  if (parts.size() >= 2) b.host_port = parts[parts.size() - 2];
  if (parts.size() == 3) b.host_ip = parts[0];
  return b;
}

}  // namespace

agent::Result<std::string> create_body(const ContainerRequest& r, const Options& o, bool volumes_enabled) {
  if (r.image.empty()) {
    return Error(Errc::kInvalidArgument, "this task runner needs the containerImage property to be set",
                 "containerImage");
  }
  if (!o.volumes.empty() && !volumes_enabled) {
    return Error(Errc::kPermissionDenied,
                 "volumes are disabled: the agent's configuration must set docker.volumesEnabled: "
                 "true (Kestra's volume-enabled)",
                 "taskRunner.volumes");
  }
  std::vector<PortBinding> ports;
  for (size_t i = 0; i < o.port_bindings.size(); i++) {
    AGENT_ASSIGN_OR_RETURN(PortBinding b, parse_port(o.port_bindings[i], i));
    ports.push_back(std::move(b));
  }

  std::string out;
  agent::json::Writer w(out);
  w.begin_object();
  w.kv("Image", r.image);
  w.key("Cmd").begin_array();
  for (const auto& a : r.argv) w.string(a);
  w.end_array();
  w.key("Entrypoint").begin_array();
  if (o.entry_point) {
    for (const auto& e : *o.entry_point) w.string(e);
  } else {
    w.string("");  // Kestra's default: no ENTRYPOINT, argv is the whole command
  }
  w.end_array();
  w.key("Env").begin_array();
  for (const auto& e : r.env) w.string(e);
  w.end_array();
  w.kv("WorkingDir", r.working_dir);
  if (!o.user.empty()) w.kv("User", o.user);
  w.kv_bool("AttachStdout", true).kv_bool("AttachStderr", true).kv_bool("Tty", false);
  w.key("Labels").begin_object();
  for (const auto& [k, v] : r.labels) w.kv(k, v);
  w.end_object();
  if (!ports.empty()) {
    w.key("ExposedPorts").begin_object();
    for (const auto& p : ports) w.key(p.container).begin_object().end_object();
    w.end_object();
  }

  w.key("HostConfig").begin_object();
  w.key("Binds").begin_array();
  if (o.file_handling == FileHandling::kMount) w.string(r.working_dir + ":" + r.working_dir);
  for (const auto& v : o.volumes) w.string(v);
  w.end_array();
  if (!o.network_mode.empty()) w.kv("NetworkMode", o.network_mode);
  if (!o.extra_hosts.empty()) {
    w.key("ExtraHosts").begin_array();
    for (const auto& h : o.extra_hosts) w.string(h);
    w.end_array();
  }
  if (o.cpus) w.kv("NanoCpus", static_cast<int64_t>(std::llround(*o.cpus * 1e9)));
  if (o.memory) w.kv("Memory", *o.memory);
  if (o.memory_swap) w.kv("MemorySwap", *o.memory_swap);
  if (o.memory_reservation) w.kv("MemoryReservation", *o.memory_reservation);
  if (o.kernel_memory) w.kv("KernelMemory", *o.kernel_memory);
  if (o.memory_swappiness) w.kv("MemorySwappiness", *o.memory_swappiness);
  if (o.oom_kill_disable) w.kv_bool("OomKillDisable", *o.oom_kill_disable);
  if (o.shm_size) w.kv("ShmSize", *o.shm_size);
  if (o.privileged) w.kv_bool("Privileged", true);
  if (!r.gpu_ids.empty()) {
    // The GPUs the task was given, exclusively: its own entry names them.
    DeviceRequests d;
    if (!o.device_requests_json.empty()) {
      AGENT_ASSIGN_OR_RETURN(d, read_device_requests(o.device_requests_json));
    }
    w.key("DeviceRequests").begin_array();
    for (const auto& other : d.others) w.raw(other);
    w.begin_object();
    w.kv("Driver", d.gpu_driver).kv("Count", 0);
    w.key("DeviceIDs").begin_array();
    for (const auto& id : r.gpu_ids) w.string(id);
    w.end_array();
    w.key("Capabilities").begin_array().begin_array().string("gpu").end_array().end_array();
    w.end_object();
    w.end_array();
  } else if (!o.device_requests_json.empty()) {
    w.key("DeviceRequests").raw(o.device_requests_json);
  }
  if (!ports.empty()) {
    w.key("PortBindings").begin_object();
    for (const auto& p : ports) {
      w.key(p.container).begin_array().begin_object();
      w.kv("HostIp", p.host_ip).kv("HostPort", p.host_port);
      w.end_object().end_array();
    }
    w.end_object();
  }
  w.end_object();
  w.end_object();
  return out;
}

}  // namespace runners::docker
