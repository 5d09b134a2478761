// Kestra's size strings for the Docker runner's memory properties ("512MB",
// "1.5GB", "256k", "1073741824"): units B, K/KB, M/MB, G/GB, T/TB, any case,
// powers of 1024 (as Docker reads them). Errors name the value.
#pragma once

#include <cstdint>
#include <string_view>

#include "agent/common/result.h"

namespace runners::docker {

agent::Result<int64_t> parse_size(std::string_view text);

}  // namespace runners::docker
