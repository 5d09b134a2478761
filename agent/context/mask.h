// Masking of secret values in log lines. Every literal occurrence of a
// registered secret (and of its JSON-escaped, shell-quoted and URL-encoded
// forms, and of each line of a multi-line one) becomes `******`: a fixed
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
  // Lines of a multi-line secret shorter than this are not masked on their own.
  static constexpr size_t kMinLinePart = 4;
  // Empty and already known secrets are ignored.
  void add(std::string secret);
  bool empty() const { return secrets_.empty(); }
  // The line with every secret replaced.
  std::string mask(std::string_view line) const;

 private:
  std::vector<std::string> secrets_;  // longest first
};

}  // namespace agent::context
