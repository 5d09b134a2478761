// main() of the test binaries. Before GoogleTest starts, `argv[1]` may select a
// self-exec child mode, so tests can spawn this very binary as a well-behaved
// child process:
//   --child=exit:N      exit with code N
//   --child=spew:BYTES  write BYTES bytes of "line NNNNNNN\n" lines to stdout
//   --child=sleep:MS    sleep MS milliseconds, then exit 0
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

namespace {

bool parse_u64(std::string_view s, unsigned long long& out) {
  if (s.empty()) return false;
  unsigned long long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned long long>(c - '0');
  }
  out = v;
  return true;
}

int spew(unsigned long long bytes) {
  std::string buf;
  buf.reserve(1 << 16);
  unsigned long long line = 0;
  while (bytes > 0) {
    buf.clear();
    while (buf.size() < (1 << 16) - 16 && buf.size() < bytes) {
      char tmp[32];
      int n = std::snprintf(tmp, sizeof tmp, "line %07llu\n", line++);
      buf.append(tmp, static_cast<size_t>(n));
    }
    if (buf.size() > bytes) buf.resize(static_cast<size_t>(bytes));
    const char* p = buf.data();
    size_t left = buf.size();
    while (left > 0) {
      ssize_t n = ::write(STDOUT_FILENO, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return 1;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    bytes -= buf.size();
  }
  return 0;
}

// Returns the exit code of the child mode, or -1 if `arg` is not one.
int run_child(std::string_view arg) {
  constexpr std::string_view kPrefix = "--child=";
  if (arg.substr(0, kPrefix.size()) != kPrefix) return -1;
  std::string_view mode = arg.substr(kPrefix.size());
  size_t colon = mode.find(':');
  std::string_view name = mode.substr(0, colon);
  unsigned long long value = 0;
  if (colon == std::string_view::npos || !parse_u64(mode.substr(colon + 1), value)) {
    std::fprintf(stderr, "bad child mode '%.*s'\n", static_cast<int>(mode.size()), mode.data());
    return 2;
  }
  if (name == "exit") return static_cast<int>(value & 0xff);
  if (name == "spew") return spew(value);
  if (name == "sleep") {
    std::this_thread::sleep_for(std::chrono::milliseconds(value));
    return 0;
  }
  std::fprintf(stderr, "unknown child mode '%.*s'\n", static_cast<int>(name.size()), name.data());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2) {
    int rc = run_child(argv[1]);
    if (rc >= 0) return rc;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
