#include "agent/files/namespace_files.h"

#include <sys/stat.h>

#include "agent/common/fs.h"
#include "agent/files/collect.h"
#include "agent/files/glob.h"

namespace agent::files {

namespace {

bool matches_any(const std::vector<std::string>& globs, const std::string& rel) {
  for (const auto& g : globs) {
    if (glob_match(g, rel) || glob_match(g, "/" + rel)) return true;
  }
  return false;
}

}  // namespace

Result<NamespaceFilesLoaded> load_namespace_files(const std::string& namespaces_root,
                                                  const NamespaceFilesSpec& spec,
                                                  const std::string& working_dir) {
  NamespaceFilesLoaded out;
  for (const auto& ns : spec.namespaces) {
    if (ns.empty() || ns.find('/') != std::string::npos || ns == "." || ns == "..") {
      return Error(Errc::kInvalidArgument, "invalid namespace '" + ns + "'", "namespaceFiles.namespaces");
    }
    std::string root = namespaces_root + "/" + ns;
    AGENT_ASSIGN_OR_RETURN(std::vector<std::string> files, list_regular_files(root));
    size_t copied = 0;
    for (const auto& rel : files) {
      if (!spec.include.empty() && !matches_any(spec.include, rel)) continue;
      if (matches_any(spec.exclude, rel)) continue;
      std::string dest_rel = spec.folder_per_namespace ? ns + "/" + rel : rel;
      std::string dest = working_dir + "/" + dest_rel;
      struct stat st;
      if (lstat(dest.c_str(), &st) == 0) {
        using E = NamespaceFilesSpec::IfExists;
        if (spec.if_exists == E::kFail) {
          return Error(Errc::kAlreadyExists,
                       "namespace file '" + dest_rel + "' already exists (ifExists: FAIL)",
                       "namespaceFiles.ifExists");
        }
        if (spec.if_exists == E::kWarn) {
          out.warnings.push_back("namespace file '" + dest_rel + "' of '" + ns +
                                 "' already exists; kept the first (ifExists: WARN)");
          continue;
        }
        if (spec.if_exists == E::kIgnore) continue;
      }
      size_t slash = dest.rfind('/');
      AGENT_TRY(fs::make_dirs(dest.substr(0, slash), 0750));
      AGENT_ASSIGN_OR_RETURN(std::string data, fs::read_file(root + "/" + rel));
      AGENT_TRY(fs::write_file(dest, data));
      copied++;
    }
    out.counts.emplace_back(ns, copied);
  }
  return out;
}

}  // namespace agent::files
