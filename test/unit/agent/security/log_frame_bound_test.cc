// The decompressed size of one stored log frame is bounded when a log is read
// (agent/logstream/log_file.cc, kMaxFrameContent = 1 GiB): a frame whose
// header claims more is refused with an error naming the frame, before any
// allocation, instead of taking the agent's memory (C9's "bomb").
#include <zstd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "agent/common/fs.h"
#include "agent/files/tree.h"
#include "agent/logstream/line.h"
#include "agent/logstream/log_file.h"

namespace {

void u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; i++) out += static_cast<char>(v >> (8 * i));
}
void u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; i++) out += static_cast<char>(v >> (8 * i));
}

// An index frame (skippable, 16 bytes) and its data frame.
std::string pair(uint64_t first_seq, uint32_t lines, const std::string& frame) {
  std::string out;
  u32(out, 0x184D2A50);
  u32(out, 16);
  u64(out, first_seq);
  u32(out, lines);
  u32(out, static_cast<uint32_t>(frame.size()));
  return out + frame;
}

TEST(LogFrameBound, AFrameClaimingMoreThanTheBoundIsAnErrorNotAnAllocation) {
  // A zstd frame header that declares 4 GiB of content, then one empty last
  // raw block: 17 bytes.
  std::string bomb;
  u32(bomb, 0xFD2FB528);
  bomb += static_cast<char>(0xE0);  // 8-byte content size, single segment
  u64(bomb, uint64_t{4} << 30);
  bomb += std::string("\x01\x00\x00", 3);
  std::string records;
  agent::logstream::append_record(records, 1700000000000, agent::logstream::Level::kInfo, "after the bomb");
  std::string good(ZSTD_compressBound(records.size()), '\0');
  good.resize(ZSTD_compress(good.data(), good.size(), records.data(), records.size(), 1));

  char tmpl[] = "/tmp/rdl.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/task.log.zst";
  std::ofstream(path, std::ios::binary) << pair(0, 1, bomb) << pair(1, 1, good);
  auto r = agent::logstream::read_log(path, 0, 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("frame content too large"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("corrupt frame at offset 24"), std::string::npos) << r.error().message();
  (void)agent::files::remove_tree(tmpl);
}

}  // namespace
