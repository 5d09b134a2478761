// The task log reader (agent/logstream/log_file.h): read_log, count_lines and
// cut_log on a file in a memfd. The first input byte picks the file:
//  - even: the rest of the input is the file, as is (a damaged or hostile
//    log: torn frames, a zstd bomb, garbage index frames);
//  - odd: the rest describes lines, which are written as a real log is (index
//    frame + zstd frame per chunk, log_file.h), then maybe cut short or with
//    one byte changed.
// Every file: lines come numbered without gaps from where reading started,
// never before from_seq; paging through with a small budget and the offset
// hints gives the same lines as one large read; after cut_log, count_lines
// agrees with what it kept and every line left is stamped before the cut.
// A file written here and cut short: reading gives a prefix of the lines
// written (all of them when intact), and count_lines counts exactly that.
#include <sys/mman.h>
#include <unistd.h>
#include <zstd.h>

#include <optional>
#include <string>
#include <vector>

#include "agent/logstream/log_file.h"
#include "test/fuzz/fuzz_util.h"

namespace {

namespace ls = agent::logstream;
constexpr int64_t kStart = 1763933400123;  // 2025-11-23T21:30:00.123Z

bool same(const ls::Line& a, const ls::Line& b) {
  return a.seq == b.seq && a.ts_ms == b.ts_ms && a.level == b.level && a.text == b.text;
}

bool same(const std::vector<ls::Line>& a, const std::vector<ls::Line>& b, size_t n) {
  if (a.size() < n || b.size() < n) return false;
  for (size_t i = 0; i < n; i++) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) out += static_cast<char>(v >> (8 * i));
}

// Lines from the input: [level/ts byte][text up to '\n'] repeated; written in
// chunks whose line counts come from `cuts`.
std::string write_log(fuzz::Input& in, std::vector<ls::Line>& lines) {
  std::vector<size_t> chunk_lines = in.cuts(8);
  std::string_view rest = in.rest();
  int64_t ts = kStart;
  while (!rest.empty() && lines.size() < 512) {
    auto b = static_cast<unsigned char>(rest[0]);
    rest.remove_prefix(1);
    size_t nl = rest.find('\n');
    ls::Line l;
    l.seq = lines.size();
    l.level = static_cast<ls::Level>(b % 5);
    ts += (b / 5) * 997;
    l.ts_ms = ts;
    l.text = std::string(rest.substr(0, nl));
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    lines.push_back(std::move(l));
  }
  std::string file;
  size_t at = 0;
  for (size_t i = 0; at < lines.size(); i++) {
    size_t n = i < chunk_lines.size() ? std::max<size_t>(1, chunk_lines[i]) : lines.size() - at;
    n = std::min(n, lines.size() - at);
    std::string plain;
    for (size_t k = at; k < at + n; k++) ls::append_record(plain, lines[k].ts_ms, lines[k].level, lines[k].text);
    std::string frame(ZSTD_compressBound(plain.size()), '\0');
    size_t size = ZSTD_compress(frame.data(), frame.size(), plain.data(), plain.size(), 1);
    if (ZSTD_isError(size)) fuzz::fail("zstd cannot compress");
    put_le(file, 0x184D2A50, 4);  // skippable frame: the pair's index
    put_le(file, 16, 4);
    put_le(file, at, 8);
    put_le(file, n, 4);
    put_le(file, size, 4);
    file.append(frame.data(), size);
    at += n;
  }
  return file;
}

// Reads everything from `from` in pages of about `budget` bytes, following
// the offset hints; nullopt if a read fails, or if the file holds too many
// lines to page through in a fuzz run (each page still made progress).
std::optional<std::vector<ls::Line>> read_paged(const std::string& path, uint64_t from, size_t budget) {
  std::vector<ls::Line> all;
  uint64_t hint = 0;
  for (int pages = 0; pages < 2000; pages++) {
    auto r = ls::read_log(path, from, budget, hint);
    if (!r.ok()) return std::nullopt;
    for (auto& l : r->lines) {
      if (l.seq < from) fuzz::fail("a line before from_seq");
      if (l.seq != (all.empty() ? r->lines.front().seq : all.back().seq + 1)) fuzz::fail("line numbers have a gap");
      all.push_back(std::move(l));
    }
    if (!all.empty() && r->next_seq != all.back().seq + 1) fuzz::fail("next_seq is not after the last line");
    if (r->at_end) return all;
    if (r->lines.empty()) fuzz::fail("a page that is not the end returned nothing");
    from = r->next_seq;
    hint = r->next_offset;
  }
  return std::nullopt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  bool written = in.byte() % 2 == 1;
  uint8_t damage = in.byte();
  uint32_t where = in.u32();
  uint64_t from_seq = in.byte() % 4 == 0 ? in.byte() : 0;
  size_t budget = 1 + in.byte() * 4;
  int64_t cut_at = kStart + int64_t{in.byte()} * 997 * 8;

  std::vector<ls::Line> lines;
  std::string file = written ? write_log(in, lines) : std::string(in.rest());
  size_t intact = 0;  // lines whose pairs are untouched, when written here
  if (written) {
    intact = lines.size();
    if (damage % 3 == 1 && !file.empty()) {
      file.resize(where % file.size());
      intact = 0;  // worked out below from what count_lines says is whole
    } else if (damage % 3 == 2 && !file.empty()) {
      file[where % file.size()] ^= static_cast<char>(damage | 1);
      written = false;  // changed bytes: only the general invariants hold
    }
  }

  int fd = memfd_create("fuzz-log", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (!file.empty() && write(fd, file.data(), file.size()) != static_cast<ssize_t>(file.size())) {
    close(fd);
    return 0;
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);

  auto big = ls::read_log(path, 0, size_t{1} << 30);
  auto paged = read_paged(path, 0, budget);
  if (big.ok() && paged) {
    if (!big->at_end) fuzz::fail("a read with room for everything did not reach the end");
    if (big->lines.size() != paged->size() || !same(big->lines, *paged, paged->size())) {
      fuzz::fail("paging gives other lines than one read");
    }
  }
  if (big.ok() && from_seq > 0) {
    auto later = read_paged(path, from_seq, budget);
    if (!later) fuzz::fail("reading from a later line failed where reading all did not");
    size_t skip = 0;
    while (skip < big->lines.size() && big->lines[skip].seq < from_seq) skip++;
    std::vector<ls::Line> tail(big->lines.begin() + static_cast<std::ptrdiff_t>(skip), big->lines.end());
    if (tail.size() != later->size() || !same(tail, *later, tail.size())) {
      fuzz::fail("reading from a later line gives other lines");
    }
  }
  auto counted = ls::count_lines(path);

  if (written) {
    if (!big.ok() || !counted.ok()) fuzz::fail("a log written here cannot be read");
    if (damage % 3 == 1) intact = *counted;  // truncated: the whole pairs left
    if (big->lines.size() != intact || !same(big->lines, lines, intact)) {
      fuzz::fail("the lines read are not the lines written");
    }
    if (*counted != intact) fuzz::fail("count_lines does not count the lines written");
  }

  auto kept = ls::cut_log(path, cut_at);
  if (kept.ok()) {
    auto after = ls::count_lines(path);
    if (!after.ok() || *after != *kept) fuzz::fail("count_lines after cut_log is not what it kept");
    auto left = ls::read_log(path, 0, size_t{1} << 30);
    if (left.ok()) {
      for (const auto& l : left->lines) {
        if (l.ts_ms >= cut_at) fuzz::fail("a line stamped at or after the cut is left");
      }
    }
    if (written) {
      size_t want = 0;
      while (want < intact && lines[want].ts_ms < cut_at) want++;
      if (*kept != want || !left.ok() || left->lines.size() != want || !same(left->lines, lines, want)) {
        fuzz::fail("cut_log did not keep exactly the lines before the cut");
      }
    }
  }
  close(fd);
  return 0;
}
