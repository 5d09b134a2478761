// secret('KEY') for templates, Kestra OSS style: the value of the agent's
// environment variable SECRET_<KEY> (key upper-cased), base64-encoded, line
// breaks ignored; or, first, the agent's secrets file (`secretsFile`: lines
// `KEY=base64value`, `#` comments), which must be readable by the agent only.
// Threading: immutable after construction.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/common/result.h"

namespace agent::context {

class SecretStore {
 public:
  SecretStore() = default;
  // `env`: "NAME=value" entries (the agent's environment at start).
  explicit SecretStore(const std::vector<std::string>& env);
  // Reads the secrets file; refuses a file that others can read or that the
  // agent's user does not own.
  Status load_file(const std::string& path);

  Result<std::string> get(std::string_view key) const;

 private:
  std::vector<std::pair<std::string, std::string>> encoded_;  // KEY -> base64 value
};

}  // namespace agent::context
