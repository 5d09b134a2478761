// outputFiles patterns and namespace-file globs (agent/files/glob.h): a
// pattern and a path from the input. Compiling and matching never crash and
// give the same answer twice; a compiled glob matches only beneath its
// working directory (or the absolute path it names).
#include <string>

#include "agent/files/glob.h"
#include "test/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 2048) return 0;  // std::regex recursion: bounded by the agent's line limit elsewhere
  fuzz::Input in(data, size);
  std::string pattern(in.field());
  std::string path(in.field());
  bool a = agent::files::glob_match(pattern, path);
  bool b = agent::files::glob_match(pattern, path);
  if (a != b) fuzz::fail("glob_match is not deterministic");
  (void)agent::files::glob_to_regex(pattern).ok();
  if (pattern.rfind("glob:", 0) == 0 || pattern.rfind("regex:", 0) == 0) return 0;
  auto m = agent::files::PathMatcher::compile(pattern, "/work/dir");
  if (!m.ok()) return 0;
  std::string abs = path.empty() || path[0] != '/' ? "/elsewhere/" + path : path;
  if (abs.rfind("/work/dir/", 0) != 0 && m->matches(abs)) {
    fuzz::fail("a relative pattern matched a path outside the working directory");
  }
  return 0;
}
