// A TaskObserver that keeps what a runner reported of one task: its output by
// stream, its notes, and how it ended. For runner-level tests.
#pragma once

#include <string>
#include <string_view>

#include "agent/runner/runner.h"

namespace test {

struct TaskRecorder : agent::runner::TaskObserver {
  std::string out, err, notes;
  int finished = 0;
  int started = 0;
  int64_t pid = 0;  // what the task said once it started
  agent::Result<agent::runner::ExitStatus> outcome = agent::Error(agent::Errc::kInternal, "none");

  void on_output(agent::runner::RunnerTask&, agent::runner::OutputStream s, std::string_view b) override {
    (s == agent::runner::OutputStream::kStdout ? out : err).append(b);
  }
  void on_note(agent::runner::RunnerTask&, bool, std::string_view text) override {
    notes.append(text).append("\n");
  }
  void on_started(agent::runner::RunnerTask& task) override {
    started++;
    pid = task.pid();
  }
  void on_finished(agent::runner::RunnerTask&, agent::Result<agent::runner::ExitStatus> o) override {
    finished++;
    outcome = std::move(o);
  }
};

}  // namespace test
