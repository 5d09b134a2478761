// Blocking filesystem helpers, for startup and for the thread pool.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "agent/common/result.h"

namespace agent::fs {

// mkdir -p with `mode` for the directories it creates.
Status make_dirs(const std::string& path, int mode);
// Creates or truncates `path` with `data`, mode 0640, without syncing, by
// path: for the agent's own directories only (what goes into a task's
// directory is written with files::write_file_beneath).
Status write_file(const std::string& path, std::string_view data);
// Writes `data` to `path` through a temporary file and rename(2), with fsync.
Status write_file_atomic(const std::string& path, std::string_view data);
Result<std::string> read_file(const std::string& path);
// Up to `length` bytes from `offset`, and the file's size.
Result<std::pair<std::string, int64_t>> read_range(const std::string& path, int64_t offset,
                                                   int64_t length);

}  // namespace agent::fs
