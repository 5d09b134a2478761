#include "runners/docker/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <memory>

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

class Packer {
 public:
  Packer(struct archive* a, Sink& sink) : a_(a), sink_(sink) {}

  agent::Status add(const std::string& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return Error::from_errno(errno, "reading " + path);
    EntryPtr entry(archive_entry_new());
    archive_entry_copy_stat(entry.get(), &st);
    archive_entry_set_pathname(entry.get(), path.c_str() + 1);  // no leading '/'
    if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
      if (n < 0) return Error::from_errno(errno, "reading link " + path);
      target[n] = '\0';
      archive_entry_set_symlink(entry.get(), target);
    } else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
      return {};  // sockets, fifos, devices: not shipped
    }
    if (archive_write_header(a_, entry.get()) != ARCHIVE_OK) return failure("adding " + path);
    if (S_ISREG(st.st_mode)) {
      AGENT_TRY(copy_data(path));
    } else if (S_ISDIR(st.st_mode)) {
      AGENT_TRY(add_children(path));
    }
    return {};
  }

 private:
  agent::Status failure(const std::string& what) {
    if (sink_.too_big) return too_big_error(sink_.max);
    return archive_error(a_, what);
  }

  agent::Status copy_data(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return Error::from_errno(errno, "opening " + path);
    char buf[1 << 16];
    agent::Status st;
    while (true) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        st = Error::from_errno(errno, "reading " + path);
        break;
      }
      if (n == 0) break;
      if (archive_write_data(a_, buf, static_cast<size_t>(n)) < 0) {
        st = failure("adding " + path);
        break;
      }
    }
    ::close(fd);
    return st;
  }

  agent::Status add_children(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Error::from_errno(errno, "listing " + dir);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    for (const auto& n : names) AGENT_TRY(add(dir + "/" + n));
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
  while (name.starts_with("./")) name.remove_prefix(2);
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
  AGENT_TRY(packer.add(root));
  // libarchive writes in blocks: the limit may first trip on the last one.
  if (archive_write_close(a.get()) != ARCHIVE_OK || sink.too_big) {
    if (sink.too_big) return too_big_error(max_bytes);
    return archive_error(a.get(), "ending the archive");
  }
  return out;
}

agent::Result<UnpackReport> unpack_into(const std::string& tar, const std::string& dir) {
  // Resolved once, so that the symlink check below never trips on the
  // directory's own ancestors (a /var/run -> /run on the way).
  char real[PATH_MAX];
  if (::realpath(dir.c_str(), real) == nullptr) return Error::from_errno(errno, "resolving " + dir);
  std::string base = real;

  ArchivePtr in(archive_read_new());
  archive_read_support_format_tar(in.get());
  archive_read_support_format_gnutar(in.get());
  if (archive_read_open_memory(in.get(), tar.data(), tar.size()) != ARCHIVE_OK) {
    return archive_error(in.get(), "reading the container's archive");
  }
  ArchivePtr out(archive_write_disk_new());
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                                ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                ARCHIVE_EXTRACT_UNLINK);
  UnpackReport report;
  archive_entry* entry = nullptr;
  while (true) {
    int r = archive_read_next_header(in.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return archive_error(in.get(), "reading the container's archive");
    std::string name = archive_entry_pathname(entry);
    std::string why;
    std::string inner = inner_name(name, why);
    if (inner.empty()) {
      if (!why.empty()) report.skipped.push_back(name + ": " + why);
      continue;
    }
    mode_t type = archive_entry_filetype(entry);
    if (archive_entry_hardlink(entry) != nullptr) {
      report.skipped.push_back(name + ": hard links are not copied out of containers");
      continue;
    }
    if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
      report.skipped.push_back(name + ": not a file, directory or symbolic link");
      continue;
    }
    std::string target = base + "/" + inner;
    archive_entry_set_pathname(entry, target.c_str());
    archive_entry_set_perm(entry, archive_entry_perm(entry) & 0777);
    r = archive_write_header(out.get(), entry);
    if (r < ARCHIVE_WARN) {
      const char* msg = archive_error_string(out.get());
      report.skipped.push_back(name + ": " + (msg != nullptr ? msg : "not written"));
      continue;
    }
    if (type == AE_IFREG && archive_entry_size(entry) > 0) {
      const void* buf;
      size_t size;
      la_int64_t offset;
      while ((r = archive_read_data_block(in.get(), &buf, &size, &offset)) == ARCHIVE_OK) {
        if (archive_write_data_block(out.get(), buf, size, offset) < ARCHIVE_WARN) {
          return archive_error(out.get(), "writing " + target);
        }
      }
      if (r != ARCHIVE_EOF) return archive_error(in.get(), "reading the container's archive");
    }
    if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN) {
      return archive_error(out.get(), "writing " + target);
    }
    if (type == AE_IFREG) report.files++;
  }
  if (archive_write_close(out.get()) != ARCHIVE_OK) return archive_error(out.get(), "finishing " + dir);
  return report;
}

}  // namespace runners::docker
