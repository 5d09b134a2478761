// Loading namespace files into a working directory (Kestra's namespaceFiles).
// The files of namespace `a.b` live in <namespaces_root>/a.b/. `include` and
// `exclude` are globs matched against a file's path relative to its
// namespace's root, also tried with a leading "/" so that both `data/*.csv`
// and `/data/*.csv` work (Kestra matches `**/`-prefixed and rooted forms); an
// empty include takes every file. Blocking: run on the thread pool.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "agent/common/result.h"

namespace agent::files {

struct NamespaceFilesSpec {
  enum class IfExists { kOverwrite, kFail, kWarn, kIgnore };
  std::vector<std::string> namespaces;
  std::vector<std::string> include, exclude;
  IfExists if_exists = IfExists::kOverwrite;
  bool folder_per_namespace = false;
};

struct NamespaceFilesLoaded {
  std::vector<std::pair<std::string, size_t>> counts;  // namespace -> files copied
  std::vector<std::string> warnings;                   // ifExists: WARN
};

Result<NamespaceFilesLoaded> load_namespace_files(const std::string& namespaces_root,
                                                  const NamespaceFilesSpec& spec,
                                                  const std::string& working_dir);

}  // namespace agent::files
