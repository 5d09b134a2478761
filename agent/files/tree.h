// Walking and re-owning a directory tree by descriptor: each directory is
// opened relative to its parent with O_NOFOLLOW, so a directory swapped for a
// symlink while the walk runs is refused, never entered, and nothing outside
// the tree is reached. Blocking: thread pool (or startup).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <string>

#include "agent/common/result.h"

namespace agent::files {

struct WalkOptions {
  std::string skip_rel;            // a directory (relative) not entered; empty: none
  size_t max_depth = 64;           // deeper is an error
  size_t max_entries = 1000000;    // more entries in all is an error
};

// Calls `on_file(rel, st)` for every regular file beneath `dirfd` (st from
// fstatat without following links), in directory order; symlinks, FIFOs,
// sockets and devices are passed over; entries that vanish are skipped. A
// callback error stops the walk.
Status walk_regular_files(int dirfd, const WalkOptions& options,
                          const std::function<Status(const std::string& rel, const struct stat& st)>& on_file);

// Gives `dir` and everything beneath it to uid:gid (symlinks themselves, never
// their targets).
Status chown_tree(const std::string& dir, uid_t uid, gid_t gid);

// rm -rf by descriptor: each directory is opened relative to its parent with
// O_NOFOLLOW and emptied with unlinkat, so a directory swapped for a symlink
// while this runs is removed as a link, never entered (nftw, which reopens
// directories by path, could be sent elsewhere that way). A missing `path` is
// not an error; nesting deeper than 256 is.
Status remove_tree(const std::string& path);

}  // namespace agent::files
