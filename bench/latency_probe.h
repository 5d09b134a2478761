// Included only by bench/latency_probe.patch, which latency_breakdown.sh
// applies to a scratch copy of the tree: one line on stderr per probe,
// `LAT TAG NS` with the wall clock (CLOCK_REALTIME, the clock bench_stamp
// prints and the client reads), so the agent's instants line up with the
// client's and the task's. The patch is a diff against the supervisor and the
// Process runner: when it no longer applies, the script stops at `git apply`;
// put the nine probes back at the same steps (their tags name them) and
// regenerate it with `git diff -- agent runners > bench/latency_probe.patch`.
#pragma once
#include <stdio.h>
#include <time.h>

static inline void latency_probe(const char* tag) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  fprintf(stderr, "LAT %s %lld\n", tag, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}
