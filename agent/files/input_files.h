// Writing a task's inputFiles into its working directory, and resolving the
// URIs they may name. Blocking: run on the thread pool.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/common/result.h"

namespace agent::files {

// The local file to copy for a kestra://, nsfile:// or file:// URI.
using SourceResolver = std::function<Result<std::string>(std::string_view uri)>;

// Whether `value` is exactly one URI of a scheme inputFiles reads.
bool is_file_uri(std::string_view value);

// Each (name, value): `value` is a URI (copied through `resolve`) or the
// file's content. Names are relative; an absolute name, a `..` component or a
// path through a symlink is refused (path "inputFiles.<name>").
Status write_input_files(const std::string& working_dir,
                         const std::vector<std::pair<std::string, std::string>>& files,
                         const SourceResolver& resolve);

// file:///abs/path, allowed only inside one of `allowed_paths` (after
// resolving symlinks); none allowed by default.
Result<std::string> resolve_file_uri(std::string_view uri, const std::vector<std::string>& allowed_paths);
// nsfile:///path (the flow's namespace) or nsfile://other.namespace/path, under
// <namespaces_root>/<namespace>/.
Result<std::string> resolve_nsfile_uri(std::string_view uri, std::string_view current_namespace,
                                       const std::string& namespaces_root);

}  // namespace agent::files
