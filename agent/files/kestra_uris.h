// kestra:// URIs in a rendered command or script are replaced by a local copy
// of the file, as Kestra's ScriptService does (reference §4.4). Copies go to
// <working_dir>/.kestra/<n>-<name>; the same URI twice is copied once.
// Blocking: run on the thread pool.
#pragma once

#include <string>
#include <string_view>

#include "agent/common/result.h"
#include "agent/files/storage.h"

namespace agent::files {

Result<std::string> localize_kestra_uris(std::string_view text, const Storage& storage,
                                         const std::string& working_dir);

}  // namespace agent::files
