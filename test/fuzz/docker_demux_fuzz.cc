// The Docker log stream demultiplexer (runners/docker/log_demux.h) on any
// bytes an engine may send. Differential twice over: fed whole and fed in
// random pieces (as libcurl hands the body over), it must give exactly what a
// direct reading of the frames gives: the same stdout and stderr payload, the
// same error at the same place, and the same answer to "ended between frames".
#include <string>

#include "runners/docker/log_demux.h"
#include "test/fuzz/fuzz_util.h"

namespace {

using agent::runner::OutputStream;

struct Outcome {
  std::string out, err;
  bool ok = true;
  bool boundary = true;
  bool operator==(const Outcome&) const = default;
};

Outcome demux(std::string_view bytes, const std::vector<size_t>& cuts) {
  Outcome o;
  size_t calls = 0;
  runners::docker::LogDemux d([&](OutputStream s, std::string_view p) {
    // A payload piece is never empty: an empty frame delivers nothing.
    if (p.empty()) fuzz::fail("an empty payload piece was delivered");
    calls++;
    (s == OutputStream::kStdout ? o.out : o.err).append(p);
  });
  fuzz::feed_in_pieces(bytes, cuts, [&](std::string_view piece) {
    if (o.ok && !d.feed(piece).ok()) o.ok = false;  // the runner stops at an error
  });
  o.boundary = d.at_frame_boundary();
  if (calls > bytes.size()) fuzz::fail("more payload pieces than bytes");
  return o;
}

// The frames read straight from the whole buffer: [type, 0, 0, 0, size BE32].
Outcome reference(std::string_view b) {
  Outcome o;
  size_t i = 0;
  while (i < b.size()) {
    if (b.size() - i < 8) {
      o.boundary = false;  // a partial header: nothing to judge yet
      return o;
    }
    auto u = [&](size_t k) { return static_cast<unsigned char>(b[i + k]); };
    if (u(0) > 2 || u(1) != 0 || u(2) != 0 || u(3) != 0) {
      o.ok = false;
      return o;
    }
    size_t size = (size_t{u(4)} << 24) | (size_t{u(5)} << 16) | (size_t{u(6)} << 8) | u(7);
    int type = u(0);
    i += 8;
    size_t take = std::min(size, b.size() - i);
    if (type == 1) o.out.append(b.substr(i, take));
    if (type == 2) o.err.append(b.substr(i, take));
    i += take;
    if (take < size) o.boundary = false;
  }
  return o;
}

bool same(const Outcome& a, const Outcome& b) {
  // After an error the position in the stream means nothing.
  return a.ok == b.ok && a.out == b.out && a.err == b.err && (!a.ok || a.boundary == b.boundary);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  std::vector<size_t> cuts = in.cuts(16);
  for (size_t& c : cuts) c %= 24;  // pieces around the 8-byte header size
  std::string_view bytes = in.rest();
  Outcome want = reference(bytes);
  if (!same(demux(bytes, {}), want)) fuzz::fail("the demuxer fed whole disagrees with the frames");
  if (!same(demux(bytes, cuts), want)) fuzz::fail("the demuxer fed in pieces disagrees with the frames");
  return 0;
}
