// Task output: the line splitter (agent/logstream/line.h) and the `::{...}::`
// parser (protocol_line.h). Differential: the same bytes fed whole or cut into
// random pieces give the same lines, and each line classifies the same way.
#include <string>
#include <vector>

#include "agent/logstream/line.h"
#include "agent/logstream/protocol_line.h"
#include "test/fuzz/fuzz_util.h"

namespace {

std::vector<std::string> split(std::string_view bytes, size_t max_line, const std::vector<size_t>& cuts) {
  agent::logstream::LineSplitter splitter(max_line);
  std::vector<std::string> lines;
  auto sink = [&](std::string_view l) { lines.emplace_back(l); };
  size_t at = 0;
  for (size_t cut : cuts) {
    size_t n = std::min(cut, bytes.size() - at);
    splitter.feed(bytes.substr(at, n), sink);
    at += n;
  }
  splitter.feed(bytes.substr(at), sink);
  splitter.finish(sink);
  return lines;
}

std::string describe(const agent::logstream::ClassifiedLine& c) {
  std::string out = std::to_string(static_cast<int>(c.kind)) + "|" + c.error + "|";
  for (const auto& [k, v] : c.message.outputs) out += k + "=" + v + ";";
  out += "|" + std::to_string(c.message.metrics.size()) + "|" + std::to_string(c.message.logs.size());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  size_t max_line = 16 + in.byte() * 8;
  std::vector<size_t> cuts;
  for (int i = 0, n = in.byte() % 16; i < n; i++) cuts.push_back(in.byte());
  std::string_view bytes = in.rest();
  auto whole = split(bytes, max_line, {});
  auto pieces = split(bytes, max_line, cuts);
  if (whole != pieces) fuzz::fail("chunking changed the lines");
  std::string joined;
  for (const auto& l : whole) {
    if (l.size() > max_line) fuzz::fail("a line longer than the bound");
    joined += l;
    auto a = agent::logstream::classify_line(l);
    auto b = agent::logstream::classify_line(l);
    if (describe(a) != describe(b)) fuzz::fail("classify_line is not deterministic");
  }
  std::string without_newlines;
  for (char c : bytes) {
    if (c != '\n') without_newlines += c;
  }
  if (joined != without_newlines) fuzz::fail("the splitter lost or added bytes");
  return 0;
}
