// Kestra's outputFiles patterns, with Java NIO PathMatcher semantics:
// `glob:` and `regex:` patterns apply to the absolute path as written; any
// other pattern p becomes `glob:<workingDir>/p`. In a glob, `*` matches any
// run of characters but `/`, `**` any run including `/`, `?` one character
// but `/`, `[a-z]` / `[!a-z]` a class, `{a,b}` alternatives (not nested), `\`
// escapes. A regex must match the whole path.
// Threading: a compiled matcher is immutable and may be used from any thread.
#pragma once

#include <memory>
#include <regex>
#include <string>
#include <string_view>

#include "agent/common/result.h"

namespace agent::files {

class PathMatcher {
 public:
  static Result<PathMatcher> compile(std::string_view pattern, std::string_view working_dir);
  bool matches(std::string_view absolute_path) const;
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  std::shared_ptr<const std::regex> re_;
};

// The ECMAScript regex text of a Java glob; an error for a malformed glob.
Result<std::string> glob_to_regex(std::string_view glob);
// A relative path against a glob (namespace files' include/exclude).
bool glob_match(std::string_view glob, std::string_view path);

}  // namespace agent::files
