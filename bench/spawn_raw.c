// bench_spawn_raw [--ballast-mib M] [--background B] N K [PROGRAM]: the
// physical dispatch baseline.
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
// --ballast-mib M: the parent first allocates and touches M MiB (the heap of
// an agent holding much state; fork would copy its page tables, posix_spawn
// should not care). --background B: B children of `sleep 3600`, each with its
// two pipes held open by the parent, are started before the clock starts and
// killed at the end (the dispatch next to thousands of running tasks).
//
// Prints one JSON line:
//   {"tasks":N,"inflight":K,"seconds":S,"tasks_per_s":R,"failed":F,
//    "parent_cpu_us_per_task":C,"latency_p50_ms":..,"latency_p99_ms":..,
//    "ballast_mib":M,"background":B}
// where latency is from the posix_spawn call to the child reaped.
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
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

struct slot {
  pid_t pid;
  double started;  // now_s() before posix_spawn
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
  s->started = now_s();
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

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

static double percentile(const double* sorted, long n, double q) {
  long i = (long)(q * (double)(n - 1) + 0.5);
  return sorted[i < 0 ? 0 : (i >= n ? n - 1 : i)];
}

// Touches every page so that the memory is resident, as an agent's state is.
static char* make_ballast(long mib) {
  size_t size = (size_t)mib << 20;
  char* p = malloc(size);
  if (p == NULL) die("malloc ballast");
  for (size_t i = 0; i < size; i += 4096) p[i] = (char)i;
  __asm__ volatile("" : : "r"(p) : "memory");  // the stores are not dead
  return p;
}

// B sleeping children whose pipes stay open in the parent until the end.
static pid_t* start_background(long b, int** fds_out) {
  pid_t* pids = calloc((size_t)b, sizeof *pids);
  int* fds = calloc((size_t)b * 2, sizeof *fds);
  if (pids == NULL || fds == NULL) die("calloc");
  char* argv[] = {"/bin/sleep", "3600", NULL};
  for (long i = 0; i < b; i++) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) die("pipe2 (background)");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    int rc = posix_spawn(&pids[i], argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      errno = rc;
      die("posix_spawn (background)");
    }
    close(out[1]);
    close(err[1]);
    fds[2 * i] = out[0];
    fds[2 * i + 1] = err[0];
  }
  *fds_out = fds;
  return pids;
}

static void stop_background(pid_t* pids, int* fds, long b) {
  for (long i = 0; i < b; i++) kill(pids[i], SIGKILL);
  for (long i = 0; i < b; i++) {
    while (waitpid(pids[i], NULL, 0) < 0 && errno == EINTR) {
    }
    close(fds[2 * i]);
    close(fds[2 * i + 1]);
  }
  free(pids);
  free(fds);
}

int main(int argc, char** argv) {
  long ballast_mib = 0, background = 0;
  int a = 1;
  while (a + 1 < argc && strncmp(argv[a], "--", 2) == 0) {
    if (strcmp(argv[a], "--ballast-mib") == 0) {
      ballast_mib = parse_count(argv[a + 1], "--ballast-mib");
    } else if (strcmp(argv[a], "--background") == 0) {
      background = parse_count(argv[a + 1], "--background");
    } else {
      break;
    }
    a += 2;
  }
  if (argc - a < 2 || argc - a > 3) {
    fprintf(stderr, "usage: bench_spawn_raw [--ballast-mib M] [--background B] N K [PROGRAM]\n");
    return 2;
  }
  long n = parse_count(argv[a], "N");
  long k = parse_count(argv[a + 1], "K");
  if (k > n) k = n;
  char* program = argc - a > 2 ? argv[a + 2] : "/bin/true";
  char* child_argv[] = {program, NULL};
  char* ballast = ballast_mib > 0 ? make_ballast(ballast_mib) : NULL;
  int* bg_fds = NULL;
  pid_t* bg = background > 0 ? start_background(background, &bg_fds) : NULL;
  double* latency = calloc((size_t)n, sizeof *latency);
  if (latency == NULL) die("calloc");

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
      latency[done] = now_s() - s->started;
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
  qsort(latency, (size_t)done, sizeof *latency, cmp_double);
  printf("{\"tasks\":%ld,\"inflight\":%ld,\"seconds\":%.6f,\"tasks_per_s\":%.1f,\"failed\":%ld,"
         "\"parent_cpu_us_per_task\":%.1f,\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f,"
         "\"ballast_mib\":%ld,\"background\":%ld}\n",
         done, k, seconds, (double)done / seconds, failed, cpu * 1e6 / (double)done,
         percentile(latency, done, 0.5) * 1e3, percentile(latency, done, 0.99) * 1e3, ballast_mib,
         background);
  if (bg != NULL) stop_background(bg, bg_fds, background);
  free(ballast);
  free(latency);
  close(ep);
  free(events);
  free(slots);
  return failed == 0 ? 0 : 1;
}
