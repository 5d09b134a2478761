#include "agent/files/tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "agent/files/beneath.h"

namespace agent::files {

namespace {

struct Walker {
  const WalkOptions& options;
  const std::function<Status(const std::string&, const struct stat&)>* on_file;  // null: every entry
  const std::function<Status(int, const char*, const struct stat&)>* on_entry;
  size_t entries = 0;

  // The names of the directory `fd` (its descriptor stays ours).
  Result<std::vector<std::string>> names(int fd, const std::string& rel) {
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return Error::from_errno(errno, "dup");
    DIR* d = fdopendir(dup);
    if (d == nullptr) {
      int e = errno;
      close(dup);
      return Error::from_errno(e, "listing '" + rel + "'");
    }
    std::vector<std::string> out;
    while (dirent* e = readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      out.emplace_back(n);
    }
    closedir(d);
    return out;
  }

  Status walk(int fd, const std::string& rel, size_t depth) {
    if (depth > options.max_depth) {
      return Error(Errc::kResourceExhausted,
                   "directories nested deeper than " + std::to_string(options.max_depth) + " at '" + rel + "'");
    }
    AGENT_ASSIGN_OR_RETURN(std::vector<std::string> list, names(fd, rel.empty() ? "." : rel));
    for (const auto& n : list) {
      if (++entries > options.max_entries) {
        return Error(Errc::kResourceExhausted,
                     "more than " + std::to_string(options.max_entries) + " files and directories");
      }
      std::string child = rel.empty() ? n : rel + "/" + n;
      struct stat st;
      if (fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished
      if (on_entry != nullptr) AGENT_TRY((*on_entry)(fd, n.c_str(), st));
      if (S_ISDIR(st.st_mode)) {
        if (!options.skip_rel.empty() && child == options.skip_rel) continue;
        int sub = openat(fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
          if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) continue;  // swapped or gone
          return Error::from_errno(errno, "opening directory '" + child + "'");
        }
        UniqueFd guard(sub);
        AGENT_TRY(walk(sub, child, depth + 1));
      } else if (S_ISREG(st.st_mode) && on_file != nullptr) {
        AGENT_TRY((*on_file)(child, st));
      }
    }
    return {};
  }
};

// Removes `name` in `parent` and, if it is a directory, everything in it.
Status remove_at(int parent, const std::string& name, const std::string& shown, int depth, dev_t* root_dev) {
  int fd = openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno == EACCES && fchmodat(parent, name.c_str(), 0700, 0) == 0) {
    fd = openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) {
    if (errno == ENOENT) return {};
    if (errno == ENOTDIR || errno == ELOOP) {  // a file or a link: the name goes, nothing else
      if (unlinkat(parent, name.c_str(), 0) != 0 && errno != ENOENT) {
        return Error::from_errno(errno, "removing " + shown);
      }
      return {};
    }
    return Error::from_errno(errno, "opening " + shown);
  }
  UniqueFd dir(fd);
  if (depth > 256) return Error(Errc::kResourceExhausted, "directories nested deeper than 256 at " + shown);
  // Never into another file system (a mount inside the tree), as nftw's FTW_MOUNT.
  struct stat self;
  if (fstat(fd, &self) != 0) return Error::from_errno(errno, "reading " + shown);
  if (depth == 0) {
    *root_dev = self.st_dev;
  } else if (self.st_dev != *root_dev) {
    return Error(Errc::kPermissionDenied, shown + " is on another file system (a mount point); not removed");
  }
  WalkOptions options;
  Walker lister{options, nullptr, nullptr};
  AGENT_ASSIGN_OR_RETURN(std::vector<std::string> names, lister.names(fd, shown));
  for (const auto& n : names) {
    struct stat st;
    if (fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      AGENT_TRY(remove_at(fd, n, shown + "/" + n, depth + 1, root_dev));
    } else if (unlinkat(fd, n.c_str(), 0) != 0 && errno != ENOENT) {
      return Error::from_errno(errno, "removing " + shown + "/" + n);
    }
  }
  dir.reset();
  if (unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
    return Error::from_errno(errno, "removing " + shown);
  }
  return {};
}

}  // namespace

Status remove_tree(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
  std::string name = slash == std::string::npos ? p : p.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") {
    return Error(Errc::kInvalidArgument, "refusing to remove " + path);
  }
  int pfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pfd < 0) {
    if (errno == ENOENT) return {};
    return Error::from_errno(errno, "opening " + parent);
  }
  UniqueFd guard(pfd);
  dev_t root_dev = 0;
  return remove_at(pfd, name, p, 0, &root_dev);
}

Status walk_regular_files(int dirfd, const WalkOptions& options,
                          const std::function<Status(const std::string& rel, const struct stat& st)>& on_file) {
  Walker w{options, &on_file, nullptr};
  return w.walk(dirfd, "", 0);
}

Status chown_tree(const std::string& dir, uid_t uid, gid_t gid) {
  AGENT_ASSIGN_OR_RETURN(UniqueFd root, open_dir(dir));
  if (fchown(root.get(), uid, gid) != 0) return Error::from_errno(errno, "giving " + dir + " to its task's user");
  WalkOptions options;
  options.max_depth = 256;
  std::function<Status(int, const char*, const struct stat&)> on_entry =
      [&](int parent, const char* name, const struct stat& seen) -> Status {
    if (seen.st_uid == uid && seen.st_gid == gid) return {};
    // By descriptor: the inode checked is the inode re-owned, even if the
    // name is swapped meanwhile.
    int fd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return {};  // vanished
    UniqueFd guard(fd);
    struct stat st;
    if (fstat(fd, &st) != 0) return {};
    // A hard link shares its inode with a file elsewhere: never given away.
    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) return {};
    if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 && errno != ENOENT) {
      return Error::from_errno(errno, "giving '" + std::string(name) + "' in " + dir + " to its task's user");
    }
    return {};
  };
  Walker w{options, nullptr, &on_entry};
  return w.walk(root.get(), "", 0);
}

}  // namespace agent::files
