// The Docker Engine's multiplexed log and attach stream (no TTY): frames of an
// 8-byte header [stream, 0, 0, 0, size as big-endian uint32] and `size` bytes
// of payload, stream 1 = stdout, 2 = stderr (0 = stdin, ignored). Chunks from
// the HTTP client split frames anywhere; the demuxer reassembles them.
// Threading: none (one demuxer per container log stream, on the loop).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "agent/common/result.h"
#include "agent/runner/runner.h"

namespace runners::docker {

class LogDemux {
 public:
  using FrameFn = std::function<void(agent::runner::OutputStream, std::string_view payload)>;
  explicit LogDemux(FrameFn on_frame) : on_frame_(std::move(on_frame)) {}

  // Delivers every complete payload piece; a frame's payload may be delivered
  // in several pieces as it arrives (no frame is buffered whole). An unknown
  // stream type is an error: the stream is not multiplexed (a TTY container).
  agent::Status feed(std::string_view bytes);
  // True when the stream ended between frames (no partial header or payload).
  bool at_frame_boundary() const { return header_have_ == 0 && payload_left_ == 0; }

 private:
  FrameFn on_frame_;
  unsigned char header_[8] = {};
  size_t header_have_ = 0;
  uint32_t payload_left_ = 0;
  agent::runner::OutputStream current_ = agent::runner::OutputStream::kStdout;
  bool skip_ = false;  // a stdin frame: dropped
};

}  // namespace runners::docker
