// Finding a task's output files. Blocking: run on the thread pool.
#pragma once

#include <string>
#include <vector>

#include "agent/common/result.h"
#include "agent/files/glob.h"

namespace agent::files {

// Regular files under `working_dir` (symlinks neither followed nor matched;
// walked by descriptor, tree.h),
// except under `skip_dir`, that any matcher matches; paths relative to
// `working_dir`, sorted.
Result<std::vector<std::string>> find_matching(const std::string& working_dir,
                                               const std::vector<PathMatcher>& matchers,
                                               const std::string& skip_dir);
// Every regular file under `dir`, relative, sorted.
Result<std::vector<std::string>> list_regular_files(const std::string& dir);

}  // namespace agent::files
