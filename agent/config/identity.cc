#include "agent/config/identity.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "agent/common/fs.h"

namespace agent {

namespace {

// A decimal id, or nullopt when `s` is not one.
bool parse_id(std::string_view s, uint32_t& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

Error bad(std::string_view spec, std::string_view why) {
  return Error(Errc::kInvalidArgument, "'" + std::string(spec) + "' " + std::string(why));
}

// Whether `user` may search (x) the directory `st` by its mode bits.
bool can_search(const struct stat& st, const TaskUser& user) {
  if (st.st_uid == user.uid) return (st.st_mode & S_IXUSR) != 0;
  bool in_group = st.st_gid == user.gid ||
                  std::find(user.groups.begin(), user.groups.end(), st.st_gid) != user.groups.end();
  if (in_group) return (st.st_mode & S_IXGRP) != 0;
  return (st.st_mode & S_IXOTH) != 0;
}

bool can_read_or_search(const struct stat& st, const TaskUser& user) {
  mode_t bits = st.st_uid == user.uid ? (S_IRUSR | S_IXUSR) : 0;
  bool in_group = st.st_gid == user.gid ||
                  std::find(user.groups.begin(), user.groups.end(), st.st_gid) != user.groups.end();
  if (st.st_uid != user.uid) bits = in_group ? (S_IRGRP | S_IXGRP) : (S_IROTH | S_IXOTH);
  return (st.st_mode & bits) != 0;
}

std::string normalized(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

Result<uid_t> resolve_user(std::string_view spec) {
  uint32_t id;
  if (parse_id(spec, id)) return static_cast<uid_t>(id);
  std::string name(spec);
  errno = 0;
  const passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) return bad(spec, "is not a user of this host");
  return pw->pw_uid;
}

Result<gid_t> resolve_group(std::string_view spec) {
  uint32_t id;
  if (parse_id(spec, id)) return static_cast<gid_t>(id);
  std::string name(spec);
  const group* gr = getgrnam(name.c_str());
  if (gr == nullptr) return bad(spec, "is not a group of this host");
  return gr->gr_gid;
}

Result<TaskUser> resolve_task_user(std::string_view spec) {
  TaskUser u;
  u.spec = std::string(spec);
  size_t colon = spec.find(':');
  uint32_t id;
  if (colon != std::string_view::npos) {
    uint32_t gid;
    if (!parse_id(spec.substr(0, colon), id) || !parse_id(spec.substr(colon + 1), gid)) {
      return bad(spec, "is not uid:gid (two numbers)");
    }
    u.uid = id;
    u.gid = gid;
  } else if (parse_id(spec, id)) {
    u.uid = id;
    const passwd* pw = getpwuid(u.uid);
    if (pw == nullptr) return bad(spec, "has no passwd entry to take a group from: write uid:gid");
    u.gid = pw->pw_gid;
  } else {
    std::string name(spec);
    const passwd* pw = getpwnam(name.c_str());
    if (pw == nullptr) return bad(spec, "is not a user of this host");
    u.uid = pw->pw_uid;
    u.gid = pw->pw_gid;
    int n = 64;
    std::vector<gid_t> groups(static_cast<size_t>(n));
    while (getgrouplist(name.c_str(), u.gid, groups.data(), &n) < 0) groups.resize(static_cast<size_t>(n));
    groups.resize(static_cast<size_t>(n));
    u.groups = std::move(groups);
  }
  if (u.uid == 0) return bad(spec, "is root: taskUser must be an unprivileged user");
  if (u.gid == 0 || std::find(u.groups.begin(), u.groups.end(), gid_t{0}) != u.groups.end()) {
    return bad(spec, "is in group 0 (root): taskUser must be an unprivileged user");
  }
  return u;
}

Status check_task_user_layout(const TaskUser& user, const std::string& work_dir, const std::string& state_dir) {
  std::string work = normalized(work_dir);
  std::string state = normalized(state_dir);
  if (work == state || work.starts_with(state + "/")) {
    return Error(Errc::kInvalidArgument,
                 "taskUser: workDir (" + work + ") is inside stateDir (" + state +
                     "); tasks running as '" + user.spec +
                     "' must reach their directory while the state stays closed to them: set workDir "
                     "outside stateDir (e.g. /var/lib/runnerd-work)",
                 "workDir");
  }
  AGENT_TRY(fs::make_dirs(work, 0711));
  if (chmod(work.c_str(), 0711) != 0) return Error::from_errno(errno, "taskUser: setting the mode of " + work);
  // Every directory above the work directory must let the task through.
  for (size_t slash = work.find('/', 1); ; slash = work.find('/', slash + 1)) {
    std::string dir = slash == std::string::npos ? work : work.substr(0, slash);
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) return Error::from_errno(errno, "taskUser: reading " + dir);
    if (!can_search(st, user)) {
      return Error(Errc::kPermissionDenied,
                   "taskUser: '" + user.spec + "' cannot pass through " + dir +
                       " on the way to workDir " + work + " (it needs the x permission for others)",
                   "workDir");
    }
    if (slash == std::string::npos) break;
  }
  struct stat st;
  if (stat(state.c_str(), &st) == 0 && can_read_or_search(st, user)) {
    return Error(Errc::kPermissionDenied,
                 "taskUser: '" + user.spec + "' could read or enter stateDir " + state +
                     " (mode " + std::to_string((st.st_mode >> 6) & 7) + std::to_string((st.st_mode >> 3) & 7) +
                     std::to_string(st.st_mode & 7) + "); make it 0750 or 0700",
                 "stateDir");
  }
  return {};
}

}  // namespace agent
