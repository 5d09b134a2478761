// The agent's durable state: one SQLite database (WAL) under the state
// directory, written by a thread of its own with group commit, so that the
// loop never waits for the disk. Every write gets a sequence number; a caller
// that must not go on before its write is durable (a submission before it is
// acknowledged, a final state before it is reported) waits for that number.
//
// Rows are whole records (JSON text, see agent/supervisor/store.h), each
// keyed by its row number: the sequence number of its first write, which the
// caller keeps (Execution::row, TaskRun::row) and gives with every later
// write of the row. A write replaces the row, so replaying a write is
// harmless.
//
// Failure: a batch that fails to commit (disk full, I/O error) is kept and
// retried every second; writes marked `fail_fast` (submissions) are dropped
// from it instead and their waiters told why, so the client sees the error
// while running tasks keep going and their records land once space returns.
//
// Threading: public methods on the loop thread; callbacks run on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "agent/common/result.h"

namespace agent::state {

struct StoredExecution {
  std::string id;
  std::string record;  // the execution without its task runs
  std::string source;  // the submission: flow, inputs, secrets
  bool final = false;
  uint64_t row = 0;
};

struct StoredRun {
  std::string id;
  std::string execution_id;
  std::string record;
  uint64_t row = 0;
};

struct Loaded {
  std::vector<StoredExecution> executions;  // in submission order
  std::vector<StoredRun> runs;              // in creation order
};

class StateDb {
 public:
  explicit StateDb(uv_loop_t* loop);
  ~StateDb();
  StateDb(const StateDb&) = delete;
  StateDb& operator=(const StateDb&) = delete;

  // Opens (creating) the database, checks it, and reads every row. A file that
  // is not a database, or fails its integrity check, is moved aside to
  // `<path>.corrupt-<time>` and a new one started; `warnings` says so.
  // Blocking: call before the loop serves anything.
  Result<Loaded> open(const std::string& path, std::vector<std::string>& warnings);
  // Starts the writer thread.
  Status start();

  // `row`: the row written, 0 for a new one, which is then set to this
  // write's sequence number.
  uint64_t put_execution(uint64_t& row, const std::string& id, bool final, std::string record);
  // A new execution's row: its source (what a restart runs again) and its
  // first record, in one statement. Fail-fast: a submission is refused
  // rather than held.
  uint64_t put_submission(uint64_t& row, const std::string& id, std::string source,
                          std::string record);
  uint64_t put_run(uint64_t& row, const std::string& id, const std::string& execution_id,
                   std::string record);
  // Runs `done` once every write up to `seq` is durable, or with the error of a
  // fail_fast write `seq` that could not be stored.
  void when_stored(uint64_t seq, std::function<void(Status)> done);
  // The last sequence number handed out.
  uint64_t last_seq() const;

  // How many tasks run: from kBusyTasks on, commits are spaced out to hold
  // more writes each (state_db.cc). Loop thread.
  void set_running(size_t tasks);

  // Writes everything queued, stops the thread, closes the database; `done`
  // runs on the loop afterwards.
  void close(std::function<void()> done);

  // For stats: writes committed, commits (batches), failed commit attempts,
  // and the last error (empty when the last commit succeeded).
  uint64_t writes() const;
  uint64_t commits() const;
  uint64_t failed_commits() const;
  // Writes committed without being stepped: a later write in their batch
  // replaced the same row.
  uint64_t superseded() const;
  std::string last_error() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace agent::state
