#include "agent/files/input_files.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>

#include "agent/common/fs.h"
#include "agent/files/beneath.h"

namespace agent::files {

namespace {

Error bad_name(const std::string& name, std::string_view why) {
  return Error(Errc::kInvalidArgument, "'" + name + "' " + std::string(why), "inputFiles." + name);
}

// Why a resolution failed, without the name it starts with ("'a/b' is a
// symbolic link" -> "is a symbolic link").
std::string reason(const Error& e) {
  const std::string& m = e.message();
  if (m.starts_with("'")) {
    size_t q = m.find("' ", 1);
    if (q != std::string::npos) return m.substr(q + 2);
  }
  return m;
}

// The name's components, checked (beneath.h).
Result<std::vector<std::string>> components(const std::string& name) {
  auto parts = split_relative(name);
  if (!parts.ok()) return bad_name(name, parts.error().message());
  return parts;
}

// The source of a URI value, opened: a regular file, never through a final
// symlink, never blocking on a FIFO. A file:// source must still be the file
// its resolution found (its directories were not swapped meanwhile).
Result<UniqueFd> open_source(const std::string& path, std::string_view uri) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno(errno, "opening " + std::string(uri));
  UniqueFd source(fd);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error(Errc::kInvalidArgument, "'" + std::string(uri) + "' is not a regular file");
  }
  if (uri.starts_with("file://")) {
    auto now = fd_path(fd);
    if (!now.ok() || *now != path) {
      return Error(Errc::kPermissionDenied, "'" + std::string(uri) + "' changed while it was opened");
    }
  }
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return source;
}

// The path after the scheme of a file:// or nsfile:// URI, lexically checked.
Result<std::vector<std::string>> uri_path(std::string_view rest, std::string_view uri) {
  if (rest.empty() || rest[0] != '/') {
    return Error(Errc::kInvalidArgument, "'" + std::string(uri) + "' is not an absolute path");
  }
  auto parts = split_relative(rest.substr(1));
  if (!parts.ok()) {
    return Error(Errc::kInvalidArgument, "'" + std::string(uri) + "': the path " + parts.error().message());
  }
  return parts;
}

std::string join(const std::vector<std::string>& parts, size_t from = 0) {
  std::string out;
  for (size_t i = from; i < parts.size(); i++) {
    if (!out.empty()) out += '/';
    out += parts[i];
  }
  return out;
}

}  // namespace

bool is_file_uri(std::string_view value) {
  if (!(value.starts_with("kestra://") || value.starts_with("nsfile://") || value.starts_with("file://"))) {
    return false;
  }
  return value.find_first_of(" \t\r\n") == std::string_view::npos;
}

Status write_input_files(const std::string& working_dir,
                         const std::vector<std::pair<std::string, std::string>>& files,
                         const SourceResolver& resolve) {
  AGENT_ASSIGN_OR_RETURN(UniqueFd root, open_dir(working_dir));
  for (const auto& [name, value] : files) {
    AGENT_ASSIGN_OR_RETURN(std::vector<std::string> parts, components(name));
    UniqueFd source;
    if (is_file_uri(value)) {
      auto path = resolve(value);
      if (!path.ok()) return std::move(path).error().at("inputFiles." + name);
      auto opened = open_source(*path, value);
      if (!opened.ok()) return std::move(opened).error().at("inputFiles." + name);
      source = std::move(opened).value();
    }
    auto fd = create_file_beneath(root.get(), parts);
    if (!fd.ok()) return bad_name(name, reason(fd.error()));
    Status w = source.get() >= 0 ? copy_fd(source.get(), fd->get()) : write_all(fd->get(), value);
    if (!w.ok()) return std::move(w).error().context("writing input file " + name);
  }
  return {};
}

Result<std::string> resolve_file_uri(std::string_view uri, const std::vector<std::string>& allowed_paths) {
  if (allowed_paths.empty()) {
    return Error(Errc::kPermissionDenied, "'" + std::string(uri) +
                                              "': file:// URIs are refused unless the agent's "
                                              "configuration lists the directory in allowedPaths");
  }
  AGENT_ASSIGN_OR_RETURN(std::vector<std::string> parts, uri_path(uri.substr(7), uri));
  for (const auto& allowed : allowed_paths) {
    // The directory as configured and as resolved: the URI may name either.
    std::vector<std::string> bases = {allowed};
    char real[PATH_MAX];
    if (realpath(allowed.c_str(), real) != nullptr && allowed != real) bases.emplace_back(real);
    for (const auto& base : bases) {
      auto base_parts = split_relative(std::string_view(base).substr(1), true);
      if (!base_parts.ok() || base_parts->size() >= parts.size()) continue;
      if (!std::equal(base_parts->begin(), base_parts->end(), parts.begin())) continue;
      // Beneath the allowed directory, without any symlink: openat2 refuses
      // what a prefix check on a resolved string would have let through.
      int dirfd = ::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dirfd < 0) continue;
      UniqueFd dir(dirfd);
      std::vector<std::string> rel(parts.begin() + static_cast<std::ptrdiff_t>(base_parts->size()), parts.end());
      auto fd = open_beneath(dir.get(), rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
      if (!fd.ok()) {
        return Error(fd.error().code(), "'" + std::string(uri) + "': " + join(rel) + " under " + base + ": " + reason(fd.error()));
      }
      struct stat st;
      if (fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return Error(Errc::kInvalidArgument, "'" + std::string(uri) + "' is not a regular file");
      }
      return fd_path(fd->get());
    }
  }
  return Error(Errc::kPermissionDenied, "'" + std::string(uri) + "' is outside the agent's allowedPaths");
}

Result<std::string> resolve_nsfile_uri(std::string_view uri, std::string_view current_namespace,
                                       const std::string& namespaces_root) {
  std::string_view rest = uri.substr(9);  // after nsfile://
  std::string ns(current_namespace);
  if (!rest.starts_with("/")) {
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) {
      return Error(Errc::kInvalidArgument, "'" + std::string(uri) + "' names no file");
    }
    ns = std::string(rest.substr(0, slash));
    rest.remove_prefix(slash);
  }
  if (ns.empty() || ns.find('/') != std::string::npos || ns == "." || ns == ".." ||
      ns.find('\0') != std::string::npos) {
    return Error(Errc::kInvalidArgument, "'" + std::string(uri) + "' names no valid namespace");
  }
  AGENT_ASSIGN_OR_RETURN(std::vector<std::string> parts, uri_path(rest, uri));
  std::string dir = namespaces_root + "/" + ns;
  auto dirfd = open_dir(dir);
  if (!dirfd.ok()) return Error(Errc::kNotFound, "no namespace file " + std::string(uri));
  auto fd = open_beneath(dirfd->get(), parts, O_RDONLY | O_NONBLOCK | O_NOCTTY);
  struct stat st;
  if (!fd.ok() || fstat(fd->get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd.ok() || fd.error().code() == Errc::kNotFound) {
      return Error(Errc::kNotFound, "no namespace file " + std::string(uri));
    }
    return Error(fd.error().code(), "namespace file " + std::string(uri) + ": " + fd.error().message());
  }
  return dir + "/" + join(parts);
}

}  // namespace agent::files
