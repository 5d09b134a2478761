// A podman Docker-API service of a test's own, on its own socket, that the
// test may kill (-9) and start again without disturbing the shared service of
// scripts/setup-podman.sh that other tests use. Both work on podman's one
// store, so the shared service's local images are there. One service per
// socket: the pid is also written to <dir>/service.pid, as setup-podman.sh does.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "test/helpers/engine_client.h"

namespace test {

class EngineService {
 public:
  // Starts `podman system service` on <dir>/engine.sock and waits until it
  // answers (up to 30 s); null (with a test failure) if it does not.
  static std::unique_ptr<EngineService> start(const std::string& dir);
  ~EngineService();  // kills and reaps the service

  const std::string& socket() const { return socket_; }
  pid_t pid() const { return pid_; }
  // SIGKILL, reaped. The containers keep running under their conmon.
  void kill9();
  // Starts it again on the same socket; false (with the log) if it does not answer within 30 s.
  bool restart();
  bool answers() const;
  // One Engine API call through this service's socket (status 0: no answer).
  EngineAnswer call(const std::string& method, const std::string& path, const std::string& body = "") const;
  // The containers in any state carrying label key=value (parsed JSON array).
  std::optional<Message> containers_with_label(const std::string& key, const std::string& value) const;
  // How many `action` events ("create", "start", ...) the engine recorded since
  // `since_unix` for containers carrying label key=value; -1 if it did not answer.
  int count_events(const std::string& action, const std::string& key, const std::string& value,
                   long since_unix) const;
  void remove_containers_with_label(const std::string& key, const std::string& value) const;
  std::string log() const;

 private:
  EngineService() = default;
  bool launch();
  std::string dir_, socket_;
  pid_t pid_ = -1;
};

}  // namespace test
