// Users and groups named in the configuration: the socket's group, the
// clients allowed on it, and the unprivileged user Process tasks run as.
// Resolved once, at startup (name service lookups block).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "agent/common/result.h"

namespace agent {

// The user Process tasks run as (`taskUser`): the child sets its groups, gid
// and uid in that order, then no_new_privs, before it execs.
struct TaskUser {
  std::string spec;            // as configured ("runner", "1001", "1001:1001")
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;   // supplementary groups; empty: none at all
};

// "name" (its passwd entry and every group it is a member of), "uid" (the
// entry's primary group, no supplementary groups) or "uid:gid" (no
// supplementary groups). Root (uid or gid 0) is refused: the point is a user
// without privileges.
Result<TaskUser> resolve_task_user(std::string_view spec);
// A group by name or number.
Result<gid_t> resolve_group(std::string_view spec);
// A user by name or number.
Result<uid_t> resolve_user(std::string_view spec);

// Checks, at startup, that tasks running as `user` can reach directories
// under `work_dir` and cannot read `state_dir`: the work directory must not be
// inside the state directory, every directory above it must let others
// through (x), and the state directory must not let `user` in. Creates
// `work_dir` (mode 0711: tasks pass through it, they cannot list it) and
// sets that mode when it already exists.
Status check_task_user_layout(const TaskUser& user, const std::string& work_dir, const std::string& state_dir);

}  // namespace agent
