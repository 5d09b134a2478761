// Integration-test harness: starts the real runnerd on a temporary socket and
// state directory, and talks to it with a blocking protocol client.
#pragma once

#include <simdjson.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace test {

// A temporary directory removed with everything in it at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class AgentProcess {
 public:
  // Starts `binary` with a config file holding `config_yaml` and waits until its
  // socket accepts. Fails the current test (and returns null) if it does not.
  static std::unique_ptr<AgentProcess> start(const std::string& binary,
                                             const std::string& config_yaml = "",
                                             const std::string& state_dir = "");
  ~AgentProcess();

  const std::string& socket() const { return socket_; }
  const std::string& state_dir() const { return state_dir_; }
  const std::string& dir() const { return tmp_.path(); }
  pid_t pid() const { return pid_; }
  // Sends `sig` and waits up to `timeout` for exit; returns the wait status, or
  // nullopt if it is still running.
  std::optional<int> stop(int sig, std::chrono::milliseconds timeout);
  // The agent's stderr so far.
  std::string log() const;

 private:
  AgentProcess() = default;
  TempDir tmp_;
  std::string socket_, state_dir_, log_path_;
  pid_t pid_ = -1;
};

// One parsed JSON message; keeps its parser alive.
struct Message {
  std::string text;
  std::unique_ptr<simdjson::dom::parser> parser;
  simdjson::dom::element root;

  std::string str(std::string_view json_pointer) const;     // "" if absent
  int64_t num(std::string_view json_pointer, int64_t dflt = -1) const;
  bool has(std::string_view json_pointer) const;
  bool truth(std::string_view json_pointer) const;  // the value is JSON true
  simdjson::dom::element at(std::string_view json_pointer) const;
};
std::optional<Message> parse_message(std::string text);

class Client {
 public:
  explicit Client(const std::string& socket);
  ~Client();
  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  bool send_raw(std::string_view bytes);
  // The next line, or nullopt after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  std::optional<Message> read_message(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Sends a request (a JSON object without "id"; one is added) and returns the
  // response carrying that id. Events of other streams read meanwhile are kept
  // in `backlog`.
  std::optional<Message> call(const std::string& request_json,
                              std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Reads messages with id `id` until an "end" event; returns all of them.
  std::vector<Message> read_stream(int64_t id, std::chrono::milliseconds timeout =
                                                   std::chrono::seconds(60));
  int64_t next_id() { return ++last_id_; }

  std::vector<Message> backlog;

 private:
  int fd_ = -1;
  std::string buf_;
  int64_t last_id_ = 0;
};

// A test with a running agent (started with `config_yaml`) and one connected
// client. TearDown stops the agent with SIGTERM and checks that it exits 0,
// which runnerd does only when its loop closed with no handle left open.
class AgentTest : public ::testing::Test {
 protected:
  explicit AgentTest(std::string config_yaml = "") : config_yaml_(std::move(config_yaml)) {}
  void SetUp() override;
  void TearDown() override;
  std::unique_ptr<AgentProcess> agent_;
  std::unique_ptr<Client> client_;

 private:
  std::string config_yaml_;
};

// Runs a flow (YAML or JSON text is not parsed here: pass JSON) and returns the
// execution id; waits for the end when `wait` is set.
std::string submit_flow(Client& c, const std::string& flow_json);
// Waits for an execution to be final; returns its final state.
std::string wait_final(Client& c, const std::string& exec_id,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60));
// All log messages of an execution, in order, as "LEVEL message".
std::vector<std::string> log_lines(Client& c, const std::string& exec_id);

// A one-task flow JSON running `commands` through the Process runner.
std::string shell_flow(const std::vector<std::string>& commands, const std::string& extra = "");
std::string json_quote(std::string_view s);

// Runs `shell_command` and returns its exit status (-1 if it did not exit) and stdout.
struct CommandResult {
  int status = -1;
  std::string out;
};
CommandResult run_command(const std::string& shell_command);

}  // namespace test
