// Task output: the line splitter (agent/logstream/line.h) and the `::{...}::`
// parser (protocol_line.h), taken as the supervisor takes them (a trailing
// '\r' stripped, lines of 6 bytes or more starting "::" classified).
// Differential: the same bytes fed whole or cut into random pieces (as pipe
// reads cut them) give the same lines and the same parsed messages. Each
// parsed message is also checked on its own: what is accepted has the
// protocol's shape, its values are JSON, and encoding it again and parsing
// that gives the same message.
#include <simdjson.h>

#include <cstdio>
#include <string>
#include <vector>

#include "agent/json/writer.h"
#include "agent/logstream/line.h"
#include "agent/logstream/protocol_line.h"
#include "test/fuzz/fuzz_util.h"

namespace {

using agent::logstream::ClassifiedLine;
using agent::logstream::LineKind;
using agent::logstream::ProtocolMessage;

// A double that reads back as the same double (and as a double: "-0.0", not "-0").
std::string number(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  std::string out = buf;
  if (out.find_first_of(".eEni") == std::string::npos) out += ".0";
  return out;
}

// Java's `.` stops at U+0085, U+2028 and U+2029 too, so a raw one in a
// string would make the line plain text: write them escaped, as a task would
// have to. They occur only inside strings, where the escape means the same.
std::string escape_line_terminators(const std::string& line) {
  std::string out;
  for (size_t i = 0; i < line.size(); i++) {
    std::string_view rest = std::string_view(line).substr(i);
    if (rest.starts_with("\xC2\x85")) {
      out += "\\u0085";
      i += 1;
    } else if (rest.starts_with("\xE2\x80\xA8") || rest.starts_with("\xE2\x80\xA9")) {
      out += rest[2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += line[i];
    }
  }
  return out;
}

// A parsed message as one comparable string.
std::string describe(const ClassifiedLine& c) {
  std::string out = std::to_string(static_cast<int>(c.kind)) + "|" + c.error + "|";
  for (const auto& [k, v] : c.message.outputs) out += k + "=" + v + ";";
  out += "|";
  for (const auto& m : c.message.metrics) {
    out += m.name + "," + m.type + "," + number(m.value) + ",";
    for (const auto& [k, v] : m.tags) out += k + ":" + v + ",";
    out += ";";
  }
  out += "|";
  for (const auto& l : c.message.logs) {
    out += std::to_string(static_cast<int>(l.level)) + "," + l.message + ";";
  }
  return out;
}

// The message written again as a protocol line.
std::string encode(const ProtocolMessage& m) {
  std::string out = "::{\"outputs\":{";
  for (size_t i = 0; i < m.outputs.size(); i++) {
    if (i > 0) out += ',';
    agent::json::append_quoted(out, m.outputs[i].first);
    out += ':';
    out += m.outputs[i].second;
  }
  out += "},\"metrics\":[";
  for (size_t i = 0; i < m.metrics.size(); i++) {
    const auto& e = m.metrics[i];
    if (i > 0) out += ',';
    out += "{\"name\":";
    agent::json::append_quoted(out, e.name);
    out += ",\"type\":";
    agent::json::append_quoted(out, e.type);
    out += ",\"value\":" + number(e.value) + ",\"tags\":{";
    bool first = true;
    for (const auto& [k, v] : e.tags) {
      if (!first) out += ',';
      first = false;
      agent::json::append_quoted(out, k);
      out += ':';
      agent::json::append_quoted(out, v);
    }
    out += "}}";
  }
  out += "],\"logs\":[";
  for (size_t i = 0; i < m.logs.size(); i++) {
    if (i > 0) out += ',';
    out += "{\"level\":\"";
    out += agent::logstream::level_name(m.logs[i].level);
    out += "\",\"message\":";
    agent::json::append_quoted(out, m.logs[i].message);
    out += '}';
  }
  out += "]}::";
  return escape_line_terminators(out);
}

// What the supervisor makes of one line: a plain log line or a parsed message.
std::string take_line(std::string_view line) {
  std::string_view bare = line;
  if (!bare.empty() && bare.back() == '\r') bare.remove_suffix(1);
  if (bare.size() < 6 || bare[0] != ':' || bare[1] != ':') return "plain";
  ClassifiedLine c = agent::logstream::classify_line(bare);
  if (c.kind == LineKind::kPlain) return "plain";
  // classify_line drops one more '\r' itself, as Java's `$` matches before a
  // final line terminator (a "\r\r\n" ending: Kestra's readLine would
  // have ended the line at the first '\r').
  std::string_view shape = bare;
  if (shape.ends_with('\r')) shape.remove_suffix(1);
  fuzz::check(shape.starts_with("::{") && shape.ends_with("}::"), "a line without the shape was parsed");
  if (c.kind == LineKind::kInvalid) {
    fuzz::check(!c.error.empty(), "a rejected line without a reason");
    fuzz::check(c.message.outputs.empty() && c.message.metrics.empty() && c.message.logs.empty(),
                "a rejected line kept part of its message");
    return describe(c);
  }
  fuzz::check(c.error.empty(), "an accepted line with an error");
  simdjson::dom::parser parser;
  for (const auto& [key, value] : c.message.outputs) {
    simdjson::dom::element e;
    fuzz::check(parser.parse(value).get(e) == simdjson::SUCCESS, "an output value is not JSON");
    fuzz::check(simdjson::minify(e) == value, "an output value is not compact JSON");
  }
  for (const auto& m : c.message.metrics) {
    fuzz::check(m.type == "counter" || m.type == "timer" || m.type == "gauge", "an unknown metric type");
  }
  // Written again, it reads the same (timers are now plain seconds).
  ClassifiedLine again = agent::logstream::classify_line(encode(c.message));
  if (again.kind != LineKind::kProtocol || describe(again) != describe(c)) {
    fuzz::fail("a parsed message does not survive being written again");
  }
  return describe(c);
}

std::vector<std::string> run(std::string_view bytes, size_t max_line, const std::vector<size_t>& cuts,
                             std::string* joined) {
  agent::logstream::LineSplitter splitter(max_line);
  std::vector<std::string> parsed;
  auto sink = [&](std::string_view l) {
    if (l.size() > max_line) fuzz::fail("a line longer than the bound");
    if (l.find('\n') != std::string_view::npos) fuzz::fail("a line holds a newline");
    if (joined != nullptr) joined->append(l);
    parsed.push_back(take_line(l));
    parsed.back() += "#" + std::string(l);
  };
  fuzz::feed_in_pieces(bytes, cuts, [&](std::string_view piece) {
    splitter.feed(piece, sink);
    if (splitter.buffered() > max_line) fuzz::fail("the splitter buffers more than a line");
  });
  splitter.finish(sink);
  return parsed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  size_t max_line = 6 + in.byte() * 8;
  std::vector<size_t> cuts = in.cuts(16);
  std::string_view bytes = in.rest();
  std::string joined;
  auto whole = run(bytes, max_line, {}, &joined);
  auto pieces = run(bytes, max_line, cuts, nullptr);
  if (whole != pieces) fuzz::fail("chunking changed the lines or their parsed result");
  std::string without_newlines;
  for (char c : bytes) {
    if (c != '\n') without_newlines += c;
  }
  if (joined != without_newlines) fuzz::fail("the splitter lost or added bytes");
  return 0;
}
