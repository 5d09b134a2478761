// bench_docker_raw SOCKET N K: the container dispatch baseline.
//
// Runs N containers of `busybox` running `true`, at most K in flight, through
// the Docker Engine API (version prefix /v1.41) on the Unix socket SOCKET, with
// one libcurl multi handle on one thread. Each container is the sequence the
// agent's Docker runner makes with fileHandlingStrategy MOUNT, resume false and
// pullPolicy NEVER, and nothing else:
//
//   POST   /containers/create        {"Image":"busybox","Cmd":["true"],
//                                     "Entrypoint":[""],"WorkingDir":"/tmp",
//                                     "AttachStdout":true,"AttachStderr":true,
//                                     "Labels":{six labels}}
//   POST   /containers/ID/start
//   GET    /containers/ID/logs?follow=1&stdout=1&stderr=1 } side by side, both
//   POST   /containers/ID/wait                            } to their end
//   DELETE /containers/ID?force=1&v=1
//
// then the next container starts in that slot. On podman (its answers carry
// Libpod-Api-Version) the logs are read without follow once the wait
// returned, as the agent's runner reads them there: podman's followed logs
// lose lines and, rarely, never end for an exited container, which would
// spoil a run (a slot stuck for the call timeout) the agent never sees. A task fails when a call fails
// (transport error or an unexpected HTTP status) or the container's StatusCode
// is not 0; a created container is removed even then. The log stream is read
// and counted, not decoded (`true` writes nothing). The clock runs from the
// first create to the last delete. Each call is also timed on its own, from
// its request to its end (the logs and the wait, side by side, each to its
// own end), as the agent's engineCallUs* counters time its calls. Prints one
// JSON line:
//   {"tasks":N,"inflight":K,"seconds":S,"tasks_per_s":R,"failed":F,
//    "log_bytes":B,"client_cpu_us_per_task":C,"logs":"follow"|"after_wait",
//    "steps_ms":{"create":{"n":N,"mean":M,"p50":P},"start":{...},"wait":{...},
//                "logs":{...},"delete":{...}}}
// Exit status: 0 when every task succeeded, 1 if any failed, 2 on usage or
// system errors. See bench/README.md.
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define API "http://docker/v1.41"
#define CALL_TIMEOUT_MS 300000L  // per call; `true` takes milliseconds

enum kind { CREATE, START, LOGS, WAIT, DELETE };
static const char* const kind_name[] = {"create", "start", "logs", "wait", "delete"};

struct slot;

// One HTTP call in flight.
struct call {
  CURL* easy;
  struct slot* slot;
  enum kind kind;
  struct curl_slist* headers;
  double t0;   // when it was handed to curl
  char* body;  // request body (create), owned
  char* resp;  // response body (not for logs), owned
  size_t resp_len;
  size_t resp_cap;
  char error[CURL_ERROR_SIZE];
  int libpod;  // the answer carried Libpod-Api-Version (create only)
};

// One container in flight.
struct slot {
  int task;        // index of the task it runs; -1 when idle
  char id[128];    // container id once created
  int pending;     // logs + wait not yet ended
  int failed;      // this task failed (counted once)
};

static CURLM* multi;
static const char* socket_path;
static int n_tasks, next_task, done_tasks, failed_tasks;
static long long log_bytes;
static pid_t self_pid;
static int podman = -1;  // unknown until the first create's answer

// Each call's duration in ms, by kind, for the per-step figures.
static double* step_ms[5];
static int step_n[5];

static double now(void);

static void fatal(const char* what) {
  fprintf(stderr, "bench_docker_raw: %s\n", what);
  exit(2);
}

static size_t on_body(char* data, size_t size, size_t nmemb, void* user) {
  struct call* c = user;
  size_t n = size * nmemb;
  if (c->kind == LOGS) {
    log_bytes += (long long)n;
    return n;
  }
  if (c->resp_len + n + 1 > c->resp_cap) {
    size_t cap = c->resp_cap ? c->resp_cap : 256;
    while (cap < c->resp_len + n + 1) cap *= 2;
    char* p = realloc(c->resp, cap);
    if (p == NULL) return 0;  // curl fails the transfer (CURLE_WRITE_ERROR)
    c->resp = p;
    c->resp_cap = cap;
  }
  memcpy(c->resp + c->resp_len, data, n);
  c->resp_len += n;
  c->resp[c->resp_len] = '\0';
  return n;
}

// Create's headers: podman says who it is in Libpod-Api-Version.
static size_t on_header(char* data, size_t size, size_t nmemb, void* user) {
  struct call* c = user;
  size_t n = size * nmemb;
  static const char name[] = "libpod-api-version:";
  if (n >= sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) c->libpod = 1;
  return n;
}

static void slot_fail(struct slot* s, const char* why) {
  if (!s->failed) {
    s->failed = 1;
    failed_tasks++;
    if (failed_tasks <= 5) {
      fprintf(stderr, "bench_docker_raw: task %d%s%.12s: %s\n", s->task, s->id[0] ? " container " : "",
              s->id, why);
    }
  }
}

static void start_call(struct slot* s, enum kind kind) {
  struct call* c = calloc(1, sizeof *c);
  if (c == NULL) fatal("out of memory");
  c->slot = s;
  c->kind = kind;
  c->easy = curl_easy_init();
  if (c->easy == NULL) fatal("curl_easy_init failed");

  char url[512];
  const char* method = "POST";
  switch (kind) {
    case CREATE: {
      snprintf(url, sizeof url, "%s/containers/create", API);
      // Six labels, like the agent's kestra.io/* ones (another prefix, so the
      // agent's resume lookup can never match these containers).
      char* body = malloc(1024);
      if (body == NULL) fatal("out of memory");
      snprintf(body, 1024,
               "{\"Image\":\"busybox\",\"Cmd\":[\"true\"],\"Entrypoint\":[\"\"],\"WorkingDir\":\"/tmp\","
               "\"AttachStdout\":true,\"AttachStderr\":true,\"Labels\":{"
               "\"runnerd.bench/namespace\":\"bench\",\"runnerd.bench/flow-id\":\"docker-raw\","
               "\"runnerd.bench/task-id\":\"t\",\"runnerd.bench/execution-id\":\"raw-%ld-%d\","
               "\"runnerd.bench/taskrun-id\":\"raw-%ld-%d-t\",\"runnerd.bench/taskrun-attempt\":\"1\"}}",
               (long)self_pid, s->task, (long)self_pid, s->task);
      c->body = body;
      c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
      if (c->headers == NULL) fatal("out of memory");
      break;
    }
    case START:
      snprintf(url, sizeof url, "%s/containers/%s/start", API, s->id);
      break;
    case LOGS:
      snprintf(url, sizeof url, "%s/containers/%s/logs?%sstdout=1&stderr=1", API, s->id,
               podman ? "" : "follow=1&");
      method = "GET";
      break;
    case WAIT:
      snprintf(url, sizeof url, "%s/containers/%s/wait", API, s->id);
      break;
    case DELETE:
      snprintf(url, sizeof url, "%s/containers/%s?force=1&v=1", API, s->id);
      method = "DELETE";
      break;
  }
  struct curl_slist* h = curl_slist_append(c->headers, "Expect:");
  if (h == NULL) fatal("out of memory");
  c->headers = h;

  CURL* e = c->easy;
  int bad = 0;
  bad |= curl_easy_setopt(e, CURLOPT_URL, url) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, socket_path) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, (void*)c) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->error) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, (void*)c) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers) != CURLE_OK;
  bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, CALL_TIMEOUT_MS) != CURLE_OK;
  if (kind == CREATE) {
    bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, (void*)c) != CURLE_OK;
  }
  if (strcmp(method, "POST") == 0) {
    const char* body = c->body ? c->body : "";
    bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, body) != CURLE_OK;
  } else if (strcmp(method, "DELETE") == 0) {
    bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE") != CURLE_OK;
  }
  if (bad) fatal("curl_easy_setopt failed");
  c->t0 = now();
  if (curl_multi_add_handle(multi, e) != CURLM_OK) fatal("curl_multi_add_handle failed");
}

static void free_call(struct call* c) {
  curl_multi_remove_handle(multi, c->easy);
  curl_easy_cleanup(c->easy);
  curl_slist_free_all(c->headers);
  free(c->body);
  free(c->resp);
  free(c);
}

// Starts the next task in slot s, or leaves it idle when none is left.
static void next_in_slot(struct slot* s) {
  s->id[0] = '\0';
  s->pending = 0;
  s->failed = 0;
  if (next_task >= n_tasks) {
    s->task = -1;
    return;
  }
  s->task = next_task++;
  start_call(s, CREATE);
}

static void on_done(struct call* c, CURLcode rc) {
  struct slot* s = c->slot;
  step_ms[c->kind][step_n[c->kind]++] = (now() - c->t0) * 1e3;
  long status = 0;
  curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
  char why[512];
  int ok = rc == CURLE_OK;
  if (!ok) {
    snprintf(why, sizeof why, "%s: %s", kind_name[c->kind], c->error[0] ? c->error : curl_easy_strerror(rc));
  } else {
    int want = 0;
    switch (c->kind) {
      case CREATE: want = status == 201 || status == 200; break;
      case START: want = status == 204 || status == 304; break;
      case LOGS: want = status == 200; break;
      case WAIT: want = status == 200; break;
      case DELETE: want = status == 204 || status == 200 || status == 404; break;
    }
    if (!want) {
      ok = 0;
      snprintf(why, sizeof why, "%s: HTTP %ld: %.300s", kind_name[c->kind], status, c->resp ? c->resp : "");
    }
  }

  switch (c->kind) {
    case CREATE: {
      const char* p = ok && c->resp ? strstr(c->resp, "\"Id\"") : NULL;
      size_t len = 0;
      if (p != NULL && (p = strchr(p + 4, '"')) != NULL) {
        p++;
        len = strcspn(p, "\"");
      }
      if (ok && (len == 0 || len >= sizeof s->id)) {
        ok = 0;
        snprintf(why, sizeof why, "create: no Id in the answer: %.300s", c->resp);
      }
      if (!ok) {
        slot_fail(s, why);
        done_tasks++;
        next_in_slot(s);
        break;
      }
      memcpy(s->id, p, len);
      s->id[len] = '\0';
      podman = c->libpod;
      start_call(s, START);
      break;
    }
    case START:
      if (!ok) {
        slot_fail(s, why);
        start_call(s, DELETE);
        break;
      }
      if (podman) {
        s->pending = 1;  // the logs follow the wait
      } else {
        s->pending = 2;
        start_call(s, LOGS);
      }
      start_call(s, WAIT);
      break;
    case LOGS:
    case WAIT:
      if (ok && c->kind == WAIT) {
        const char* p = c->resp ? strstr(c->resp, "\"StatusCode\":") : NULL;
        if (p == NULL) {
          ok = 0;
          snprintf(why, sizeof why, "wait: no StatusCode in the answer: %.300s", c->resp ? c->resp : "");
        } else if (strtol(p + 13, NULL, 10) != 0) {
          ok = 0;
          snprintf(why, sizeof why, "the container exited with status %ld", strtol(p + 13, NULL, 10));
        }
      }
      if (!ok) slot_fail(s, why);
      if (c->kind == WAIT && podman && ok) {
        start_call(s, LOGS);  // pending stays 1 until the logs end
        break;
      }
      if (--s->pending == 0) start_call(s, DELETE);
      break;
    case DELETE:
      if (!ok) slot_fail(s, why);
      done_tasks++;
      next_in_slot(s);
      break;
  }
  free_call(c);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

// "create":{"n":..,"mean":..,"p50":..} for one kind (sorts its samples).
static void print_step(enum kind k) {
  int n = step_n[k];
  double sum = 0, p50 = 0;
  qsort(step_ms[k], (size_t)n, sizeof(double), cmp_double);
  for (int i = 0; i < n; i++) sum += step_ms[k][i];
  if (n > 0) p50 = n % 2 ? step_ms[k][n / 2] : (step_ms[k][n / 2 - 1] + step_ms[k][n / 2]) / 2;
  printf("\"%s\":{\"n\":%d,\"mean\":%.3f,\"p50\":%.3f}", kind_name[k], n, n ? sum / n : 0.0, p50);
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: bench_docker_raw SOCKET N INFLIGHT\n");
    return 2;
  }
  socket_path = argv[1];
  char* end;
  long n = strtol(argv[2], &end, 10);
  if (*end != '\0' || n <= 0 || n > 10000000) fatal("N must be a positive integer");
  long k = strtol(argv[3], &end, 10);
  if (*end != '\0' || k <= 0 || k > 100000) fatal("INFLIGHT must be a positive integer");
  n_tasks = (int)n;
  if (k > n) k = n;
  self_pid = getpid();

  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) fatal("curl_global_init failed");
  multi = curl_multi_init();
  if (multi == NULL) fatal("curl_multi_init failed");
  struct slot* slots = calloc((size_t)k, sizeof *slots);
  if (slots == NULL) fatal("out of memory");
  // At most one call of each kind per task.
  for (int i = 0; i < 5; i++) {
    step_ms[i] = malloc((size_t)n_tasks * sizeof(double));
    if (step_ms[i] == NULL) fatal("out of memory");
  }

  double cpu0 = cpu_seconds();
  double t0 = now();
  for (long i = 0; i < k; i++) next_in_slot(&slots[i]);
  while (done_tasks < n_tasks) {
    int running = 0;
    if (curl_multi_perform(multi, &running) != CURLM_OK) fatal("curl_multi_perform failed");
    CURLMsg* m;
    int left;
    int progressed = 0;
    while ((m = curl_multi_info_read(multi, &left)) != NULL) {
      if (m->msg != CURLMSG_DONE) continue;
      char* priv = NULL;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
      on_done((struct call*)(void*)priv, m->data.result);  // may add handles; `m` is not used after this
      progressed = 1;
    }
    if (done_tasks >= n_tasks) break;
    if (!progressed && curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK) fatal("curl_multi_poll failed");
  }
  double seconds = now() - t0;
  double cpu = cpu_seconds() - cpu0;

  free(slots);
  curl_multi_cleanup(multi);
  curl_global_cleanup();

  printf("{\"tasks\":%d,\"inflight\":%ld,\"seconds\":%.6f,\"tasks_per_s\":%.2f,\"failed\":%d,"
         "\"log_bytes\":%lld,\"client_cpu_us_per_task\":%.1f,\"logs\":\"%s\",\"steps_ms\":{",
         n_tasks, k, seconds, n_tasks / seconds, failed_tasks, log_bytes, cpu * 1e6 / n_tasks,
         podman == 1 ? "after_wait" : "follow");
  static const enum kind order[] = {CREATE, START, WAIT, LOGS, DELETE};
  for (int i = 0; i < 5; i++) {
    if (i > 0) putchar(',');
    print_step(order[i]);
  }
  printf("}}\n");
  for (int i = 0; i < 5; i++) free(step_ms[i]);
  return failed_tasks == 0 ? 0 : 1;
}
