// The Docker Engine API over one Unix socket, on the agent's HTTP client (curl
// multi on the loop). Paths are the API's own ("/containers/create"); the
// version prefix is added here. Every failure becomes one line that names the
// call, the cause and, for a socket that cannot be reached, the fix. Every
// call is counted by kind, with its latency, in the runner's EngineStats.
// Loop thread only.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "agent/common/result.h"
#include "agent/http/client.h"
#include "runners/docker/engine_stats.h"

namespace runners::docker {

// The API version every path is prefixed with: the newest one podman 4 speaks,
// and one that Docker 20.10 and later accept.
inline constexpr std::string_view kApiVersion = "v1.41";

// "unix:///var/run/docker.sock" or "/var/run/docker.sock" -> the path.
std::string socket_path_of(std::string_view host);

class Engine {
 public:
  using Done = std::function<void(agent::Result<agent::http::Response>)>;

  // `stats`, when given, must outlive every call made through this Engine
  // (the runner's, which outlives its tasks and closes the client first).
  Engine(agent::http::HttpClient& http, std::string socket, EngineStats* stats = nullptr)
      : http_(http), socket_(std::move(socket)), stats_(stats) {}

  const std::string& socket() const { return socket_; }

  // A call whose answer is buffered. `what` names it in errors ("create
  // container"). Any HTTP status reaches `done`: use check() to accept some.
  agent::http::RequestId call(std::string method, std::string path, std::string body, Done done,
                              agent::http::Headers headers = {},
                              std::chrono::milliseconds timeout = std::chrono::milliseconds{0});

  // A call whose body arrives in pieces (logs, attach).
  agent::http::RequestId stream(std::string path, agent::http::HttpClient::HeadFn on_head,
                                agent::http::HttpClient::DataFn on_data,
                                agent::http::HttpClient::EndFn on_end);

  void cancel(agent::http::RequestId id) { http_.cancel(id); }
  void pause(agent::http::RequestId id, bool paused) { http_.pause(id, paused); }

  // The answer if its status is one of `accepted`, else one error line:
  // "<what>: <engine message> (HTTP 409)", or, when the socket could not be
  // reached, which socket, why, and how to fix it.
  agent::Result<agent::http::Response> check(agent::Result<agent::http::Response> answer,
                                             std::string_view what,
                                             std::initializer_list<long> accepted) const;

  // The error for a transport failure (the request never got an answer).
  agent::Error transport_error(const agent::Error& error, std::string_view what) const;

 private:
  agent::http::HttpClient& http_;
  std::string socket_;
  EngineStats* stats_;
};

// Percent-encodes a query parameter's value (RFC 3986 unreserved kept).
std::string query_escape(std::string_view value);

// The "message" of an engine error body ({"message": "..."}), or the body.
std::string engine_message(std::string_view body);

}  // namespace runners::docker
