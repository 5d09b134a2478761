#include "agent/metrics/process.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <limits>

namespace agent::metrics {

namespace {

// Entries of /proc/self/fd, less the one the listing itself holds; -1 when
// it cannot be read.
double open_fds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  double n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') n++;
  }
  closedir(d);
  return n - 1;
}

double resident_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "re");
  if (f == nullptr) return -1;
  long size = 0, resident = 0;
  int got = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  if (got != 2) return -1;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace

void write_process_metrics(Registry& r) {
  r.gauge("runnerd_build_info", "Always 1; the agent's version is in its label.")
      .add({{"version", RUNNERD_VERSION}}, 1);
  r.gauge("runnerd_open_fds", "File descriptors the agent has open.").add({}, open_fds());
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    r.gauge("runnerd_max_fds", "The agent's limit of open file descriptors (RLIMIT_NOFILE).")
        .add({}, lim.rlim_cur == RLIM_INFINITY ? std::numeric_limits<double>::infinity() : static_cast<double>(lim.rlim_cur));
  }
  r.gauge("runnerd_resident_memory_bytes", "The agent's resident memory.").add({}, resident_bytes());
}

}  // namespace agent::metrics
