#include "agent/files/collect.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>

namespace agent::files {

namespace {

// Depth-first walk with lstat: calls `file` with (absolute, relative) paths.
Status walk(const std::string& root, const std::string& rel, const std::string& skip_dir,
            const std::function<void(const std::string&, const std::string&)>& file, int depth) {
  if (depth > 64) return Error(Errc::kInvalidArgument, "directories nested too deep under " + root);
  std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return {};
    return Error::from_errno(errno, "listing " + dir);
  }
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  closedir(d);
  for (const auto& n : names) {
    std::string child_rel = rel.empty() ? n : rel + "/" + n;
    std::string child = root + "/" + child_rel;
    struct stat st;
    if (lstat(child.c_str(), &st) != 0) continue;  // vanished
    if (S_ISDIR(st.st_mode)) {
      if (!skip_dir.empty() && child == skip_dir) continue;
      AGENT_TRY(walk(root, child_rel, skip_dir, file, depth + 1));
    } else if (S_ISREG(st.st_mode)) {
      file(child, child_rel);
    }
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> find_matching(const std::string& working_dir,
                                               const std::vector<PathMatcher>& matchers,
                                               const std::string& skip_dir) {
  std::vector<std::string> out;
  AGENT_TRY(walk(working_dir, "", skip_dir,
                 [&](const std::string& abs, const std::string& rel) {
                   for (const auto& m : matchers) {
                     if (m.matches(abs)) {
                       out.push_back(rel);
                       return;
                     }
                   }
                 },
                 0));
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> list_regular_files(const std::string& dir) {
  std::vector<std::string> out;
  AGENT_TRY(walk(dir, "", "", [&](const std::string&, const std::string& rel) { out.push_back(rel); }, 0));
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace agent::files
