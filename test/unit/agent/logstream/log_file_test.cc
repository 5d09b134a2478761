#include "agent/logstream/log_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <zstd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace agent::logstream {
namespace {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/logstream_test.XXXXXX";
    char* made = ::mkdtemp(tmpl.data());
    if (made != nullptr) path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

mode_t current_umask() {
  mode_t m = ::umask(0);
  ::umask(m);
  return m;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The expected content of one log, line by line.
struct ExpectedLog {
  std::vector<Line> lines;
  std::string records;  // every record, as zstdcat prints the file
};

std::string line_text(uint64_t key, uint64_t seq) {
  std::string text = "log " + std::to_string(key) + " line " + std::to_string(seq);
  text.append(seq % 17, static_cast<char>('a' + seq % 26));  // varying lengths
  if (seq % 11 == 0) text += " ::{\"outputs\":{}}:: \t\r";
  return text;
}

ChunkPtr make_chunk(uint64_t key, uint64_t first_seq, uint32_t count, ExpectedLog* expected) {
  auto chunk = std::make_shared<Chunk>();
  chunk->log_key = key;
  chunk->first_seq = first_seq;
  chunk->line_count = count;
  for (uint32_t i = 0; i < count; i++) {
    Line line;
    line.seq = first_seq + i;
    line.ts_ms = 1700000000000 + static_cast<int64_t>(line.seq) * 7;
    line.level = static_cast<Level>(line.seq % 5);
    line.text = line_text(key, line.seq);
    append_record(chunk->data, line.ts_ms, line.level, line.text);
    if (expected != nullptr) expected->lines.push_back(std::move(line));
  }
  if (expected != nullptr) expected->records += chunk->data;
  return chunk;
}

void expect_lines_equal(const std::vector<Line>& got, const std::vector<Line>& want,
                        size_t want_from) {
  ASSERT_LE(want_from + got.size(), want.size());
  for (size_t i = 0; i < got.size(); i++) {
    const Line& w = want[want_from + i];
    ASSERT_EQ(got[i].seq, w.seq) << i;
    EXPECT_EQ(got[i].ts_ms, w.ts_ms) << i;
    EXPECT_EQ(got[i].level, w.level) << i;
    EXPECT_EQ(got[i].text, w.text) << i;
  }
}

// Everything the writer's callbacks reported, in order.
struct Event {
  enum Kind { kCommitted, kClosed, kDrained, kDone };
  explicit Event(Kind k, uint64_t k2 = 0, uint64_t seq = 0) : kind(k), key(k2), first_seq(seq) {}
  Kind kind;
  uint64_t key = 0;
  uint64_t first_seq = 0;
  bool ok = true;
  std::string error;
  Errc code = Errc::kInternal;
};

class LogFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_EQ(uv_loop_init(&loop_), 0);
  }
  void TearDown() override {
    writer_.reset();
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  LogWriter& make_writer(int level = 1) {
    LogWriter::Callbacks cb;
    cb.committed = [this](const ChunkPtr& c) {
      events_.emplace_back(Event::kCommitted, c->log_key, c->first_seq);
    };
    cb.closed = [this](uint64_t key, Status status) {
      Event e{Event::kClosed, key};
      e.ok = status.ok();
      if (!status.ok()) {
        e.error = status.error().message();
        e.code = status.error().code();
      }
      events_.push_back(std::move(e));
    };
    cb.drained = [this] { events_.emplace_back(Event::kDrained, 0, writer_->pending_bytes()); };
    writer_ = std::make_unique<LogWriter>(&loop_, level, std::move(cb));
    Status st = writer_->start();
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message());
    return *writer_;
  }

  // Closes the writer and runs the loop until everything is done.
  void finish_writer() {
    bool done = false;
    writer_->close([&] {
      done = true;
      events_.emplace_back(Event::kDone);
    });
    ASSERT_EQ(uv_run(&loop_, UV_RUN_DEFAULT), 0);
    ASSERT_TRUE(done);
    EXPECT_EQ(writer_->pending_bytes(), 0u);
  }

  std::vector<Event> of_kind(Event::Kind kind) const {
    std::vector<Event> out;
    for (const auto& e : events_) {
      if (e.kind == kind) out.push_back(e);
    }
    return out;
  }

  // Writes `logs` logs of about `chunks` chunks each, interleaved.
  std::map<uint64_t, ExpectedLog> write_logs(int logs, int chunks, uint32_t seed = 1) {
    std::map<uint64_t, ExpectedLog> expected;
    LogWriter& w = make_writer();
    std::mt19937 rng(seed);
    std::map<uint64_t, uint64_t> next_seq;
    for (int k = 1; k <= logs; k++) {
      w.open_log(static_cast<uint64_t>(k), path_of(static_cast<uint64_t>(k)));
    }
    for (int c = 0; c < chunks; c++) {
      for (int k = 1; k <= logs; k++) {
        uint64_t key = static_cast<uint64_t>(k);
        uint32_t count = 1 + rng() % 40;
        w.append(make_chunk(key, next_seq[key], count, &expected[key]));
        next_seq[key] += count;
      }
      if (c % 7 == 3) uv_run(&loop_, UV_RUN_NOWAIT);  // let some commits through mid-way
    }
    for (int k = 1; k <= logs; k++) w.close_log(static_cast<uint64_t>(k));
    finish_writer();
    return expected;
  }

  std::string path_of(uint64_t key) const { return dir_.file(std::to_string(key) + ".log.zst"); }

  TempDir dir_;
  uv_loop_t loop_;
  std::unique_ptr<LogWriter> writer_;
  std::vector<Event> events_;
};

TEST_F(LogFileTest, WritesSeveralLogsAndReportsInOrder) {
  auto expected = write_logs(3, 60);
  size_t total_bytes = 0;
  for (const auto& [key, log] : expected) total_bytes += log.records.size();
  EXPECT_EQ(writer_->bytes_in(), total_bytes);
  EXPECT_GT(writer_->bytes_stored(), 0u);
  EXPECT_LT(writer_->bytes_stored(), total_bytes);  // compressed
  EXPECT_FALSE(writer_->above_high_water());

  // Per log: chunks committed in seq order, then exactly one ok close.
  std::map<uint64_t, int64_t> last_start;
  std::map<uint64_t, bool> closed;
  for (const Event& e : events_) {
    if (e.kind == Event::kCommitted) {
      EXPECT_FALSE(closed[e.key]) << "commit after close of log " << e.key;
      auto it = last_start.find(e.key);
      if (it != last_start.end()) {
        EXPECT_GT(static_cast<int64_t>(e.first_seq), it->second);
      }
      last_start[e.key] = static_cast<int64_t>(e.first_seq);
    } else if (e.kind == Event::kClosed) {
      EXPECT_FALSE(closed[e.key]);
      EXPECT_TRUE(e.ok) << e.error;
      closed[e.key] = true;
    }
  }
  EXPECT_EQ(of_kind(Event::kCommitted).size(), 3u * 60u);
  EXPECT_EQ(of_kind(Event::kClosed).size(), 3u);
  EXPECT_TRUE(of_kind(Event::kDrained).empty());
  EXPECT_EQ(events_.back().kind, Event::kDone);

  for (const auto& [key, log] : expected) {
    auto r = read_log(path_of(key), 0, SIZE_MAX);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_TRUE(r->at_end);
    EXPECT_EQ(r->next_seq, log.lines.size());
    ASSERT_EQ(r->lines.size(), log.lines.size());
    expect_lines_equal(r->lines, log.lines, 0);
    struct stat st;
    ASSERT_EQ(::stat(path_of(key).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0640u & ~current_umask());
  }
}

TEST_F(LogFileTest, CommitsArriveInSeqOrderPerLog) {
  auto expected = write_logs(4, 40, 7);
  // Rebuild each log's chunk boundaries from the commits and check they tile
  // the log's seqs with no gap or overlap.
  std::map<uint64_t, std::vector<uint64_t>> starts;
  for (const Event& e : events_) {
    if (e.kind == Event::kCommitted) starts[e.key].push_back(e.first_seq);
  }
  ASSERT_EQ(starts.size(), 4u);
  for (const auto& [key, s] : starts) {
    ASSERT_EQ(s.size(), 40u);
    EXPECT_EQ(s.front(), 0u);
    for (size_t i = 1; i < s.size(); i++) EXPECT_LT(s[i - 1], s[i]) << "log " << key;
    EXPECT_LT(s.back(), expected[key].lines.size());
  }
  // Each close comes after the last commit of its log.
  for (size_t i = 0; i < events_.size(); i++) {
    if (events_[i].kind != Event::kClosed) continue;
    for (size_t j = i + 1; j < events_.size(); j++) {
      EXPECT_FALSE(events_[j].kind == Event::kCommitted && events_[j].key == events_[i].key);
    }
  }
}

TEST_F(LogFileTest, ReadsFromAnySeq) {
  auto expected = write_logs(2, 30, 3);
  const ExpectedLog& log = expected[2];
  const uint64_t n = log.lines.size();
  for (uint64_t from : {uint64_t{0}, uint64_t{1}, n / 3, n / 2, n - 1}) {
    auto r = read_log(path_of(2), from, SIZE_MAX);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_TRUE(r->at_end);
    EXPECT_EQ(r->next_seq, n);
    ASSERT_EQ(r->lines.size(), n - from) << "from " << from;
    expect_lines_equal(r->lines, log.lines, from);
  }
  for (uint64_t from : {n, n + 1, uint64_t{1} << 40}) {
    auto r = read_log(path_of(2), from, SIZE_MAX);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->lines.empty());
    EXPECT_TRUE(r->at_end);
    EXPECT_EQ(r->next_seq, from);
  }
}

TEST_F(LogFileTest, PagesByMaxBytes) {
  auto expected = write_logs(1, 50, 5);
  const ExpectedLog& log = expected[1];
  for (size_t max_bytes : {size_t{0}, size_t{1}, size_t{100}, size_t{1000}, size_t{5000}}) {
    for (bool use_hint : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "max_bytes " << max_bytes << " hint " << use_hint);
      std::vector<Line> all;
      uint64_t from = 0;
      uint64_t hint = 0;
      int pages = 0;
      while (true) {
        auto r = read_log(path_of(1), from, max_bytes, use_hint ? hint : 0);
        ASSERT_TRUE(r.ok()) << r.error().message();
        size_t text = 0;
        for (const Line& l : r->lines) text += l.text.size();
        if (r->lines.size() > 1) {
          EXPECT_LE(text, max_bytes);
        }
        if (!r->at_end) {
          ASSERT_FALSE(r->lines.empty()) << "no progress";
          // The page stopped because the next line would not fit.
          ASSERT_LT(r->next_seq, log.lines.size());
          EXPECT_GT(text + log.lines[r->next_seq].text.size(), max_bytes);
        }
        EXPECT_EQ(r->next_seq, from + r->lines.size());
        for (auto& l : r->lines) all.push_back(std::move(l));
        from = r->next_seq;
        EXPECT_GE(r->next_offset, hint);
        hint = r->next_offset;
        pages++;
        if (r->at_end) break;
        ASSERT_LT(pages, 100000);
      }
      EXPECT_EQ(from, log.lines.size());
      ASSERT_EQ(all.size(), log.lines.size()) << "max_bytes " << max_bytes;
      expect_lines_equal(all, log.lines, 0);
      if (max_bytes == 0) {
        EXPECT_EQ(static_cast<size_t>(pages), log.lines.size());
      }
      // At the end, the hint points past the last pair: the file's size.
      struct stat st;
      ASSERT_EQ(::stat(path_of(1).c_str(), &st), 0);
      EXPECT_EQ(hint, static_cast<uint64_t>(st.st_size));
    }
  }
}

TEST_F(LogFileTest, OffsetHints) {
  auto expected = write_logs(1, 20, 11);
  const ExpectedLog& log = expected[1];
  const uint64_t n = log.lines.size();
  struct stat st;
  ASSERT_EQ(::stat(path_of(1).c_str(), &st), 0);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  // The hint of the pair holding seq n/2, found by a small read.
  auto first = read_log(path_of(1), n / 2, 0);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->lines.size(), 1u);
  const uint64_t mid_hint = first->next_offset;
  ASSERT_GT(mid_hint, 0u);
  ASSERT_LT(mid_hint, size);
  auto r = read_log(path_of(1), n / 2 + 1, SIZE_MAX, mid_hint);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->at_end);
  ASSERT_EQ(r->lines.size(), n - n / 2 - 1);
  expect_lines_equal(r->lines, log.lines, n / 2 + 1);
  EXPECT_EQ(r->next_offset, size);
  // Hints that are wrong never give a wrong answer: mid-frame, past the end,
  // or a pair after from_seq.
  for (uint64_t bad : {uint64_t{1}, uint64_t{7}, mid_hint + 3, size + 100, mid_hint}) {
    uint64_t from = bad == mid_hint ? 0 : 3;
    auto b = read_log(path_of(1), from, SIZE_MAX, bad);
    ASSERT_TRUE(b.ok()) << bad;
    EXPECT_TRUE(b->at_end);
    ASSERT_EQ(b->lines.size(), n - from) << "hint " << bad;
    expect_lines_equal(b->lines, log.lines, from);
  }
  // A hint at the end of the file: nothing new yet.
  auto e = read_log(path_of(1), n, SIZE_MAX, size);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->lines.empty());
  EXPECT_TRUE(e->at_end);
  EXPECT_EQ(e->next_offset, size);
}

TEST_F(LogFileTest, TornTailIsIgnored) {
  LogWriter& w = make_writer();
  ExpectedLog log;
  w.open_log(1, path_of(1));
  w.append(make_chunk(1, 0, 10, &log));
  w.append(make_chunk(1, 10, 10, &log));
  w.close_log(1);
  finish_writer();
  std::string whole = read_file(path_of(1));
  // The first pair's size, from its index frame.
  auto u32 = [&](size_t off) {
    return static_cast<uint32_t>(static_cast<unsigned char>(whole[off])) |
           static_cast<uint32_t>(static_cast<unsigned char>(whole[off + 1])) << 8 |
           static_cast<uint32_t>(static_cast<unsigned char>(whole[off + 2])) << 16 |
           static_cast<uint32_t>(static_cast<unsigned char>(whole[off + 3])) << 24;
  };
  ASSERT_EQ(u32(0), 0x184D2A50u);
  ASSERT_EQ(u32(4), 16u);
  size_t first_pair = 24 + u32(20);
  ASSERT_LT(first_pair, whole.size());
  ASSERT_EQ(u32(first_pair), 0x184D2A50u);

  for (size_t cut :
       {first_pair + 1, first_pair + 12, first_pair + 24, first_pair + 30, whole.size() - 1}) {
    std::string torn = dir_.file("torn.log.zst");
    {
      std::ofstream out(torn, std::ios::binary | std::ios::trunc);
      out.write(whole.data(), static_cast<std::streamsize>(cut));
    }
    auto r = read_log(torn, 0, SIZE_MAX);
    ASSERT_TRUE(r.ok()) << "cut " << cut << ": " << r.error().message();
    EXPECT_TRUE(r->at_end);
    ASSERT_EQ(r->lines.size(), 10u) << "cut " << cut;
    expect_lines_equal(r->lines, log.lines, 0);
    EXPECT_EQ(r->next_seq, 10u);
    auto tail = read_log(torn, 12, SIZE_MAX);
    ASSERT_TRUE(tail.ok());
    EXPECT_TRUE(tail->lines.empty());
    EXPECT_EQ(tail->next_seq, 12u);
    EXPECT_TRUE(tail->at_end);
  }
  // Garbage instead of an index frame ends the log too.
  {
    std::ofstream out(path_of(1), std::ios::binary | std::ios::app);
    out << "garbage that is not a frame";
  }
  auto r = read_log(path_of(1), 0, SIZE_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->lines.size(), 20u);
  EXPECT_TRUE(r->at_end);
}

TEST_F(LogFileTest, AppendingCutsATornTail) {
  ExpectedLog log;
  {
    LogWriter& w = make_writer();
    w.open_log(1, path_of(1));
    w.append(make_chunk(1, 0, 10, &log));
    w.append(make_chunk(1, 10, 10, nullptr));  // torn below, then written again
    w.close_log(1);
    finish_writer();
  }
  struct stat st;
  ASSERT_EQ(::stat(path_of(1).c_str(), &st), 0);
  ASSERT_EQ(::truncate(path_of(1).c_str(), st.st_size - 5), 0);
  events_.clear();
  {
    LogWriter& w = make_writer();
    w.open_log(1, path_of(1));
    w.append(make_chunk(1, 10, 10, &log));
    w.close_log(1);
    finish_writer();
  }
  auto r = read_log(path_of(1), 0, SIZE_MAX);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->lines.size(), 20u);
  expect_lines_equal(r->lines, log.lines, 0);
  EXPECT_EQ(read_file(path_of(1)).size(), r->next_offset);

  // A torn first pair (only part of the index frame) is cut too.
  std::string whole = read_file(path_of(1));
  {
    std::ofstream out(path_of(2), std::ios::binary);
    out.write(whole.data(), 10);
  }
  // A file that is not a log is never cut.
  {
    std::ofstream out(path_of(3), std::ios::binary);
    out << "not a log\n";
  }
  events_.clear();
  {
    LogWriter& w = make_writer();
    w.open_log(2, path_of(2));
    w.open_log(3, path_of(3));
    w.append(make_chunk(2, 0, 4, nullptr));
    w.append(make_chunk(3, 0, 4, nullptr));
    w.close_log(2);
    w.close_log(3);
    finish_writer();
  }
  r = read_log(path_of(2), 0, SIZE_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->lines.size(), 4u);
  EXPECT_EQ(read_file(path_of(3)).substr(0, 10), "not a log\n");
}

TEST_F(LogFileTest, MissingFileIsEmpty) {
  auto r = read_log(dir_.file("nope.log.zst"), 5, 100);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->lines.empty());
  EXPECT_TRUE(r->at_end);
  EXPECT_EQ(r->next_seq, 5u);
  // A directory is an I/O error, not "missing".
  auto d = read_log(dir_.path(), 0, 100);
  EXPECT_FALSE(d.ok());
}

TEST_F(LogFileTest, FileIsZstdcatCompatible) {
  auto expected = write_logs(2, 25, 9);
  for (const auto& [key, log] : expected) {
    // With the library's streaming decoder, which skips the index frames.
    std::string file = read_file(path_of(key));
    std::string plain;
    std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
    ZSTD_inBuffer in{file.data(), file.size(), 0};
    std::string buf(ZSTD_DStreamOutSize(), '\0');
    size_t rc = 1;
    while (in.pos < in.size) {
      ZSTD_outBuffer out{buf.data(), buf.size(), 0};
      rc = ZSTD_decompressStream(dctx.get(), &out, &in);
      ASSERT_FALSE(ZSTD_isError(rc)) << ZSTD_getErrorName(rc);
      plain.append(buf.data(), out.pos);
    }
    EXPECT_EQ(rc, 0u);  // ended on a frame boundary
    EXPECT_EQ(plain, log.records);

    // With the zstd CLI.
    std::string cmd = "zstd -dc '" + path_of(key) + "' 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string cli;
    char tmp[65536];
    size_t n;
    while ((n = std::fread(tmp, 1, sizeof tmp, p)) > 0) cli.append(tmp, n);
    int status = ::pclose(p);
    EXPECT_EQ(status, 0);
    EXPECT_EQ(cli, log.records);
  }
}

TEST_F(LogFileTest, AppendsToAnExistingFile) {
  ExpectedLog log;
  {
    LogWriter& w = make_writer();
    w.open_log(1, path_of(1));
    w.append(make_chunk(1, 0, 5, &log));
    w.close_log(1);
    finish_writer();
  }
  events_.clear();
  {
    LogWriter& w = make_writer(3);
    w.open_log(1, path_of(1));
    w.append(make_chunk(1, 5, 7, &log));
    w.append(make_chunk(1, 12, 1, &log));
    w.close_log(1);
    finish_writer();
  }
  auto r = read_log(path_of(1), 0, SIZE_MAX);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->lines.size(), 13u);
  expect_lines_equal(r->lines, log.lines, 0);
  r = read_log(path_of(1), 6, SIZE_MAX);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->lines.size(), 7u);
  expect_lines_equal(r->lines, log.lines, 6);
}

TEST_F(LogFileTest, DiskFullIsReportedOnClose) {
  LogWriter& w = make_writer();
  w.open_log(1, "/dev/full");
  w.open_log(2, path_of(2));
  w.append(make_chunk(1, 0, 10, nullptr));
  w.append(make_chunk(2, 0, 10, nullptr));
  w.append(make_chunk(1, 10, 10, nullptr));
  w.close_log(1);
  w.close_log(2);
  finish_writer();
  std::vector<Event> committed = of_kind(Event::kCommitted);
  ASSERT_EQ(committed.size(), 1u);  // only log 2's chunk
  EXPECT_EQ(committed[0].key, 2u);
  std::vector<Event> closed = of_kind(Event::kClosed);
  ASSERT_EQ(closed.size(), 2u);
  for (const Event& e : closed) {
    if (e.key == 1) {
      EXPECT_FALSE(e.ok);
      EXPECT_EQ(e.code, Errc::kResourceExhausted);
      EXPECT_NE(e.error.find("/dev/full"), std::string::npos) << e.error;
      EXPECT_NE(e.error.find("No space left on device"), std::string::npos) << e.error;
    } else {
      EXPECT_TRUE(e.ok) << e.error;
    }
  }
}

TEST_F(LogFileTest, OpenErrorIsReportedOnClose) {
  LogWriter& w = make_writer();
  w.open_log(1, dir_.file("no/such/dir.log.zst"));
  w.append(make_chunk(1, 0, 3, nullptr));
  w.close_log(1);
  w.close_log(99);  // never opened
  finish_writer();
  EXPECT_TRUE(of_kind(Event::kCommitted).empty());
  std::vector<Event> closed = of_kind(Event::kClosed);
  ASSERT_EQ(closed.size(), 2u);
  EXPECT_EQ(closed[0].key, 1u);
  EXPECT_FALSE(closed[0].ok);
  EXPECT_EQ(closed[0].code, Errc::kNotFound);
  EXPECT_NE(closed[0].error.find("no/such/dir.log.zst"), std::string::npos) << closed[0].error;
  EXPECT_EQ(closed[1].key, 99u);
  EXPECT_FALSE(closed[1].ok);
}

TEST_F(LogFileTest, CloseWithoutChunksCreatesNothing) {
  LogWriter& w = make_writer();
  w.open_log(1, path_of(1));
  w.close_log(1);
  finish_writer();
  std::vector<Event> closed = of_kind(Event::kClosed);
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_TRUE(closed[0].ok);
  auto r = read_log(path_of(1), 0, SIZE_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->lines.empty());
  EXPECT_TRUE(r->at_end);
}

TEST_F(LogFileTest, CloseWithoutStartRunsDone) {
  writer_ = std::make_unique<LogWriter>(&loop_, 1, LogWriter::Callbacks{});
  bool done = false;
  writer_->close([&] { done = true; });
  EXPECT_TRUE(done);
  EXPECT_EQ(uv_run(&loop_, UV_RUN_DEFAULT), 0);
}

TEST_F(LogFileTest, PendingBytesAndDrained) {
  LogWriter& w = make_writer();
  w.open_log(1, path_of(1));
  // Queue more than the high-water mark before the loop runs any commit.
  const size_t target = LogWriter::kHighWater + (1u << 20);
  uint64_t seq = 0;
  size_t queued = 0;
  ChunkPtr model = make_chunk(1, 0, 10000, nullptr);  // copied: cheap under sanitizers
  while (queued <= target) {
    auto c = std::make_shared<Chunk>(*model);
    c->first_seq = seq;
    seq += c->line_count;
    queued += c->data.size();
    w.append(std::move(c));
    EXPECT_EQ(w.pending_bytes(), queued);
  }
  EXPECT_TRUE(w.above_high_water());
  w.close_log(1);
  finish_writer();
  std::vector<Event> drained = of_kind(Event::kDrained);
  ASSERT_EQ(drained.size(), 1u);
  // `first_seq` carries pending_bytes() as seen from the drained callback.
  EXPECT_LT(drained[0].first_seq, LogWriter::kLowWater);
  EXPECT_EQ(w.pending_bytes(), 0u);
  EXPECT_EQ(w.bytes_in(), queued);
  EXPECT_FALSE(w.above_high_water());
  auto r = read_log(path_of(1), seq - 3, SIZE_MAX);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->lines.size(), 3u);
  EXPECT_EQ(r->next_seq, seq);
  if (r->lines.size() == 3) {
    EXPECT_EQ(r->lines[2].text, line_text(1, 9999));
  }
}

// Not a correctness test: prints the writer's throughput on 256 MiB of lines.
// Run with --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'.
TEST_F(LogFileTest, DISABLED_Throughput) {
  LogWriter& w = make_writer(1);
  w.open_log(1, path_of(1));
  const size_t total = 256u << 20;
  // Prebuild chunks (64 KiB of lines each) so only the writer is measured.
  std::vector<ChunkPtr> chunks;
  uint64_t seq = 0;
  size_t bytes = 0;
  int64_t ts = 1700000000000;
  uint64_t rng = 88172645463325252ull;
  while (bytes < total) {
    auto c = std::make_shared<Chunk>();
    c->log_key = 1;
    c->first_seq = seq;
    while (c->data.size() < (64u << 10)) {
      // Log-like lines with random ids: compresses about as well as real logs.
      rng ^= rng << 13;
      rng ^= rng >> 7;
      rng ^= rng << 17;
      char text[160];
      int n = std::snprintf(
          text, sizeof text,
          "[worker-%llu] request id=%016llx user=%08llx bytes=%llu took=%llums "
          "status=%s",
          static_cast<unsigned long long>(rng % 8), static_cast<unsigned long long>(rng),
          static_cast<unsigned long long>((rng >> 20) & 0xffffffff),
          static_cast<unsigned long long>((rng >> 7) % 100000),
          static_cast<unsigned long long>((rng >> 3) % 2000), rng % 10 == 0 ? "error" : "ok");
      append_record(c->data, ts + static_cast<int64_t>(seq / 1000), Level::kInfo,
                    std::string_view(text, static_cast<size_t>(n)));
      c->line_count++;
      seq++;
    }
    bytes += c->data.size();
    chunks.push_back(std::move(c));
  }
  auto start = std::chrono::steady_clock::now();
  size_t next = 0;
  // Feed with back-pressure as a real caller would: stop above high water.
  uv_idle_t idle;
  uv_idle_init(&loop_, &idle);
  struct Feed {
    LogWriter* w;
    std::vector<ChunkPtr>* chunks;
    size_t* next;
  } feed{&w, &chunks, &next};
  idle.data = &feed;
  uv_idle_start(&idle, [](uv_idle_t* h) noexcept {
    auto* f = static_cast<Feed*>(h->data);
    while (*f->next < f->chunks->size() && !f->w->above_high_water()) {
      f->w->append((*f->chunks)[(*f->next)++]);
    }
    if (*f->next == f->chunks->size()) {
      uv_idle_stop(h);
      f->w->close_log(1);
    }
  });
  while (next < chunks.size()) uv_run(&loop_, UV_RUN_ONCE);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle), nullptr);
  finish_writer();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  chunks.clear();
  std::printf("LogWriter: %.1f MiB in %.2f s = %.1f MiB/s, stored %.1f MiB (ratio %.1fx)\n",
              static_cast<double>(bytes) / (1 << 20), secs,
              static_cast<double>(bytes) / (1 << 20) / secs,
              static_cast<double>(w.bytes_stored()) / (1 << 20),
              static_cast<double>(bytes) / static_cast<double>(w.bytes_stored()));
  auto t0 = std::chrono::steady_clock::now();
  uint64_t from = 0;
  uint64_t hint = 0;
  size_t lines = 0;
  while (true) {
    auto r = read_log(path_of(1), from, 4u << 20, hint);
    ASSERT_TRUE(r.ok());
    lines += r->lines.size();
    from = r->next_seq;
    hint = r->next_offset;
    if (r->at_end) break;
  }
  double rsecs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(lines, seq);
  std::printf("read_log (4 MiB pages, offset hints): %zu lines in %.2f s\n", lines, rsecs);
}

}  // namespace
}  // namespace agent::logstream
