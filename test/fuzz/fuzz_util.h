// Helpers shared by the fuzz targets: a bounded reader over the input bytes,
// chunkings for the differential targets, and the way an invariant fails.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

namespace fuzz {

// Takes the input apart: small integers and strings from its front.
class Input {
 public:
  Input(const uint8_t* data, size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}
  uint8_t byte() {
    if (rest_.empty()) return 0;
    uint8_t b = static_cast<uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return b;
  }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v = (v << 8) | byte();
    return v;
  }
  // Up to the next NUL (or the end), without it.
  std::string_view field() {
    size_t nul = rest_.find('\0');
    std::string_view out = rest_.substr(0, nul);
    rest_.remove_prefix(nul == std::string_view::npos ? rest_.size() : nul + 1);
    return out;
  }
  // Piece sizes for feeding the rest in chunks: a count, then one byte per
  // piece (scaled by `scale`); the last piece is whatever remains.
  std::vector<size_t> cuts(size_t max_pieces, size_t scale = 1) {
    std::vector<size_t> out;
    for (size_t i = 0, n = byte() % (max_pieces + 1); i < n; i++) out.push_back(byte() * scale);
    return out;
  }
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

// Calls feed(piece) for `bytes` cut after each size in `cuts` (clamped), then
// for the remainder: the same bytes as one call would have given.
template <typename Feed>
void feed_in_pieces(std::string_view bytes, const std::vector<size_t>& cuts, Feed&& feed) {
  size_t at = 0;
  for (size_t cut : cuts) {
    size_t n = std::min(cut, bytes.size() - at);
    feed(bytes.substr(at, n));
    at += n;
  }
  feed(bytes.substr(at));
}

// An invariant broke: a finding, with what broke.
[[noreturn]] inline void fail(const char* what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

inline void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

}  // namespace fuzz
