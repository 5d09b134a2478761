#include "agent/files/storage.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>

#include "agent/common/fs.h"
#include "agent/files/beneath.h"

namespace agent::files {

namespace {

constexpr std::string_view kScheme = "kestra://";

std::string ns_path(std::string_view ns) {
  std::string out(ns);
  for (char& c : out) {
    if (c == '.') c = '/';
  }
  return out;
}

// FNV-1a of the relative path, base 36: stable, short.
std::string path_prefix(std::string_view rel) {
  uint64_t h = 1469598103934665603ull;
  for (char c : rel) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  std::string out;
  constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  do {
    out += kDigits[h % 36];
    h /= 36;
  } while (h != 0);
  return out;
}

Result<std::string> place(const std::string& root, const std::string& rel_dir,
                          const std::string& name) {
  std::string dir = root + "/" + rel_dir;
  AGENT_TRY(fs::make_dirs(dir, 0750));
  return rel_dir + "/" + name;
}

}  // namespace

std::string encode_segment(std::string_view s) {
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      constexpr char kHex[] = "0123456789ABCDEF";
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  if (out == "." || out == "..") out = "%2E" + out.substr(1);
  return out;
}

Result<std::string> Storage::put_task_file(const std::string& source_path, const TaskFileKey& key,
                                           std::string_view relative_path) const {
  // `source_path` is <dir>/<relative_path>: the file is opened beneath <dir>,
  // by descriptor, never through a symlink, and what is stored is the inode
  // that was opened and checked, even if the name is swapped meanwhile.
  std::string_view sp = source_path;
  if (relative_path.empty() || sp.size() <= relative_path.size() + 1 || !sp.ends_with(relative_path) ||
      sp[sp.size() - relative_path.size() - 1] != '/') {
    return Error(Errc::kInvalidArgument, "'" + source_path + "' does not end with '" + std::string(relative_path) + "'");
  }
  std::string dir(sp.substr(0, sp.size() - relative_path.size() - 1));
  AGENT_ASSIGN_OR_RETURN(UniqueFd dirfd, open_dir(dir));
  struct stat dir_st;
  if (fstat(dirfd.get(), &dir_st) != 0) return Error::from_errno(errno, "reading " + dir);
  struct stat st;
  AGENT_ASSIGN_OR_RETURN(UniqueFd source, open_regular_beneath(dirfd.get(), relative_path, &st));
  // A second name for a file owned by someone else than the directory's
  // owner is a way to someone else's file, not an output of the task.
  if (st.st_nlink > 1 && st.st_uid != dir_st.st_uid) {
    return Error(Errc::kPermissionDenied,
                 "'" + std::string(relative_path) + "' is a hard link to a file its task does not own");
  }

  std::string_view base = relative_path;
  size_t slash = base.rfind('/');
  if (slash != std::string_view::npos) base.remove_prefix(slash + 1);
  std::string rel_dir = ns_path(key.namespace_) + "/" + encode_segment(key.flow_id) + "/executions/" +
                        key.execution_id + "/tasks/" + encode_segment(key.task_id) + "/" +
                        key.task_run_id;
  AGENT_ASSIGN_OR_RETURN(std::string rel,
                         place(root_, rel_dir, path_prefix(relative_path) + "-" + encode_segment(base)));
  std::string dest = root_ + "/" + rel;
  unlink(dest.c_str());
  char proc[64];
  std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", source.get());
  if (linkat(AT_FDCWD, proc, AT_FDCWD, dest.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    // Across file systems (or without /proc): a copy from the same descriptor.
    int out = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (out < 0) return Error::from_errno(errno, "storing " + source_path);
    UniqueFd guard(out);
    Status copied = copy_fd(source.get(), out);
    if (!copied.ok()) {
      unlink(dest.c_str());
      return std::move(copied).error().context("storing " + source_path);
    }
  }
  return std::string(kScheme) + "/" + rel;
}

Result<std::string> Storage::put_execution_input(const std::string& namespace_,
                                                 const std::string& flow_id,
                                                 const std::string& execution_id,
                                                 const std::string& input_id,
                                                 std::string_view filename,
                                                 std::string_view content) const {
  std::string uri = input_uri(namespace_, flow_id, execution_id, input_id, filename);
  std::string rel = uri.substr(kScheme.size() + 1);
  AGENT_TRY(fs::make_dirs(root_ + "/" + rel.substr(0, rel.rfind('/')), 0750));
  AGENT_TRY(fs::write_file(root_ + "/" + rel, content));
  return uri;
}

std::string Storage::input_uri(const std::string& namespace_, const std::string& flow_id,
                               const std::string& execution_id, const std::string& input_id,
                               std::string_view filename) const {
  return std::string(kScheme) + "/" + ns_path(namespace_) + "/" + encode_segment(flow_id) +
         "/executions/" + execution_id + "/inputs/" + encode_segment(input_id) + "/" +
         encode_segment(filename);
}

Result<std::string> Storage::resolve(std::string_view uri) const {
  auto bad = [&](std::string_view why) {
    return Error(Errc::kInvalidArgument, "kestra:// URI '" + std::string(uri) + "' " + std::string(why));
  };
  if (!uri.starts_with(kScheme)) return bad("does not start with kestra://");
  std::string_view rest = uri.substr(kScheme.size());
  if (!rest.starts_with("/")) return bad("has a host; expected kestra:///path");
  rest.remove_prefix(1);
  std::string path;
  size_t start = 0;
  while (start <= rest.size()) {
    size_t end = rest.find('/', start);
    if (end == std::string_view::npos) end = rest.size();
    std::string_view seg = rest.substr(start, end - start);
    // Names are stored percent-encoded, as they appear in the URI.
    std::string decoded(seg);
    if (decoded.empty() || decoded == "." || decoded == ".." ||
        decoded.find('/') != std::string::npos || decoded.find('\0') != std::string::npos) {
      return bad("escapes the storage or has an empty segment");
    }
    path += "/" + decoded;
    start = end + 1;
  }
  std::string local = root_ + path;
  // Beneath the storage's root, through no symlink, to a regular file.
  auto root = open_dir(root_);
  if (!root.ok()) return Error(Errc::kNotFound, "no file at " + std::string(uri));
  auto fd = open_regular_beneath(root->get(), path.substr(1));
  if (!fd.ok()) {
    if (fd.error().code() == Errc::kNotFound) return Error(Errc::kNotFound, "no file at " + std::string(uri));
    return Error(fd.error().code(), "kestra:// URI '" + std::string(uri) + "': " + fd.error().message());
  }
  return local;
}

}  // namespace agent::files
