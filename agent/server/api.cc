#include "agent/server/api.h"

#include <unistd.h>

#include <algorithm>

#include "agent/common/base64.h"
#include "agent/common/fs.h"
#include "agent/flow/load.h"
#include "agent/json/read.h"
#include "agent/json/writer.h"
#include "agent/log/log.h"
#include "agent/metrics/process.h"
#include "agent/uv/work.h"
#include "proto/encode.h"

namespace agent::server {

namespace {

constexpr std::string_view kOps[] = {"hello", "submit", "get",     "list",    "watch", "unwatch",
                                     "logs",  "cancel", "outputs", "stats", "readFile"};

Error missing(std::string_view key) {
  return Error(Errc::kInvalidArgument, "required property missing", std::string(key));
}

Result<std::string> string_param(simdjson::dom::object body, std::string_view key) {
  simdjson::dom::element e;
  if (body[key].get(e) != simdjson::SUCCESS) return missing(key);
  return json::as_string(e, key);
}

}  // namespace

Api::Api(uv_loop_t* loop, Supervisor& supervisor, const AgentConfig& config)
    : loop_(loop), supervisor_(supervisor), config_(config), streams_(loop, supervisor) {}

void Api::set_server(Server* server) {
  server_ = server;
  streams_.set_server(server);
}

void Api::on_request(Connection& conn, std::string_view line) {
  // Blank lines (a client's trailing newline) are not requests.
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
  requests_++;
  proto::DecodeResult d = proto::decode_request(parser_, line);
  if (!d.ok) {
    request_errors_++;
    conn.send(proto::error_line(d.request.id_json, d.code, d.message, d.path));
    return;
  }
  Status st = dispatch(conn, d.request);
  if (!st.ok()) {
    request_errors_++;
    const Error& e = st.error();
    std::string_view code = errc_name(e.code());
    if (e.code() == Errc::kNotFound && e.path() == "op") code = "unknown_op";
    conn.send(proto::error_line(d.request.id_json, code, e.message(), e.path()));
  }
}

void Api::on_oversize(Connection& conn, size_t limit) {
  request_errors_++;
  conn.send(proto::error_line("null", "oversize",
                              "request line longer than " + std::to_string(limit) +
                                  " bytes (maxRequestBytes); it was skipped",
                              ""));
}

void Api::on_drain(Connection& conn) { streams_.on_drain(conn); }
void Api::on_closed(Connection& conn) { streams_.on_closed(conn); }
bool Api::has_streams(const Connection& conn) const { return streams_.has_streams(conn.id()); }
void Api::on_state(Execution& exec, TaskRun* run) { streams_.on_state(exec, run); }
void Api::on_log_committed(Execution& exec, TaskRun& run) { streams_.on_log_committed(exec, run); }

Status Api::dispatch(Connection& conn, const proto::Request& req) {
  const std::string& op = req.op;
  if (op == "hello") return op_hello(conn, req);
  if (op == "submit") return op_submit(conn, req);
  if (op == "readFile") return op_read_file(conn, req);
  if (op == "get") return op_get(conn, req);
  if (op == "list") return op_list(conn, req);
  if (op == "watch") return op_watch(conn, req);
  if (op == "unwatch") return op_unwatch(conn, req);
  if (op == "logs") return op_logs(conn, req);
  if (op == "cancel") return op_cancel(conn, req);
  if (op == "outputs") return op_outputs(conn, req);
  if (op == "stats") return op_stats(conn, req);
  std::string known;
  for (std::string_view k : kOps) known += (known.empty() ? "" : ", ") + std::string(k);
  return Error(Errc::kNotFound, "unknown op '" + op + "' (known: " + known + ")", "op");
}

Result<Execution*> Api::execution_of(const proto::Request& req) {
  AGENT_ASSIGN_OR_RETURN(std::string id, string_param(req.body, "executionId"));
  return supervisor_.find(id);
}

Status Api::op_hello(Connection& conn, const proto::Request& req) {
  AGENT_TRY(proto::check_keys(req.body, {"versions", "client"}));
  simdjson::dom::element versions;
  bool common = true;
  if (req.body["versions"].get(versions) == simdjson::SUCCESS) {
    simdjson::dom::array arr;
    if (versions.get_array().get(arr) != simdjson::SUCCESS) {
      return json::type_error("versions", "an array of integers", versions);
    }
    common = false;
    for (auto v : arr) {
      int64_t n;
      if (v.get_int64().get(n) == simdjson::SUCCESS && n == proto::kVersion) common = true;
    }
  }
  if (!common) {
    conn.send(proto::error_line(req.id_json, "unsupported_version",
                                "this agent speaks protocol version 1 only", "versions"));
    return {};
  }
  std::string out;
  json::Writer w(out);
  w.begin_object().kv("version", proto::kVersion).kv("agent", "runnerd");
  w.kv("agentVersion", RUNNERD_VERSION).kv("pid", static_cast<int64_t>(getpid()));
  w.key("ops").begin_array();
  for (std::string_view k : kOps) w.string(k);
  w.end_array().end_object();
  conn.send(proto::ok_line(req.id_json, out));
  return {};
}

// The submit's answer: the execution's id, state, task runs and warnings.
std::string Api::submit_result(const Execution& exec, const flow::Flow& flow) {
  std::string out;
  json::Writer w(out);
  w.begin_object().kv("executionId", exec.id).kv("state", state_name(exec.state));
  w.key("taskRuns").begin_array();
  for (const auto& run : exec.task_runs) {
    w.begin_object().kv("id", run->id).kv("taskId", run->task_id).end_object();
  }
  w.end_array();
  if (!flow.warnings.empty()) {
    w.key("warnings").begin_array();
    for (const auto& warning : flow.warnings) w.string(warning);
    w.end_array();
  }
  w.end_object();
  return out;
}

namespace {

// A client-chosen execution id: what a retried submission is known by.
Status check_execution_id(std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return Error(Errc::kInvalidArgument, "must be 1 to 64 characters", "executionId");
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) {
      return Error(Errc::kInvalidArgument,
                   "may hold only letters, digits, '-', '_' and '.'", "executionId");
    }
  }
  return {};
}

}  // namespace

Status Api::op_submit(Connection& conn, const proto::Request& req) {
  AGENT_TRY(proto::check_keys(req.body, {"flow", "task", "namespace", "inputs", "executionId"}));
  simdjson::dom::element flow_el, task_el, inputs_el, id_el;
  bool has_flow = req.body["flow"].get(flow_el) == simdjson::SUCCESS;
  bool has_task = req.body["task"].get(task_el) == simdjson::SUCCESS;
  if (has_flow == has_task) {
    return Error(Errc::kInvalidArgument, "submit takes exactly one of 'flow' or 'task'", "flow");
  }
  SubmitArgs args;
  if (req.body["executionId"].get(id_el) == simdjson::SUCCESS) {
    AGENT_ASSIGN_OR_RETURN(args.execution_id, json::as_string(id_el, "executionId"));
    AGENT_TRY(check_execution_id(args.execution_id));
    // Idempotent: a submission retried with the id of one already accepted
    // (the answer was lost, the agent restarted) gets that execution back.
    Result<Execution*> existing = supervisor_.find_exact(args.execution_id);
    if (existing.ok()) {
      std::string out;
      json::Writer w(out);
      w.begin_object().kv("executionId", (*existing)->id);
      w.kv("state", state_name((*existing)->state)).kv_bool("existing", true).end_object();
      conn.send(proto::ok_line(req.id_json, out));
      return {};
    }
  } else {
    args.execution_id = Supervisor::new_execution_id();
  }
  flow::LoadOptions options{.global_defaults = &config_.plugin_defaults};
  std::string ns = "default";
  if (has_task) {
    simdjson::dom::element ns_el;
    if (req.body["namespace"].get(ns_el) == simdjson::SUCCESS) {
      AGENT_ASSIGN_OR_RETURN(ns, json::as_string(ns_el, "namespace"));
    }
  }
  args.definition_json = json::to_json(has_flow ? flow_el : task_el);
  std::string cache_key = has_flow ? "flow " : "task " + ns + " ";
  cache_key += args.definition_json;
  std::shared_ptr<const flow::Flow> flow = flows_.find(cache_key);
  if (flow == nullptr) {
    Result<flow::Flow> loaded =
        has_flow ? flow::load_flow(flow_el, "flow", options, nullptr)
                 : flow::load_single_task(task_el, ns, "task", options, nullptr);
    if (!loaded.ok()) return std::move(loaded).error();
    flow = std::make_shared<const flow::Flow>(std::move(loaded).value());
    flows_.put(std::move(cache_key), flow);
  }
  args.single_task = has_task;
  args.namespace_ = ns;

  // Inputs: typed and checked against the flow's declarations; uploaded FILE
  // inputs go to the agent's storage under the new execution's id.
  template_::Value supplied{template_::Value::Map{}};
  if (req.body["inputs"].get(inputs_el) == simdjson::SUCCESS) {
    if (!inputs_el.is_object()) return json::type_error("inputs", "an object", inputs_el);
    AGENT_ASSIGN_OR_RETURN(supplied, template_::from_json(inputs_el));
  }
  // Uploaded FILE inputs are written on the thread pool; the execution is
  // created once they are stored, and only then answered.
  struct Upload {
    std::string input_id, filename, bytes;
  };
  auto uploads = std::make_shared<std::vector<Upload>>();
  const files::Storage& storage = supervisor_.storage();
  auto store_file = [&](std::string_view input_id, std::string_view filename,
                        std::string_view bytes) -> Result<std::string> {
    uploads->push_back(Upload{std::string(input_id), std::string(filename), std::string(bytes)});
    return storage.input_uri(flow->namespace_, flow->id, args.execution_id, std::string(input_id),
                             filename);
  };
  AGENT_ASSIGN_OR_RETURN(args.inputs,
                         flow::resolve_inputs(flow->inputs, supplied, store_file, &args.secrets));
  const Peer& peer = conn.peer();
  args.who = Submitter{peer.uid, peer.pid};
  uint64_t conn_id = conn.id();
  std::string id_json = req.id_json;
  // The answer goes once the submission is durable, to the client if it is
  // still there; the execution runs either way.
  auto answer = [this, conn_id, id_json, flow](Result<Execution*> exec) {
    Connection* c = server_ != nullptr ? server_->find(conn_id) : nullptr;
    if (c == nullptr) return;
    if (!exec.ok()) {
      const Error& e = exec.error();
      c->send(proto::error_line(id_json, errc_name(e.code()), e.message(), e.path()));
      return;
    }
    c->send(proto::ok_line(id_json, submit_result(**exec, *flow)));
  };
  if (uploads->empty()) return supervisor_.submit(flow, std::move(args), std::move(answer));
  auto stored = std::make_shared<Status>();
  auto shared_args = std::make_shared<SubmitArgs>(std::move(args));
  uv::queue_work(
      loop_,
      [&storage, flow, uploads, stored, shared_args] {
        for (const auto& u : *uploads) {
          auto r = storage.put_execution_input(flow->namespace_, flow->id, shared_args->execution_id,
                                               u.input_id, u.filename, u.bytes);
          if (!r.ok()) {
            *stored = std::move(r).error().at("inputs." + u.input_id);
            return;
          }
        }
      },
      [this, flow, stored, shared_args, answer] {
        Status st = stored->ok() ? supervisor_.submit(flow, std::move(*shared_args), answer)
                                 : *stored;
        if (!st.ok()) answer(st.error());
      });
  return {};
}

// readFile: a piece of a kestra:// file of the agent's storage, base64.
Status Api::op_read_file(Connection& conn, const proto::Request& req) {
  AGENT_TRY(proto::check_keys(req.body, {"uri", "offset", "length"}));
  simdjson::dom::element e;
  if (req.body["uri"].get(e) != simdjson::SUCCESS) {
    return Error(Errc::kInvalidArgument, "required property missing", "uri");
  }
  AGENT_ASSIGN_OR_RETURN(std::string uri, json::as_string(e, "uri"));
  int64_t offset = 0, length = 1 << 20;
  if (req.body["offset"].get(e) == simdjson::SUCCESS) {
    AGENT_ASSIGN_OR_RETURN(offset, json::as_int(e, "offset"));
  }
  if (req.body["length"].get(e) == simdjson::SUCCESS) {
    AGENT_ASSIGN_OR_RETURN(length, json::as_int(e, "length"));
  }
  if (offset < 0) return Error(Errc::kInvalidArgument, "must not be negative", "offset");
  if (length < 1 || length > (4 << 20)) {
    return Error(Errc::kInvalidArgument, "must be between 1 and 4194304", "length");
  }
  AGENT_ASSIGN_OR_RETURN(std::string path, supervisor_.storage().resolve(uri));
  // A bounded read on the thread pool; the answer comes when it is done (a
  // client that pipelines readFile with other requests matches answers by id).
  auto result = std::make_shared<Result<std::pair<std::string, int64_t>>>(
      Error(Errc::kInternal, "not read"));
  std::string id_json = req.id_json;
  uint64_t conn_id = conn.id();
  uv::queue_work(
      loop_, [path, offset, length, result] { *result = fs::read_range(path, offset, length); },
      [this, conn_id, id_json, offset, result] {
        Connection* c = server_ != nullptr ? server_->find(conn_id) : nullptr;
        if (c == nullptr) return;
        if (!result->ok()) {
          const Error& err = result->error();
          c->send(proto::error_line(id_json, errc_name(err.code()), err.message(), "uri"));
          return;
        }
        const auto& [data, size] = result->value();
        std::string out;
        json::Writer w(out);
        w.begin_object().kv("data", base64_encode(data)).kv("offset", offset).kv("size", size);
        w.kv_bool("eof", offset + static_cast<int64_t>(data.size()) >= size).end_object();
        c->send(proto::ok_line(id_json, out));
      });
  return {};
}

Status Api::op_get(Connection& conn, const proto::Request& req) {
  AGENT_TRY(proto::check_keys(req.body, {"executionId"}));
  AGENT_ASSIGN_OR_RETURN(Execution * exec, execution_of(req));
  std::string out;
  json::Writer w(out);
  proto::write_execution(w, *exec, {});
  conn.send(proto::ok_line(req.id_json, out));
  return {};
}

Status Api::op_list(Connection& conn, const proto::Request& req) {
  AGENT_TRY(proto::check_keys(req.body, {"limit", "state"}));
  int64_t limit = 100;
  simdjson::dom::element e;
  if (req.body["limit"].get(e) == simdjson::SUCCESS) {
    AGENT_ASSIGN_OR_RETURN(limit, json::as_int(e, "limit"));
    if (limit < 0) return Error(Errc::kInvalidArgument, "must be 0 (all) or more", "limit");
  }
  bool filter = false;
  State want = State::kCreated;
  if (req.body["state"].get(e) == simdjson::SUCCESS) {
    AGENT_ASSIGN_OR_RETURN(std::string s, json::as_string(e, "state"));
    if (!parse_state(s, want)) {
      return Error(Errc::kInvalidArgument,
                   "unknown state '" + s + "' (CREATED, RUNNING, KILLING, SUCCESS, WARNING, "
                                           "FAILED, KILLED)",
                   "state");
    }
    filter = true;
  }
  std::string out;
  json::Writer w(out);
  w.begin_object().key("executions").begin_array();
  int64_t n = 0;
  const auto& all = supervisor_.ordered();
  for (auto it = all.rbegin(); it != all.rend() && (limit == 0 || n < limit); ++it) {
    if (filter && (*it)->state != want) continue;
    proto::write_execution(w, **it, {});
    n++;
  }
  w.end_array().kv("total", static_cast<uint64_t>(all.size())).end_object();
  conn.send(proto::ok_line(req.id_json, out));
  return {};
}

Status Api::op_watch(Connection& conn, const proto::Request& req) {
  AGENT_TRY(proto::check_keys(req.body, {"executionId"}));
  Execution* exec = nullptr;
  simdjson::dom::element e;
  if (req.body["executionId"].get(e) == simdjson::SUCCESS) {
    AGENT_ASSIGN_OR_RETURN(exec, execution_of(req));
  }
  conn.send(proto::ok_line(req.id_json, "{}"));
  streams_.watch(conn, req.id_json, exec);
  return {};
}

Status Api::op_unwatch(Connection& conn, const proto::Request& req) {
  AGENT_TRY(proto::check_keys(req.body, {"stream"}));
  simdjson::dom::element e;
  if (req.body["stream"].get(e) != simdjson::SUCCESS) return missing("stream");
  if (!streams_.unwatch(conn, simdjson::minify(e))) {
    return Error(Errc::kNotFound, "no watch stream with that id on this connection", "stream");
  }
  conn.send(proto::ok_line(req.id_json, "{}"));
  return {};
}

Status Api::op_logs(Connection& conn, const proto::Request& req) {
  AGENT_TRY(proto::check_keys(req.body, {"executionId", "taskRunId", "from", "follow"}));
  AGENT_ASSIGN_OR_RETURN(Execution * exec, execution_of(req));
  TaskRun* run = nullptr;
  simdjson::dom::element e;
  if (req.body["taskRunId"].get(e) == simdjson::SUCCESS) {
    AGENT_ASSIGN_OR_RETURN(std::string id, json::as_string(e, "taskRunId"));
    run = exec->find_task_run(id);
    if (run == nullptr) {
      return Error(Errc::kNotFound, "no task run '" + id + "' in execution " + exec->id,
                   "taskRunId");
    }
  }
  int64_t from = 0;
  if (req.body["from"].get(e) == simdjson::SUCCESS) {
    if (run == nullptr) {
      return Error(Errc::kInvalidArgument, "'from' needs a taskRunId (line numbers are per task run)",
                   "from");
    }
    AGENT_ASSIGN_OR_RETURN(from, json::as_int(e, "from"));
    if (from < 0) return Error(Errc::kInvalidArgument, "must be 0 or more", "from");
  }
  bool follow = false;
  if (req.body["follow"].get(e) == simdjson::SUCCESS) {
    AGENT_ASSIGN_OR_RETURN(follow, json::as_bool(e, "follow"));
  }
  conn.send(proto::ok_line(req.id_json, "{}"));
  streams_.logs(conn, req.id_json, *exec, run, static_cast<uint64_t>(from), follow);
  return {};
}

Status Api::op_cancel(Connection& conn, const proto::Request& req) {
  AGENT_TRY(proto::check_keys(req.body, {"executionId"}));
  AGENT_ASSIGN_OR_RETURN(Execution * exec, execution_of(req));
  bool already = is_final(exec->state);
  uint64_t seq = 0;
  if (!already) {
    log::info("cancel of execution " + exec->id + " requested by uid " +
              std::to_string(conn.peer().uid) + " pid " + std::to_string(conn.peer().pid));
    seq = supervisor_.cancel(*exec);
  }
  std::string out;
  json::Writer w(out);
  w.begin_object().kv("executionId", exec->id).kv("state", state_name(exec->state));
  if (already) w.kv_bool("alreadyFinal", true);
  w.end_object();
  // Answered once the cancel is durable: a restart then kills, never resumes.
  uint64_t conn_id = conn.id();
  std::string id_json = req.id_json;
  supervisor_.when_stored(seq, [this, conn_id, id_json, out](Status st) {
    Connection* c = server_ != nullptr ? server_->find(conn_id) : nullptr;
    if (c == nullptr) return;
    if (!st.ok()) {
      c->send(proto::error_line(id_json, "unavailable",
                                "the cancel could not be stored: " + st.error().message(), ""));
      return;
    }
    c->send(proto::ok_line(id_json, out));
  });
  return {};
}

Status Api::op_outputs(Connection& conn, const proto::Request& req) {
  AGENT_TRY(proto::check_keys(req.body, {"executionId"}));
  AGENT_ASSIGN_OR_RETURN(Execution * exec, execution_of(req));
  std::string out;
  json::Writer w(out);
  proto::write_outputs(w, *exec);
  conn.send(proto::ok_line(req.id_json, out));
  return {};
}

std::string Api::prometheus_text() const {
  metrics::Registry r;
  metrics::write_process_metrics(r);
  supervisor_.write_metrics(r);
  r.gauge("runnerd_socket_clients", "Clients connected to the control socket.")
      .add({}, static_cast<double>(server_ != nullptr ? server_->client_count() : 0));
  r.counter("runnerd_socket_requests_total", "Protocol requests received on the control socket.")
      .add({}, static_cast<double>(requests_));
  r.counter("runnerd_socket_request_errors_total", "Protocol requests answered with an error.")
      .add({}, static_cast<double>(request_errors_));
  if (metrics_writer_) metrics_writer_(r);
  return r.text();
}

Status Api::op_stats(Connection& conn, const proto::Request& req) {
  AGENT_TRY(proto::check_keys(req.body, {"format"}));
  std::string format = "json";
  if (simdjson::dom::element f; req.body["format"].get(f) == simdjson::SUCCESS) {
    AGENT_ASSIGN_OR_RETURN(format, json::as_string(f, "format"));
  }
  std::string out;
  json::Writer w(out);
  if (format == "prometheus") {
    w.begin_object().kv("format", "prometheus").kv("contentType", metrics::kContentType);
    w.kv("text", prometheus_text()).end_object();
    conn.send(proto::ok_line(req.id_json, out));
    return {};
  }
  if (format != "json") {
    return Error(Errc::kInvalidArgument,
                 "unknown format '" + format + "' (json, the default, or prometheus)", "format");
  }
  w.begin_object();
  supervisor_.write_stats(w);
  w.kv("clients", static_cast<uint64_t>(server_ != nullptr ? server_->client_count() : 0));
  w.kv("clientsAccepted", server_ != nullptr ? server_->accepted() : 0);
  w.kv("requests", requests_).kv("requestErrors", request_errors_);
  w.kv("watches", static_cast<uint64_t>(streams_.watch_count()));
  w.kv("logStreams", static_cast<uint64_t>(streams_.follower_count()));
  w.end_object();
  conn.send(proto::ok_line(req.id_json, out));
  return {};
}

}  // namespace agent::server
