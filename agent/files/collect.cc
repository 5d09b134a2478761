#include "agent/files/collect.h"

#include <algorithm>

#include "agent/files/beneath.h"
#include "agent/files/tree.h"

namespace agent::files {

Result<std::vector<std::string>> find_matching(const std::string& working_dir,
                                               const std::vector<PathMatcher>& matchers,
                                               const std::string& skip_dir) {
  std::vector<std::string> out;
  auto dir = open_dir(working_dir);
  if (!dir.ok()) {
    if (dir.error().code() == Errc::kNotFound) return out;
    return std::move(dir).error();
  }
  WalkOptions options;
  if (!skip_dir.empty() && skip_dir.size() > working_dir.size() + 1 && skip_dir.starts_with(working_dir + "/")) {
    options.skip_rel = skip_dir.substr(working_dir.size() + 1);
  }
  AGENT_TRY(walk_regular_files(dir->get(), options, [&](const std::string& rel, const struct stat&) -> Status {
    // Patterns see the file's absolute path, as Java's PathMatcher does; the
    // walk only ever finds files beneath the working directory.
    std::string abs = working_dir + "/" + rel;
    for (const auto& m : matchers) {
      if (m.matches(abs)) {
        out.push_back(rel);
        break;
      }
    }
    return {};
  }));
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> list_regular_files(const std::string& dir) {
  std::vector<std::string> out;
  auto fd = open_dir(dir);
  if (!fd.ok()) {
    if (fd.error().code() == Errc::kNotFound) return out;
    return std::move(fd).error();
  }
  AGENT_TRY(walk_regular_files(fd->get(), WalkOptions{}, [&](const std::string& rel, const struct stat&) -> Status {
    out.push_back(rel);
    return {};
  }));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace agent::files
