// A blocking Docker Engine API client for tests (libcurl easy on the engine's
// Unix socket): to check what the agent left behind and to make containers
// by hand. The engine is podman's service set up by scripts/setup-podman.sh.
#pragma once

#include <optional>
#include <string>

#include "test/helpers/agent_harness.h"

namespace test {

// The engine socket for tests: $RUNNERD_TEST_DOCKER_HOST (unix:///path or a
// path), else /tmp/runnerd-podman/podman.sock.
std::string test_engine_socket();

struct EngineAnswer {
  long status = 0;  // 0: no answer (the socket could not be reached)
  std::string body;
};

EngineAnswer engine_call(const std::string& method, const std::string& path, const std::string& body = "");
// The same on another engine's socket (a test's own service: engine_service.h).
EngineAnswer engine_call_on(const std::string& socket, const std::string& method, const std::string& path,
                            const std::string& body = "");
// Percent-encodes a query parameter's value.
std::string url_escape(const std::string& s);

// An agent configuration whose Docker runner uses the test engine, ending in
// its `docker:` block (more of its keys may be appended, indented by two).
std::string docker_agent_config();

// Whether the engine answers; else a message saying how to start it.
std::optional<std::string> engine_missing();

// The containers (all states) carrying label `key=value`, as parsed JSON.
std::optional<Message> containers_with_label(const std::string& key, const std::string& value);
std::optional<Message> containers_with_label_on(const std::string& socket, const std::string& key,
                                                const std::string& value);

// Removes every container carrying `key=value` (force).
void remove_containers_with_label(const std::string& key, const std::string& value);
void remove_containers_with_label_on(const std::string& socket, const std::string& key, const std::string& value);

}  // namespace test
