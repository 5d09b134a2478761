#include "runners/docker/log_demux.h"

namespace runners::docker {

agent::Status LogDemux::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (payload_left_ == 0) {
      size_t take = std::min(bytes.size(), sizeof header_ - header_have_);
      for (size_t i = 0; i < take; i++) header_[header_have_ + i] = static_cast<unsigned char>(bytes[i]);
      header_have_ += take;
      bytes.remove_prefix(take);
      if (header_have_ < sizeof header_) return {};
      header_have_ = 0;
      unsigned char type = header_[0];
      if (type > 2 || header_[1] != 0 || header_[2] != 0 || header_[3] != 0) {
        return agent::Error(agent::Errc::kInternal,
                            "the container's log stream is not multiplexed (frame type " +
                                std::to_string(type) + "); a TTY container?");
      }
      skip_ = type == 0;
      current_ = type == 2 ? agent::runner::OutputStream::kStderr : agent::runner::OutputStream::kStdout;
      payload_left_ = (uint32_t{header_[4]} << 24) | (uint32_t{header_[5]} << 16) |
                      (uint32_t{header_[6]} << 8) | uint32_t{header_[7]};
      continue;
    }
    size_t take = std::min<size_t>(bytes.size(), payload_left_);
    if (!skip_) on_frame_(current_, bytes.substr(0, take));
    payload_left_ -= static_cast<uint32_t>(take);
    bytes.remove_prefix(take);
  }
  return {};
}

}  // namespace runners::docker
