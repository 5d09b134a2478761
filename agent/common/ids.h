#pragma once

#include <string>

namespace agent {

// A random 22-character base62 id (about 131 bits), the shape of Kestra's ids.
std::string new_id();

}  // namespace agent
