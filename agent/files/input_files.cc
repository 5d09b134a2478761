#include "agent/files/input_files.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "agent/common/fs.h"

namespace agent::files {

namespace {

Error bad_name(const std::string& name, std::string_view why) {
  return Error(Errc::kInvalidArgument, "'" + name + "' " + std::string(why), "inputFiles." + name);
}

// The name's components, checked.
Result<std::vector<std::string>> components(const std::string& name) {
  if (name.empty()) return bad_name(name, "is not a file name");
  if (name[0] == '/') return bad_name(name, "is absolute: input files are relative to the working directory");
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string part = name.substr(start, end - start);
    start = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") return bad_name(name, "escapes the working directory");
    if (part.find('\0') != std::string::npos) return bad_name(name, "contains a NUL byte");
    out.push_back(std::move(part));
  }
  if (out.empty()) return bad_name(name, "is not a file name");
  return out;
}

// Opens (creating) the file under `dirfd`, never through a symlink.
Result<int> open_under(int root_fd, const std::string& name, const std::vector<std::string>& parts) {
  int dir = dup(root_fd);
  if (dir < 0) return Error::from_errno(errno, "dup");
  for (size_t i = 0; i + 1 < parts.size(); i++) {
    if (mkdirat(dir, parts[i].c_str(), 0750) != 0 && errno != EEXIST) {
      int e = errno;
      close(dir);
      return Error::from_errno(e, "creating the directory of input file " + name);
    }
    int next = openat(dir, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int e = errno;
    close(dir);
    if (next < 0) {
      if (e == ELOOP || e == ENOTDIR) return bad_name(name, "goes through a symlink or a file");
      return Error::from_errno(e, "opening the directory of input file " + name);
    }
    dir = next;
  }
  int fd = openat(dir, parts.back().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
  int e = errno;
  close(dir);
  if (fd < 0) {
    if (e == ELOOP) return bad_name(name, "is a symlink");
    return Error::from_errno(e, "creating input file " + name);
  }
  return fd;
}

Status write_all(int fd, std::string_view data, const std::string& name) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno(errno, "writing input file " + name);
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<std::string> checked_path(std::string_view rest, std::string_view uri) {
  std::string path(rest);
  if (path.empty() || path[0] != '/' || path.find("/../") != std::string::npos ||
      path.ends_with("/..") || path.find('\0') != std::string::npos) {
    return Error(Errc::kInvalidArgument, "'" + std::string(uri) + "' is not a normalized absolute path");
  }
  return path;
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
  int root = open(working_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return Error::from_errno(errno, "opening working directory " + working_dir);
  Status status;
  for (const auto& [name, value] : files) {
    auto parts = components(name);
    if (!parts.ok()) {
      status = std::move(parts).error();
      break;
    }
    std::string content;
    if (is_file_uri(value)) {
      auto source = resolve(value);
      if (!source.ok()) {
        status = std::move(source).error().at("inputFiles." + name);
        break;
      }
      auto data = fs::read_file(*source);
      if (!data.ok()) {
        status = std::move(data).error();
        break;
      }
      content = std::move(data).value();
    }
    auto fd = open_under(root, name, *parts);
    if (!fd.ok()) {
      status = std::move(fd).error();
      break;
    }
    Status w = write_all(*fd, is_file_uri(value) ? std::string_view(content) : std::string_view(value), name);
    close(*fd);
    if (!w.ok()) {
      status = std::move(w);
      break;
    }
  }
  close(root);
  return status;
}

Result<std::string> resolve_file_uri(std::string_view uri, const std::vector<std::string>& allowed_paths) {
  if (allowed_paths.empty()) {
    return Error(Errc::kPermissionDenied, "'" + std::string(uri) +
                                              "': file:// URIs are refused unless the agent's "
                                              "configuration lists the directory in allowedPaths");
  }
  AGENT_ASSIGN_OR_RETURN(std::string path, checked_path(uri.substr(7), uri));
  char real[PATH_MAX];
  if (realpath(path.c_str(), real) == nullptr) return Error::from_errno(errno, std::string(uri));
  std::string r = real;
  for (const auto& allowed : allowed_paths) {
    char a[PATH_MAX];
    if (realpath(allowed.c_str(), a) == nullptr) continue;
    std::string base = a;
    if (r == base || r.starts_with(base + "/")) return r;
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
  if (ns.empty() || ns.find('/') != std::string::npos || ns == "." || ns == "..") {
    return Error(Errc::kInvalidArgument, "'" + std::string(uri) + "' names no valid namespace");
  }
  AGENT_ASSIGN_OR_RETURN(std::string path, checked_path(rest, uri));
  std::string local = namespaces_root + "/" + ns + path;
  struct stat st;
  if (stat(local.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Error(Errc::kNotFound, "no namespace file " + std::string(uri));
  }
  return local;
}

}  // namespace agent::files
