// bench_pipe_raw BYTES: the physical log-capture baseline.
//
// Spawns, with posix_spawn, one child running
//   /bin/sh -c "yes 'log line from the benchmark writer 0123456789 abcdefghij' | head -c BYTES"
// with its stdout connected to a pipe (pipe2 O_CLOEXEC, default pipe size),
// reads that pipe to EOF in 64 KiB non-blocking reads driven by poll, reaps the
// child and prints one JSON line:
//   {"bytes":B,"seconds":S,"mb_s":R,"reads":N,"parent_cpu_s":C}
// (MB = 1e6 bytes). stderr and stdin are inherited. This is the ceiling for the
// agent's log ingest of the same command (bench/dispatch.py --log-bytes), which
// also has to split lines, compress and store them.
// Exit status: 0 when the child exited 0 and exactly BYTES bytes were read,
// 1 otherwise, 2 on usage or system errors.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

#define LOG_LINE "log line from the benchmark writer 0123456789 abcdefghij"

static void die(const char* what) {
  fprintf(stderr, "bench_pipe_raw: %s: %s\n", what, strerror(errno));
  exit(2);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: bench_pipe_raw BYTES\n");
    return 2;
  }
  char* end = NULL;
  errno = 0;
  unsigned long long bytes = strtoull(argv[1], &end, 10);
  if (errno != 0 || end == argv[1] || *end != '\0' || argv[1][0] == '-') {
    fprintf(stderr, "bench_pipe_raw: BYTES must be a non-negative integer, got '%s'\n", argv[1]);
    return 2;
  }
  char script[256];
  snprintf(script, sizeof script, "yes '" LOG_LINE "' | head -c %llu", bytes);
  char* child_argv[] = {"/bin/sh", "-c", script, NULL};

  static char buf[65536];
  double cpu0 = cpu_s();
  double t0 = now_s();

  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) die("pipe2");
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0) die("posix_spawn_file_actions_init");
  if (posix_spawn_file_actions_adddup2(&fa, out[1], 1) != 0) die("adddup2");
  pid_t pid;
  int rc = posix_spawn(&pid, child_argv[0], &fa, NULL, child_argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    errno = rc;
    die("posix_spawn");
  }
  close(out[1]);
  int fl = fcntl(out[0], F_GETFL);
  if (fl < 0 || fcntl(out[0], F_SETFL, fl | O_NONBLOCK) != 0) die("fcntl");

  unsigned long long got = 0, reads = 0;
  struct pollfd pfd = {.fd = out[0], .events = POLLIN};
  for (;;) {
    ssize_t r = read(out[0], buf, sizeof buf);
    if (r > 0) {
      got += (unsigned long long)r;
      reads++;
      continue;
    }
    if (r == 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) die("read");
    if (poll(&pfd, 1, -1) < 0 && errno != EINTR) die("poll");
  }
  close(out[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) die("waitpid");
  }
  double seconds = now_s() - t0;
  double cpu = cpu_s() - cpu0;
  printf("{\"bytes\":%llu,\"seconds\":%.6f,\"mb_s\":%.1f,\"reads\":%llu,\"parent_cpu_s\":%.3f}\n",
         got, seconds, (double)got / 1e6 / seconds, reads, cpu);
  int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == bytes;
  if (!ok) {
    fprintf(stderr, "bench_pipe_raw: child status %d, read %llu of %llu bytes\n", status, got,
            bytes);
  }
  return ok ? 0 : 1;
}
