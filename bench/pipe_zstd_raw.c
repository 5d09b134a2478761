// bench_pipe_zstd_raw BYTES CHILDREN [OUT_DIR]: the log-storage baseline.
//
// What a minimal logger does with the output of CHILDREN chatty processes at
// once, and nothing more. It spawns (posix_spawn) CHILDREN children, each
//   /bin/sh -c "yes 'log line from the benchmark writer 0123456789 abcdefghij' | head -c N"
// with N = BYTES / CHILDREN (the first BYTES % CHILDREN children write one byte
// more, so the children write BYTES in all; bench/log_ingest.py splits the
// same way). Each child's stdout is a pipe (pipe2 O_CLOEXEC, default size; stderr
// and stdin are inherited). One thread reads every pipe to EOF with epoll
// (level-triggered, non-blocking 64 KiB reads until EAGAIN), and compresses
// each stream as it arrives with zstd level 1: one streaming context per
// stream (ZSTD_compressStream2, ZSTD_e_continue; ZSTD_e_end at EOF), so each
// child's output becomes one zstd frame in a file of its own,
// OUT_DIR/<i>.zst, written whenever the context's output buffer
// (ZSTD_CStreamOutSize) fills. At EOF a file is fdatasync'ed and closed, as
// the agent does before it reports a task's end. The clock runs from the first
// spawn until every child is reaped and every file closed. Prints one line:
//   {"bytes":B,"seconds":S,"mb_s":R,"compressed_bytes":Z,"children":C,"parent_cpu_s":P}
// (MB = 1e6 bytes; compressed_bytes is the sum of the files' sizes).
// Without OUT_DIR the files go to a fresh directory under $TMPDIR (default
// /tmp), removed afterwards; with it they are kept.
// Exit status: 0 when every child exited 0 and wrote exactly its share, 1
// otherwise, 2 on usage or system errors.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <zstd.h>

extern char** environ;

#define LOG_LINE "log line from the benchmark writer 0123456789 abcdefghij"

struct stream {
  pid_t pid;
  int fd;                      // read end of the child's stdout, -1 at EOF
  int out_fd;                  // the stream's file
  ZSTD_CCtx* cctx;
  unsigned char* out;          // compressed bytes not yet written
  size_t out_pos;
  unsigned long long want;     // bytes the child writes
  unsigned long long got;
  unsigned long long stored;   // compressed bytes written
};

static size_t out_cap;

static void die(const char* what) {
  fprintf(stderr, "bench_pipe_zstd_raw: %s: %s\n", what, strerror(errno));
  exit(2);
}

static void die_zstd(const char* what, size_t rc) {
  fprintf(stderr, "bench_pipe_zstd_raw: %s: %s\n", what, ZSTD_getErrorName(rc));
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

static int parse_u64(const char* s, unsigned long long* v) {
  char* end = NULL;
  errno = 0;
  *v = strtoull(s, &end, 10);
  return errno == 0 && end != s && *end == '\0' && s[0] != '-';
}

static void write_out(struct stream* s) {
  size_t done = 0;
  while (done < s->out_pos) {
    ssize_t n = write(s->out_fd, s->out + done, s->out_pos - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("write");
    }
    done += (size_t)n;
  }
  s->stored += s->out_pos;
  s->out_pos = 0;
}

// Feeds `len` bytes (or the end of the stream, with ZSTD_e_end) to the
// stream's context, writing the output buffer out each time it fills.
static void compress(struct stream* s, const void* data, size_t len, ZSTD_EndDirective mode) {
  ZSTD_inBuffer in = {data, len, 0};
  for (;;) {
    ZSTD_outBuffer o = {s->out, out_cap, s->out_pos};
    size_t rc = ZSTD_compressStream2(s->cctx, &o, &in, mode);
    if (ZSTD_isError(rc)) die_zstd("ZSTD_compressStream2", rc);
    s->out_pos = o.pos;
    if (s->out_pos == out_cap) write_out(s);
    if (mode == ZSTD_e_continue ? in.pos == in.size : rc == 0) break;
  }
}

int main(int argc, char** argv) {
  unsigned long long bytes = 0, children = 0;
  if (argc < 3 || argc > 4 || !parse_u64(argv[1], &bytes) || !parse_u64(argv[2], &children) ||
      children == 0 || children > 100000) {
    fprintf(stderr, "usage: bench_pipe_zstd_raw BYTES CHILDREN [OUT_DIR]\n");
    return 2;
  }
  char dir[PATH_MAX];
  int keep = argc == 4;
  if (keep) {
    snprintf(dir, sizeof dir, "%s", argv[3]);
  } else {
    const char* tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/pipe-zstd-raw.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) die("mkdtemp");
  }
  out_cap = ZSTD_CStreamOutSize();
  struct stream* st = calloc(children, sizeof *st);
  if (st == NULL) die("calloc");
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  static char buf[65536];

  double cpu0 = cpu_s();
  double t0 = now_s();
  for (unsigned long long i = 0; i < children; i++) {
    struct stream* s = &st[i];
    s->want = bytes / children + (i < bytes % children ? 1 : 0);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%llu.zst", dir, i);
    s->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (s->out_fd < 0) die("open");
    s->cctx = ZSTD_createCCtx();
    s->out = malloc(out_cap);
    if (s->cctx == NULL || s->out == NULL) die("allocating a zstd context");
    size_t rc = ZSTD_CCtx_setParameter(s->cctx, ZSTD_c_compressionLevel, 1);
    if (ZSTD_isError(rc)) die_zstd("ZSTD_c_compressionLevel", rc);

    char script[256];
    snprintf(script, sizeof script, "yes '" LOG_LINE "' | head -c %llu", s->want);
    char* child_argv[] = {"/bin/sh", "-c", script, NULL};
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) die("pipe2");
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0) die("posix_spawn_file_actions_init");
    if (posix_spawn_file_actions_adddup2(&fa, out[1], 1) != 0) die("adddup2");
    int prc = posix_spawn(&s->pid, child_argv[0], &fa, NULL, child_argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (prc != 0) {
      errno = prc;
      die("posix_spawn");
    }
    close(out[1]);
    s->fd = out[0];
    int fl = fcntl(s->fd, F_GETFL);
    if (fl < 0 || fcntl(s->fd, F_SETFL, fl | O_NONBLOCK) != 0) die("fcntl");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) != 0) die("epoll_ctl");
  }

  unsigned long long open_streams = children;
  struct epoll_event events[256];
  while (open_streams > 0) {
    int n = epoll_wait(ep, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int k = 0; k < n; k++) {
      struct stream* s = &st[events[k].data.u64];
      if (s->fd < 0) continue;
      for (;;) {
        ssize_t r = read(s->fd, buf, sizeof buf);
        if (r > 0) {
          s->got += (unsigned long long)r;
          compress(s, buf, (size_t)r, ZSTD_e_continue);
          continue;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) break;
        if (r < 0) die("read");
        // EOF: end the frame, store it, and close everything of the stream.
        compress(s, NULL, 0, ZSTD_e_end);
        write_out(s);
        if (fdatasync(s->out_fd) != 0) die("fdatasync");
        if (close(s->out_fd) != 0) die("close");
        close(s->fd);  // also leaves the epoll set
        s->fd = -1;
        ZSTD_freeCCtx(s->cctx);
        s->cctx = NULL;
        free(s->out);
        s->out = NULL;
        open_streams--;
        break;
      }
    }
  }
  int ok = 1;
  unsigned long long got = 0, stored = 0;
  for (unsigned long long i = 0; i < children; i++) {
    int status = 0;
    while (waitpid(st[i].pid, &status, 0) < 0) {
      if (errno != EINTR) die("waitpid");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || st[i].got != st[i].want) {
      fprintf(stderr, "bench_pipe_zstd_raw: child %llu: status %d, read %llu of %llu bytes\n", i,
              status, st[i].got, st[i].want);
      ok = 0;
    }
    got += st[i].got;
    stored += st[i].stored;
  }
  double seconds = now_s() - t0;
  double cpu = cpu_s() - cpu0;
  printf("{\"bytes\":%llu,\"seconds\":%.6f,\"mb_s\":%.1f,\"compressed_bytes\":%llu,"
         "\"children\":%llu,\"parent_cpu_s\":%.3f}\n",
         got, seconds, (double)got / 1e6 / seconds, stored, children, cpu);
  if (!keep) {
    for (unsigned long long i = 0; i < children; i++) {
      char path[PATH_MAX + 32];
      snprintf(path, sizeof path, "%s/%llu.zst", dir, i);
      unlink(path);
    }
    rmdir(dir);
  }
  free(st);
  close(ep);
  return ok ? 0 : 1;
}
