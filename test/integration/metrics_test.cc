// The Prometheus endpoint of a real runnerd (metrics.listen on a free loopback
// port), scraped with a real HTTP client (Python's http.client): the values
// after a few Process tasks (one failing), the exposition's form, 404/405,
// HEAD and keep-alive; hostile clients (a header that never ends, 10,000
// bytes of junk, a slowloris, more idle connections than allowed) get a 4xx
// or a closed connection while a normal scrape still succeeds; and
// `runnerctl stats --prometheus` prints the same metric families.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "test/helpers/agent_harness.h"

namespace {

using Clock = std::chrono::steady_clock;

// A port that was free a moment ago (the agent binds it next).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) close(fd);
    return 0;
  }
  close(fd);
  return ntohs(a.sin_port);
}

int g_port = 0;

std::string metrics_config() {
  g_port = free_port();
  return "metrics:\n  listen: \"127.0.0.1:" + std::to_string(g_port) +
         "\"\n  requestTimeout: PT2S\n  maxConnections: 8\n";
}

// An HTTP client: one connection, `times` requests on it; prints each
// answer's status, headers and body size, then the last body.
constexpr const char* kClient = R"(import http.client, sys
port, method, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
times = int(sys.argv[4]) if len(sys.argv) > 4 else 1
c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
for _ in range(times):
    c.request(method, path)
    r = c.getresponse()
    body = r.read()
    print("STATUS %d" % r.status)
    for k, v in r.getheaders():
        print("HEADER %s: %s" % (k.lower(), v))
    print("BODY %d" % len(body))
sys.stdout.write(body.decode())
)";

struct Answer {
  std::vector<int> statuses;
  std::map<std::string, std::string> headers;  // of the last answer
  std::string body;                            // of the last answer
};

// Families (from the TYPE lines) and samples ("name{labels}" -> value).
struct Exposition {
  std::map<std::string, std::string> types;
  std::map<std::string, double> samples;
  double at(const std::string& series) const {
    auto it = samples.find(series);
    return it == samples.end() ? -1 : it->second;
  }
};

// Reads the text format and checks its form on the way: every line a HELP,
// a TYPE or a sample of a family declared before it; histogram buckets
// cumulative, ending in +Inf equal to _count.
Exposition parse_exposition(const std::string& text) {
  Exposition e;
  std::istringstream in(text);
  std::string line;
  std::string family;
  std::string bucket_series;  // the label set of the buckets being read
  double last_bucket = 0;
  while (std::getline(in, line)) {
    if (line.starts_with("# HELP ")) continue;
    if (line.starts_with("# TYPE ")) {
      std::istringstream t(line.substr(7));
      std::string type;
      t >> family >> type;
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      EXPECT_TRUE(type != "counter" || family.ends_with("_total")) << line;
      EXPECT_FALSE(e.types.count(family)) << "family declared twice: " << line;
      e.types[family] = type;
      continue;
    }
    size_t sp = line.rfind(' ');
    EXPECT_NE(sp, std::string::npos) << line;
    if (sp == std::string::npos) continue;
    std::string series = line.substr(0, sp);
    double value = std::stod(line.substr(sp + 1));
    EXPECT_TRUE(series.starts_with(family)) << "sample outside its family: " << line;
    EXPECT_FALSE(e.samples.count(series)) << "sample given twice: " << line;
    e.samples[series] = value;
    if (e.types[family] != "histogram") continue;
    size_t le = series.find("le=\"");
    if (series.starts_with(family + "_bucket") && le != std::string::npos) {
      std::string labels = series.substr(0, le);
      if (labels != bucket_series) {
        bucket_series = labels;
        last_bucket = 0;
      }
      EXPECT_GE(value, last_bucket) << "buckets not cumulative: " << line;
      last_bucket = value;
    } else if (series.starts_with(family + "_count")) {
      std::string labels = series.substr(family.size() + 6);  // "" or "{...}"
      std::string inf = family + "_bucket" +
                        (labels.empty() ? std::string("{le=\"+Inf\"}")
                                        : labels.substr(0, labels.size() - 1) + ",le=\"+Inf\"}");
      EXPECT_EQ(e.at(inf), value) << "+Inf bucket != _count for " << series;
    }
  }
  return e;
}

class Metrics : public test::AgentTest {
 protected:
  Metrics() : AgentTest(metrics_config()), port_(g_port) {}

  void SetUp() override {
    AgentTest::SetUp();
    script_ = agent_->dir() + "/http_client.py";
    std::ofstream(script_) << kClient;
  }

  Answer http(const std::string& method, const std::string& path, int times = 1) {
    auto r = test::run_command("python3 " + script_ + " " + std::to_string(port_) + " " + method +
                               " '" + path + "' " + std::to_string(times) + " 2>&1");
    Answer a;
    EXPECT_EQ(r.status, 0) << r.out;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      if (line.starts_with("STATUS ")) {
        a.statuses.push_back(std::stoi(line.substr(7)));
        a.headers.clear();
      } else if (line.starts_with("HEADER ")) {
        size_t colon = line.find(": ");
        a.headers[line.substr(7, colon - 7)] = line.substr(colon + 2);
      } else if (line.starts_with("BODY ") && a.statuses.size() == static_cast<size_t>(times)) {
        size_t at = static_cast<size_t>(in.tellg());
        a.body = at < r.out.size() ? r.out.substr(at) : "";
        break;
      }
    }
    return a;
  }

  Exposition scrape() {
    Answer a = http("GET", "/metrics");
    EXPECT_EQ(a.statuses, std::vector<int>{200});
    return parse_exposition(a.body);
  }

  int port_;
  std::string script_;
};

const std::string kProcess = "io.kestra.plugin.core.runner.Process";

std::string series(const std::string& name, const std::string& labels) {
  return name + "{" + labels + "}";
}

TEST_F(Metrics, AScrapeAfterTasksHasTheirCountsHistogramsLogBytesAndTheQueue) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; i++) {
    ids.push_back(test::submit_flow(
        *client_, test::shell_flow({"for i in 1 2 3 4 5; do echo line $i of task " +
                                    std::to_string(i) + "; done"})));
  }
  ids.push_back(test::submit_flow(*client_, test::shell_flow({"echo failing >&2", "exit 3"})));
  for (size_t i = 0; i < ids.size(); i++) {
    EXPECT_EQ(test::wait_final(*client_, ids[i]), i < 3 ? "SUCCESS" : "FAILED");
  }

  Answer a = http("GET", "/metrics");
  ASSERT_EQ(a.statuses, std::vector<int>{200});
  EXPECT_EQ(a.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(a.headers["content-length"], std::to_string(a.body.size()));
  Exposition e = parse_exposition(a.body);

  std::string runner = "runner=\"" + kProcess + "\",group=\"default\"";
  EXPECT_EQ(e.at(series("runnerd_task_runs_ended_total", "state=\"SUCCESS\"," + runner)), 3);
  EXPECT_EQ(e.at(series("runnerd_task_runs_ended_total", "state=\"FAILED\"," + runner)), 1);
  EXPECT_EQ(e.at(series("runnerd_task_runs_ended_total", "state=\"KILLED\"," + runner)), 0);
  for (const char* state : {"CREATED", "RUNNING", "KILLING"}) {
    EXPECT_EQ(e.at(series("runnerd_tasks", "state=\"" + std::string(state) + "\"," + runner)), 0)
        << state;
  }
  EXPECT_EQ(e.types["runnerd_task_submit_to_running_seconds"], "histogram");
  EXPECT_EQ(e.at(series("runnerd_task_submit_to_running_seconds_count", runner)), 4);
  EXPECT_EQ(e.at(series("runnerd_task_run_duration_seconds_count", runner)), 4);
  EXPECT_GT(e.at(series("runnerd_task_run_duration_seconds_sum", runner)), 0);
  EXPECT_EQ(e.at(series("runnerd_task_run_duration_seconds_bucket", runner + ",le=\"+Inf\"")), 4);
  EXPECT_EQ(e.at(series("runnerd_executions_ended_total", "state=\"SUCCESS\"")), 3);
  EXPECT_EQ(e.at(series("runnerd_executions_ended_total", "state=\"FAILED\"")), 1);
  EXPECT_EQ(e.at(series("runnerd_executions", "state=\"SUCCESS\"")), 3);
  EXPECT_EQ(e.at(series("runnerd_queue_depth", "group=\"default\"")), 0);
  // 3 x 5 lines of 17 bytes ("line 1 of task 0\n"), and "failing\n".
  EXPECT_EQ(e.at("runnerd_log_bytes_received_total"), 3 * 5 * 17 + 8);
  EXPECT_GT(e.at("runnerd_log_bytes_stored_total"), 0);
  EXPECT_EQ(e.at("runnerd_log_lines_total"), 16);
  EXPECT_EQ(e.types["runnerd_loop_lag_seconds"], "histogram");
  EXPECT_GT(e.at("runnerd_loop_lag_seconds_count"), 0);
  EXPECT_EQ(e.at("runnerd_loop_lag_seconds_bucket{le=\"+Inf\"}"), e.at("runnerd_loop_lag_seconds_count"));
  EXPECT_EQ(e.at("runnerd_process_spawned_total"), 4);
  EXPECT_EQ(e.at("runnerd_build_info{version=\"" RUNNERD_VERSION "\"}"), 1);
  EXPECT_GT(e.at("runnerd_open_fds"), 0);
  EXPECT_GT(e.at("runnerd_start_time_seconds"), 1.7e9);
  EXPECT_EQ(e.types["runnerd_engine_api_calls_total"], "counter");
  EXPECT_EQ(e.at(series("runnerd_engine_api_calls_total",
                        "runner=\"io.kestra.plugin.scripts.runner.docker.Docker\",call=\"create\"")),
            0);
  EXPECT_EQ(e.types["runnerd_engine_api_call_duration_seconds"], "histogram");
}

TEST_F(Metrics, OtherPathsMethodsHeadAndKeepAlive) {
  Answer a = http("GET", "/other");
  EXPECT_EQ(a.statuses, std::vector<int>{404});
  a = http("GET", "/");
  EXPECT_EQ(a.statuses, std::vector<int>{404});
  a = http("POST", "/metrics");
  EXPECT_EQ(a.statuses, std::vector<int>{405});
  EXPECT_EQ(a.headers["allow"], "GET, HEAD");
  a = http("DELETE", "/metrics");
  EXPECT_EQ(a.statuses, std::vector<int>{405});
  a = http("HEAD", "/metrics");
  EXPECT_EQ(a.statuses, std::vector<int>{200});
  EXPECT_GT(std::stoi(a.headers["content-length"]), 1000);
  EXPECT_EQ(a.body, "");
  // A query string is ignored, as Prometheus' own parameters would be.
  a = http("GET", "/metrics?name[]=x");
  EXPECT_EQ(a.statuses, std::vector<int>{200});
  // Three requests on one connection.
  a = http("GET", "/metrics", 3);
  EXPECT_EQ(a.statuses, (std::vector<int>{200, 200, 200}));
  Exposition e = parse_exposition(a.body);
  EXPECT_EQ(e.at("runnerd_metrics_http_responses_total{code=\"404\"}"), 2);
  EXPECT_EQ(e.at("runnerd_metrics_http_responses_total{code=\"405\"}"), 2);
  EXPECT_GE(e.at("runnerd_metrics_http_responses_total{code=\"200\"}"), 4);
}

// A raw TCP client, for what no HTTP client sends.
class Raw {
 public:
  explicit Raw(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd_);
      fd_ = -1;
    }
    timeval tv{2, 0};
    if (fd_ >= 0) setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  ~Raw() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  // False once the peer is gone (or a send blocked for 2 s).
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // What comes until the peer closes (or resets), or `timeout`; `closed`
  // says whether it did.
  std::string read_all(std::chrono::milliseconds timeout, bool& closed) {
    std::string out;
    closed = false;
    auto until = Clock::now() + timeout;
    while (Clock::now() < until) {
      pollfd p{fd_, POLLIN, 0};
      int ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count());
      if (poll(&p, 1, std::max(ms, 1)) <= 0) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
};

// An error answer, or a connection closed without one.
void expect_refused(const std::string& what, const std::string& got, bool closed,
                    const std::set<std::string>& statuses) {
  if (got.empty()) {
    EXPECT_TRUE(closed) << what << ": neither answered nor closed";
    return;
  }
  ASSERT_GE(got.size(), 12u) << what << ": " << got;
  EXPECT_TRUE(got.starts_with("HTTP/1.1 ")) << what << ": " << got;
  EXPECT_TRUE(statuses.count(got.substr(9, 3))) << what << ": " << got.substr(0, 60);
  EXPECT_NE(got.find("Connection: close"), std::string::npos) << what;
  EXPECT_TRUE(closed) << what << ": not closed after its error";
}

TEST_F(Metrics, HostileClientsGetA4xxOrAreClosedWhileScrapesSucceed) {
  // A slowloris: a byte per second of a request head, in a thread.
  std::atomic<bool> slow_done{false};
  std::string slow_got;
  bool slow_closed = false;
  double slow_seconds = 0;
  std::thread slowloris([&] {
    Raw c(port_);
    auto start = Clock::now();
    std::string head = "GET /metrics HTTP/1.1\r\nHost: a\r\n";
    for (char ch : head) {
      if (!c.send(std::string(1, ch))) break;
      bool closed = false;
      slow_got += c.read_all(std::chrono::milliseconds(1000), closed);
      if (closed) {
        slow_closed = true;
        break;
      }
    }
    slow_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    slow_done = true;
  });

  // A normal scrape succeeds while the slowloris is connected.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Exposition e = scrape();
  EXPECT_TRUE(e.types.count("runnerd_tasks"));
  EXPECT_FALSE(slow_done) << "the slowloris ended early";

  // A header that never ends: sent until the agent stops taking it.
  {
    Raw c(port_);
    ASSERT_TRUE(c.ok());
    c.send("GET /metrics HTTP/1.1\r\nHost: a\r\nX-Endless: ");
    std::string chunk(1024, 'a');
    size_t sent = 0;
    while (sent < (size_t{64} << 20) && c.send(chunk)) sent += chunk.size();
    EXPECT_LT(sent, size_t{64} << 20) << "the agent kept reading an endless header";
    bool closed = false;
    std::string got = c.read_all(std::chrono::seconds(5), closed);
    expect_refused("endless header", got, closed, {"431"});
  }
  // 10,000 bytes of junk, and 10,000 bytes of junk with no line end.
  for (bool lines : {true, false}) {
    Raw c(port_);
    ASSERT_TRUE(c.ok());
    std::mt19937 rng(lines ? 1 : 2);
    std::string junk(10000, '\0');
    for (char& ch : junk) {
      ch = static_cast<char>(rng() % 256);
      if (!lines && (ch == '\n' || ch == '\r')) ch = 'x';
    }
    c.send(junk);
    bool closed = false;
    std::string got = c.read_all(std::chrono::seconds(5), closed);
    expect_refused(lines ? "junk" : "junk without line ends", got, closed, {"400", "414", "431"});
  }
  slowloris.join();
  // requestTimeout is 2 s: closed then (with a 408, since it sent part of a head).
  EXPECT_TRUE(slow_closed) << "the slowloris was not closed";
  EXPECT_LT(slow_seconds, 8) << "the slowloris was kept " << slow_seconds << " s";
  expect_refused("slowloris", slow_got, slow_closed, {"408"});

  // More idle connections than allowed (8): the oldest waiting ones go, and a
  // scrape still gets in.
  std::vector<std::unique_ptr<Raw>> idle;
  for (int i = 0; i < 20; i++) {
    idle.push_back(std::make_unique<Raw>(port_));
    ASSERT_TRUE(idle.back()->ok());
  }
  e = scrape();
  EXPECT_GE(e.at("runnerd_metrics_http_connections_closed_total{reason=\"evicted\"}"), 12);
  EXPECT_GE(e.at("runnerd_metrics_http_connections_closed_total{reason=\"timeout\"}"), 1);
  EXPECT_LE(e.at("runnerd_metrics_http_connections"), 8);
  EXPECT_EQ(e.at("runnerd_metrics_http_responses_total{code=\"408\"}"), 1);
  EXPECT_EQ(e.at("runnerd_metrics_http_responses_total{code=\"431\"}") +
                e.at("runnerd_metrics_http_responses_total{code=\"400\"}") +
                std::max(0.0, e.at("runnerd_metrics_http_responses_total{code=\"414\"}")),
            3);
  idle.clear();

  // The agent is as it was: the socket answers.
  auto stats = client_->call(R"({"op":"stats"})");
  ASSERT_TRUE(stats);
  EXPECT_TRUE(stats->has("/result/uptimeMs")) << stats->text;
}

TEST_F(Metrics, RunnerctlStatsPrometheusPrintsTheSameFamilies) {
  std::string id = test::submit_flow(*client_, test::shell_flow({"echo hi"}));
  ASSERT_EQ(test::wait_final(*client_, id), "SUCCESS");
  Exposition http_side = scrape();
  auto r = test::run_command(std::string(RUNNERCTL_BIN) + " --socket " + agent_->socket() +
                             " stats --prometheus");
  ASSERT_EQ(r.status, 0) << r.out;
  Exposition socket_side = parse_exposition(r.out);
  std::set<std::string> a, b;
  for (const auto& [name, type] : http_side.types) a.insert(name + " " + type);
  for (const auto& [name, type] : socket_side.types) b.insert(name + " " + type);
  EXPECT_EQ(a, b);
  EXPECT_GT(a.size(), 20u);
  EXPECT_EQ(socket_side.at(series("runnerd_task_runs_ended_total",
                                  "state=\"SUCCESS\",runner=\"" + kProcess + "\",group=\"default\"")),
            1);

  // The protocol: a format it does not know is an error naming it.
  auto bad = client_->call(R"({"op":"stats","format":"xml"})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->str("/error/code"), "invalid_argument") << bad->text;
  EXPECT_EQ(bad->str("/error/path"), "format");
  auto ok = client_->call(R"({"op":"stats","format":"prometheus"})");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->str("/result/contentType"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(ok->str("/result/text").find("# TYPE runnerd_tasks gauge"), std::string::npos);
}

// A port taken by someone else: runnerd does not start, and says why.
TEST(MetricsStart, APortInUseStopsTheStartNamingIt) {
  test::TempDir dir;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  int port = ntohs(a.sin_port);
  std::ofstream(dir.path() + "/c.yaml") << "metrics:\n  listen: " << port << "\n";
  auto r = test::run_command(std::string(RUNNERD_BIN) + " --socket " + dir.path() +
                             "/s.sock --state-dir " + dir.path() + "/state --config " +
                             dir.path() + "/c.yaml 2>&1");
  close(fd);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("metrics: listening on 127.0.0.1:" + std::to_string(port) +
                       ": address already in use"),
            std::string::npos)
      << r.out;
}

}  // namespace
