// outputFiles patterns and namespace-file globs (agent/files/glob.h): a
// pattern and a path from the input. Besides never crashing:
//  - a relative pattern compiled against a working directory matches only
//    paths beneath it (a task's outputFiles never reach outside its dir);
//  - a pattern and "glob:" + the same pattern under the directory agree;
//  - a path with its special characters escaped is a glob matching itself;
//  - without '/', '**', '[' or '\\' in the pattern, a match never crosses '/'.
#include <string>

#include "agent/files/glob.h"
#include "test/fuzz/fuzz_util.h"

namespace {

std::string escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\*?[]{},").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // libstdc++'s std::regex recurses per character; the agent's patterns and
  // paths are short (PATH_MAX), so longer inputs only find that limit.
  if (size > 2048) return 0;
  namespace files = agent::files;
  fuzz::Input in(data, size);
  std::string pattern(in.field());
  std::string path(in.field());

  bool matched = files::glob_match(pattern, path);
  fuzz::check(matched == files::glob_match(pattern, path), "glob_match is not deterministic");
  fuzz::check(files::glob_match(escaped(path), path), "an escaped path does not match itself");
  if (matched && pattern.find_first_of("/[\\") == std::string::npos &&
      pattern.find("**") == std::string::npos) {
    fuzz::check(path.find('/') == std::string::npos, "'*' or '?' matched across '/'");
  }
  auto regex = files::glob_to_regex(pattern);
  if (regex.ok()) fuzz::check(regex->starts_with("^") && regex->ends_with("$"), "an unanchored regex");

  if (pattern.starts_with("glob:") || pattern.starts_with("regex:")) {
    (void)files::PathMatcher::compile(pattern, "/work/dir");
    return 0;
  }
  auto m = files::PathMatcher::compile(pattern, "/work/dir");
  // Any other pattern p is glob:<dir>/p (a leading '/' of p included once).
  auto g = files::PathMatcher::compile("glob:/work/dir" + std::string(pattern.starts_with("/") ? "" : "/") + pattern,
                                       "/elsewhere");
  fuzz::check(m.ok() == g.ok(), "a pattern and its glob: form disagree on validity");
  if (!m.ok()) return 0;
  std::string abs = path.starts_with("/") ? path : "/work/dir/" + path;
  fuzz::check(m->matches(abs) == g->matches(abs), "a pattern and its glob: form disagree");
  fuzz::check(!m->matches("/elsewhere/" + path), "a pattern matched outside the working directory");
  if (m->matches(abs)) fuzz::check(abs.starts_with("/work/dir/"), "a match outside the working directory");
  return 0;
}
