#include "test/helpers/engine_service.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

extern char** environ;

namespace test {

namespace {

// The configuration scripts/setup-podman.sh gives the shared service: what
// this host needs (runc, cgroupfs, no default ulimits).
constexpr const char* kContainersConf =
    "[containers]\n"
    "default_ulimits = []\n"
    "\n"
    "[engine]\n"
    "runtime = \"runc\"\n"
    "cgroup_manager = \"cgroupfs\"\n"
    "events_logger = \"file\"\n";

}  // namespace

std::unique_ptr<EngineService> EngineService::start(const std::string& dir) {
  std::unique_ptr<EngineService> s(new EngineService());
  s->dir_ = dir;
  s->socket_ = dir + "/engine.sock";
  std::ofstream(dir + "/containers.conf") << kContainersConf;
  if (!s->launch()) return nullptr;
  return s;
}

bool EngineService::launch() {
  ::unlink(socket_.c_str());
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; e++) {
    if (std::strncmp(*e, "CONTAINERS_CONF=", 16) != 0) env.emplace_back(*e);
  }
  env.push_back("CONTAINERS_CONF=" + dir_ + "/containers.conf");
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = {"podman", "system", "service", "--time=0", "unix://" + socket_};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string log_path = dir_ + "/service.log";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  int rc = posix_spawnp(&pid_, "podman", &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    pid_ = -1;
    ADD_FAILURE() << "cannot start podman: " << std::strerror(rc);
    return false;
  }
  std::ofstream(dir_ + "/service.pid") << pid_ << "\n";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (answers()) return true;
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "podman's service did not answer on " << socket_ << "; its log:\n" << log();
  return false;
}

EngineService::~EngineService() { kill9(); }

void EngineService::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool EngineService::restart() {
  kill9();
  return launch();
}

bool EngineService::answers() const { return call("GET", "/version").status == 200; }

EngineAnswer EngineService::call(const std::string& method, const std::string& path,
                                 const std::string& body) const {
  return engine_call_on(socket_, method, path, body);
}

std::optional<Message> EngineService::containers_with_label(const std::string& key,
                                                            const std::string& value) const {
  return containers_with_label_on(socket_, key, value);
}

int EngineService::count_events(const std::string& action, const std::string& key, const std::string& value,
                                long since_unix) const {
  std::string filters = "{\"label\":[\"" + key + "=" + value + "\"]}";
  EngineAnswer a = call("GET", "/events?stream=false&since=" + std::to_string(since_unix) +
                                   "&until=" + std::to_string(time(nullptr) + 1) + "&filters=" + url_escape(filters));
  if (a.status != 200) return -1;
  int n = 0;
  std::istringstream in(a.body);
  std::string line;
  while (std::getline(in, line)) {
    auto m = parse_message(line);
    if (m && m->str("/Action") == action) n++;
  }
  return n;
}

void EngineService::remove_containers_with_label(const std::string& key, const std::string& value) const {
  remove_containers_with_label_on(socket_, key, value);
}

std::string EngineService::log() const {
  std::ifstream in(dir_ + "/service.log");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace test
