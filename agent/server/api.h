// The protocol's operations (proto/PROTOCOL.md): decodes each request line,
// answers it, and keeps the streams it opens. Errors are answered, never
// fatal: a bad request costs its sender one error line.
// Threading: loop thread only.
#pragma once

#include <simdjson.h>

#include <functional>

#include "agent/config/config.h"
#include "agent/metrics/registry.h"
#include "agent/server/flow_cache.h"
#include "agent/server/server.h"
#include "agent/server/streams.h"
#include "agent/supervisor/supervisor.h"
#include "proto/request.h"

namespace agent::server {

class Api final : public ConnectionHandler, public SupervisorListener {
 public:
  Api(uv_loop_t* loop, Supervisor& supervisor, const AgentConfig& config);
  void set_server(Server* server);
  // Metrics of parts the Api does not know (the metrics listener itself),
  // added to every exposition.
  void set_metrics_writer(std::function<void(metrics::Registry&)> writer) {
    metrics_writer_ = std::move(writer);
  }
  // The Prometheus text exposition of the whole agent: what GET /metrics and
  // `stats` with "format":"prometheus" answer.
  std::string prometheus_text() const;

  // ConnectionHandler
  void on_request(Connection& conn, std::string_view line) override;
  void on_oversize(Connection& conn, size_t limit) override;
  void on_drain(Connection& conn) override;
  void on_closed(Connection& conn) override;
  bool has_streams(const Connection& conn) const override;

  // SupervisorListener
  void on_state(Execution& exec, TaskRun* run) override;
  void on_log_committed(Execution& exec, TaskRun& run) override;

 private:
  Status dispatch(Connection& conn, const proto::Request& req);
  Status op_hello(Connection& conn, const proto::Request& req);
  Status op_submit(Connection& conn, const proto::Request& req);
  Status op_get(Connection& conn, const proto::Request& req);
  Status op_list(Connection& conn, const proto::Request& req);
  Status op_watch(Connection& conn, const proto::Request& req);
  Status op_unwatch(Connection& conn, const proto::Request& req);
  Status op_logs(Connection& conn, const proto::Request& req);
  Status op_cancel(Connection& conn, const proto::Request& req);
  Status op_outputs(Connection& conn, const proto::Request& req);
  Status op_stats(Connection& conn, const proto::Request& req);
  Status op_read_file(Connection& conn, const proto::Request& req);
  static std::string submit_result(const Execution& exec, const flow::Flow& flow);
  Result<Execution*> execution_of(const proto::Request& req);

  uv_loop_t* loop_;
  Supervisor& supervisor_;
  const AgentConfig& config_;
  Server* server_ = nullptr;
  Streams streams_;
  FlowCache flows_;
  simdjson::dom::parser parser_;
  uint64_t requests_ = 0;
  uint64_t request_errors_ = 0;
  std::function<void(metrics::Registry&)> metrics_writer_;
};

}  // namespace agent::server
