// bench_spawn_raw N K [PROGRAM]: the physical dispatch baseline.
//
// Spawns N children of PROGRAM (default /bin/true, no arguments) with
// posix_spawn, at most K in flight. Each child's stdout and stderr are each
// connected to a pipe (pipe2 O_CLOEXEC; file actions dup2 the write ends onto
// 1 and 2). The parent reads both read ends (non-blocking) with epoll until EOF,
// then reaps the child with waitpid(pid) and starts the next one in its slot.
// This is what the agent does for a process task minus everything else (socket,
// parsing, state, logs), so the agent's dispatch rate is reported as a ratio
// against this figure measured in the same run (see bench/README.md).
//
// Prints one JSON line:
//   {"tasks":N,"inflight":K,"seconds":S,"tasks_per_s":R,"failed":F,
//    "parent_cpu_us_per_task":C}
// Exit status: 0 when every child exited 0, 1 if any did not, 2 on usage or
// system errors.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

struct slot {
  pid_t pid;
  int fd[2];  // read ends of the stdout and stderr pipes; -1 once at EOF
  int open;   // how many of fd[] are still open
};

static void die(const char* what) {
  fprintf(stderr, "bench_spawn_raw: %s: %s\n", what, strerror(errno));
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

static long parse_count(const char* s, const char* name) {
  char* end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v <= 0) {
    fprintf(stderr, "bench_spawn_raw: %s must be a positive integer, got '%s'\n", name, s);
    exit(2);
  }
  return v;
}

// epoll data: slot index * 2 + stream (0 stdout, 1 stderr).
static void start(struct slot* s, long index, int ep, char* const argv[]) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) die("pipe2");
  if (pipe2(err, O_CLOEXEC) != 0) die("pipe2");
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa) != 0) die("posix_spawn_file_actions_init");
  if (posix_spawn_file_actions_adddup2(&fa, out[1], 1) != 0) die("adddup2");
  if (posix_spawn_file_actions_adddup2(&fa, err[1], 2) != 0) die("adddup2");
  int rc = posix_spawn(&s->pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    errno = rc;
    die("posix_spawn");
  }
  close(out[1]);
  close(err[1]);
  s->fd[0] = out[0];
  s->fd[1] = err[0];
  s->open = 2;
  for (int i = 0; i < 2; i++) {
    int fl = fcntl(s->fd[i], F_GETFL);
    if (fl < 0 || fcntl(s->fd[i], F_SETFL, fl | O_NONBLOCK) != 0) die("fcntl");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)index * 2 + (uint64_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd[i], &ev) != 0) die("epoll_ctl");
  }
}

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    fprintf(stderr, "usage: bench_spawn_raw N K [PROGRAM]\n");
    return 2;
  }
  long n = parse_count(argv[1], "N");
  long k = parse_count(argv[2], "K");
  if (k > n) k = n;
  char* program = argc > 3 ? argv[3] : "/bin/true";
  char* child_argv[] = {program, NULL};

  struct slot* slots = calloc((size_t)k, sizeof *slots);
  struct epoll_event* events = calloc((size_t)k * 2, sizeof *events);
  static char buf[65536];
  if (slots == NULL || events == NULL) die("calloc");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");

  double cpu0 = cpu_s();
  double t0 = now_s();
  long started = 0, done = 0, failed = 0, running = 0;
  for (long i = 0; i < k; i++) {
    start(&slots[i], i, ep, child_argv);
    started++;
    running++;
  }
  while (running > 0) {
    int ready = epoll_wait(ep, events, (int)(k * 2), -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int e = 0; e < ready; e++) {
      long index = (long)(events[e].data.u64 / 2);
      int stream = (int)(events[e].data.u64 % 2);
      struct slot* s = &slots[index];
      int fd = s->fd[stream];
      if (fd < 0) continue;
      for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0) continue;
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) break;
        if (r < 0) die("read");
        // EOF: closing the fd also removes it from the epoll set.
        close(fd);
        s->fd[stream] = -1;
        s->open--;
        break;
      }
      if (s->open > 0) continue;
      int status = 0;
      while (waitpid(s->pid, &status, 0) < 0) {
        if (errno != EINTR) die("waitpid");
      }
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed++;
      done++;
      running--;
      if (started < n) {
        start(s, index, ep, child_argv);
        started++;
        running++;
      }
    }
  }
  double seconds = now_s() - t0;
  double cpu = cpu_s() - cpu0;
  printf("{\"tasks\":%ld,\"inflight\":%ld,\"seconds\":%.6f,\"tasks_per_s\":%.1f,\"failed\":%ld,"
         "\"parent_cpu_us_per_task\":%.1f}\n",
         done, k, seconds, (double)done / seconds, failed, cpu * 1e6 / (double)done);
  close(ep);
  free(events);
  free(slots);
  return failed == 0 ? 0 : 1;
}
