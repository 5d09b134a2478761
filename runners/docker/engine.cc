#include "runners/docker/engine.h"

#include <strings.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <simdjson.h>
#include <uv.h>

namespace runners::docker {

namespace {

using agent::Errc;
using agent::Error;

std::string url(std::string_view path) {
  std::string u = "http://docker/";
  u += kApiVersion;
  u += path;
  return u;
}

}  // namespace

std::string socket_path_of(std::string_view host) {
  if (host.starts_with("unix://")) host.remove_prefix(7);
  return std::string(host);
}

std::string query_escape(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string engine_message(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view message;
  if (parser.parse(body.data(), body.size()).get(doc) == simdjson::SUCCESS &&
      doc["message"].get_string().get(message) == simdjson::SUCCESS) {
    return std::string(message);
  }
  std::string out;
  for (char c : body) {
    if (out.size() >= 300) break;
    out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

agent::http::RequestId Engine::call(std::string method, std::string path, std::string body, Done done,
                                    agent::http::Headers headers, std::chrono::milliseconds timeout) {
  agent::http::Request r;
  r.method = std::move(method);
  r.url = url(path);
  r.unix_socket = socket_;
  r.body = std::move(body);
  r.timeout = timeout;
  r.headers = std::move(headers);
  if (!r.body.empty()) {
    bool typed = false;
    for (const auto& [k, v] : r.headers) typed = typed || strcasecmp(k.c_str(), "Content-Type") == 0;
    if (!typed) r.headers.emplace_back("Content-Type", "application/json");
  }
  if (stats_ == nullptr) return http_.send(std::move(r), std::move(done));
  // Timed up to the moment the answer reaches the runner, the latency the
  // task sees (the loop's own delay included).
  CallKind kind = call_kind(r.method, path);
  return http_.send(std::move(r), [stats = stats_, kind, t0 = uv_hrtime(),
                                   done = std::move(done)](agent::Result<agent::http::Response> a) {
    stats->record(kind, !a.ok() || a->status >= 400, uv_hrtime() - t0);
    done(std::move(a));
  });
}

agent::http::RequestId Engine::stream(std::string path, agent::http::HttpClient::HeadFn on_head,
                                      agent::http::HttpClient::DataFn on_data,
                                      agent::http::HttpClient::EndFn on_end) {
  agent::http::Request r;
  r.url = url(path);
  r.unix_socket = socket_;
  if (stats_ == nullptr) {
    return http_.stream(std::move(r), std::move(on_head), std::move(on_data), std::move(on_end));
  }
  // A stream counts from its request to its end; its status comes with the head.
  auto status = std::make_shared<long>(0);
  return http_.stream(
      std::move(r),
      [status, on_head = std::move(on_head)](const agent::http::Response& head) {
        *status = head.status;
        if (on_head) on_head(head);
      },
      std::move(on_data),
      [stats = stats_, kind = call_kind("GET", path), status, t0 = uv_hrtime(),
       on_end = std::move(on_end)](agent::Status st) {
        stats->record(kind, !st.ok() || *status >= 400, uv_hrtime() - t0);
        on_end(std::move(st));
      });
}

Error Engine::transport_error(const Error& error, std::string_view what) const {
  if (error.code() == Errc::kCancelled) return error;
  if (error.code() == Errc::kUnavailable) {
    // Why the socket could not be reached, in the words a user can act on.
    // One access() on the failure path only.
    std::string why;
    if (::access(socket_.c_str(), F_OK) != 0) {
      why = "no such socket";
    } else if (::access(socket_.c_str(), R_OK | W_OK) != 0) {
      why = std::string("permission denied (") + std::strerror(errno) +
            "): add the agent's user to the socket's group";
    } else {
      why = error.message();
    }
    return Error(Errc::kUnavailable,
                 std::string(what) + ": cannot reach the container engine at unix://" + socket_ +
                     ": " + why +
                     "; start Docker or podman's service (podman system service --time=0 unix://" +
                     socket_ +
                     "), point the runner's `host` or the agent's docker.host option at the "
                     "engine's socket, or run the task with taskRunner: {type: "
                     "io.kestra.plugin.core.runner.Process}");
  }
  return Error(error.code(), std::string(what) + ": " + error.message());
}

agent::Result<agent::http::Response> Engine::check(agent::Result<agent::http::Response> answer,
                                                   std::string_view what,
                                                   std::initializer_list<long> accepted) const {
  if (!answer.ok()) return transport_error(answer.error(), what);
  for (long s : accepted) {
    if (answer->status == s) return answer;
  }
  Error e = agent::http::error_from_http(*answer, what);
  return Error(e.code(), std::string(what) + ": " + engine_message(answer->body) + " (HTTP " +
                             std::to_string(answer->status) + ")");
}

}  // namespace runners::docker
