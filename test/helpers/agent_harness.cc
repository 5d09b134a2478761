#include "test/helpers/agent_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "agent/common/fs.h"
#include "agent/files/tree.h"
#include "agent/json/writer.h"

extern char** environ;

namespace test {

TempDir::TempDir() {
  // Short paths: a Unix socket path must fit in 108 bytes.
  char tmpl[] = "/tmp/rdt.XXXXXX";
  char* p = mkdtemp(tmpl);
  path_ = p != nullptr ? p : "/tmp";
}

TempDir::~TempDir() {
  if (path_ != "/tmp") (void)agent::files::remove_tree(path_);
}

std::unique_ptr<AgentProcess> AgentProcess::start(const std::string& binary,
                                                  const std::string& config_yaml,
                                                  const std::string& state_dir) {
  std::unique_ptr<AgentProcess> a(new AgentProcess());
  a->socket_ = a->tmp_.path() + "/s.sock";
  a->state_dir_ = state_dir.empty() ? a->tmp_.path() + "/state" : state_dir;
  a->log_path_ = a->tmp_.path() + "/agent.log";
  std::string config = a->tmp_.path() + "/agent.yaml";
  {
    std::ofstream out(config);
    out << config_yaml << "\n";
  }
  std::vector<std::string> args = {binary, "--socket", a->socket_, "--state-dir", a->state_dir_,
                                   "--config", config};
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, a->log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawn(&a->pid_, binary.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << binary << ": " << strerror(rc);
    return nullptr;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    Client c(a->socket_);
    if (c.connected()) return a;
    int status;
    if (waitpid(a->pid_, &status, WNOHANG) == a->pid_) {
      a->pid_ = -1;
      ADD_FAILURE() << "runnerd exited at start; its log:\n" << a->log();
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "runnerd did not accept on " << a->socket_ << " within 10 s; its log:\n"
                << a->log();
  return nullptr;
}

AgentProcess::~AgentProcess() {
  if (pid_ > 0 && !stop(SIGTERM, std::chrono::seconds(20))) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

std::optional<int> AgentProcess::stop(int sig, std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return 0;
  kill(pid_, sig);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

std::string AgentProcess::log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void AgentTest::SetUp() {
  agent_ = AgentProcess::start(RUNNERD_BIN, config_yaml_);
  ASSERT_TRUE(agent_);
  client_ = std::make_unique<Client>(agent_->socket());
  ASSERT_TRUE(client_->connected());
}

void AgentTest::TearDown() {
  client_.reset();
  if (!agent_) return;
  auto status = agent_->stop(SIGTERM, std::chrono::seconds(20));
  ASSERT_TRUE(status.has_value()) << "runnerd did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << agent_->log();
}

std::optional<Message> parse_message(std::string text) {
  Message m;
  m.text = std::move(text);
  m.parser = std::make_unique<simdjson::dom::parser>();
  if (m.parser->parse(m.text).get(m.root) != simdjson::SUCCESS) return std::nullopt;
  return m;
}

simdjson::dom::element Message::at(std::string_view p) const {
  simdjson::dom::element e;
  if (root.at_pointer(p).get(e) != simdjson::SUCCESS) return {};
  return e;
}

bool Message::has(std::string_view p) const {
  simdjson::dom::element e;
  return root.at_pointer(p).get(e) == simdjson::SUCCESS;
}

bool Message::truth(std::string_view p) const {
  bool b = false;
  return root.at_pointer(p).get_bool().get(b) == simdjson::SUCCESS && b;
}

std::string Message::str(std::string_view p) const {
  std::string_view s;
  if (root.at_pointer(p).get_string().get(s) != simdjson::SUCCESS) return {};
  return std::string(s);
}

int64_t Message::num(std::string_view p, int64_t dflt) const {
  int64_t v;
  if (root.at_pointer(p).get_int64().get(v) != simdjson::SUCCESS) return dflt;
  return v;
}

Client::Client(const std::string& socket) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  socket.copy(addr.sun_path, sizeof addr.sun_path - 1);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

Client::~Client() {
  if (fd_ >= 0) close(fd_);
}

bool Client::send_raw(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::optional<std::string> Client::read_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    size_t nl = buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char tmp[65536];
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return std::nullopt;
    buf_.append(tmp, static_cast<size_t>(n));
  }
}

std::optional<Message> Client::read_message(std::chrono::milliseconds timeout) {
  auto line = read_line(timeout);
  if (!line) return std::nullopt;
  auto m = parse_message(std::move(*line));
  EXPECT_TRUE(m.has_value()) << "agent sent a line that is not JSON";
  return m;
}

std::optional<Message> Client::call(const std::string& request_json,
                                    std::chrono::milliseconds timeout) {
  int64_t id = next_id();
  std::string req = request_json;
  // Insert the id as the first member.
  req.insert(1, "\"id\":" + std::to_string(id) + (req.size() > 2 ? "," : ""));
  if (!send_raw(req + "\n")) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = read_message(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!m) return std::nullopt;
    if (m->num("/id") == id && !m->has("/event")) return m;
    backlog.push_back(std::move(*m));
  }
  return std::nullopt;
}

std::vector<Message> Client::read_stream(int64_t id, std::chrono::milliseconds timeout) {
  std::vector<Message> out;
  for (auto it = backlog.begin(); it != backlog.end();) {
    if (it->num("/id") == id) {
      bool end = it->str("/event") == "end";
      out.push_back(std::move(*it));
      it = backlog.erase(it);
      if (end) return out;
    } else {
      ++it;
    }
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = read_message(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!m) break;
    if (m->num("/id") != id) {
      backlog.push_back(std::move(*m));
      continue;
    }
    bool end = m->str("/event") == "end";
    out.push_back(std::move(*m));
    if (end) return out;
  }
  ADD_FAILURE() << "stream " << id << " did not end";
  return out;
}

std::string submit_flow(Client& c, const std::string& flow_json) {
  // Raw newlines in JSON can only be whitespace; the protocol is one line per message.
  std::string flat = flow_json;
  for (char& ch : flat) {
    if (ch == '\n') ch = ' ';
  }
  auto r = c.call("{\"op\":\"submit\",\"flow\":" + flat + "}");
  if (!r) {
    ADD_FAILURE() << "no answer to submit";
    return {};
  }
  EXPECT_TRUE(r->truth("/ok")) << r->text;
  return r->str("/result/executionId");
}

std::string wait_final(Client& c, const std::string& exec_id, std::chrono::milliseconds timeout) {
  auto r = c.call("{\"op\":\"watch\",\"executionId\":\"" + exec_id + "\"}");
  if (!r) return {};
  int64_t id = r->num("/id");
  auto events = c.read_stream(id, timeout);
  if (events.empty() || events.back().str("/event") != "end") return {};
  return events.back().str("/state");
}

std::vector<std::string> log_lines(Client& c, const std::string& exec_id) {
  std::vector<std::string> out;
  auto r = c.call("{\"op\":\"logs\",\"executionId\":\"" + exec_id + "\"}");
  if (!r) return out;
  for (auto& m : c.read_stream(r->num("/id"))) {
    if (m.str("/event") != "logs") continue;
    simdjson::dom::array lines;
    if (m.root.at_pointer("/lines").get_array().get(lines) != simdjson::SUCCESS) continue;
    for (auto l : lines) {
      std::string_view level, msg;
      if (l["level"].get_string().get(level) != simdjson::SUCCESS) level = "?";
      if (l["message"].get_string().get(msg) != simdjson::SUCCESS) msg = "?";
      out.push_back(std::string(level) + " " + std::string(msg));
    }
  }
  return out;
}

CommandResult run_command(const std::string& shell_command) {
  CommandResult r;
  FILE* p = popen(shell_command.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string json_quote(std::string_view s) {
  std::string out;
  agent::json::append_quoted(out, s);
  return out;
}

std::string shell_flow(const std::vector<std::string>& commands, const std::string& extra) {
  std::string cmds;
  for (const auto& c : commands) cmds += (cmds.empty() ? "" : ",") + json_quote(c);
  return "{\"id\":\"t\",\"namespace\":\"test\",\"tasks\":[{\"id\":\"sh\",\"type\":"
         "\"io.kestra.plugin.scripts.shell.Commands\",\"taskRunner\":{\"type\":"
         "\"io.kestra.plugin.core.runner.Process\"},\"commands\":[" +
         cmds + "]" + extra + "}]}";
}

}  // namespace test
