#include "agent/config/config.h"

#include <arpa/inet.h>

#include <array>
#include <charconv>

#include "agent/common/fs.h"
#include "agent/common/time.h"
#include "agent/config/paths.h"
#include "agent/template/value.h"
#include "agent/json/read.h"
#include "agent/yaml/yaml_to_json.h"

namespace agent {

void apply_default_paths(AgentConfig& config) {
  if (config.socket_path.empty()) config.socket_path = default_socket_path();
  if (config.state_dir.empty()) config.state_dir = default_state_dir();
  if (config.work_dir.empty()) config.work_dir = config.state_dir + "/work";
}

Status parse_listen_address(std::string_view text, MetricsConfig& out) {
  auto bad = [&](std::string why) {
    return Error(Errc::kInvalidArgument,
                 why + " in '" + std::string(text) +
                     "' (expected a port, or an address and a port: 9464, 127.0.0.1:9464, "
                     "[::1]:9464)",
                 "metrics.listen");
  };
  std::string host = "127.0.0.1";  // a bare port: loopback only
  std::string_view port_text = text;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("an IPv6 address in brackets must be followed by :port");
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    in6_addr a6;
    if (inet_pton(AF_INET6, host.c_str(), &a6) != 1) return bad("not an IPv6 address");
  } else if (size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (host == "localhost") host = "127.0.0.1";
    in_addr a4;
    if (host.find(':') != std::string::npos) return bad("an IPv6 address goes in brackets");
    if (inet_pton(AF_INET, host.c_str(), &a4) != 1) {
      return bad("not a numeric IPv4 address ('" + host + "')");
    }
  }
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port < 0 || port > 65535) {
    return bad("not a port number (0 to 65535)");
  }
  out.listen = std::string(text);
  out.host = std::move(host);
  out.port = port;
  return {};
}

namespace {

Result<std::chrono::milliseconds> duration_value(json::Element e, std::string_view path) {
  AGENT_ASSIGN_OR_RETURN(std::string text, json::as_string(e, path));
  auto d = parse_duration(text);
  if (!d.ok()) return Error(Errc::kInvalidArgument, d.error().message(), std::string(path));
  return *d;
}

Result<int64_t> int_in(json::Element e, std::string_view path, int64_t lo, int64_t hi) {
  AGENT_ASSIGN_OR_RETURN(int64_t v, json::as_int(e, path));
  if (v < lo || v > hi) {
    return Error(Errc::kInvalidArgument,
                 "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                     ", found " + std::to_string(v),
                 std::string(path));
  }
  return v;
}

// A list of users (allowedUids) or groups (allowedGids), by number or name.
Result<std::vector<uint32_t>> id_list(json::Element v, std::string_view key, bool users) {
  simdjson::dom::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) {
    return json::type_error(key, users ? "a list of user names or uids" : "a list of group names or gids", v);
  }
  std::vector<uint32_t> out;
  size_t i = 0;
  for (json::Element e : arr) {
    std::string path = json::index(key, i++);
    std::string spec;
    if (e.is_int64() || e.is_uint64()) {
      AGENT_ASSIGN_OR_RETURN(int64_t n, int_in(e, path, 0, 0xfffffffe));
      spec = std::to_string(n);
    } else {
      AGENT_ASSIGN_OR_RETURN(spec, json::as_string(e, path));
    }
    auto id = users ? resolve_user(spec) : resolve_group(spec);
    if (!id.ok()) return Error(Errc::kInvalidArgument, id.error().message(), path);
    out.push_back(*id);
  }
  return out;
}

Status apply(json::Object root, AgentConfig& c) {
  for (auto field : root) {
    std::string_view key = field.key;
    json::Element v = field.value;
    // A section whose options are all commented out (`process:` alone, as in
    // etc/runnerd.yaml, the packages' /etc/runnerd/runnerd.yaml) reads as
    // null: its defaults.
    if (v.is_null() && (key == "docker" || key == "process")) continue;
    if (key == "socket") {
      AGENT_ASSIGN_OR_RETURN(c.socket_path, json::as_string(v, key));
    } else if (key == "socketMode") {
      // YAML 0660 reads as the decimal 660 or octal 432: take the octal digits as written.
      AGENT_ASSIGN_OR_RETURN(std::string s, json::as_string(v, key));
      char* end = nullptr;
      long mode = std::strtol(s.c_str(), &end, 8);
      if (s.empty() || *end != '\0' || mode < 0 || mode > 0777) {
        return Error(Errc::kInvalidArgument, "expected an octal mode such as \"0660\"", "socketMode");
      }
      c.socket_mode = static_cast<int>(mode);
    } else if (key == "socketGroup") {
      std::string spec;
      if (v.is_int64() || v.is_uint64()) {
        AGENT_ASSIGN_OR_RETURN(int64_t n, int_in(v, key, 0, 0xfffffffe));
        spec = std::to_string(n);
      } else {
        AGENT_ASSIGN_OR_RETURN(spec, json::as_string(v, key));
      }
      auto gid = resolve_group(spec);
      if (!gid.ok()) return Error(Errc::kInvalidArgument, gid.error().message(), "socketGroup");
      c.socket_group = spec;
      c.socket_gid = *gid;
    } else if (key == "allowedUids" || key == "allowedGids") {
      AGENT_ASSIGN_OR_RETURN(std::vector<uint32_t> ids, id_list(v, key, key == "allowedUids"));
      if (key == "allowedUids") {
        c.allowed_uids.assign(ids.begin(), ids.end());
      } else {
        c.allowed_gids.assign(ids.begin(), ids.end());
      }
    } else if (key == "taskUser") {
      std::string spec;
      if (v.is_int64() || v.is_uint64()) {
        AGENT_ASSIGN_OR_RETURN(int64_t n, int_in(v, key, 1, 0xfffffffe));
        spec = std::to_string(n);
      } else {
        AGENT_ASSIGN_OR_RETURN(spec, json::as_string(v, key));
      }
      auto user = resolve_task_user(spec);
      if (!user.ok()) return Error(Errc::kInvalidArgument, user.error().message(), "taskUser");
      c.task_user = std::move(user).value();
    } else if (key == "stateDir") {
      AGENT_ASSIGN_OR_RETURN(c.state_dir, json::as_string(v, key));
    } else if (key == "workDir") {
      AGENT_ASSIGN_OR_RETURN(c.work_dir, json::as_string(v, key));
    } else if (key == "maxRunning") {
      AGENT_ASSIGN_OR_RETURN(int64_t n, int_in(v, key, 1, 1000000));
      c.max_running = static_cast<int>(n);
    } else if (key == "maxQueued") {
      AGENT_ASSIGN_OR_RETURN(int64_t n, int_in(v, key, 1, 100000000));
      c.max_queued = static_cast<size_t>(n);
    } else if (key == "killGracePeriod") {
      AGENT_ASSIGN_OR_RETURN(c.kill_grace, duration_value(v, key));
    } else if (key == "terminationGracePeriod") {
      AGENT_ASSIGN_OR_RETURN(c.termination_grace, duration_value(v, key));
    } else if (key == "maxLineBytes") {
      AGENT_ASSIGN_OR_RETURN(int64_t n, int_in(v, key, 1024, int64_t{1} << 30));
      c.max_line_bytes = static_cast<size_t>(n);
    } else if (key == "maxOutputsBytes") {
      AGENT_ASSIGN_OR_RETURN(int64_t n, int_in(v, key, 1024, int64_t{1} << 30));
      c.max_outputs_bytes = static_cast<size_t>(n);
    } else if (key == "maxRequestBytes") {
      AGENT_ASSIGN_OR_RETURN(int64_t n, int_in(v, key, 1024, int64_t{1} << 30));
      c.max_request_bytes = static_cast<size_t>(n);
    } else if (key == "maxClientBufferBytes") {
      AGENT_ASSIGN_OR_RETURN(int64_t n, int_in(v, key, 1 << 20, int64_t{1} << 32));
      c.max_client_buffer = static_cast<size_t>(n);
    } else if (key == "zstdLevel") {
      AGENT_ASSIGN_OR_RETURN(int64_t n, int_in(v, key, 1, 19));
      c.zstd_level = static_cast<int>(n);
    } else if (key == "scriptLibDir") {
      AGENT_ASSIGN_OR_RETURN(c.script_lib_dir, json::as_string(v, key));
    } else if (key == "defaultRunner") {
      AGENT_ASSIGN_OR_RETURN(c.default_runner, json::as_string(v, key));
    } else if (key == "pluginDefaults") {
      AGENT_ASSIGN_OR_RETURN(template_::Value list, template_::from_json(v));
      AGENT_ASSIGN_OR_RETURN(c.plugin_defaults, flow::parse_plugin_defaults(list, key));
    } else if (key == "allowedPaths") {
      AGENT_ASSIGN_OR_RETURN(c.allowed_paths, json::as_string_list(v, key));
      for (size_t i = 0; i < c.allowed_paths.size(); i++) {
        if (c.allowed_paths[i].empty() || c.allowed_paths[i][0] != '/') {
          return Error(Errc::kInvalidArgument, "must be an absolute directory",
                       json::index(key, i));
        }
      }
    } else if (key == "envVarsPrefix") {
      AGENT_ASSIGN_OR_RETURN(c.env_vars_prefix, json::as_string(v, key));
    } else if (key == "secretsFile") {
      AGENT_ASSIGN_OR_RETURN(c.secrets_file, json::as_string(v, key));
    } else if (key == "workerGroups") {
      AGENT_TRY(parse_worker_groups(v, key, c.worker_groups));
    } else if (key == "defaultWorkerGroup") {
      AGENT_ASSIGN_OR_RETURN(c.default_worker_group, json::as_string(v, key));
      if (c.default_worker_group.empty()) return Error(Errc::kInvalidArgument, "must not be empty", "defaultWorkerGroup");
    } else if (key == "docker") {
      AGENT_ASSIGN_OR_RETURN(json::Object d, json::as_object(v, key));
      for (auto df : d) {
        std::string path = "docker." + std::string(df.key);
        if (df.key == "host") {
          AGENT_ASSIGN_OR_RETURN(c.docker.host, json::as_string(df.value, path));
          if (!c.docker.host.starts_with("unix://") && !c.docker.host.starts_with("/")) {
            return Error(Errc::kInvalidArgument,
                         "expected a Unix socket (unix:///var/run/docker.sock or a path)", path);
          }
        } else if (df.key == "volumesEnabled") {
          AGENT_ASSIGN_OR_RETURN(c.docker.volumes_enabled, json::as_bool(df.value, path));
        } else if (df.key == "pullAttempts") {
          AGENT_ASSIGN_OR_RETURN(int64_t n, int_in(df.value, path, 1, 100));
          c.docker.pull_attempts = static_cast<int>(n);
        } else if (df.key == "pullBackoff") {
          AGENT_ASSIGN_OR_RETURN(c.docker.pull_backoff, duration_value(df.value, path));
        } else if (df.key == "maxArchiveBytes") {
          AGENT_ASSIGN_OR_RETURN(int64_t n, int_in(df.value, path, 1 << 20, int64_t{1} << 40));
          c.docker.max_archive_bytes = static_cast<size_t>(n);
        } else {
          return Error(Errc::kInvalidArgument,
                       "unknown option (host, volumesEnabled, pullAttempts, pullBackoff, maxArchiveBytes)",
                       path);
        }
      }
    } else if (key == "metrics") {
      if (v.is_null()) continue;  // `metrics:` with nothing under it: no listener
      AGENT_ASSIGN_OR_RETURN(json::Object m, json::as_object(v, key));
      for (auto mf : m) {
        std::string path = "metrics." + std::string(mf.key);
        if (mf.key == "listen") {
          std::string text;
          if (mf.value.is_int64() || mf.value.is_uint64()) {  // listen: 9464
            AGENT_ASSIGN_OR_RETURN(int64_t n, int_in(mf.value, path, 0, 65535));
            text = std::to_string(n);
          } else if (!mf.value.is_null()) {
            AGENT_ASSIGN_OR_RETURN(text, json::as_string(mf.value, path));
          }
          if (text.empty()) {
            c.metrics.listen.clear();
          } else {
            AGENT_TRY(parse_listen_address(text, c.metrics));
          }
        } else if (mf.key == "requestTimeout") {
          AGENT_ASSIGN_OR_RETURN(c.metrics.request_timeout, duration_value(mf.value, path));
          if (c.metrics.request_timeout.count() < 100) {
            return Error(Errc::kInvalidArgument, "must be at least 100 ms", path);
          }
        } else if (mf.key == "maxConnections") {
          AGENT_ASSIGN_OR_RETURN(int64_t n, int_in(mf.value, path, 1, 4096));
          c.metrics.max_connections = static_cast<int>(n);
        } else {
          return Error(Errc::kInvalidArgument,
                       "unknown option (listen, requestTimeout, maxConnections)", path);
        }
      }
    } else if (key == "process") {
      AGENT_ASSIGN_OR_RETURN(json::Object p, json::as_object(v, key));
      for (auto pf : p) {
        std::string path = "process." + std::string(pf.key);
        if (pf.key == "cgroups") {
          AGENT_ASSIGN_OR_RETURN(c.process_cgroups, json::as_bool(pf.value, path));
        } else {
          return Error(Errc::kInvalidArgument, "unknown option", path);
        }
      }
    } else {
      return Error(Errc::kInvalidArgument,
                   "unknown option (see etc/runnerd.yaml for every option)", std::string(key));
    }
  }
  return {};
}

}  // namespace

Status load_config_text(std::string_view yaml, std::string_view source, AgentConfig& config) {
  auto text = yaml_to_json(yaml, source);
  if (!text.ok()) return std::move(text).error();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(*text).get(doc) != simdjson::SUCCESS) {
    return Error(Errc::kInvalidArgument, std::string(source) + ": not a YAML mapping");
  }
  if (doc.is_null()) return {};  // an empty file: all defaults
  json::Object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) {
    return Error(Errc::kInvalidArgument, std::string(source) + ": expected a mapping of options");
  }
  Status st = apply(root, config);
  if (!st.ok()) return std::move(st).error().context(std::string(source));
  config.config_path = std::string(source);
  return {};
}

Status load_config_file(const std::string& path, AgentConfig& config) {
  auto text = fs::read_file(path);
  if (!text.ok()) return std::move(text).error();
  return load_config_text(*text, path, config);
}

}  // namespace agent
