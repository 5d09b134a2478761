// The agent's configuration: plain structs with defaults in code, read from one
// YAML file (`--config`), each key checked strictly so that a typo fails at
// startup. Command-line flags override the file. See etc/runnerd.yaml.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "agent/common/result.h"
#include "agent/config/identity.h"
#include "agent/config/paths.h"
#include "agent/flow/defaults.h"
#include "agent/json/read.h"

namespace agent {

// The Docker runner's agent-level options (Kestra's plugin configuration).
struct DockerConfig {
  std::string host;                // engine socket; empty: /var/run/docker.sock
  bool volumes_enabled = false;    // allow the runner's `volumes` (Kestra's volume-enabled)
  int pull_attempts = 5;           // a failed pull is tried this many times in all
  std::chrono::milliseconds pull_backoff{5000};  // first wait, doubled up to 120 s
  size_t max_archive_bytes = size_t{1} << 30;    // working directory tar, each way
};

// A worker group this host serves (Kestra EE's worker groups): tasks name it
// with workerGroup.key; tasks that name none run in the default group. Each
// group has its own queue and its own share of the host: tasks run at once,
// and the CPUs, memory and GPUs it hands out to its tasks' requests.
struct WorkerGroupConfig {
  std::string key;
  int max_running = 0;           // 0: the agent's maxRunning
  size_t max_queued = 0;         // 0: the agent's maxQueued
  int64_t millicpus = 0;         // CPUs it may hand out (1000 = one); 0: not counted
  int64_t memory_bytes = 0;      // memory it may hand out; 0: not counted
  std::vector<std::string> gpus;  // GPU ids, each given to one task at a time
  int gpus_per_task = 0;         // GPUs a task that asks for none is given
  std::string task_runner;       // the runner of its tasks that name none; empty: defaultRunner
  std::vector<std::string> runners;  // runner types its tasks may use; empty: any
};

// The Prometheus endpoint (agent/metrics/): off unless `listen` is set.
struct MetricsConfig {
  std::string listen;  // as written; empty: no listener
  std::string host;    // the numeric address it names (a bare port: 127.0.0.1)
  int port = 0;        // 0: any free port (tests)
  std::chrono::milliseconds request_timeout{10000};  // a whole request head, and reading the answer
  int max_connections = 16;
};

// `metrics.listen`: "9464" (127.0.0.1), "127.0.0.1:9464", "localhost:9464",
// "0.0.0.0:9464", "[::1]:9464". Addresses are numeric (no name lookup).
Status parse_listen_address(std::string_view text, MetricsConfig& out);

struct AgentConfig {
  std::string socket_path;          // socket; default: paths.h
  int socket_mode = 0660;
  // Who may use the socket (identity.h). The socket is chowned to this group
  // (empty: the agent's own); clients are checked against the lists with
  // SO_PEERCRED before their first byte is read (both empty: anyone who can
  // open the socket; the agent's own user always may).
  std::string socket_group;
  std::optional<gid_t> socket_gid;
  std::vector<uid_t> allowed_uids;
  std::vector<gid_t> allowed_gids;
  // Process tasks run as this user, with no_new_privs, when set.
  std::optional<TaskUser> task_user;
  std::string state_dir;            // logs/, executions/, work/
  std::string work_dir;             // task working directories; default <state>/work
  int max_running = 256;            // tasks running at once
  size_t max_queued = 100000;       // tasks waiting; beyond it submissions are refused
  std::chrono::milliseconds kill_grace{10000};            // SIGTERM -> SIGKILL
  std::chrono::milliseconds termination_grace{300000};    // shutdown drain (Kestra: 5m)
  size_t max_line_bytes = 8u << 20;      // longer output lines are split
  size_t max_outputs_bytes = 8u << 20;   // a task run's outputs (keys + JSON values) in all
  size_t max_request_bytes = 16u << 20;  // longer protocol lines are refused
  size_t max_client_buffer = 64u << 20;  // unread responses before a client is dropped
  int zstd_level = 1;
  std::string default_runner = "io.kestra.plugin.scripts.runner.docker.Docker";
  bool process_cgroups = true;     // a cgroup per Process task where the host allows it
  DockerConfig docker;
  std::vector<WorkerGroupConfig> worker_groups;  // none: one group, the default
  std::string default_worker_group = "default";  // where tasks without workerGroup go
  MetricsConfig metrics;
  // The `kestra` modules put on PYTHONPATH / NODE_PATH of Python and Node tasks.
  std::string script_lib_dir = default_script_lib_dir();
  // Global plugin defaults, applied to every flow after its own (Kestra's
  // kestra.plugins.defaults): e.g. the Process runner for every script task.
  std::vector<flow::PluginDefault> plugin_defaults;
  std::vector<std::string> allowed_paths;   // directories file:// inputFiles may read
  std::string env_vars_prefix = "ENV_";     // {{ envs.x }}: variables with this prefix
  std::string secrets_file;                 // KEY=base64 lines, mode 0600; secret('KEY')
  std::string config_path;         // the file this came from, if any
};

// Parses the `workerGroups` list (worker_groups_config.cc).
Status parse_worker_groups(json::Element v, std::string_view key, std::vector<WorkerGroupConfig>& out);

// Fills defaults that depend on the environment (paths).
void apply_default_paths(AgentConfig& config);
// Reads a YAML config file over `config`; errors name the file and key path.
Status load_config_file(const std::string& path, AgentConfig& config);
// The same from YAML text (for tests).
Status load_config_text(std::string_view yaml, std::string_view source, AgentConfig& config);

}  // namespace agent
