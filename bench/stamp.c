// bench_stamp [--until NS]: prints the wall clock (CLOCK_REALTIME, ns since the
// epoch) on stdout and exits 0. With --until, first sleeps until that instant.
//
// A task that runs it marks the moment it ends: the benchmarks subtract the
// printed time from when the agent's result arrived (exit to result), and
// --until makes thousands of sleeping tasks end at the same instant.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "--until") == 0) {
    char* end = NULL;
    long long ns = strtoll(argv[2], &end, 10);
    if (end == argv[2] || *end != '\0' || ns < 0) {
      fprintf(stderr, "bench_stamp: --until wants nanoseconds since the epoch, got '%s'\n", argv[2]);
      return 2;
    }
    struct timespec until = {.tv_sec = (time_t)(ns / 1000000000LL), .tv_nsec = (long)(ns % 1000000000LL)};
    while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &until, NULL) == EINTR) {
    }
  } else if (argc != 1) {
    fprintf(stderr, "usage: bench_stamp [--until NS]\n");
    return 2;
  }
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  printf("%lld\n", (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
  return 0;
}
