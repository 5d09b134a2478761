// runnerd: argv, configuration, signals, and the loop. Everything else lives in
// the supervisor (tasks), the server (socket) and the runners.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <uv.h>

#include "agent/config/config.h"
#include "agent/log/log.h"
#include "agent/notify/notify.h"
#include "agent/metrics/http_listener.h"
#include "agent/runner/registry.h"
#include "agent/server/api.h"
#include "agent/server/server.h"
#include "agent/supervisor/supervisor.h"
#include "runners/builtin.h"
#include "runners/process/task_reaper.h"

namespace {

constexpr const char* kUsage =
    "usage: runnerd [--socket PATH] [--state-dir DIR] [--config FILE] [--debug]\n"
    "       runnerd --list-runners | --version | --help\n"
    "\n"
    "Runs Kestra script tasks on this host, driven through a Unix socket (see runnerctl).\n"
    "With no options it starts with embedded defaults: as root, /run/runnerd/runnerd.sock and\n"
    "/var/lib/runnerd; otherwise under $XDG_RUNTIME_DIR and ~/.local/state/runnerd.\n";

struct Options {
  std::string socket, state_dir, config;
  bool list_runners = false;
  bool debug = false;
};

int parse_args(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "runnerd: %s needs a value\n%s", name, kUsage);
        return nullptr;
      }
      return argv[++i];
    };
    if (a == "--socket") {
      const char* v = value("--socket");
      if (v == nullptr) return 2;
      o.socket = v;
    } else if (a == "--state-dir") {
      const char* v = value("--state-dir");
      if (v == nullptr) return 2;
      o.state_dir = v;
    } else if (a == "--config") {
      const char* v = value("--config");
      if (v == nullptr) return 2;
      o.config = v;
    } else if (a == "--list-runners") {
      o.list_runners = true;
    } else if (a == "--debug") {
      o.debug = true;
    } else if (a == "--version") {
      std::printf("runnerd %s\n", RUNNERD_VERSION);
      return 0;
    } else if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "runnerd: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  return -1;
}

// The agent's parts, in the order they are built and the reverse of teardown.
struct Agent {
  uv_loop_t* loop;
  agent::AgentConfig config;
  agent::runner::Registry registry;
  std::unique_ptr<agent::Supervisor> supervisor;
  std::unique_ptr<agent::server::Api> api;
  std::unique_ptr<agent::server::Server> server;
  std::unique_ptr<agent::metrics::HttpListener> metrics;  // when metrics.listen is set
  uv_signal_t sigterm{}, sigint{};
  bool stopping = false;
  bool stopped = false;
};

// Closes what is left and runs the loop until every close callback ran.
// False if a handle was still open (a bug: it is named on stderr).
bool teardown(Agent& a) {
  a.metrics.reset();
  a.server.reset();
  a.supervisor.reset();
  a.api.reset();
  a.registry.close_all();
  uv_run(a.loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(a.loop);
  if (rc != 0) {
    uv_print_all_handles(a.loop, stderr);
    agent::log::error("loop closed with handles still open");
    return false;
  }
  return true;
}

void stop(Agent& a, const char* why) {
  if (a.stopping) {
    agent::log::warn(std::string(why) + " again: killing running tasks now");
    return;
  }
  a.stopping = true;
  agent::log::info(std::string(why) + ": no longer accepting clients; draining");
  if (agent::Status st = agent::notify::stopping("draining running tasks"); !st.ok()) {
    agent::log::warn(st.error().message());
  }
  a.server->stop_listening();
  a.supervisor->shutdown([&a] {
    a.stopped = true;
    a.server->close_all();
    if (a.metrics) a.metrics->close();
    uv_close(reinterpret_cast<uv_handle_t*>(&a.sigterm), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&a.sigint), nullptr);
    agent::log::info("stopped");
  });
}

void on_signal(uv_signal_t* h, int signum) noexcept {
  auto& a = *static_cast<Agent*>(h->data);
  stop(a, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

// The Prometheus endpoint, when metrics.listen is set: GET /metrics on the loop.
agent::Status start_metrics(Agent& a) {
  a.api->set_metrics_writer([&a](agent::metrics::Registry& r) {
    if (a.metrics) a.metrics->write_metrics(r);
  });
  const agent::MetricsConfig& mc = a.config.metrics;
  if (mc.listen.empty()) return {};
  agent::metrics::HttpListenerOptions options;
  options.request_timeout = mc.request_timeout;
  options.max_connections = static_cast<size_t>(mc.max_connections);
  a.metrics = std::make_unique<agent::metrics::HttpListener>(
      a.loop, [&a] { return a.api->prometheus_text(); }, options);
  AGENT_TRY(a.metrics->listen(mc.host, mc.port));
  std::string where = (mc.host.find(':') != std::string::npos ? "[" + mc.host + "]" : mc.host) +
                      ":" + std::to_string(a.metrics->port());
  agent::log::info("metrics on http://" + where + "/metrics");
  if (!mc.host.starts_with("127.") && mc.host != "::1") {
    agent::log::warn("the metrics endpoint listens on " + where +
                     ", not only on loopback: whoever can reach it reads the agent's metrics");
  }
  return {};
}

int run(const Options& o) {
  Agent a;
  a.loop = uv_default_loop();
  if (!o.config.empty()) {
    agent::Status st = agent::load_config_file(o.config, a.config);
    if (!st.ok()) {
      std::fprintf(stderr, "runnerd: %s\n", st.error().describe().c_str());
      return 1;
    }
  }
  if (!o.socket.empty()) a.config.socket_path = o.socket;
  // A workDir the configuration names stays; the default one follows --state-dir.
  if (!o.state_dir.empty()) a.config.state_dir = o.state_dir;
  agent::apply_default_paths(a.config);
  if (o.debug) agent::log::set_min_severity(agent::log::Severity::kDebug);
  signal(SIGPIPE, SIG_IGN);
  // glibc's default heap returns memory to the kernel as soon as 128 KiB is
  // free at its top, and maps blocks from 128 KiB upward on their own. Each
  // log chunk (128 to 256 KiB, made on the loop, freed after the writer
  // stored it) then cost a brk or mmap, a munmap, and a page fault per 4 KiB
  // when the next one was filled: a third of the loop's time while a task
  // wrote 1 GiB of log (log ingest 420 -> 620 MB/s, agent CPU 2.3 -> 1.5 s).
  // Fixed values also stop glibc from raising them as it goes. Memory left
  // free after a burst of tasks is given back by malloc_trim (spawner.cc).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 4 << 20);

  agent::runner::RunnerContext ctx{a.loop, &a.config};
  agent::Status st = runners::register_builtin_runners(a.registry);
  if (st.ok()) {
    // The worker groups name runners: checked before any is created.
    agent::WorkerGroups groups;
    st = groups.configure(a.config, a.registry);
    if (!st.ok()) {
      if (!a.config.config_path.empty()) st = std::move(st).error().context(a.config.config_path);
      std::fprintf(stderr, "runnerd: %s\n", st.error().describe().c_str());
      return 1;
    }
  }
  if (st.ok()) st = a.registry.create_all(ctx);
  if (!st.ok()) {
    std::fprintf(stderr, "runnerd: %s\n", st.error().message().c_str());
    return 1;
  }
  if (o.list_runners) {
    for (const auto& t : a.registry.types()) std::printf("%s\n", t.c_str());
    return 0;
  }

  // The socket is bound before the supervisor starts its writer thread, so that
  // the usual startup failure (another agent on the socket) has nothing to stop.
  a.supervisor = std::make_unique<agent::Supervisor>(a.loop, a.config, a.registry);
  a.api = std::make_unique<agent::server::Api>(a.loop, *a.supervisor, a.config);
  a.supervisor->set_listener(a.api.get());
  a.server = std::make_unique<agent::server::Server>(a.loop, *a.api, a.config.max_request_bytes,
                                                     a.config.max_client_buffer);
  a.api->set_server(a.server.get());
  // SIGTERM and SIGINT are caught before the socket exists: one that comes
  // as soon as a client can connect is a graceful stop, not a death.
  uv_signal_init(a.loop, &a.sigterm);
  uv_signal_init(a.loop, &a.sigint);
  a.sigterm.data = a.sigint.data = &a;
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  uv_signal_start(&a.sigint, on_signal, SIGINT);
  st = a.server->listen(a.config);
  if (st.ok()) st = start_metrics(a);
  if (st.ok()) {
    st = a.supervisor->start();
    if (!st.ok()) st = std::move(st).error().context("state directory " + a.config.state_dir);
  }
  if (!st.ok()) {
    std::fprintf(stderr, "runnerd: %s\n", st.error().message().c_str());
    uv_close(reinterpret_cast<uv_handle_t*>(&a.sigterm), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&a.sigint), nullptr);
    teardown(a);
    return 1;
  }

  std::string listening = "listening on " + a.config.socket_path + "; state in " +
                          a.config.state_dir + "; up to " + std::to_string(a.config.max_running) +
                          " tasks at once";
  agent::log::info(listening);
  // Under systemd (Type=notify), the unit is started from here on.
  if (agent::Status ready = agent::notify::ready(listening); !ready.ok()) {
    agent::log::warn(ready.error().message());
  }
  uv_run(a.loop, UV_RUN_DEFAULT);

  if (!teardown(a)) return 1;
  return a.stopped ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // The Process runner's task reaper (runners/process/task_reaper.h).
  if (argc == 3 && std::strcmp(argv[1], "--task-reaper") == 0) {
    return runners::process::run_task_reaper(argv[2]);
  }
  runners::process::enable_task_reaper("/proc/self/exe");
  Options o;
  int rc = parse_args(argc, argv, o);
  if (rc >= 0) return rc;
  return run(o);
}
