// Standard base64 (RFC 4648, with padding). Decoding also accepts missing
// padding and ignores CR/LF line breaks (SECRET_ variables may be wrapped).
#pragma once

#include <string>
#include <string_view>

#include "agent/common/result.h"

namespace agent {

std::string base64_encode(std::string_view in);
Result<std::string> base64_decode(std::string_view in);

}  // namespace agent
