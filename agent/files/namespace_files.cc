#include "agent/files/namespace_files.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "agent/files/beneath.h"
#include "agent/files/tree.h"
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
  AGENT_ASSIGN_OR_RETURN(UniqueFd wd, open_dir(working_dir));
  for (const auto& ns : spec.namespaces) {
    if (ns.empty() || ns.find('/') != std::string::npos || ns == "." || ns == ".." ||
        ns.find('\0') != std::string::npos) {
      return Error(Errc::kInvalidArgument, "invalid namespace '" + ns + "'", "namespaceFiles.namespaces");
    }
    std::string root = namespaces_root + "/" + ns;
    auto root_fd = open_dir(root);
    if (!root_fd.ok()) {
      if (root_fd.error().code() == Errc::kNotFound) {  // a namespace without files
        out.counts.emplace_back(ns, 0);
        continue;
      }
      return std::move(root_fd).error();
    }
    std::vector<std::string> files;
    AGENT_TRY(walk_regular_files(root_fd->get(), WalkOptions{},
                                 [&](const std::string& rel, const struct stat&) -> Status {
                                   files.push_back(rel);
                                   return {};
                                 }));
    std::sort(files.begin(), files.end());
    size_t copied = 0;
    for (const auto& rel : files) {
      if (!spec.include.empty() && !matches_any(spec.include, rel)) continue;
      if (matches_any(spec.exclude, rel)) continue;
      std::string dest_rel = spec.folder_per_namespace ? ns + "/" + rel : rel;
      auto parts = split_relative(dest_rel);
      if (!parts.ok()) {
        return Error(Errc::kInvalidArgument, "namespace file '" + dest_rel + "' " + parts.error().message(),
                     "namespaceFiles");
      }
      auto existing = open_beneath(wd.get(), *parts, O_PATH);
      if (existing.ok() || existing.error().code() != Errc::kNotFound) {
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
      auto source = open_regular_beneath(root_fd->get(), rel);
      if (!source.ok()) continue;  // replaced meanwhile by something else: not a file of the namespace
      auto dest = create_file_beneath(wd.get(), *parts);
      if (!dest.ok()) {
        return Error(dest.error().code(), "namespace file '" + dest_rel + "': " + dest.error().message(),
                     "namespaceFiles");
      }
      Status st = copy_fd(source->get(), dest->get());
      if (!st.ok()) return std::move(st).error().context("copying namespace file '" + dest_rel + "'");
      copied++;
    }
    out.counts.emplace_back(ns, copied);
  }
  return out;
}

}  // namespace agent::files
