// Size strings (the runners' properties, worker groups), parsed one way for all.
// kDocker: Kestra's Docker runner memory properties ("512MB", "1.5GB",
// "256k", "1073741824"): units B, K/KB, M/MB, G/GB, T/TB and KiB..TiB, any
// case, all powers of 1024 (as Docker reads them).
// kExact: the Process runner's `resources.memory`: KB/MB/GB/TB are powers of
// 1000, KiB/MiB/GiB/TiB powers of 1024, B or no unit bytes; a bare K/M/G/T
// is refused as ambiguous. Errors name the value.
#pragma once

#include <cstdint>
#include <string_view>

#include "agent/common/result.h"

namespace agent {

enum class SizeUnits { kDocker, kExact };

Result<int64_t> parse_size(std::string_view text, SizeUnits units = SizeUnits::kDocker);

}  // namespace agent
