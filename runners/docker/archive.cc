#include "runners/docker/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "agent/files/beneath.h"

namespace runners::docker {

namespace {

using agent::Errc;
using agent::Error;

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_free(a); }  // closes too
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveDeleter>;
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryDeleter>;

struct Sink {
  std::string* out;
  size_t max;
  bool too_big = false;
};

la_ssize_t write_cb(struct archive*, void* client, const void* buf, size_t n) {
  auto* s = static_cast<Sink*>(client);
  if (s->out->size() + n > s->max) {
    s->too_big = true;
    return -1;
  }
  s->out->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

std::string size_text(size_t bytes) {
  return bytes >= (size_t{1} << 20) ? std::to_string(bytes >> 20) + " MiB" : std::to_string(bytes) + " bytes";
}

Error too_big_error(size_t max) {
  return Error(Errc::kResourceExhausted, "the working directory is larger than the archive limit of " +
                                             size_text(max) + " (docker.maxArchiveBytes)");
}

Error archive_error(struct archive* a, const std::string& what) {
  const char* msg = archive_error_string(a);
  return Error(Errc::kInternal, what + ": " + (msg != nullptr ? msg : "archive error"));
}

// Walks the directory by descriptor: each entry is looked at with fstatat and
// opened relative to its parent with O_NOFOLLOW, so an entry swapped for a
// symlink meanwhile is never followed.
class Packer {
 public:
  Packer(struct archive* a, Sink& sink) : a_(a), sink_(sink) {}

  // The root: a path of the agent's (its own symlinks, if any, are the agent's).
  agent::Status add_root(const std::string& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return Error::from_errno(errno, "reading " + path);
    size_t slash = path.rfind('/');
    std::string parent = slash == 0 ? "/" : path.substr(0, slash);
    int pfd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) return Error::from_errno(errno, "opening " + parent);
    agent::files::UniqueFd guard(pfd);
    return add(pfd, path.substr(slash + 1), path);
  }

 private:
  agent::Status add(int parent_fd, const std::string& name, const std::string& path) {
    struct stat st;
    if (::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return {};  // gone meanwhile
      return Error::from_errno(errno, "reading " + path);
    }
    agent::files::UniqueFd fd;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0);
      int f = ::openat(parent_fd, name.c_str(), flags);
      if (f < 0) {
        if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR || errno == ENXIO) return {};  // swapped
        return Error::from_errno(errno, "opening " + path);
      }
      fd.reset(f);
      struct stat now;
      if (::fstat(f, &now) != 0) return Error::from_errno(errno, "reading " + path);
      if ((now.st_mode & S_IFMT) != (st.st_mode & S_IFMT)) return {};  // swapped
      st = now;
    } else if (!S_ISLNK(st.st_mode)) {
      return {};  // sockets, fifos, devices: not shipped
    }
    EntryPtr entry(archive_entry_new());
    archive_entry_copy_stat(entry.get(), &st);
    archive_entry_set_pathname(entry.get(), path.c_str() + 1);  // no leading '/'
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = ::readlinkat(parent_fd, name.c_str(), target, sizeof target - 1);
      if (n < 0) return Error::from_errno(errno, "reading link " + path);
      target[n] = '\0';
      archive_entry_set_symlink(entry.get(), target);
    }
    if (archive_write_header(a_, entry.get()) != ARCHIVE_OK) return failure("adding " + path);
    if (S_ISREG(st.st_mode)) {
      int fl = ::fcntl(fd.get(), F_GETFL);
      if (fl >= 0) (void)::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
      AGENT_TRY(copy_data(fd.get(), path));
    } else if (S_ISDIR(st.st_mode)) {
      AGENT_TRY(add_children(fd.get(), path));
    }
    return {};
  }

  agent::Status failure(const std::string& what) {
    if (sink_.too_big) return too_big_error(sink_.max);
    return archive_error(a_, what);
  }

  agent::Status copy_data(int fd, const std::string& path) {
    char buf[1 << 16];
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error::from_errno(errno, "reading " + path);
      if (n == 0) return {};
      if (archive_write_data(a_, buf, static_cast<size_t>(n)) < 0) return failure("adding " + path);
    }
  }

  agent::Status add_children(int dir_fd, const std::string& dir) {
    int dup = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return Error::from_errno(errno, "listing " + dir);
    DIR* d = ::fdopendir(dup);
    if (d == nullptr) {
      ::close(dup);
      return Error::from_errno(errno, "listing " + dir);
    }
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    for (const auto& n : names) AGENT_TRY(add(dir_fd, n, dir + "/" + n));
    return {};
  }

  struct archive* a_;
  Sink& sink_;
};

// The member's name inside `dir`, or empty when it must not be written.
std::string inner_name(std::string_view name, std::string& why) {
  size_t slash = name.find('/');
  if (slash == std::string_view::npos) return {};  // the directory itself
  name.remove_prefix(slash + 1);
  while (name.starts_with("./") || name.starts_with("/")) name.remove_prefix(name[0] == '/' ? 1 : 2);
  while (name.ends_with("/")) name.remove_suffix(1);
  if (name.empty() || name == ".") return {};
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    std::string_view part = name.substr(start, end == std::string_view::npos ? std::string_view::npos
                                                                              : end - start);
    if (part == "..") {
      why = "its name has a '..' component";
      return {};
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return std::string(name);
}

}  // namespace

agent::Result<std::string> pack_directory(const std::string& dir, size_t max_bytes) {
  if (dir.empty() || dir[0] != '/') {
    return Error(Errc::kInvalidArgument, "not an absolute directory: " + dir);
  }
  std::string out;
  Sink sink{&out, max_bytes};
  ArchivePtr a(archive_write_new());
  archive_write_set_format_pax_restricted(a.get());
  archive_write_set_bytes_in_last_block(a.get(), 1);
  if (archive_write_open2(a.get(), &sink, nullptr, write_cb, nullptr, nullptr) != ARCHIVE_OK) {
    return archive_error(a.get(), "starting the archive");
  }
  std::string root = dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  Packer packer(a.get(), sink);
  AGENT_TRY(packer.add_root(root));
  // libarchive writes in blocks: the limit may first trip on the last one.
  if (archive_write_close(a.get()) != ARCHIVE_OK || sink.too_big) {
    if (sink.too_big) return too_big_error(max_bytes);
    return archive_error(a.get(), "ending the archive");
  }
  return out;
}

namespace {

// Makes room for a member at `name` in `parent`: whatever is there that is not
// a directory (a file, a symlink) is removed, never followed; an empty
// directory is removed unless the member is one. Returns false (with `why`)
// when the place cannot be had.
bool make_room(int parent, const std::string& name, bool for_dir, std::string& why) {
  struct stat st;
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return true;
  if (S_ISDIR(st.st_mode)) {
    if (for_dir) return true;
    if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) == 0) return true;
    why = "a directory is in the way";
    return false;
  }
  if (::unlinkat(parent, name.c_str(), 0) == 0 || errno == ENOENT) return true;
  why = std::string("cannot replace what is there: ") + std::strerror(errno);
  return false;
}

struct DirFixup {
  std::vector<std::string> parts;
  mode_t perm;
  struct timespec mtime;
};

}  // namespace

agent::Result<UnpackReport> unpack_into(const std::string& tar, const std::string& dir) {
  // The directory is the agent's (its own path may go through symlinks);
  // every member is resolved beneath it, by descriptor, through no symlink.
  int root_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return Error::from_errno(errno, "opening " + dir);
  agent::files::UniqueFd root(root_fd);

  ArchivePtr in(archive_read_new());
  archive_read_support_format_tar(in.get());
  archive_read_support_format_gnutar(in.get());
  if (archive_read_open_memory(in.get(), tar.data(), tar.size()) != ARCHIVE_OK) {
    return archive_error(in.get(), "reading the container's archive");
  }
  UnpackReport report;
  std::vector<DirFixup> dirs;  // modes set last, so that a read-only directory is filled first
  archive_entry* entry = nullptr;
  while (true) {
    int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return archive_error(in.get(), "reading the container's archive");
    // No name, or one libarchive cannot convert: nothing to place it by.
    const char* pathname = archive_entry_pathname(entry);
    if (pathname == nullptr || *pathname == '\0') {
      report.skipped.push_back("(a member without a usable name): skipped");
      continue;
    }
    std::string name = pathname;
    std::string why;
    std::string inner = inner_name(name, why);
    auto skip = [&](const std::string& reason) { report.skipped.push_back(name + ": " + reason); };
    if (inner.empty()) {
      if (!why.empty()) skip(why);
      continue;
    }
    mode_t type = archive_entry_filetype(entry);
    if (archive_entry_hardlink(entry) != nullptr) {
      skip("hard links are not copied out of containers");
      continue;
    }
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
      skip("not a file, directory or symbolic link");
      continue;
    }
    auto parts = agent::files::split_relative(inner);
    if (!parts.ok()) {
      skip("its name " + parts.error().message());
      continue;
    }
    auto parent = agent::files::make_dirs_beneath(root.get(), *parts, true, 0755);
    if (!parent.ok()) {
      skip(parent.error().message());
      continue;
    }
    const std::string& leaf = parts->back();
    if (!make_room(parent->get(), leaf, type == AE_IFDIR, why)) {
      skip(why);
      continue;
    }
    mode_t perm = archive_entry_perm(entry) & 0777;
    struct timespec mtime{archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)};
    struct timespec times[2] = {{0, UTIME_OMIT}, mtime};
    if (type == AE_IFDIR) {
      if (::mkdirat(parent->get(), leaf.c_str(), 0700) != 0 && errno != EEXIST) {
        skip(std::string("cannot create the directory: ") + std::strerror(errno));
        continue;
      }
      dirs.push_back(DirFixup{std::move(parts).value(), perm, mtime});
      continue;
    }
    if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      // A link is written as a link; nothing of the agent's ever follows it.
      if (target == nullptr || ::symlinkat(target, parent->get(), leaf.c_str()) != 0) {
        skip(std::string("cannot create the link: ") + std::strerror(errno));
        continue;
      }
      (void)::utimensat(parent->get(), leaf.c_str(), times, AT_SYMLINK_NOFOLLOW);
      continue;
    }
    int fd = ::openat(parent->get(), leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      skip(std::string("cannot create the file: ") + std::strerror(errno));
      continue;
    }
    agent::files::UniqueFd file(fd);
    const void* buf;
    size_t size;
    la_int64_t offset;
    while ((r = archive_read_data_block(in.get(), &buf, &size, &offset)) == ARCHIVE_OK) {
      const char* p = static_cast<const char*>(buf);
      while (size > 0) {
        ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Error::from_errno(n < 0 ? errno : EIO, "writing " + dir + "/" + inner);
        p += n;
        size -= static_cast<size_t>(n);
        offset += n;
      }
    }
    if (r != ARCHIVE_EOF) return archive_error(in.get(), "reading the container's archive");
    // A sparse file's trailing hole.
    if (::ftruncate(fd, static_cast<off_t>(archive_entry_size(entry))) != 0) {
      return Error::from_errno(errno, "writing " + dir + "/" + inner);
    }
    if (::fchmod(fd, perm) != 0) return Error::from_errno(errno, "setting the mode of " + dir + "/" + inner);
    (void)::futimens(fd, times);
    report.files++;
  }
  // Deepest first: a parent's mode may forbid writing into it.
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    auto d = agent::files::open_beneath(root.get(), it->parts, O_RDONLY | O_DIRECTORY);
    if (!d.ok()) continue;  // replaced by a later member
    struct timespec times[2] = {{0, UTIME_OMIT}, it->mtime};
    if (::fchmod(d->get(), it->perm) != 0) return Error::from_errno(errno, "setting the mode of a directory");
    (void)::futimens(d->get(), times);
  }
  return report;
}

}  // namespace runners::docker
