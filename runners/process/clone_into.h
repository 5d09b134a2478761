// Starting a child directly inside a cgroup: clone3 with CLONE_INTO_CGROUP
// (Linux 5.7, cgroup v2), sharing the parent's memory until it execs as vfork
// does (CLONE_VM | CLONE_VFORK). A child that writes itself into
// `cgroup.procs` instead is migrated: the kernel takes a process-wide lock
// and waits for an RCU grace period, which measured 0.4 to 0.9 ms per task on
// a 2-core VM, more than the rest of the spawn. Born in its cgroup, a child
// costs no migration.
//
// The child runs on a stack of its own (clone3 with CLONE_VM needs one, and a
// child that returned through the parent's frames would corrupt them); an
// assembly trampoline calls `fn(arg)`, which must never return (exec or
// _exit). Implemented for x86-64 and arm64; elsewhere, and under the
// sanitizers (TSan cannot follow a raw clone; ASan takes the foreign stack
// for an overflow), available() is false and the caller falls back to vfork
// plus a write to `cgroup.procs`.
// Each spawning thread (spawner.h) reuses one stack of its own, as the
// parent waits until the exec.
#pragma once

#include <sys/types.h>

namespace runners::process {

// Whether this build can try clone3 at all. The kernel may still refuse it
// (ENOSYS, or EINVAL/EBADF for a cgroup v1 directory): then the caller falls
// back and stops trying (see remember_refusal).
bool clone_into_available();

// Starts a child in the cgroup whose directory `cgroup_dir_fd` is open
// (O_RDONLY | O_DIRECTORY). Returns its pid, or -1 with errno set.
// `share_files`: the child starts on the parent's descriptor table
// (CLONE_FILES) instead of a copy of it, and must make its own before it
// changes any descriptor (spawn.h: close_range with CLOSE_RANGE_UNSHARE).
pid_t clone_into_cgroup(int cgroup_dir_fd, void (*fn)(void*), void* arg, bool share_files = false);

// After a refusal that says the kernel cannot do it (ENOSYS, E2BIG, EINVAL,
// EBADF, EOPNOTSUPP), clone_into_available() is false from then on.
void remember_refusal(int err);

}  // namespace runners::process
