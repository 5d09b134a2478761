// posix_spawn of a task: stdout and stderr on pipes, stdin on /dev/null, its own
// session and process group, default signal dispositions and an empty signal
// mask, the working directory as cwd. glibc's posix_spawn is vfork-based, so the
// cost does not grow with the agent's heap as fork's does.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "agent/common/result.h"

namespace runners::process {

struct Spawned {
  pid_t pid = -1;
  int pidfd = -1;   // readable when the child exits
  int stdout_fd = -1;  // read ends, non-blocking, close-on-exec
  int stderr_fd = -1;
};

agent::Result<Spawned> spawn_task(const std::vector<std::string>& argv,
                                  const std::vector<std::string>& env, const std::string& cwd);

}  // namespace runners::process
