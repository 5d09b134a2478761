// What a running task run holds while it runs: the runner's task, the output
// line splitters, the log chunk being filled, and its timers.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/logstream/line.h"
#include "agent/logstream/log_file.h"
#include "agent/runner/runner.h"
#include "agent/supervisor/execution.h"
#include "agent/supervisor/worker_groups.h"
#include "agent/uv/timer.h"

namespace agent {


// kRestart: nothing was killed by us; the attempt was running when the agent
// died (its processes died with it) and is recorded RESUBMITTED.
enum class KillReason : uint8_t { kNone, kCancel, kTimeout, kShutdown, kRestart };

struct LiveTask {
  LiveTask(size_t max_line) : out(max_line), err(max_line) {}
  ~LiveTask() {
    uv::close(timeout_timer);
    uv::close(kill_timer);
  }

  Execution* exec = nullptr;
  runner::Runner* runner = nullptr;
  std::unique_ptr<runner::RunnerTask> task;
  logstream::LineSplitter out;
  logstream::LineSplitter err;
  size_t outputs_bytes = 0;  // keys and values of the outputs taken (maxOutputsBytes)
  bool debug = false;  // between Kestra's ##kestra:log:debug## and ##kestra:log:info## markers
  std::shared_ptr<logstream::Chunk> chunk;  // being filled; null when empty
  bool chatty = false;  // a chunk of it filled up: the next ones are made full size
  uint64_t log_key = 0;
  uint64_t created_seq = 0;   // the run's first record: durable before it starts
  std::string working_dir;
  bool shared_dir = false;    // a WorkingDirectory's: removed by its owner, not this task
  bool takes_slot = false;    // a runner task: counts against maxRunning
  WorkerGroup* group = nullptr;  // the group whose slot and resources it holds
  runner::ResourceGrant grant;
  int64_t queued_ms = 0;      // when it was queued (submission, or its turn in the flow)
  std::string output_dir;     // `{{outputDir}}` when enabled, else empty
  std::string created_output_dir;  // made for every task, as Kestra does; removed with its working dir
  std::vector<std::string> output_globs;  // rendered outputFiles
  std::optional<State> result;  // decided without a runner (Log, Return, WorkingDirectory)
  int64_t timeout_ms = 0;       // 0: none
  std::vector<std::string> extra_env;  // the language's or Clone's own, then the task's env (rendered)
  std::string container_image;         // rendered containerImage (container runners)
  std::string timeout_text;  // as written, for the error message
  KillReason kill_reason = KillReason::kNone;
  bool runner_finished = false;
  // Nothing of the task can still be using its working directory (its runner
  // said so, or it never started): the pair may go back to the pool.
  bool nothing_left = false;
  bool starting = false;  // counted in Supervisor::starting_ until started or finished
  int64_t launched_ms = 0;  // when the runner was asked to start it: its startedAt
  std::unique_ptr<uv::Timer> timeout_timer;
  std::unique_ptr<uv::Timer> kill_timer;
};

}  // namespace agent
