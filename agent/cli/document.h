// Reading the flow (or single task) that `runnerctl run` submits.
#pragma once

#include <string>

#include "agent/common/result.h"

namespace agent::cli {

// Reads `path` ("-": standard input) and returns its document as compact JSON.
// A path ending in ".json" is read as JSON; anything else as YAML (which takes
// JSON too). Errors name the path, and for YAML the line and column.
Result<std::string> load_document(const std::string& path);

}  // namespace agent::cli
