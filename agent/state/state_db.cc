#include "agent/state/state_db.h"

#include <pthread.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "agent/common/time.h"

namespace agent::state {

namespace {

constexpr std::chrono::milliseconds kRetryInterval{1000};
constexpr int kCloseAttempts = 3;  // a batch that still fails at close is given up
constexpr size_t kWaitersPerTick = 256;  // when_stored callbacks run per loop iteration

// Commit delay under load, as PostgreSQL's commit_delay with commit_siblings:
// with at least kBusyTasks tasks running, a commit starts no sooner than
// kBusyCommitGap after the one before, and takes whatever came meanwhile.
// A commit costs about 50 us of the writer's CPU however few writes it holds
// (the WAL frames of the table pages it touched), and each wakes the loop to
// release its waiters. At 64 trivial tasks in flight the writer committed
// 1.36 times per task, a few writes each; 5 ms apart it commits about once
// per 10 tasks, its CPU per task halves, and dispatch on 2 cores went from
// 0.64 to 0.72 of raw spawn (bench/README.md). A task then waits up to that
// gap for its start and end records, against its share of a CPU-bound
// agent; an agent with fewer tasks commits at once, so a lone task's
// latency is unchanged.
constexpr size_t kBusyTasks = 16;
constexpr std::chrono::microseconds kBusyCommitGap{5000};

// Rows are keyed by `ord`, the sequence number of their first write, which
// the caller keeps and gives with every later write (state_db.h). Keyed by
// their random ids, as before, each new row also went into an index on a
// leaf of its own, and each commit rewrote those leaves: keyed by `ord`, new
// rows go at the end of their table, and a commit writes about a third fewer
// pages.
constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS executions("
    "  ord INTEGER PRIMARY KEY, id TEXT NOT NULL, final INTEGER NOT NULL DEFAULT 0,"
    "  record TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '');"
    "CREATE TABLE IF NOT EXISTS task_runs("
    "  ord INTEGER PRIMARY KEY, id TEXT NOT NULL, execution_id TEXT NOT NULL,"
    "  record TEXT NOT NULL);";

// A database of an earlier version, keyed by id (with `ord` a column of the
// same values): its rows are copied into the tables above, in one transaction.
constexpr const char* kMigrateFromIdKeys =
    "BEGIN IMMEDIATE;"
    "CREATE TABLE executions_by_ord("
    "  ord INTEGER PRIMARY KEY, id TEXT NOT NULL, final INTEGER NOT NULL DEFAULT 0,"
    "  record TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT '');"
    "INSERT INTO executions_by_ord(ord, id, final, record, source)"
    "  SELECT ord, id, final, record, source FROM executions;"
    "DROP TABLE executions;"
    "ALTER TABLE executions_by_ord RENAME TO executions;"
    "CREATE TABLE task_runs_by_ord("
    "  ord INTEGER PRIMARY KEY, id TEXT NOT NULL, execution_id TEXT NOT NULL,"
    "  record TEXT NOT NULL);"
    "INSERT INTO task_runs_by_ord(ord, id, execution_id, record)"
    "  SELECT ord, id, execution_id, record FROM task_runs;"
    "DROP TABLE task_runs;"
    "ALTER TABLE task_runs_by_ord RENAME TO task_runs;"
    "COMMIT;";

constexpr const char* kPutExecution =
    "INSERT INTO executions(ord, id, final, record) VALUES(?1, ?2, ?3, ?4) "
    "ON CONFLICT(ord) DO UPDATE SET final = excluded.final, record = excluded.record";
// A new execution: its source and first record in one write.
constexpr const char* kPutSubmission =
    "INSERT INTO executions(ord, id, final, record, source) VALUES(?1, ?2, 0, ?3, ?4) "
    "ON CONFLICT(ord) DO UPDATE SET final = excluded.final, record = excluded.record, "
    "source = excluded.source";
constexpr const char* kPutRun =
    "INSERT INTO task_runs(ord, id, execution_id, record) VALUES(?1, ?2, ?3, ?4) "
    "ON CONFLICT(ord) DO UPDATE SET record = excluded.record";

enum class Kind : uint8_t { kExecution, kSubmission, kRun };

struct Op {
  uint64_t seq = 0;
  uint64_t row = 0;  // the row's ord: the seq of its first write
  Kind kind = Kind::kExecution;
  bool final = false;
  bool fail_fast = false;
  std::string id;
  std::string execution_id;
  std::string text;
  std::string source;  // kSubmission
};

struct Failure {
  uint64_t seq;
  std::string message;
};

std::string db_error(sqlite3* db, std::string_view what) {
  return std::string(what) + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory");
}

Status exec_sql(sqlite3* db, const char* sql, std::string_view what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = std::string(what) + ": " + (err != nullptr ? err : "unknown error");
    sqlite3_free(err);
    return Error(Errc::kInternal, msg);
  }
  return {};
}

// Whether `executions` is keyed by id: a database of an earlier version.
bool keyed_by_id(sqlite3* db) {
  sqlite3_stmt* s = nullptr;
  bool old = false;
  if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'executions'",
                         -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(s, 0);
    old = t != nullptr && std::string_view(reinterpret_cast<const char*>(t)).find("id TEXT PRIMARY KEY") !=
                              std::string_view::npos;
  }
  sqlite3_finalize(s);
  return old;
}

// Errors that mean "not a usable database", as opposed to "cannot write now".
bool is_corruption(int rc) {
  rc &= 0xff;
  return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB || rc == SQLITE_FORMAT;
}

}  // namespace

struct StateDb::Impl {
  uv_loop_t* loop;
  std::string path;
  sqlite3* db = nullptr;
  sqlite3_stmt* put_execution = nullptr;
  sqlite3_stmt* put_submission = nullptr;
  sqlite3_stmt* put_run = nullptr;

  // Loop side.
  uint64_t next_seq = 1;
  uint64_t stored_upto = 0;  // every seq up to this is durable (or failed fast)
  // Every waiter up to this has been called: later when_stored() calls at or
  // below it run at once, above it they queue behind the ones still waiting.
  uint64_t released_upto = 0;
  std::multimap<uint64_t, std::function<void(Status)>> waiters;
  std::function<void()> close_done;
  uv_async_t* async = nullptr;
  // Wakes the writer once per loop iteration, after everything the
  // iteration stored: one commit holds a submission and its first run's
  // record, or a run's end and its execution's, instead of one each.
  uv_idle_t* kick = nullptr;
  bool kick_armed = false;

  // Shared, under mu.
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Op> queue;
  bool stopping = false;
  uint64_t done_upto = 0;
  std::vector<Failure> failures;
  bool finished = false;
  std::string last_error;
  std::atomic<uint64_t> writes{0}, commits{0}, failed_commits{0}, superseded{0};
  std::atomic<bool> busy{false};  // set_running(): commits kBusyCommitGap apart

  // Writer thread.
  std::chrono::steady_clock::time_point last_commit{};

  std::thread thread;

  ~Impl() {
    sqlite3_finalize(put_execution);
    sqlite3_finalize(put_submission);
    sqlite3_finalize(put_run);
    if (db != nullptr) sqlite3_close(db);
  }

  Status open_db(std::vector<std::string>& warnings);
  Status prepare();
  Result<Loaded> load();
  uint64_t push(Op op);
  uint64_t row_of(uint64_t& row);
  void run();
  int commit(std::vector<Op>& batch);
  // commit()'s scratch, writer thread only.
  std::vector<bool> replaced;
  std::unordered_set<uint64_t> rows_seen;
  int step(const Op& op);
  void post(uint64_t upto, std::vector<Failure> failed, bool finished_now);
  void on_async();
};

Status StateDb::Impl::open_db(std::vector<std::string>& warnings) {
  for (int round = 0; round < 2; round++) {
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    // The database, its WAL and shared-memory files hold submissions and their
    // inputs (secrets among them): owner only.
    if (rc == SQLITE_OK) chmod(path.c_str(), 0600);
    Status st = rc == SQLITE_OK ? Status() : Status(Error(Errc::kInternal, db_error(db, "opening")));
    if (st.ok()) sqlite3_busy_timeout(db, 5000);
    // The agent alone uses its state directory (runnerd.lock): the database
    // is locked once, not around every transaction (which cost 9 fcntl calls
    // per trivial task), and the WAL index lives in memory, without -shm.
    // Set before WAL is first used, as SQLite requires for the index.
    if (st.ok()) st = exec_sql(db, "PRAGMA locking_mode=EXCLUSIVE", "locking the database");
    if (st.ok()) st = exec_sql(db, "PRAGMA journal_mode=WAL", "enabling WAL");
    if (st.ok()) st = exec_sql(db, "PRAGMA synchronous=NORMAL", "setting synchronous");
    bool corrupt = false;
    if (st.ok()) {
      sqlite3_stmt* check = nullptr;
      rc = sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &check, nullptr);
      if (rc == SQLITE_OK) rc = sqlite3_step(check);
      std::string verdict;
      if (rc == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(check, 0);
        verdict = t != nullptr ? reinterpret_cast<const char*>(t) : "";
      }
      sqlite3_finalize(check);
      if (rc != SQLITE_ROW || verdict != "ok") {
        corrupt = true;
        st = Error(Errc::kInternal, "integrity check: " +
                                        (verdict.empty() ? db_error(db, "checking") : verdict));
      }
    }
    if (st.ok() && keyed_by_id(db)) {
      st = exec_sql(db, kMigrateFromIdKeys, "keying the tables by row");
      if (!st.ok()) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    if (st.ok()) st = exec_sql(db, kSchema, "creating tables");
    if (st.ok()) st = prepare();
    if (st.ok()) return {};
    corrupt = corrupt || is_corruption(sqlite3_extended_errcode(db));
    sqlite3_finalize(put_execution);
    sqlite3_finalize(put_submission);
    sqlite3_finalize(put_run);
    put_execution = put_submission = put_run = nullptr;
    sqlite3_close(db);
    db = nullptr;
    if (!corrupt || round == 1) {
      return Error(Errc::kInternal, "state database " + path + ": " + st.error().message());
    }
    // Not a database, or a damaged one: keep it for inspection, start empty.
    std::string aside = path + ".corrupt-" + std::to_string(now_ms());
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::rename((path + suffix).c_str(), (aside + suffix).c_str());
    }
    warnings.push_back("state database " + path + " is unusable (" + st.error().message() +
                       "): moved to " + aside + "; starting with an empty state");
  }
  return Error(Errc::kInternal, "state database " + path + ": unusable");
}

Status StateDb::Impl::prepare() {
  for (auto [sql, stmt] : {std::pair{kPutExecution, &put_execution},
                           std::pair{kPutSubmission, &put_submission}, std::pair{kPutRun, &put_run}}) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK) {
      return Error(Errc::kInternal, db_error(db, "preparing statements"));
    }
  }
  return {};
}

Result<Loaded> StateDb::Impl::load() {
  Loaded out;
  auto text = [](sqlite3_stmt* s, int col) {
    const unsigned char* t = sqlite3_column_text(s, col);
    return t != nullptr ? std::string(reinterpret_cast<const char*>(t),
                                      static_cast<size_t>(sqlite3_column_bytes(s, col)))
                        : std::string();
  };
  sqlite3_stmt* s = nullptr;
  auto row = [](sqlite3_stmt* s, int col) { return static_cast<uint64_t>(sqlite3_column_int64(s, col)); };
  if (sqlite3_prepare_v2(db, "SELECT id, record, source, final, ord FROM executions ORDER BY ord", -1,
                         &s, nullptr) != SQLITE_OK) {
    return Error(Errc::kInternal, db_error(db, "reading executions"));
  }
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    out.executions.push_back(StoredExecution{text(s, 0), text(s, 1), text(s, 2),
                                             sqlite3_column_int(s, 3) != 0, row(s, 4)});
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return Error(Errc::kInternal, db_error(db, "reading executions"));
  if (sqlite3_prepare_v2(db, "SELECT id, execution_id, record, ord FROM task_runs ORDER BY ord", -1,
                         &s, nullptr) != SQLITE_OK) {
    return Error(Errc::kInternal, db_error(db, "reading task runs"));
  }
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    out.runs.push_back(StoredRun{text(s, 0), text(s, 1), text(s, 2), row(s, 3)});
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return Error(Errc::kInternal, db_error(db, "reading task runs"));
  // Rows keep their first write's order: new ones continue after the last.
  if (sqlite3_prepare_v2(db,
                         "SELECT max(coalesce((SELECT max(ord) FROM executions), 0),"
                         " coalesce((SELECT max(ord) FROM task_runs), 0))",
                         -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    next_seq = static_cast<uint64_t>(sqlite3_column_int64(s, 0)) + 1;
    stored_upto = next_seq - 1;
    released_upto = stored_upto;
    done_upto = stored_upto;
  }
  sqlite3_finalize(s);
  return out;
}

uint64_t StateDb::Impl::push(Op op) {
  op.seq = next_seq++;
  uint64_t seq = op.seq;
  {
    std::lock_guard<std::mutex> lock(mu);
    queue.push_back(std::move(op));
  }
  if (kick == nullptr) {
    cv.notify_one();
  } else if (!kick_armed) {
    // The next iteration runs idle handles before it polls, and does not
    // block in the poll while one is active.
    kick_armed = true;
    uv_idle_start(kick, [](uv_idle_t* h) noexcept {
      auto* self = static_cast<Impl*>(h->data);
      uv_idle_stop(h);
      self->kick_armed = false;
      self->cv.notify_one();
    });
  }
  return seq;
}

int StateDb::Impl::step(const Op& op) {
  sqlite3_stmt* s = op.kind == Kind::kExecution    ? put_execution
                    : op.kind == Kind::kSubmission ? put_submission
                                                   : put_run;
  sqlite3_reset(s);
  sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(op.row));
  sqlite3_bind_text(s, 2, op.id.data(), static_cast<int>(op.id.size()), SQLITE_STATIC);
  switch (op.kind) {
    case Kind::kExecution:
      sqlite3_bind_int(s, 3, op.final ? 1 : 0);
      sqlite3_bind_text(s, 4, op.text.data(), static_cast<int>(op.text.size()), SQLITE_STATIC);
      break;
    case Kind::kSubmission:
      sqlite3_bind_text(s, 3, op.text.data(), static_cast<int>(op.text.size()), SQLITE_STATIC);
      sqlite3_bind_text(s, 4, op.source.data(), static_cast<int>(op.source.size()), SQLITE_STATIC);
      break;
    case Kind::kRun:
      sqlite3_bind_text(s, 3, op.execution_id.data(), static_cast<int>(op.execution_id.size()),
                        SQLITE_STATIC);
      sqlite3_bind_text(s, 4, op.text.data(), static_cast<int>(op.text.size()), SQLITE_STATIC);
      break;
  }
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

// One transaction for the whole batch: a commit costs one WAL append however
// many writes it holds. A write that a later one in the batch replaces
// (the same row: rows are numbered across both tables) is not stepped: what
// lands is the same. A submission is always stepped: it alone carries the
// execution's source.
int StateDb::Impl::commit(std::vector<Op>& batch) {
  replaced.assign(batch.size(), false);
  rows_seen.clear();
  for (size_t i = batch.size(); i-- > 0;) {
    bool later = !rows_seen.insert(batch[i].row).second;
    replaced[i] = later && batch[i].kind != Kind::kSubmission;
  }
  int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  uint64_t skipped = 0;
  for (size_t i = 0; rc == SQLITE_OK && i < batch.size(); i++) {
    if (replaced[i]) {
      skipped++;
      continue;
    }
    rc = step(batch[i]);
  }
  if (rc == SQLITE_OK) superseded += skipped;
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_error(db, "storing state");
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    std::lock_guard<std::mutex> lock(mu);
    last_error = msg;
  }
  return rc;
}

void StateDb::Impl::run() {
  std::vector<Op> batch;  // everything not yet stored, in seq order
  int close_attempts = 0;
  bool retrying = false;
  while (true) {
    bool stop;
    {
      std::unique_lock<std::mutex> lock(mu);
      if (retrying) {
        cv.wait_for(lock, kRetryInterval, [&] { return stopping; });
      } else {
        cv.wait(lock, [&] { return stopping || !queue.empty(); });
        if (busy.load(std::memory_order_relaxed)) {
          cv.wait_until(lock, last_commit + kBusyCommitGap, [&] { return stopping; });
        }
      }
      for (auto& op : queue) batch.push_back(std::move(op));
      queue.clear();
      stop = stopping;
    }
    if (batch.empty()) {
      if (stop) break;
      continue;
    }
    uint64_t upto = batch.back().seq;
    int rc = commit(batch);
    last_commit = std::chrono::steady_clock::now();
    if (rc == SQLITE_OK) {
      writes += batch.size();
      commits++;
      batch.clear();
      retrying = false;
      {
        std::lock_guard<std::mutex> lock(mu);
        last_error.clear();
      }
      post(upto, {}, false);
      continue;
    }
    failed_commits++;
    retrying = true;
    // Submissions are refused rather than held: their clients are waiting.
    std::vector<Failure> failed;
    std::string why;
    {
      std::lock_guard<std::mutex> lock(mu);
      why = last_error;
    }
    std::vector<Op> keep;
    for (auto& op : batch) {
      if (op.fail_fast) {
        failed.push_back(Failure{op.seq, why});
      } else {
        keep.push_back(std::move(op));
      }
    }
    batch = std::move(keep);
    // Everything before the first write still held is settled.
    uint64_t settled = batch.empty() ? upto : batch.front().seq - 1;
    post(settled, std::move(failed), false);
    if (stop && ++close_attempts >= kCloseAttempts) {
      break;  // given up: reported by close()
    }
  }
  post(0, {}, true);
}

void StateDb::Impl::post(uint64_t upto, std::vector<Failure> failed, bool finished_now) {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (upto > done_upto) done_upto = upto;
    for (auto& f : failed) failures.push_back(std::move(f));
    if (finished_now) finished = true;
  }
  uv_async_send(async);
}

void StateDb::Impl::on_async() {
  uint64_t upto;
  std::vector<Failure> failed;
  bool done;
  {
    std::lock_guard<std::mutex> lock(mu);
    upto = done_upto;
    failed.swap(failures);
    done = finished;
  }
  for (auto& f : failed) {
    auto range = waiters.equal_range(f.seq);
    std::vector<std::function<void(Status)>> fns;
    for (auto it = range.first; it != range.second; ++it) fns.push_back(std::move(it->second));
    waiters.erase(range.first, range.second);
    for (auto& fn : fns) fn(Error(Errc::kUnavailable, f.message));
  }
  if (upto > stored_upto) stored_upto = upto;
  // A commit can settle thousands of writes at once (a burst of pipelined
  // submissions); their callbacks start tasks. At most kWaitersPerTick run per
  // loop iteration, the rest in the next ones, so that the loop keeps
  // serving pipes and clients in between (loop lag).
  size_t budget = kWaitersPerTick;
  while (!waiters.empty() && waiters.begin()->first <= stored_upto) {
    if (budget-- == 0) {
      released_upto = waiters.begin()->first - 1;
      uv_async_send(async);
      return;
    }
    auto fn = std::move(waiters.begin()->second);
    waiters.erase(waiters.begin());
    fn(Status());
  }
  released_upto = stored_upto;
  if (done && async != nullptr) {
    if (thread.joinable()) thread.join();
    uv_close(reinterpret_cast<uv_handle_t*>(async), [](uv_handle_t* h) noexcept {
      auto* self = static_cast<Impl*>(h->data);
      delete reinterpret_cast<uv_async_t*>(h);
      if (self->close_done) {
        auto fn = std::move(self->close_done);
        fn();
      }
    });
    async = nullptr;
  }
}

StateDb::StateDb(uv_loop_t* loop) : impl_(std::make_unique<Impl>()) { impl_->loop = loop; }

StateDb::~StateDb() {
  if (impl_->thread.joinable()) {
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      impl_->stopping = true;
    }
    impl_->cv.notify_one();
    impl_->thread.join();
  }
}

Result<Loaded> StateDb::open(const std::string& path, std::vector<std::string>& warnings) {
  impl_->path = path;
  AGENT_TRY(impl_->open_db(warnings));
  return impl_->load();
}

Status StateDb::start() {
  auto* async = new uv_async_t;
  int rc = uv_async_init(impl_->loop, async, [](uv_async_t* h) noexcept {
    static_cast<Impl*>(h->data)->on_async();
  });
  if (rc != 0) {
    delete async;
    return Error::from_uv(rc, "starting the state writer");
  }
  async->data = impl_.get();
  impl_->async = async;
  auto* kick = new uv_idle_t;
  uv_idle_init(impl_->loop, kick);  // cannot fail
  kick->data = impl_.get();
  impl_->kick = kick;
  impl_->thread = std::thread([impl = impl_.get()] {
    pthread_setname_np(pthread_self(), "runnerd-state");  // for top -H, perf, /proc
    impl->run();
  });
  return {};
}

uint64_t StateDb::Impl::row_of(uint64_t& row) {
  if (row == 0) row = next_seq;  // a new row: keyed by this write's seq (push)
  return row;
}

uint64_t StateDb::put_execution(uint64_t& row, const std::string& id, bool final,
                                std::string record) {
  Op op;
  op.row = impl_->row_of(row);
  op.kind = Kind::kExecution;
  op.final = final;
  op.id = id;
  op.text = std::move(record);
  return impl_->push(std::move(op));
}

uint64_t StateDb::put_submission(uint64_t& row, const std::string& id, std::string source,
                                 std::string record) {
  Op op;
  op.row = impl_->row_of(row);
  op.kind = Kind::kSubmission;
  op.fail_fast = true;
  op.id = id;
  op.text = std::move(record);
  op.source = std::move(source);
  return impl_->push(std::move(op));
}

uint64_t StateDb::put_run(uint64_t& row, const std::string& id, const std::string& execution_id,
                          std::string record) {
  Op op;
  op.row = impl_->row_of(row);
  op.kind = Kind::kRun;
  op.id = id;
  op.execution_id = execution_id;
  op.text = std::move(record);
  return impl_->push(std::move(op));
}

void StateDb::when_stored(uint64_t seq, std::function<void(Status)> done) {
  if (seq <= impl_->released_upto) {
    done(Status());
    return;
  }
  impl_->waiters.emplace(seq, std::move(done));
}

uint64_t StateDb::last_seq() const { return impl_->next_seq - 1; }

void StateDb::close(std::function<void()> done) {
  impl_->close_done = std::move(done);
  if (impl_->kick != nullptr) {  // from here on the stop below wakes the writer
    uv_close(reinterpret_cast<uv_handle_t*>(impl_->kick),
             [](uv_handle_t* h) noexcept { delete reinterpret_cast<uv_idle_t*>(h); });
    impl_->kick = nullptr;
    impl_->kick_armed = false;
  }
  if (impl_->async == nullptr) {
    auto fn = std::move(impl_->close_done);
    if (fn) fn();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_one();
}

void StateDb::set_running(size_t tasks) {
  impl_->busy.store(tasks >= kBusyTasks, std::memory_order_relaxed);
}

uint64_t StateDb::writes() const { return impl_->writes; }
uint64_t StateDb::commits() const { return impl_->commits; }
uint64_t StateDb::failed_commits() const { return impl_->failed_commits; }
uint64_t StateDb::superseded() const { return impl_->superseded; }
std::string StateDb::last_error() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->last_error;
}

}  // namespace agent::state
