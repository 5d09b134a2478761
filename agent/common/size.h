// Kestra's size strings (the Docker runner's memory properties, worker group
// and task resources) ("512MB",
// "1.5GB", "256k", "1073741824"): units B, K/KB, M/MB, G/GB, T/TB, any case,
// powers of 1024 (as Docker reads them). Errors name the value.
#pragma once

#include <cstdint>
#include <string_view>

#include "agent/common/result.h"

namespace agent {

Result<int64_t> parse_size(std::string_view text);

}  // namespace agent
