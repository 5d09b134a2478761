// Masking of secret values in log lines. Every literal occurrence of a
// registered secret (and of its JSON-escaped form) becomes `******`: a fixed
// mark, so that unlike Kestra's `*` x length the length is not revealed.
// Longest secrets are replaced first, so a secret containing another is
// masked whole. Threading: none; one masker per execution, on the loop.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace agent::context {

inline constexpr std::string_view kMask = "******";

class SecretMasker {
 public:
  // Empty and already known secrets are ignored.
  void add(std::string secret);
  bool empty() const { return secrets_.empty(); }
  // The line with every secret replaced.
  std::string mask(std::string_view line) const;

 private:
  std::vector<std::string> secrets_;  // longest first
};

}  // namespace agent::context
