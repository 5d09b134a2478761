// The runner interface: a small lifecycle (validate / prepare / start / kill /
// release) behind a registry keyed by Kestra's type string and its aliases.
// The supervisor owns decisions (timeouts, kill escalation, logging, states);
// a runner only starts, signals and reports.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "agent/common/result.h"
#include "agent/runner/resources.h"

namespace agent::metrics {
class Registry;
}

namespace agent::runner {

enum class OutputStream : uint8_t { kStdout, kStderr };
enum class KillMode : uint8_t { kGraceful, kForce };

struct Exited {
  int code;
};
struct Signaled {
  int signal;
  // Killed by the kernel because the task hit its memory limit (the cgroup's
  // memory.events oom_kill, or the container's State.OOMKilled).
  bool out_of_memory = false;
};
using ExitStatus = std::variant<Exited, Signaled>;

// Everything a runner needs to start one attempt of one task.
struct TaskSpec {
  std::string execution_id;
  std::string namespace_;
  std::string flow_id;
  std::string task_id;
  std::string task_run_id;
  int attempt = 1;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "NAME=value", complete
  std::string working_dir;       // exists, empty but for input files
  std::string runner_json;       // the task's taskRunner object (may be empty)
  // For container runners: the task's rendered containerImage, and the
  // environment the task itself defines (language, `env`, WORKING_DIR,
  // OUTPUT_DIR), without the agent's own variables that `env` above holds.
  std::string container_image;
  std::vector<std::string> task_env;
  // The same attempt started again after the agent restarted: a container
  // runner looks for the container it may have left (Kestra's `resume`).
  bool resumed = false;
  // What the supervisor granted (resources.h); the runner enforces it. The
  // GPU ids are also in `env` and `task_env` (CUDA_VISIBLE_DEVICES,
  // NVIDIA_VISIBLE_DEVICES).
  ResourceGrant resources;
};

class RunnerTask;

// How a runner reports progress. Always called on the loop thread, never from
// inside start() or kill() themselves.
class TaskObserver {
 public:
  virtual ~TaskObserver() = default;
  virtual void on_output(RunnerTask& task, OutputStream stream, std::string_view bytes) = 0;
  // A line about the runner's own work (pulling an image, a member skipped
  // when copying files back), logged with the task's output.
  virtual void on_note(RunnerTask& task, bool warning, std::string_view text) {
    (void)task, (void)warning, (void)text;
  }
  // What external_id() and pid() say is known: a runner that starts its task
  // after start() returned (a process spawned off the loop) calls it then.
  virtual void on_started(RunnerTask& task) { (void)task; }
  // Exactly once per started task, after the last on_output.
  virtual void on_finished(RunnerTask& task, Result<ExitStatus> outcome) = 0;
};

// Runner-owned state of one running task (pid and pipes, container id, ...).
class RunnerTask {
 public:
  virtual ~RunnerTask() = default;
  // The supervisor's handle on the task, for observer callbacks.
  void* supervisor_data = nullptr;
  // What `runnerctl ps` shows: a pid, a container id, a job ARN.
  virtual std::string external_id() const = 0;
  virtual int64_t pid() const { return 0; }
  // False while the runner is still starting it after start() returned (a
  // process spawned off the loop): TaskObserver::on_started follows, or
  // on_finished with the reason it could not start.
  virtual bool started() const { return true; }
  // After on_finished: nothing the task started can still be running (its
  // cgroup is empty), so its working directory may serve another task.
  virtual bool left_nothing_running() const { return false; }
};

class Runner {
 public:
  virtual ~Runner() = default;

  // Checks the runner's properties (the taskRunner object) at submission time.
  // Pure: no I/O.
  virtual Status validate(std::string_view runner_json) const = 0;

  // What a task with these properties asks of the host, read from the
  // taskRunner object at submission (after validate). Errors carry the
  // property path, relative to the taskRunner object.
  virtual Result<ResourceRequest> requests(std::string_view runner_json) const {
    (void)runner_json;
    return ResourceRequest{};
  }

  // Starts the task and returns; progress arrives through `observer`. An
  // error returned means nothing was started and no callback will come; a
  // failure found later (a process that could not be spawned) ends the task
  // through on_finished with that error.
  virtual Result<std::unique_ptr<RunnerTask>> start(const TaskSpec& spec,
                                                    TaskObserver& observer) = 0;

  // Graceful asks the whole task to stop (SIGTERM to the tree); force ends it
  // (SIGKILL). Idempotent; a finished task ignores it.
  virtual void kill(RunnerTask& task, KillMode mode) = 0;

  // Back-pressure: stop or resume reading the task's output.
  virtual void set_output_paused(RunnerTask& task, bool paused) = 0;

  // Frees the task after on_finished (closes its handles on the loop).
  virtual void release(std::unique_ptr<RunnerTask> task) = 0;

  // Closes the runner's own handles; called once at teardown, after every task
  // ended and before the loop's last run.
  virtual void close() {}

  // Counters for `stats`: name -> value.
  virtual std::vector<std::pair<std::string, int64_t>> counters() const { return {}; }

  // Prometheus metrics (agent/metrics/registry.h), written at each scrape. A
  // runner that calls a remote API (an engine, a cloud) writes its calls as
  // runnerd_engine_api_calls_total, runnerd_engine_api_errors_total and
  // runnerd_engine_api_call_duration_seconds with labels {runner, call}, so
  // that every such runner shows in the same families.
  virtual void write_metrics(metrics::Registry& registry) const { (void)registry; }
};

}  // namespace agent::runner
