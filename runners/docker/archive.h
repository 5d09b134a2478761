// The working directory shipped into and out of a container as a tar archive
// (fileHandlingStrategy VOLUME), through the engine's archive endpoints.
// libarchive does the format (POSIX pax: long names, large sizes, modes kept).
// Blocking file I/O: call these on the thread pool, never on the loop.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "agent/common/result.h"

namespace runners::docker {

// Every entry under `dir` (and `dir` itself), named by its absolute path
// without the leading '/' ("var/lib/runnerd/work/X/main.py"), so that the
// archive put at "/" recreates the same absolute paths in the container.
// Regular files, directories and symbolic links (as links); modes, owners and
// times as on disk. Fails past `max_bytes` of archive.
agent::Result<std::string> pack_directory(const std::string& dir, size_t max_bytes);

struct UnpackReport {
  size_t files = 0;
  std::vector<std::string> skipped;  // one line per entry not written, and why
};

// Writes the members of `tar` into `dir`, without the first path element
// (the engine names the copied directory by its base name). Nothing is
// written outside `dir`: every member is resolved beneath it by descriptor
// (agent/files/beneath.h), so a member with a `..` component, or one whose
// way goes through a symbolic link (made by an earlier member or already
// there), is skipped, as are hard links, device nodes and FIFOs. A file or
// symlink in the place of a member is replaced by it, never written through.
// Permission bits above 0777 are dropped (directories get theirs last);
// owners are the agent's.
agent::Result<UnpackReport> unpack_into(const std::string& tar, const std::string& dir);

}  // namespace runners::docker
