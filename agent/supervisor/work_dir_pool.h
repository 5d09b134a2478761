// Working directories used again. Every task gets `<workDir>/<task run id>`
// with its empty output directory inside (Kestra's `<wd>/<random id>`). On a
// disk filesystem, making the two and removing them again cost more than the
// rest of a trivial task's bookkeeping: on ext4 four mkdir/rmdir calls
// measured 170 to 190 us of wall time per task, each mkdir allocating an
// inode and a block through the journal. A task that leaves both exactly as
// it got them (empty, same mode and owner) gives them back instead: they are
// renamed into `<workDir>/.pool-<agent>/`, and the next task's are renamed out of it,
// 30 us for the pair. Anything else is removed as before.
//
// What a pooled pair keeps is only its output directory's random name, which
// the next task in it sees again (under its own working directory's name).
// Loop thread only; the renames themselves run where the caller runs them.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "agent/common/result.h"

namespace agent {

class WorkDirPool {
 public:
  struct Entry {
    std::string path;         // <pool>/<n>
    std::string output_name;  // its output directory, inside it
  };

  // The pool is `<root>/<name>` (`root`: the agent's work directory; `name`
  // its own, as agents may share a work directory). It keeps up to
  // `capacity` pairs whose owner is `owner` (the task user's, else the
  // agent's). What an earlier agent of the name left is removed. Blocking:
  // at startup only.
  Status init(const std::string& root, const std::string& name, size_t capacity, uid_t owner);

  // A pair to rename to the task's working directory, if one is idle.
  std::optional<Entry> take();
  // A taken pair that was not used (the task failed before its directories
  // were made).
  void put_back(std::string path, std::string output_name);

  // The task's working directory and its output directory, when the task
  // left them exactly as it got them and nothing of it still runs (a process
  // left behind keeps its cwd through a rename): renamed into the pool, and
  // true. False
  // when they were left otherwise (or the pool is full): the caller removes
  // them. Checks by descriptor, without following a symlink.
  bool give_back(const std::string& dir, const std::string& output_dir);

  size_t idle() const { return idle_.size(); }
  // Removes the idle pairs (at shutdown). Blocking.
  void clear();

 private:
  std::string pool_dir_;
  std::vector<Entry> idle_;
  size_t capacity_ = 0;
  uid_t owner_ = 0;
  mode_t mode_ = 0750;  // what mkdir(0750) gives under the agent's umask
  uint64_t next_ = 0;
};

}  // namespace agent
