// The Docker log stream demultiplexer (runners/docker/log_demux.h) on any
// bytes an engine may send: fed whole or in random pieces, it gives the same
// payload per stream and the same verdict.
#include <string>

#include "runners/docker/log_demux.h"
#include "test/fuzz/fuzz_util.h"

namespace {

struct Outcome {
  std::string out, err;
  bool ok = true;
  bool boundary = false;
  bool operator==(const Outcome&) const = default;
};

Outcome demux(std::string_view bytes, const std::vector<size_t>& cuts) {
  Outcome o;
  runners::docker::LogDemux d([&](agent::runner::OutputStream s, std::string_view p) {
    (s == agent::runner::OutputStream::kStdout ? o.out : o.err).append(p);
  });
  size_t at = 0;
  auto feed = [&](std::string_view piece) {
    if (o.ok && !d.feed(piece).ok()) o.ok = false;
  };
  for (size_t cut : cuts) {
    size_t n = std::min(cut, bytes.size() - at);
    feed(bytes.substr(at, n));
    at += n;
  }
  feed(bytes.substr(at));
  o.boundary = d.at_frame_boundary();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  std::vector<size_t> cuts;
  for (int i = 0, n = in.byte() % 16; i < n; i++) cuts.push_back(in.byte() % 24);
  std::string_view bytes = in.rest();
  Outcome whole = demux(bytes, {});
  Outcome pieces = demux(bytes, cuts);
  // A stream that breaks is reported at the same place however it arrives;
  // what came before the break may differ only by a frame cut short.
  if (whole.ok != pieces.ok) fuzz::fail("chunking changed the verdict");
  if (whole.ok && !(whole == pieces)) fuzz::fail("chunking changed the payload");
  if (whole.out.size() + whole.err.size() > bytes.size()) fuzz::fail("more payload than input");
  return 0;
}
