#include "agent/common/result.h"

#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace agent {

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument: return "invalid_argument";
    case Errc::kNotFound: return "not_found";
    case Errc::kAlreadyExists: return "already_exists";
    case Errc::kPermissionDenied: return "permission_denied";
    case Errc::kResourceExhausted: return "resource_exhausted";
    case Errc::kUnavailable: return "unavailable";
    case Errc::kDeadlineExceeded: return "deadline_exceeded";
    case Errc::kCancelled: return "cancelled";
    case Errc::kInternal: return "internal";
  }
  return "internal";
}

static Errc errc_from_errno(int err) {
  switch (err) {
    case ENOENT: return Errc::kNotFound;
    case EEXIST: return Errc::kAlreadyExists;
    case EACCES:
    case EPERM: return Errc::kPermissionDenied;
    case ENOSPC:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EAGAIN: return Errc::kResourceExhausted;
    case EINVAL: return Errc::kInvalidArgument;
    case ETIMEDOUT: return Errc::kDeadlineExceeded;
    case ECANCELED: return Errc::kCancelled;
    default: return Errc::kInternal;
  }
}

Error Error::from_uv(int uv_err, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += uv_strerror(uv_err);
  msg += " (";
  msg += uv_err_name(uv_err);
  msg += ")";
  return Error(errc_from_errno(-uv_err), std::move(msg));
}

Error Error::from_errno(int err, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += std::strerror(err);
  return Error(errc_from_errno(err), std::move(msg));
}

Error&& Error::context(std::string_view while_doing) && {
  std::string msg(while_doing);
  msg += ": ";
  msg += message_;
  message_ = std::move(msg);
  return std::move(*this);
}

Error&& Error::at(std::string_view parent) && {
  if (path_.empty()) {
    path_ = parent;
  } else if (!path_.empty() && path_[0] == '[') {
    path_ = std::string(parent) + path_;
  } else {
    path_ = std::string(parent) + "." + path_;
  }
  return std::move(*this);
}

std::string Error::describe() const {
  if (path_.empty()) return message_;
  return path_ + ": " + message_;
}

void check_failed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "runnerd: internal invariant failed: %s at %s:%d\n", cond, file, line);
  std::abort();
}

}  // namespace agent
