#include "agent/logstream/line.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/common/time.h"

namespace agent::logstream {
namespace {

std::vector<std::string> split_all(LineSplitter& splitter, const std::vector<std::string>& feeds,
                                   bool finish = true) {
  std::vector<std::string> out;
  auto sink = [&](std::string_view line) { out.emplace_back(line); };
  for (const auto& f : feeds) splitter.feed(f, sink);
  if (finish) splitter.finish(sink);
  return out;
}

TEST(LineSplitterTest, SplitsOnNewlines) {
  LineSplitter s(100);
  EXPECT_EQ(split_all(s, {"a\nbb\n\nccc\n"}), (std::vector<std::string>{"a", "bb", "", "ccc"}));
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(LineSplitterTest, KeepsCarriageReturn) {
  LineSplitter s(100);
  EXPECT_EQ(split_all(s, {"a\r\nb\r\n"}), (std::vector<std::string>{"a\r", "b\r"}));
}

TEST(LineSplitterTest, LinesAcrossFeedBoundaries) {
  LineSplitter s(100);
  std::vector<std::string> out;
  auto sink = [&](std::string_view line) { out.emplace_back(line); };
  s.feed("hel", sink);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(s.buffered(), 3u);
  s.feed("lo\nwor", sink);
  EXPECT_EQ(out, (std::vector<std::string>{"hello"}));
  s.feed("", sink);
  s.feed("ld", sink);
  s.feed("\n", sink);
  EXPECT_EQ(out, (std::vector<std::string>{"hello", "world"}));
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(LineSplitterTest, ByteAtATime) {
  LineSplitter s(4);
  std::string input = "abcdefghij\nxy\n\nabcd\nabc\nabcdefgh\nz";
  std::vector<std::string> feeds;
  for (char c : input) feeds.emplace_back(1, c);
  EXPECT_EQ(split_all(s, feeds), (std::vector<std::string>{"abcd", "efgh", "ij", "xy", "", "abcd",
                                                           "abc", "abcd", "efgh", "z"}));
}

// A line of exactly max_line bytes whose '\n' arrives in the next feed is
// still one line, not a piece and an empty line.
TEST(LineSplitterTest, ExactLengthLineWithNewlineInNextFeed) {
  LineSplitter s(4);
  EXPECT_EQ(split_all(s, {"abcd", "\nef\n"}), (std::vector<std::string>{"abcd", "ef"}));
  LineSplitter t(4);
  EXPECT_EQ(split_all(t, {"abcdefgh", "\n"}), (std::vector<std::string>{"abcd", "efgh"}));
}

TEST(LineSplitterTest, CutsLongLinesIntoExactPieces) {
  LineSplitter s(4);
  EXPECT_EQ(split_all(s, {"abcdefghij\n"}), (std::vector<std::string>{"abcd", "efgh", "ij"}));
  // Exactly max_line bytes then newline: one line, no empty piece after it.
  LineSplitter t(4);
  EXPECT_EQ(split_all(t, {"abcd\nefgh\n"}), (std::vector<std::string>{"abcd", "efgh"}));
  // Exact multiple of max_line without newline, across feeds.
  LineSplitter u(4);
  EXPECT_EQ(split_all(u, {"ab", "cdef", "gh"}, false), (std::vector<std::string>{"abcd"}));
  EXPECT_EQ(u.buffered(), 4u);  // may still be a whole line if '\n' comes next
  std::vector<std::string> rest;
  u.feed("i", [&](std::string_view l) { rest.emplace_back(l); });
  EXPECT_EQ(rest, (std::vector<std::string>{"efgh"}));
  u.finish([&](std::string_view l) { rest.emplace_back(l); });
  EXPECT_EQ(rest, (std::vector<std::string>{"efgh", "i"}));
  EXPECT_EQ(u.buffered(), 0u);
  // Long lines split across feeds, the newline in the middle of a feed.
  LineSplitter v(3);
  EXPECT_EQ(split_all(v, {"abcdefg", "h\nij"}),
            (std::vector<std::string>{"abc", "def", "gh", "ij"}));
}

// Each piece says whether it is whole, cut (more follows) or continued, in
// whatever feeds the bytes come.
TEST(LineSplitterTest, PiecesSayWhetherTheyAreCutOrContinued) {
  for (size_t step : {1u, 3u, 4u, 100u}) {
    LineSplitter s(4);
    std::string input = "ab\nabcdefghij\nabcd\nxyz";
    std::vector<std::string> seen;
    auto sink = [&](std::string_view line) {
      seen.push_back(std::string(line) + (s.continued() ? "<" : "") + (s.cut() ? ">" : ""));
    };
    for (size_t i = 0; i < input.size(); i += step) s.feed(std::string_view(input).substr(i, step), sink);
    s.finish(sink);
    EXPECT_EQ(seen, (std::vector<std::string>{"ab", "abcd>", "efgh<>", "ij<", "abcd", "xyz"})) << step;
  }
}

TEST(LineSplitterTest, PiecesPreserveEveryByte) {
  // Line lengths 0..22 (exact multiples of max_line included), fed 5 bytes at a time.
  auto len_of = [](int i) { return static_cast<size_t>(i % 23); };
  std::string input;
  size_t expected_bytes = 0;
  size_t expected_lines = 0;
  for (int i = 0; i < 500; i++) {
    size_t len = len_of(i);
    input += std::string(len, static_cast<char>('a' + i % 26));
    input += '\n';
    expected_bytes += len;
    expected_lines += len == 0 ? 1 : (len + 6) / 7;  // e.g. 22 bytes: 7,7,7,1
  }
  std::vector<std::string> feeds;
  for (size_t i = 0; i < input.size(); i += 5) feeds.push_back(input.substr(i, 5));
  LineSplitter s(7);
  std::vector<std::string> lines = split_all(s, feeds);
  size_t total = 0;
  for (const auto& l : lines) {
    EXPECT_LE(l.size(), 7u);
    EXPECT_EQ(l.find('\n'), std::string::npos);
    total += l.size();
  }
  EXPECT_EQ(total, expected_bytes);
  EXPECT_EQ(lines.size(), expected_lines);
}

TEST(LineSplitterTest, FinishDeliversPartialLine) {
  LineSplitter s(100);
  std::vector<std::string> out;
  auto sink = [&](std::string_view line) { out.emplace_back(line); };
  s.feed("one\ntwo", sink);
  EXPECT_EQ(out, (std::vector<std::string>{"one"}));
  s.finish(sink);
  EXPECT_EQ(out, (std::vector<std::string>{"one", "two"}));
  s.finish(sink);  // nothing left: no empty line
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(s.buffered(), 0u);
}

TEST(LogRecordTest, LevelNames) {
  for (Level l : {Level::kTrace, Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    auto parsed = parse_level(level_name(l));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, l);
  }
  EXPECT_EQ(level_name(Level::kWarn), "WARN");
  EXPECT_FALSE(parse_level("WARNING").has_value());
  EXPECT_FALSE(parse_level("info").has_value());
  EXPECT_FALSE(parse_level("").has_value());
}

TEST(LogRecordTest, FormatsRecord) {
  std::string out;
  int64_t ts = 0;
  ASSERT_TRUE(parse_iso8601("2026-11-23T21:30:00.123Z", ts));
  append_record(out, ts, Level::kInfo, "hello world");
  EXPECT_EQ(out, "2026-11-23T21:30:00.123Z INFO hello world\n");
  append_record(out, ts + 1, Level::kError, "");
  EXPECT_EQ(out, "2026-11-23T21:30:00.123Z INFO hello world\n2026-11-23T21:30:00.124Z ERROR \n");
}

TEST(LogRecordTest, RoundTrip) {
  struct In {
    int64_t ts;
    Level level;
    std::string text;
  };
  std::vector<In> in = {{1, Level::kTrace, "a"},
                        {1700000000123, Level::kDebug, "  spaces  around  "},
                        {1700000000124, Level::kInfo, ""},
                        {1700000000999, Level::kWarn, "tab\there \r"},
                        {4102444800000, Level::kError, "::{\"outputs\":{}}::"}};
  std::string data;
  for (const auto& r : in) append_record(data, r.ts, r.level, r.text);
  std::vector<Line> out;
  ASSERT_TRUE(parse_records(data, 40, [&](const Line& l) { out.push_back(l); }));
  ASSERT_EQ(out.size(), in.size());
  for (size_t i = 0; i < in.size(); i++) {
    EXPECT_EQ(out[i].seq, 40 + i);
    EXPECT_EQ(out[i].ts_ms, in[i].ts);
    EXPECT_EQ(out[i].level, in[i].level);
    EXPECT_EQ(out[i].text, in[i].text);
  }
}

TEST(LogRecordTest, RejectsMalformed) {
  Line line;
  EXPECT_FALSE(parse_record("", line));
  EXPECT_FALSE(parse_record("garbage", line));
  EXPECT_FALSE(parse_record("2026-11-23T21:30:00.123Z WARNING x", line));
  EXPECT_FALSE(parse_record("2026-11-23 INFO x", line));
  EXPECT_TRUE(parse_record("2026-11-23T21:30:00.123Z INFO", line));
  EXPECT_EQ(line.text, "");
  int calls = 0;
  EXPECT_FALSE(
      parse_records("2026-11-23T21:30:00.123Z INFO no newline", 0, [&](const Line&) { calls++; }));
  EXPECT_FALSE(
      parse_records("2026-11-23T21:30:00.123Z INFO ok\nbad\n", 0, [&](const Line&) { calls++; }));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace agent::logstream
