#include "runners/docker/docker_runner.h"

#include <signal.h>

#include <unistd.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>

#include <simdjson.h>

#include "agent/config/config.h"
#include "agent/http/client.h"
#include "agent/json/writer.h"
#include "agent/metrics/registry.h"
#include "agent/uv/timer.h"
#include "agent/uv/work.h"
#include "runners/docker/archive.h"
#include "runners/docker/container_spec.h"
#include "runners/docker/engine.h"
#include "runners/docker/engine_stats.h"
#include "runners/docker/image_ref.h"
#include "runners/docker/labels.h"
#include "runners/docker/log_demux.h"
#include "runners/docker/options.h"

namespace runners::docker {

namespace {

using agent::Errc;
using agent::Error;
using agent::Result;
using agent::Status;
using agent::http::Response;
using agent::runner::ExitStatus;
using agent::runner::KillMode;
using agent::runner::TaskObserver;
using agent::runner::TaskSpec;

constexpr const char* kDefaultSocket = "/var/run/docker.sock";
constexpr std::chrono::milliseconds kCallTimeout{120'000};
constexpr std::chrono::milliseconds kMaxPullBackoff{120'000};
// How long a log stream may stay silent once the container exited: podman's
// can hang with nothing sent; past this it is cancelled and the task ends.
constexpr std::chrono::milliseconds kLogDrain{30'000};
// An engine that stops answering (its service killed and restarted, its
// socket gone for a moment) is waited for this long: every call of a task's
// sequence is made again after a transport failure (refused, reset, no
// socket), waiting 0.2 s, then twice as long each time up to 5 s (with
// jitter), until the engine answers or this much time passed since it last
// did. A fixed bound, not an option: agent/config has no key for it yet.
constexpr std::chrono::milliseconds kEngineOutage{120'000};
constexpr uint64_t kRetryFirstMs = 200;
constexpr uint64_t kRetryMaxMs = 5000;

class DockerRunner;

// One task attempt's container. Every engine call and pool job it starts
// holds `busy_`; the task is freed once it is released and nothing is busy.
// Loop thread only.
class DockerTask final : public agent::runner::RunnerTask {
 public:
  DockerTask(DockerRunner& runner, TaskObserver& observer, Options options, std::string socket);

  std::string external_id() const override {
    return id_.empty() ? std::string("container (not created yet)") : "container " + id_.substr(0, 12);
  }

  void begin();
  void kill(KillMode mode);
  void set_paused(bool paused);
  void release();

  // Filled by the runner before begin().
  std::string image;
  std::string create_body;
  std::string working_dir;
  std::vector<std::pair<std::string, std::string>> labels;
  bool resumed = false;

 private:
  using Next = std::function<void(Result<Response>)>;
  agent::http::RequestId call(std::string method, std::string path, std::string body, Next next,
                              agent::http::Headers headers = {},
                              std::chrono::milliseconds timeout = kCallTimeout);
  // call(), made again after an engine outage (see kEngineOutage): `next`
  // sees an answer of the engine, or the error that ended the wait.
  void call_through(std::string method, std::string path, std::string body, std::string what, Next next,
                    std::chrono::milliseconds timeout = kCallTimeout);
  // After a failure of a call named `what`: how long to wait before making it
  // again, or nullopt when it must not be (not a transport failure, the
  // outage outlasted kEngineOutage, the task already ended). Notes the outage.
  std::optional<uint64_t> retry_delay(const Error& e, std::string_view what);
  void engine_answered();
  // Runs `fn` from the loop after `ms`, holding busy_ meanwhile.
  void after(uint64_t ms, std::function<void()> fn);
  void done_one();
  bool stopping() const { return kill_requested_ || !error_.ok(); }

  std::string labelled_containers_path() const;
  void find_existing();
  void ensure_image();
  void pull();
  void create();
  void adopt_or_create();
  void created(std::string id);
  void copy_in();
  void start();
  void start_again();
  void running();
  void attach();
  void wait();
  void on_log_bytes(agent::runner::OutputStream s, std::string_view bytes);
  void maybe_exited();
  void read_logs(bool follow);
  void bound_log_drain();
  void copy_out();
  void cleanup();
  void check_oom();
  void remove();
  void finish();
  void fail(Error e);
  void send_kill();

  DockerRunner& runner_;
  TaskObserver& observer_;
  Options options_;
  Engine engine_;
  std::string id_;
  // A log stream read again after an outage starts from the beginning: what
  // was already delivered, counted per stream, is skipped.
  std::optional<LogDemux> demux_;
  uint64_t log_seen_[2] = {0, 0};       // bytes of each stream in the current read
  uint64_t log_delivered_[2] = {0, 0};  // bytes of each stream passed on, over all reads
  int busy_ = 0;
  bool released_ = false;
  bool finished_ = false;
  bool started_ = false;       // the container runs or ran
  bool kill_requested_ = false;
  KillMode kill_mode_ = KillMode::kGraceful;
  bool logs_done_ = false;
  uint64_t log_activity_ms_ = 0;  // loop time of the last log bytes
  bool podman_ = false;  // the engine is podman: its followed logs lose lines
  std::optional<int> exit_code_;
  bool out_of_memory_ = false;  // inspect: State.OOMKilled
  Status error_;
  agent::http::RequestId pull_ = 0;  // a pull in progress: a kill cancels it
  agent::http::RequestId logs_ = 0;
  agent::http::RequestId archive_req_ = 0;
  int pull_attempt_ = 0;
  std::unique_ptr<agent::uv::Timer> timer_;
  std::string archive_;  // the working directory copied back
  bool reported_ = false;         // on_finished was called
  bool logs_retrying_ = false;    // the log stream waits to be read again
  bool paused_ = false;           // the supervisor asked to stop reading the output
  uint64_t outage_since_ms_ = 0;  // loop time of the first failure since the engine last answered
  bool engine_gone_ = false;      // an outage outlasted kEngineOutage: no more waiting
  int outage_tries_ = 0;
  uint64_t next_wait_ = 0;
  std::map<uint64_t, std::unique_ptr<agent::uv::Timer>> waits_;
  std::minstd_rand rng_;
};

class DockerRunner final : public agent::runner::Runner {
 public:
  DockerRunner(uv_loop_t* loop, const agent::AgentConfig& config,
               std::unique_ptr<agent::http::HttpClient> http)
      : loop_(loop), config_(config), http_(std::move(http)) {}

  Status validate(std::string_view runner_json) const override {
    auto o = parse_options(runner_json);
    if (!o.ok()) return std::move(o).error();
    return {};
  }

  Result<agent::runner::ResourceRequest> requests(std::string_view runner_json) const override {
    AGENT_ASSIGN_OR_RETURN(Options o, parse_options(runner_json));
    return resource_request(o);
  }

  Result<std::unique_ptr<agent::runner::RunnerTask>> start(const TaskSpec& spec,
                                                           TaskObserver& observer) override {
    AGENT_ASSIGN_OR_RETURN(Options o, parse_options(spec.runner_json));
    std::string host = !o.host.empty() ? o.host : config_.docker.host;
    std::string socket = host.empty() ? std::string(kDefaultSocket) : socket_path_of(host);
    ContainerRequest req;
    req.image = !o.image.empty() ? o.image : spec.container_image;
    req.argv = spec.argv;
    req.env = spec.task_env;
    req.working_dir = spec.working_dir;
    req.labels = kestra_labels(spec, "kestra.io/");
    req.gpu_ids = spec.resources.gpu_ids;
    AGENT_ASSIGN_OR_RETURN(std::string body, create_body(req, o, config_.docker.volumes_enabled));
    AGENT_TRY(parse_image(req.image));
    auto task = std::make_unique<DockerTask>(*this, observer, std::move(o), std::move(socket));
    task->image = req.image;
    task->create_body = std::move(body);
    task->working_dir = spec.working_dir;
    task->labels = std::move(req.labels);
    task->resumed = spec.resumed;
    task->begin();
    return std::unique_ptr<agent::runner::RunnerTask>(std::move(task));
  }

  void kill(agent::runner::RunnerTask& task, KillMode mode) override {
    static_cast<DockerTask&>(task).kill(mode);
  }
  void set_output_paused(agent::runner::RunnerTask& task, bool paused) override {
    static_cast<DockerTask&>(task).set_paused(paused);
  }
  void release(std::unique_ptr<agent::runner::RunnerTask> task) override {
    auto* t = static_cast<DockerTask*>(task.release());
    t->release();
  }
  void close() override {
    http_->close([] {});
  }
  std::vector<std::pair<std::string, int64_t>> counters() const override {
    std::vector<std::pair<std::string, int64_t>> out = {{"docker_containers_created", created},
                                                         {"docker_pulls", pulls},
                                                         {"docker_engine_errors", engine_errors},
                                                         {"docker_engine_outages", engine_outages}};
    engine_stats.append_counters(out);
    return out;
  }
  void write_metrics(agent::metrics::Registry& registry) const override {
    engine_stats.write_metrics(registry, "io.kestra.plugin.scripts.runner.docker.Docker");
    registry.counter("runnerd_docker_containers_created_total", "Containers the Docker runner created.")
        .add({}, static_cast<double>(created));
    registry.counter("runnerd_docker_image_pulls_total", "Images the Docker runner pulled.")
        .add({}, static_cast<double>(pulls));
  }

  uv_loop_t* loop() const { return loop_; }
  const agent::AgentConfig& config() const { return config_; }
  agent::http::HttpClient& http() { return *http_; }

  int64_t created = 0, pulls = 0, engine_errors = 0, engine_outages = 0;
  // Every engine call of every task, by kind (engineCallsCreate, ...).
  EngineStats engine_stats;

 private:
  uv_loop_t* loop_;
  const agent::AgentConfig& config_;
  std::unique_ptr<agent::http::HttpClient> http_;
};

DockerTask::DockerTask(DockerRunner& runner, TaskObserver& observer, Options options, std::string socket)
    : runner_(runner),
      observer_(observer),
      options_(std::move(options)),
      engine_(runner.http(), std::move(socket), &runner.engine_stats),
      rng_(static_cast<uint32_t>(uv_hrtime() ^ reinterpret_cast<uintptr_t>(this))) {}

agent::http::RequestId DockerTask::call(std::string method, std::string path, std::string body, Next next,
                                        agent::http::Headers headers, std::chrono::milliseconds timeout) {
  busy_++;
  return engine_.call(
      std::move(method), std::move(path), std::move(body),
      [this, next = std::move(next)](Result<Response> r) {
        next(std::move(r));
        done_one();
      },
      std::move(headers), timeout);
}

void DockerTask::call_through(std::string method, std::string path, std::string body, std::string what,
                              Next next, std::chrono::milliseconds timeout) {
  // Kept for a second try: only small bodies go through here (the create
  // body); the archive copied in is packed again instead.
  std::string again = body;
  call(std::move(method), std::move(path), std::move(body),
       [this, method, path, again = std::move(again), what = std::move(what), next = std::move(next),
        timeout](Result<Response> r) mutable {
         if (!r.ok()) {
           if (auto wait = retry_delay(r.error(), what)) {
             after(*wait, [this, method = std::move(method), path = std::move(path), again = std::move(again),
                           what = std::move(what), next = std::move(next), timeout]() mutable {
               call_through(std::move(method), std::move(path), std::move(again), std::move(what),
                            std::move(next), timeout);
             });
             return;
           }
         } else {
           engine_answered();
         }
         next(std::move(r));
       },
       {}, timeout);
}

std::optional<uint64_t> DockerTask::retry_delay(const Error& e, std::string_view what) {
  if (e.code() != Errc::kUnavailable || reported_ || engine_gone_) return std::nullopt;
  uint64_t now = uv_now(runner_.loop());
  if (outage_since_ms_ == 0) {
    // Before any container exists, a socket that is not there at all is a
    // host or option mistake, said at once; a refused or dropped connection
    // is an engine being restarted, waited for.
    if (id_.empty() && ::access(engine_.socket().c_str(), F_OK) != 0) return std::nullopt;
    outage_since_ms_ = now;
    outage_tries_ = 0;
    runner_.engine_outages++;
    observer_.on_note(*this, true,
                      std::string(what) + ": the container engine at unix://" + engine_.socket() +
                          " does not answer (" + e.message() + "); trying again for up to " +
                          std::to_string(kEngineOutage.count() / 1000) + " s");
  }
  if (now - outage_since_ms_ >= static_cast<uint64_t>(kEngineOutage.count())) {
    engine_gone_ = true;
    observer_.on_note(*this, true,
                      "the container engine did not answer for " + std::to_string(kEngineOutage.count() / 1000) +
                          " s: giving up");
    return std::nullopt;
  }
  uint64_t wait = kRetryFirstMs;
  for (int i = 0; i < outage_tries_ && wait < kRetryMaxMs; i++) wait *= 2;
  wait = std::min(wait, kRetryMaxMs);
  outage_tries_++;
  // +-25%: tasks that lost the engine together do not come back together.
  return wait * 3 / 4 + rng_() % (wait / 2 + 1);
}

void DockerTask::engine_answered() {
  if (outage_since_ms_ == 0) return;
  uint64_t ms = uv_now(runner_.loop()) - outage_since_ms_;
  outage_since_ms_ = 0;
  outage_tries_ = 0;
  if (reported_) return;  // a kill's answer after the task ended: nothing to tell
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", static_cast<double>(ms) / 1000.0);
  observer_.on_note(*this, false, std::string("the container engine answers again after ") + secs + " s");
}

void DockerTask::after(uint64_t ms, std::function<void()> fn) {
  busy_++;
  uint64_t key = next_wait_++;
  auto& t = waits_[key];
  t = agent::uv::Timer::create(runner_.loop());
  t->start(ms, 0, [this, key, fn = std::move(fn)] {
    auto f = fn;  // the timer (and this lambda) goes away below
    auto it = waits_.find(key);
    agent::uv::close(it->second);
    waits_.erase(it);
    if (!reported_) f();
    done_one();
  });
}

// The last piece of work of a released task frees it.
void DockerTask::done_one() {
  busy_--;
  if (released_ && busy_ == 0 && timer_ == nullptr) delete this;
}

void DockerTask::release() {
  released_ = true;
  if (busy_ == 0 && timer_ == nullptr) delete this;
}

void DockerTask::fail(Error e) {
  if (e.code() != Errc::kCancelled) runner_.engine_errors++;
  if (error_.ok() && !(kill_requested_ && e.code() == Errc::kCancelled)) error_ = std::move(e);
  cleanup();
}

// The first step runs from the loop, never inside Runner::start().
void DockerTask::begin() {
  timer_ = agent::uv::Timer::create(runner_.loop());
  timer_->start(0, 0, [this] {
    agent::uv::close(timer_);
    if (released_ && busy_ == 0) {
      delete this;
      return;
    }
    if (stopping()) return cleanup();
    // Only a task run started again (after the agent restarted) can have a
    // container already: a new one carries labels no container has yet.
    if (options_.resume && resumed) return find_existing();
    ensure_image();
  });
}

// The containers (in every state) that carry all six labels of this task run attempt.
std::string DockerTask::labelled_containers_path() const {
  std::string filters;
  agent::json::Writer w(filters);
  w.begin_object().key("label").begin_array();
  for (const auto& [k, v] : labels) w.string(k + "=" + v);
  w.end_array().end_object();
  return "/containers/json?all=1&filters=" + query_escape(filters);
}

// Kestra's resume: a container that carries all six labels of this attempt
// (left by an agent that stopped while it ran) is followed instead of a new one.
void DockerTask::find_existing() {
  call_through("GET", labelled_containers_path(), "", "list containers", [this](Result<Response> r) {
    auto ok = engine_.check(std::move(r), "list containers", {200});
    if (!ok.ok()) return fail(std::move(ok).error());
    podman_ = ok->header("Libpod-Api-Version") != nullptr;
    if (stopping()) return cleanup();
    simdjson::dom::parser parser;
    simdjson::dom::array list;
    std::string_view id, state;
    if (parser.parse(ok->body).get_array().get(list) == simdjson::SUCCESS && list.size() > 0 &&
        list.at(0)["Id"].get_string().get(id) == simdjson::SUCCESS) {
      id_ = std::string(id);
      if (list.at(0)["State"].get_string().get(state) != simdjson::SUCCESS) state = "unknown";
      observer_.on_note(*this, false,
                        "resuming container " + id_.substr(0, 12) + " (" + std::string(state) +
                            ") that carries this task run's labels");
      if (state == "created" || state == "configured") return start();
      started_ = true;
      return attach();
    }
    ensure_image();
  });
}

// IF_NOT_PRESENT tries the create first and pulls only when the engine has no
// such image: one call less than Kestra's inspect-then-create, same outcome.
void DockerTask::ensure_image() {
  if (options_.pull_policy == PullPolicy::kAlways) return pull();
  create();
}

// A transient pull failure (the engine's 5xx, a dropped connection, a
// registry that does not answer) is tried again after 5 s, 10 s, ... up to
// 120 s, pullAttempts times in all (Kestra: 5). "Not found" and "denied" are not.
void DockerTask::pull() {
  auto ref = parse_image(image);
  if (!ref.ok()) return fail(std::move(ref).error());
  auto auth = registry_auth(*ref, options_.credentials_json, options_.config_json);
  if (!auth.ok()) return fail(Error(auth.error().code(), "pull " + image + ": " + auth.error().describe()));
  agent::http::Headers headers;
  if (!auth->empty()) headers.emplace_back("X-Registry-Auth", *auth);
  std::string path = "/images/create?fromImage=" + query_escape(ref->repository) + "&tag=" +
                     query_escape(ref->digest.empty() ? ref->tag : ref->digest);
  pull_attempt_++;
  runner_.pulls++;
  observer_.on_note(*this, false,
                    "pulling image " + image +
                        (pull_attempt_ > 1 ? " (attempt " + std::to_string(pull_attempt_) + ")" : std::string()));
  pull_ = call(
      "POST", path, "",
      [this](Result<Response> r) {
        pull_ = 0;
        if (stopping()) return cleanup();
        bool transient = !r.ok() ? r.error().code() == Errc::kUnavailable || r.error().code() == Errc::kDeadlineExceeded
                                 : r->status >= 500;
        std::string stream_error;
        if (r.ok() && r->status == 200) {
          // Progress lines; a failure is a line with "error" even under 200.
          simdjson::dom::parser parser;
          simdjson::dom::document_stream docs;
          if (parser.parse_many(r->body).get(docs) == simdjson::SUCCESS) {
            for (auto doc : docs) {
              std::string_view e;
              if (doc["error"].get_string().get(e) == simdjson::SUCCESS) stream_error = std::string(e);
            }
          }
          if (stream_error.empty()) {
            observer_.on_note(*this, false, "pulled image " + image);
            return create();
          }
          transient = stream_error.find("not found") == std::string::npos &&
                      stream_error.find("unauthorized") == std::string::npos &&
                      stream_error.find("denied") == std::string::npos &&
                      stream_error.find("manifest unknown") == std::string::npos;
        }
        Error e = !stream_error.empty()
                      ? Error(Errc::kUnavailable, "pull " + image + ": " + stream_error)
                      : engine_.check(std::move(r), "pull " + image, {200}).error();
        if (transient && pull_attempt_ < runner_.config().docker.pull_attempts) {
          auto wait = runner_.config().docker.pull_backoff;
          for (int i = 1; i < pull_attempt_; i++) wait = std::min(wait * 2, kMaxPullBackoff);
          observer_.on_note(*this, true,
                            e.message() + "; trying again in " + std::to_string(wait.count()) + " ms");
          timer_ = agent::uv::Timer::create(runner_.loop());
          timer_->start(static_cast<uint64_t>(wait.count()), 0, [this] {
            agent::uv::close(timer_);
            if (released_ && busy_ == 0) {
              delete this;
              return;
            }
            if (stopping()) return cleanup();
            pull();
          });
          return;
        }
        fail(Error(e.code(), e.message() + (pull_attempt_ > 1 ? " (after " + std::to_string(pull_attempt_) +
                                                                    " attempts)"
                                                              : std::string())));
      },
      std::move(headers), std::chrono::milliseconds{0});
}

void DockerTask::create() {
  call("POST", "/containers/create", create_body, [this](Result<Response> r) {
    if (!r.ok()) {
      if (auto wait = retry_delay(r.error(), "create container from " + image)) {
        // The engine may have made the container before the connection
        // dropped: it is looked for by this attempt's labels, never made twice.
        return after(*wait, [this] { adopt_or_create(); });
      }
    } else {
      engine_answered();
    }
    if (r.ok() && r->status == 404 && options_.pull_policy == PullPolicy::kNever) {
      return fail(Error(Errc::kNotFound, "image " + image +
                                             " is not on the container engine and pullPolicy is NEVER: "
                                             "pull it first (docker pull / podman pull), or set pullPolicy: "
                                             "IF_NOT_PRESENT"));
    }
    if (r.ok() && r->status == 404 && pull_attempt_ == 0) {
      if (stopping()) return cleanup();
      return pull();  // no such image
    }
    auto ok = engine_.check(std::move(r), "create container from " + image, {201, 200});
    if (!ok.ok()) return fail(std::move(ok).error());
    podman_ = ok->header("Libpod-Api-Version") != nullptr;
    simdjson::dom::parser parser;
    std::string_view id;
    if (parser.parse(ok->body)["Id"].get_string().get(id) != simdjson::SUCCESS || id.empty()) {
      return fail(Error(Errc::kInternal, "create container: the engine's answer has no Id"));
    }
    created(std::string(id));
  });
}

void DockerTask::created(std::string id) {
  id_ = std::move(id);
  runner_.created++;
  if (stopping()) return cleanup();
  if (options_.file_handling == FileHandling::kVolume) return copy_in();
  start();
}

// After a create whose answer was lost: the container it may have made, else a new one.
void DockerTask::adopt_or_create() {
  call_through("GET", labelled_containers_path(), "", "list containers", [this](Result<Response> r) {
    auto ok = engine_.check(std::move(r), "list containers", {200});
    if (!ok.ok()) return fail(std::move(ok).error());
    podman_ = ok->header("Libpod-Api-Version") != nullptr;
    simdjson::dom::parser parser;
    simdjson::dom::array list;
    std::string_view id;
    if (parser.parse(ok->body).get_array().get(list) == simdjson::SUCCESS && list.size() > 0 &&
        list.at(0)["Id"].get_string().get(id) == simdjson::SUCCESS && !id.empty()) {
      observer_.on_note(*this, false,
                        "container " + std::string(id.substr(0, 12)) +
                            " was made before the engine stopped answering: using it");
      return created(std::string(id));
    }
    if (stopping()) return cleanup();
    create();
  });
}

// VOLUME: the working directory, as a tar archive, into the created container
// at the same absolute path.
void DockerTask::copy_in() {
  auto tar = std::make_shared<Result<std::string>>(std::string());
  busy_++;
  size_t max = runner_.config().docker.max_archive_bytes;
  agent::uv::queue_work(
      runner_.loop(), [tar, dir = working_dir, max] { *tar = pack_directory(dir, max); },
      [this, tar] {
        if (!tar->ok()) {
          fail(Error(tar->error().code(), "copying the working directory into the container: " +
                                              tar->error().message()));
        } else if (stopping()) {
          cleanup();
        } else {
          call("PUT", "/containers/" + id_ + "/archive?path=%2F", std::move(**tar),
               [this](Result<Response> r) {
                 if (!r.ok()) {
                   // Packed again for the next try rather than kept.
                   if (auto wait = retry_delay(r.error(), "copy the working directory into the container")) {
                     return after(*wait, [this] { copy_in(); });
                   }
                 } else {
                   engine_answered();
                 }
                 auto ok = engine_.check(std::move(r), "copy the working directory into the container",
                                         {200});
                 if (!ok.ok()) return fail(std::move(ok).error());
                 if (stopping()) return cleanup();
                 start();
               },
               {{"Content-Type", "application/x-tar"}});
        }
        done_one();
      });
}

void DockerTask::start() {
  call("POST", "/containers/" + id_ + "/start", "", [this](Result<Response> r) {
    if (!r.ok()) {
      if (auto wait = retry_delay(r.error(), "start container " + id_.substr(0, 12))) {
        return after(*wait, [this] { start_again(); });
      }
    } else {
      engine_answered();
    }
    auto ok = engine_.check(std::move(r), "start container " + id_.substr(0, 12), {204, 304});
    if (!ok.ok()) return fail(std::move(ok).error());
    running();
  });
}

// After a start whose answer was lost: the engine may have started the
// container (which may even have ended since); only one still in its created
// state is started, so the task's code never runs twice.
void DockerTask::start_again() {
  call_through("GET", "/containers/" + id_ + "/json", "", "inspect container " + id_.substr(0, 12),
               [this](Result<Response> r) {
                 auto ok = engine_.check(std::move(r), "inspect container " + id_.substr(0, 12), {200});
                 if (!ok.ok()) return fail(std::move(ok).error());
                 simdjson::dom::parser parser;
                 std::string_view state;
                 if (parser.parse(ok->body)["State"]["Status"].get_string().get(state) != simdjson::SUCCESS) {
                   return fail(Error(Errc::kInternal, "inspect container: no State.Status in the answer"));
                 }
                 if (state == "created" || state == "configured") {
                   if (stopping()) return cleanup();
                   return start();
                 }
                 running();
               });
}

void DockerTask::running() {
  started_ = true;
  if (kill_requested_) send_kill();
  if (!options_.wait) {
    // Kestra: wait=false returns at once, exit 0; the container keeps running
    // and is neither followed nor removed.
    observer_.on_note(*this, false, "container " + id_.substr(0, 12) + " started; not waiting for it (wait: false)");
    exit_code_ = 0;
    finished_ = true;
    reported_ = true;
    observer_.on_finished(*this, ExitStatus{agent::runner::Exited{0}});
    return;
  }
  attach();
}

// Docker: the followed log stream and the wait run side by side; the
// container is done when both ended, so no line written before the exit is
// lost. Podman (4.3) drops lines from followed logs (2,662 of 20,000 in a
// test), and its attach misses what a container writes before the attach is
// in place, so there the log is read whole once the container exited:
// complete and in order, but not live.
void DockerTask::attach() {
  if (!podman_) read_logs(true);
  wait();
}

// The wait by id survives an engine outage: asked again once the engine is
// back, it returns the exit code of a container that ended meanwhile.
void DockerTask::wait() {
  call_through(
      "POST", "/containers/" + id_ + "/wait", "", "wait for container " + id_.substr(0, 12),
      [this](Result<Response> r) {
        auto ok = engine_.check(std::move(r), "wait for container " + id_.substr(0, 12), {200});
        if (!ok.ok()) {
          if (error_.ok()) error_ = std::move(ok).error();
          if (logs_ != 0) engine_.cancel(logs_);
          logs_done_ = logs_done_ || podman_;
          return maybe_exited();
        }
        simdjson::dom::parser parser;
        int64_t code = 0;
        if (parser.parse(ok->body)["StatusCode"].get_int64().get(code) != simdjson::SUCCESS) {
          if (error_.ok()) error_ = Error(Errc::kInternal, "wait for container: no StatusCode in the answer");
        }
        exit_code_ = static_cast<int>(code);
        if (podman_) return read_logs(false);
        if (!logs_done_) bound_log_drain();
        maybe_exited();
      },
      std::chrono::milliseconds{0});
}

void DockerTask::on_log_bytes(agent::runner::OutputStream s, std::string_view bytes) {
  size_t i = s == agent::runner::OutputStream::kStderr ? 1 : 0;
  uint64_t from = log_seen_[i];
  log_seen_[i] += bytes.size();
  if (log_seen_[i] <= log_delivered_[i]) return;  // delivered by an earlier read
  if (from < log_delivered_[i]) bytes.remove_prefix(static_cast<size_t>(log_delivered_[i] - from));
  log_delivered_[i] = log_seen_[i];
  observer_.on_output(*this, s, bytes);
}

void DockerTask::read_logs(bool follow) {
  busy_++;
  logs_retrying_ = false;
  log_seen_[0] = log_seen_[1] = 0;
  demux_.emplace([this](agent::runner::OutputStream s, std::string_view bytes) { on_log_bytes(s, bytes); });
  logs_ = engine_.stream(
      "/containers/" + id_ + "/logs?stdout=1&stderr=1" + (follow ? "&follow=1" : ""),
      [this](const Response& head) {
        engine_answered();
        if (head.status != 200) {
          error_ = Error(Errc::kInternal, "read the container's logs: HTTP " + std::to_string(head.status));
        }
      },
      [this](std::string_view chunk) {
        log_activity_ms_ = uv_now(runner_.loop());
        if (!error_.ok()) return;
        Status st = demux_->feed(chunk);
        if (!st.ok()) error_ = Error(Errc::kInternal, "container logs: " + st.error().message());
      },
      [this, follow](Status st) {
        logs_ = 0;
        if (!st.ok() && error_.ok()) {
          // Read again from the start after the outage; what was delivered is skipped.
          if (auto wait = retry_delay(st.error(), "read the container's logs")) {
            logs_retrying_ = true;
            after(*wait, [this, follow] {
              if (!error_.ok()) {
                logs_retrying_ = false;
                logs_done_ = true;
                return maybe_exited();
              }
              read_logs(follow);
            });
            return done_one();
          }
        }
        logs_retrying_ = false;
        logs_done_ = true;
        if (timer_ != nullptr) agent::uv::close(timer_);
        if (!st.ok() && st.error().code() != Errc::kCancelled && error_.ok()) {
          error_ = engine_.transport_error(st.error(), "read the container's logs");
        }
        maybe_exited();
        done_one();
      });
  if (paused_) engine_.pause(logs_, true);
  if (!follow) bound_log_drain();
}

void DockerTask::bound_log_drain() {
  log_activity_ms_ = uv_now(runner_.loop());
  if (timer_ != nullptr) return;  // already bounded (a stream read again)
  timer_ = agent::uv::Timer::create(runner_.loop());
  timer_->start(1000, 1000, [this] {
    if (logs_ == 0) {
      if (!logs_retrying_) agent::uv::close(timer_);
      return;
    }
    if (uv_now(runner_.loop()) - log_activity_ms_ < static_cast<uint64_t>(kLogDrain.count())) return;
    agent::uv::close(timer_);
    observer_.on_note(*this, true,
                      "the engine's log stream sent nothing for " + std::to_string(kLogDrain.count() / 1000) +
                          " s after the container exited: it was cancelled, and the log may miss lines");
    engine_.cancel(logs_);
  });
}

void DockerTask::maybe_exited() {
  if (!logs_done_ || (!exit_code_ && error_.ok())) return;
  if (finished_) return;
  if (exit_code_ && options_.file_handling == FileHandling::kVolume && !kill_requested_) return copy_out();
  cleanup();
}

// VOLUME: the container's working directory back into the local one, also
// after a failure (Kestra downloads it either way), so output files are found.
void DockerTask::copy_out() {
  busy_++;
  auto too_big = std::make_shared<bool>(false);
  auto answered = std::make_shared<bool>(false);
  size_t max = runner_.config().docker.max_archive_bytes;
  archive_req_ = engine_.stream(
      "/containers/" + id_ + "/archive?path=" + query_escape(working_dir),
      [this, answered](const Response& head) {
        engine_answered();
        *answered = head.status == 200;
        if (head.status != 200) {
          observer_.on_note(*this, true,
                            "copying the working directory back: HTTP " + std::to_string(head.status));
        }
      },
      [this, too_big, answered, max](std::string_view chunk) {
        if (!*answered || *too_big) return;
        if (archive_.size() + chunk.size() > max) {
          engine_.cancel(archive_req_);
          *too_big = true;
          return;
        }
        archive_.append(chunk);
      },
      [this, too_big, answered, max](Status st) {
        archive_req_ = 0;
        if (!st.ok() && !*too_big) {
          if (auto wait = retry_delay(st.error(), "copy the working directory back")) {
            archive_.clear();
            after(*wait, [this] { copy_out(); });
            return done_one();
          }
        }
        if (!*answered) archive_.clear();
        if (*too_big) {
          observer_.on_note(*this, true,
                            "the working directory in the container is larger than docker.maxArchiveBytes (" +
                                std::to_string(max >> 20) + " MiB): not copied back");
          archive_.clear();
        } else if (!st.ok()) {
          observer_.on_note(*this, true, engine_.transport_error(st.error(), "copy the working directory back").message());
          archive_.clear();
        }
        if (archive_.empty()) {
          cleanup();
          done_one();
          return;
        }
        auto report = std::make_shared<Result<UnpackReport>>(UnpackReport{});
        busy_++;
        agent::uv::queue_work(
            runner_.loop(),
            [this, report, dir = working_dir] { *report = unpack_into(archive_, dir); },
            [this, report] {
              archive_.clear();
              archive_.shrink_to_fit();
              if (!report->ok()) {
                observer_.on_note(*this, true, "copying the working directory back: " + report->error().message());
              } else {
                for (const auto& s : (*report)->skipped) observer_.on_note(*this, true, "not copied back: " + s);
              }
              cleanup();
              done_one();
            });
        done_one();
      });
}

// Kestra's finally: kill what may still run, then remove the container (and
// its anonymous volumes) when `delete` is set. Errors here only warn; an
// engine outage is waited for, so that the container does not outlive its task.
void DockerTask::cleanup() {
  if (finished_) return;
  finished_ = true;
  check_oom();
}

// 137 (SIGKILL) that nobody asked for: was it the kernel at the memory limit?
// The inspect says (State.OOMKilled); only then is the call made.
void DockerTask::check_oom() {
  if (id_.empty() || exit_code_ != 137 || kill_requested_ || !error_.ok()) return remove();
  call_through("GET", "/containers/" + id_ + "/json", "", "inspect container " + id_.substr(0, 12),
               [this](Result<Response> r) {
                 auto ok = engine_.check(std::move(r), "inspect container " + id_.substr(0, 12), {200});
                 if (ok.ok()) {
                   simdjson::dom::parser parser;
                   bool oom = false;
                   if (parser.parse(ok->body)["State"]["OOMKilled"].get_bool().get(oom) == simdjson::SUCCESS) {
                     out_of_memory_ = oom;
                   }
                 }
                 remove();
               });
}

void DockerTask::remove() {
  if (id_.empty() || !options_.delete_) return finish();
  call_through("DELETE", "/containers/" + id_ + "?force=1&v=1", "", "remove container " + id_.substr(0, 12),
               [this](Result<Response> r) {
                 auto ok = engine_.check(std::move(r), "remove container " + id_.substr(0, 12), {204, 200, 404});
                 if (!ok.ok()) observer_.on_note(*this, true, ok.error().message());
                 finish();
               });
}

void DockerTask::finish() {
  reported_ = true;
  if (!error_.ok()) {
    observer_.on_finished(*this, error_.error());
  } else if (exit_code_ && out_of_memory_) {
    // Killed by the kernel at the container's memory limit (exit code 137).
    observer_.on_finished(*this, ExitStatus{agent::runner::Signaled{SIGKILL, /*out_of_memory=*/true}});
  } else if (exit_code_) {
    observer_.on_finished(*this, ExitStatus{agent::runner::Exited{*exit_code_}});
  } else {
    observer_.on_finished(*this, ExitStatus{agent::runner::Signaled{SIGKILL}});  // killed before it ran
  }
}

// Made again after an engine outage, as long as the task has not ended.
void DockerTask::send_kill() {
  std::string path;
  if (kill_mode_ == KillMode::kGraceful && options_.kill_grace.count() > 0) {
    auto secs = (options_.kill_grace.count() + 999) / 1000;
    path = "/containers/" + id_ + "/stop?t=" + std::to_string(secs);
  } else {
    path = "/containers/" + id_ + "/kill";
  }
  call_through("POST", path, "", "stop container " + id_.substr(0, 12), [](Result<Response>) {});
}

// Before the container runs, a kill stops the sequence at its next step (a
// pull in progress is cancelled); after, the engine kills or stops it.
void DockerTask::kill(KillMode mode) {
  if (finished_) return;
  bool again = kill_requested_;
  kill_requested_ = true;
  kill_mode_ = mode;
  if (started_ && !exit_code_) {
    if (!again || mode == KillMode::kForce) send_kill();
  } else if (!started_ && pull_ != 0) {
    engine_.cancel(pull_);
  } else if (!started_ && timer_ != nullptr) {
    // Waiting to begin or to pull again: end from the loop, not from kill().
    timer_->start(0, 0, [this] {
      agent::uv::close(timer_);
      cleanup();
    });
  }
}

void DockerTask::set_paused(bool paused) {
  paused_ = paused;
  if (logs_ != 0) engine_.pause(logs_, paused);
}

}  // namespace

Result<std::unique_ptr<agent::runner::Runner>> Factory::create(agent::runner::RunnerContext& ctx) {
  AGENT_ASSIGN_OR_RETURN(auto http, agent::http::HttpClient::create(ctx.loop));
  return std::unique_ptr<agent::runner::Runner>(
      std::make_unique<DockerRunner>(ctx.loop, *ctx.config, std::move(http)));
}

}  // namespace runners::docker
