// Errors are values. Result<T> holds a T or an Error; Status is Result<void>.
// Nothing in agent/ throws across a C callback: functions that can fail return
// one of these, and the owner of the decision logs it once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace agent {

enum class Errc : uint8_t {
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kResourceExhausted,
  kUnavailable,
  kDeadlineExceeded,
  kCancelled,
  kInternal,
};

// The wire name of an error code, as sent in protocol errors ("invalid_argument").
std::string_view errc_name(Errc code);

class Error {
 public:
  Error(Errc code, std::string message, std::string path = {})
      : code_(code), message_(std::move(message)), path_(std::move(path)) {}

  // From a negative libuv status or an errno value, naming what failed.
  static Error from_uv(int uv_err, std::string_view what);
  static Error from_errno(int err, std::string_view what);
  // A bad value at the property `path` (kInvalidArgument).
  static Error invalid(std::string path, std::string message) {
    return Error(Errc::kInvalidArgument, std::move(message), std::move(path));
  }

  Errc code() const { return code_; }
  const std::string& message() const { return message_; }
  // The property path the error is about ("tasks[0].commands"), or empty.
  const std::string& path() const { return path_; }

  // Prefixes the message with what was being done: "reading config: ...".
  Error&& context(std::string_view while_doing) &&;
  // Prefixes the path: at("tasks[0]") on path "commands" gives "tasks[0].commands".
  Error&& at(std::string_view parent) &&;

  // "path: message" when a path is set, else the message.
  std::string describe() const;

 private:
  Errc code_;
  std::string message_;
  std::string path_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT
  static Status ok_status() { return {}; }

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return err_; }
  Error&& error() && { return std::move(err_); }

 private:
  Error err_{Errc::kInternal, {}};
  bool ok_ = true;
};

}  // namespace agent

// Returns the error of `expr` (a Status or Result) from the enclosing function.
#define AGENT_TRY(expr)                         \
  do {                                          \
    auto agent_try_ = (expr);                   \
    if (!agent_try_.ok()) {                     \
      return std::move(agent_try_).error();     \
    }                                           \
  } while (0)

#define AGENT_CONCAT_INNER_(a, b) a##b
#define AGENT_CONCAT_(a, b) AGENT_CONCAT_INNER_(a, b)
#define AGENT_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) {                                   \
    return std::move(tmp).error();                   \
  }                                                  \
  lhs = std::move(tmp).value()
// Declares or assigns `lhs` from a Result, or returns its error.
#define AGENT_ASSIGN_OR_RETURN(lhs, expr) \
  AGENT_ASSIGN_OR_RETURN_IMPL_(AGENT_CONCAT_(agent_res_, __LINE__), lhs, expr)

// Invariants that must hold whatever the input: abort loudly with a message.
#define AGENT_CHECK(cond)                                         \
  do {                                                            \
    if (!(cond)) {                                                \
      ::agent::check_failed(#cond, __FILE__, __LINE__);           \
    }                                                             \
  } while (0)

namespace agent {
[[noreturn]] void check_failed(const char* cond, const char* file, int line);
}  // namespace agent
