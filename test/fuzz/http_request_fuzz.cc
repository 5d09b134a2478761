// The metrics listener's request head parser (agent/metrics/http_request.h),
// as the listener uses it: the same growing buffer parsed again after each
// read. Differential: a prefix of the bytes (a read that stopped early) is
// incomplete, or the same error as the whole, or the same complete head;
// never a different answer. And what is accepted is what the parser
// promises: a token method, an origin-form path, views inside the input, a
// head within the limits that ends in a blank line.
#include <algorithm>
#include <cstdint>
#include <string_view>

#include "agent/metrics/http_request.h"
#include "test/fuzz/fuzz_util.h"

namespace {

using agent::metrics::HttpLimits;
using agent::metrics::HttpParse;
using agent::metrics::HttpParseResult;
using agent::metrics::parse_http_request;

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void check_complete(const HttpParseResult& r, std::string_view input, const HttpLimits& limits) {
  const auto& h = r.head;
  fuzz::check(h.head_bytes > 0 && h.head_bytes <= input.size(), "head_bytes within the input");
  fuzz::check(h.head_bytes <= limits.max_head_bytes, "head within max_head_bytes");
  fuzz::check(h.header_count <= limits.max_headers, "header count within max_headers");
  fuzz::check(!h.method.empty(), "a method");
  fuzz::check(!h.path.empty() && h.path[0] == '/', "an origin-form path");
  fuzz::check(h.path.find('?') == std::string_view::npos, "the path stops at '?'");
  fuzz::check(h.path.size() + h.query.size() <= limits.max_target_bytes, "target within its limit");
  fuzz::check(inside(h.method, input) && inside(h.path, input) && inside(h.query, input),
              "views point into the input");
  fuzz::check(h.minor_version == 0 || h.minor_version == 1, "HTTP/1.0 or 1.1");
  std::string_view head = input.substr(0, h.head_bytes);
  fuzz::check(head.ends_with("\n\n") || head.ends_with("\r\n\r\n") || head.ends_with("\n\r\n") ||
                  head.ends_with("\r\n\n"),
              "a head ends with a blank line");
  // The head alone parses the same.
  HttpParseResult again = parse_http_request(head, limits);
  fuzz::check(again.kind == HttpParse::kComplete && again.head.head_bytes == h.head_bytes &&
                  again.head.keep_alive == h.keep_alive,
              "the head alone parses the same");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  HttpLimits limits;
  if (in.byte() & 1) {  // small limits, to reach them
    limits.max_head_bytes = 64 + in.byte();
    limits.max_headers = in.byte() % 8;
    limits.max_target_bytes = 1 + in.byte() % 64;
  }
  std::vector<size_t> cuts = in.cuts(4, 16);
  std::string_view input = in.rest();
  HttpParseResult whole = parse_http_request(input, limits);
  switch (whole.kind) {
    case HttpParse::kComplete:
      check_complete(whole, input, limits);
      break;
    case HttpParse::kError:
      fuzz::check(whole.status == 400 || whole.status == 414 || whole.status == 431 ||
                      whole.status == 505,
                  "an error status the listener answers");
      fuzz::check(!whole.reason.empty(), "an error says why");
      break;
    case HttpParse::kIncomplete:
      fuzz::check(input.size() < limits.max_head_bytes, "incomplete only below the limit");
      break;
  }
  // Prefixes, as reads that stopped early would leave the buffer.
  size_t at = 0;
  for (size_t cut : cuts) {
    at = std::min(input.size(), at + cut);
    HttpParseResult part = parse_http_request(input.substr(0, at), limits);
    if (part.kind == HttpParse::kIncomplete) continue;
    fuzz::check(part.kind == whole.kind, "a prefix answers as the whole");
    if (part.kind == HttpParse::kError) {
      fuzz::check(part.status == whole.status, "a prefix's error is the whole's");
    } else {
      fuzz::check(part.head.head_bytes == whole.head.head_bytes, "a prefix's head is the whole's");
    }
  }
  return 0;
}
