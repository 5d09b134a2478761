// StateDb on a real SQLite file: how commits are spaced with many tasks
// running, what a commit holding several writes of one row steps, and that
// every write still lands.
#include "agent/state/state_db.h"

#include <uv.h>

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test/helpers/agent_harness.h"

namespace {

// Runs the loop until every write up to `seq` is stored.
void wait_stored(uv_loop_t* loop, agent::state::StateDb& db, uint64_t seq) {
  bool stored = false;
  db.when_stored(seq, [&](agent::Status st) {
    EXPECT_TRUE(st.ok()) << st.error().message();
    stored = true;
  });
  while (!stored) uv_run(loop, UV_RUN_ONCE);
}

void close_db(uv_loop_t* loop, agent::state::StateDb& db) {
  bool closed = false;
  db.close([&] { closed = true; });
  while (!closed) uv_run(loop, UV_RUN_ONCE);
}

// What a restart reads: another StateDb on the same file, opened, started
// and closed again.
agent::state::Loaded reload(uv_loop_t* loop, const std::string& path) {
  agent::state::StateDb db(loop);
  std::vector<std::string> warnings;
  auto loaded = db.open(path, warnings);
  EXPECT_TRUE(loaded.ok()) << (loaded.ok() ? std::string() : loaded.error().message());
  if (!loaded.ok()) return {};
  EXPECT_TRUE(db.start().ok());
  close_db(loop, db);
  return std::move(loaded).value();
}

// Five writes, each waited for before the next: with few tasks running each
// is its own commit at once; with 16 running, commits are at least 5 ms
// apart (a lower bound, so no slow machine breaks it). What a restart reads
// is the last record either way.
TEST(StateDb, WithManyTasksRunningCommitsAreSpacedAndEveryWriteLands) {
  test::TempDir dir;
  std::string path = dir.path() + "/state.db";
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  uint64_t row = 0;
  {
    agent::state::StateDb db(&loop);
    std::vector<std::string> warnings;
    ASSERT_TRUE(db.open(path, warnings).ok());
    ASSERT_TRUE(db.start().ok());
    wait_stored(&loop, db, db.put_submission(row, "e1", "the source", "submitted"));
    uint64_t before = db.commits();
    db.set_running(15);
    for (int i = 0; i < 5; i++) {
      wait_stored(&loop, db, db.put_execution(row, "e1", false, "idle " + std::to_string(i)));
    }
    EXPECT_EQ(db.commits() - before, 5u);

    db.set_running(16);
    before = db.commits();
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; i++) {
      wait_stored(&loop, db, db.put_execution(row, "e1", i == 4, "busy " + std::to_string(i)));
    }
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(db.commits() - before, 5u);
    // The first may follow the last idle commit by less than the gap.
    EXPECT_GE(took, std::chrono::milliseconds(4 * 5));
    close_db(&loop, db);
  }
  {
    const agent::state::Loaded loaded = reload(&loop, path);
    ASSERT_EQ(loaded.executions.size(), 1u);
    EXPECT_EQ(loaded.executions[0].record, "busy 4");
    EXPECT_EQ(loaded.executions[0].source, "the source");
    EXPECT_TRUE(loaded.executions[0].final);
  }
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

// Writes made while commits are spaced out are held, not lost: a burst
// across many loop iterations, each of which wakes the writer, lands whole
// and every waiter is called.
TEST(StateDb, ABurstWhileBusyLandsWhole) {
  test::TempDir dir;
  std::string path = dir.path() + "/state.db";
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  std::vector<uint64_t> rows(200, 0);
  {
    agent::state::StateDb db(&loop);
    std::vector<std::string> warnings;
    ASSERT_TRUE(db.open(path, warnings).ok());
    ASSERT_TRUE(db.start().ok());
    db.set_running(64);
    uint64_t last = 0;
    int stored = 0;
    for (size_t i = 0; i < rows.size(); i++) {
      last = db.put_submission(rows[i], "e" + std::to_string(i), "s", "r" + std::to_string(i));
      db.when_stored(last, [&](agent::Status st) { stored += st.ok() ? 1 : 0; });
      uv_run(&loop, UV_RUN_NOWAIT);  // one iteration each: one kick each
    }
    wait_stored(&loop, db, last);
    EXPECT_EQ(stored, 200);
    EXPECT_EQ(db.writes(), 200u);
    close_db(&loop, db);
  }
  {
    const agent::state::Loaded loaded = reload(&loop, path);
    ASSERT_EQ(loaded.executions.size(), 200u);
    EXPECT_EQ(loaded.executions[199].record, "r199");
  }
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

// Writes made in one loop iteration are one commit: the writer is woken
// once, after the iteration. Of a run's three records and an execution's
// two, only the last of each is stepped; the submission is stepped too (it
// alone holds the source), and what a restart reads is the last of each.
TEST(StateDb, WritesReplacedInTheirCommitAreNotSteppedAndTheLastOfEachLands) {
  test::TempDir dir;
  std::string path = dir.path() + "/state.db";
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  uint64_t exec_row = 0, run_row = 0, other_row = 0;
  {
    agent::state::StateDb db(&loop);
    std::vector<std::string> warnings;
    ASSERT_TRUE(db.open(path, warnings).ok());
    ASSERT_TRUE(db.start().ok());
    db.put_submission(exec_row, "e1", "the source", "submitted");
    db.put_run(run_row, "r1", "e1", "created");
    db.put_run(run_row, "r1", "e1", "running");
    db.put_execution(exec_row, "e1", false, "running");
    db.put_run(other_row, "r2", "e1", "created");  // another row: stepped
    db.put_run(run_row, "r1", "e1", "success");
    uint64_t last = db.put_execution(exec_row, "e1", true, "success");
    wait_stored(&loop, db, last);
    EXPECT_EQ(db.writes(), 7u);
    EXPECT_EQ(db.commits(), 1u);
    EXPECT_EQ(db.superseded(), 3u);  // r1 created, r1 running, e1 running

    // A later commit replaces what an earlier one stored, as before.
    last = db.put_run(other_row, "r2", "e1", "success");
    wait_stored(&loop, db, last);
    EXPECT_EQ(db.superseded(), 3u);
    close_db(&loop, db);
  }
  {
    const agent::state::Loaded loaded = reload(&loop, path);
    ASSERT_EQ(loaded.executions.size(), 1u);
    const auto& e = loaded.executions[0];
    EXPECT_EQ(e.id, "e1");
    EXPECT_EQ(e.row, exec_row);
    EXPECT_EQ(e.record, "success");
    EXPECT_EQ(e.source, "the source");
    EXPECT_TRUE(e.final);
    ASSERT_EQ(loaded.runs.size(), 2u);
    EXPECT_EQ(loaded.runs[0].id, "r1");
    EXPECT_EQ(loaded.runs[0].row, run_row);
    EXPECT_EQ(loaded.runs[0].record, "success");
    EXPECT_EQ(loaded.runs[1].id, "r2");
    EXPECT_EQ(loaded.runs[1].record, "success");
  }
  ASSERT_EQ(uv_loop_close(&loop), 0);
}

}  // namespace
