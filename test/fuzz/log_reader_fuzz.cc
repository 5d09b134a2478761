// The task log reader (agent/logstream/log_file.h) on any file: a damaged or
// hostile log (torn frames, a zstd bomb, garbage index frames) is read, counted
// and cut without crashing or allocating past its bounds, and the lines it
// returns are numbered without gaps.
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "agent/logstream/log_file.h"
#include "test/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int fd = memfd_create("fuzz-log", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (size > 0 && write(fd, data, size) != static_cast<ssize_t>(size)) {
    close(fd);
    return 0;
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  auto r = agent::logstream::read_log(path, 0, 1 << 20);
  if (r.ok()) {
    uint64_t seq = r->lines.empty() ? 0 : r->lines.front().seq;
    for (const auto& l : r->lines) {
      if (l.seq != seq++) fuzz::fail("line numbers have a gap");
    }
  }
  (void)agent::logstream::count_lines(path).ok();
  (void)agent::logstream::cut_log(path, 1763933400123).ok();
  close(fd);
  return 0;
}
