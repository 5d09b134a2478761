// Reading and writing the kernel's control files (cgroup and /proc): a
// write is one write(2) to an existing file, never created or truncated.
#pragma once

#include <string>
#include <string_view>

#include "agent/common/result.h"

namespace runners::process {

bool exists(const std::string& path);
// The whole file, or "" when it cannot be read.
std::string read_file(const std::string& path);
// `err`, when given, receives the errno of a failure (0 on success).
agent::Status write_file(const std::string& path, std::string_view data, int* err = nullptr);

}  // namespace runners::process
