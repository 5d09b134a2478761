// The agent's internal storage behind kestra:// URIs, rooted at
// <stateDir>/storage. Task output files live at
//   kestra:///<namespace as a/b>/<flow>/executions/<execution>/tasks/<task>/<taskrun>/<prefix>-<name>
// (the prefix is derived from the file's whole relative path, so equal names
// in different directories do not collide), FILE inputs at
//   kestra:///<namespace>/<flow>/executions/<execution>/inputs/<input>/<name>.
// Blocking: put_* run on the thread pool (or at submit for small uploads);
// resolve() does no I/O.
#pragma once

#include <string>
#include <string_view>

#include "agent/common/result.h"

namespace agent::files {

struct TaskFileKey {
  std::string namespace_, flow_id, execution_id, task_id, task_run_id;
};

class Storage {
 public:
  explicit Storage(std::string root) : root_(std::move(root)) {}
  const std::string& root() const { return root_; }

  // Hard-links `source_path` into the storage (copies across file systems).
  Result<std::string> put_task_file(const std::string& source_path, const TaskFileKey& key,
                                    std::string_view relative_path) const;
  Result<std::string> put_execution_input(const std::string& namespace_, const std::string& flow_id,
                                          const std::string& execution_id,
                                          const std::string& input_id, std::string_view filename,
                                          std::string_view content) const;
  // Where put_execution_input stores an input (no I/O).
  std::string input_uri(const std::string& namespace_, const std::string& flow_id,
                        const std::string& execution_id, const std::string& input_id,
                        std::string_view filename) const;
  // The local path of a kestra:/// URI; refuses anything that leaves the
  // storage. File names are stored percent-encoded, as the URI spells them.
  Result<std::string> resolve(std::string_view uri) const;

 private:
  std::string root_;
};

// Percent-encoding of a path segment (everything but A-Z a-z 0-9 - . _ ~).
std::string encode_segment(std::string_view s);

}  // namespace agent::files
