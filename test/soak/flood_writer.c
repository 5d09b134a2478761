// A log flood with content that can be checked afterwards: 128-byte lines,
// each "<16-digit sequence number> <110 letters that depend on it>\n",
// written to stdout in 1 MiB writes as fast as the reader takes them.
//
//   flood_writer SECONDS COUNT_FILE   writes for SECONDS, then puts
//                                     "<lines> <bytes>\n" in COUNT_FILE
//   flood_writer --replay LINES       writes the first LINES lines again
//
// `flood_writer --replay N | sha256sum` is the hash of what a run that wrote
// N lines produced, to compare with the stored log read back.
// Used by test/integration/faults_test.cc and test/soak/log_flood.sh.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { kLine = 128, kPayload = kLine - 18, kLinesPerWrite = 8192 };

static char digits[16];  // the sequence number in ASCII, incremented in place
static char alphabet[26 + kPayload];

static void next_number(void) {
  for (int i = 15; i >= 0; i--) {
    if (digits[i] != '9') {
      digits[i]++;
      return;
    }
    digits[i] = '0';
  }
}

// Fills `buf` with `n` lines numbered from the current number on.
static void fill(char* buf, long n, unsigned long long first) {
  for (long i = 0; i < n; i++) {
    char* line = buf + i * kLine;
    memcpy(line, digits, 16);
    line[16] = ' ';
    memcpy(line + 17, alphabet + (first + (unsigned long long)i) % 26, kPayload);
    line[kLine - 1] = '\n';
    next_number();
  }
}

static int write_all(const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: flood_writer SECONDS COUNT_FILE | --replay LINES\n");
    return 2;
  }
  memset(digits, '0', sizeof digits);
  for (size_t i = 0; i < sizeof alphabet; i++) alphabet[i] = (char)('a' + i % 26);
  static char buf[kLine * kLinesPerWrite];
  unsigned long long lines = 0;
  if (strcmp(argv[1], "--replay") == 0) {
    unsigned long long total = strtoull(argv[2], NULL, 10);
    while (lines < total) {
      long n = total - lines < kLinesPerWrite ? (long)(total - lines) : kLinesPerWrite;
      fill(buf, n, lines);
      if (write_all(buf, (size_t)n * kLine) != 0) return 1;
      lines += (unsigned long long)n;
    }
    return 0;
  }
  double seconds = strtod(argv[1], NULL);
  double end = now_s() + seconds;
  while (now_s() < end) {
    fill(buf, kLinesPerWrite, lines);
    if (write_all(buf, sizeof buf) != 0) {
      perror("flood_writer: write");
      return 1;
    }
    lines += kLinesPerWrite;
  }
  FILE* f = fopen(argv[2], "w");
  if (f == NULL || fprintf(f, "%llu %llu\n", lines, lines * kLine) < 0 || fclose(f) != 0) {
    perror("flood_writer: count file");
    return 1;
  }
  return 0;
}
