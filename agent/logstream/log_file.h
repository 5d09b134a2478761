// On-disk task logs: one file per task run attempt, "<dir>/<name>.log.zst".
//
// A file is a sequence of pairs: a zstd *skippable* frame (magic 0x184D2A50,
// 16-byte payload: first_seq u64 LE, line_count u32 LE, data_frame_size u32 LE)
// followed by one ordinary zstd frame holding `line_count` records (line.h).
// Every chunk is an independent frame compressed with a shared context, so no
// task holds a 1.3 MiB streaming context, readers can skip frames by index
// without decompressing, and `zstdcat` reads the file as plain text.
// A torn last pair (agent killed mid-write) is ignored by readers.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "agent/common/result.h"
#include "agent/logstream/line.h"

namespace agent::logstream {

// A run of encoded records for one log, handed from the loop to the writer.
struct Chunk {
  uint64_t log_key = 0;  // caller's identifier for the log
  uint64_t first_seq = 0;
  uint32_t line_count = 0;
  std::string data;      // records, each ending in '\n'
};
using ChunkPtr = std::shared_ptr<const Chunk>;

// Compresses and appends chunks on a dedicated thread (the loop never
// compresses or writes log data itself), and reports each chunk back to the
// loop once it is in the file, in order per log.
// Ownership: owned by the agent; close() before destruction.
// Threading: every public method is for the loop thread; callbacks run on it.
class LogWriter {
 public:
  struct Callbacks {
    // A chunk is in the file (written, not fsynced).
    std::function<void(const ChunkPtr&)> committed;
    // close_log finished: file flushed with fdatasync and closed. `status` says
    // whether every write of that log succeeded.
    std::function<void(uint64_t log_key, Status status)> closed;
    // The writer's queue fell below the low-water mark after being above the high one.
    std::function<void()> drained;
  };

  LogWriter(uv_loop_t* loop, int level, Callbacks callbacks);
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  Status start();  // starts the thread and the async handle
  // Opens (creating if needed, appending if present) the file for `log_key`.
  // The path is used when the first chunk arrives.
  void open_log(uint64_t log_key, std::string path);
  void append(ChunkPtr chunk);
  void close_log(uint64_t log_key);
  // Bytes handed to append() and not yet committed.
  size_t pending_bytes() const;
  bool above_high_water() const;  // pending_bytes() > high water mark
  uint64_t bytes_in() const;      // uncompressed bytes committed
  uint64_t bytes_stored() const;  // compressed bytes written (frames + index)
  // Stops the thread after everything queued is written; then closes the async
  // handle. `done` runs on the loop when the handle is closed.
  void close(std::function<void()> done);

  static constexpr size_t kHighWater = 64u << 20;
  static constexpr size_t kLowWater = 16u << 20;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads records of a log file from `from_seq`, up to about `max_bytes` of record
// text. Blocking file I/O: call it from the thread pool, never the loop.
struct ReadResult {
  std::vector<Line> lines;
  uint64_t next_seq = 0;  // seq after the last line returned
  // Byte offset of the frame pair holding next_seq: pass it back as
  // `offset_hint` so that a reader paging through a long log never rescans.
  uint64_t next_offset = 0;
  bool at_end = false;    // no more complete frames in the file right now
};
// `offset_hint` is a next_offset from an earlier read of the same file (0: the start).
Result<ReadResult> read_log(const std::string& path, uint64_t from_seq, size_t max_bytes,
                            uint64_t offset_hint = 0);

// After a restart (blocking; from the thread pool or before the loop serves):
// the number of lines in the whole pairs of a log file, 0 when it has none.
Result<uint64_t> count_lines(const std::string& path);
// Keeps the lines stamped before `before_ms` and cuts the rest, with any torn
// tail; returns the number of lines kept. A task followed again after a
// restart reads its output from the start again: this removes what was
// stored of it the first time, so that no line is stored twice.
Result<uint64_t> cut_log(const std::string& path, int64_t before_ms);

}  // namespace agent::logstream
