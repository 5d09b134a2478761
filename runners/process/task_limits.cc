#include "runners/process/task_limits.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "runners/process/control_files.h"

namespace runners::process {

namespace {

constexpr const char* kNames[3] = {"cpu", "memory", "pids"};
constexpr const char* kProperty[3] = {"taskRunner.resources.cpus", "taskRunner.resources.memory",
                                      "taskRunner.resources.pids"};
constexpr int64_t kCpuPeriodUs = 100000;

std::vector<std::string> words(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string w;
  for (char c : text) {
    if (c == sep || c == '\n' || c == ' ') {
      if (!w.empty()) out.push_back(std::move(w));
      w.clear();
    } else {
      w += c;
    }
  }
  if (!w.empty()) out.push_back(std::move(w));
  return out;
}

bool has_word(const std::string& text, const std::string& word) {
  for (const auto& w : words(text, ' ')) {
    if (w == word) return true;
  }
  return false;
}

std::string parent_of(const std::string& dir) { return dir.substr(0, dir.rfind('/')); }

// The agent's own directory in the v1 hierarchy of `controller`, or "" with `why`.
std::string v1_own_dir(const std::string& controller, std::string& why) {
  std::string mount, root;
  std::istringstream info(read_file("/proc/self/mountinfo"));
  for (std::string line; std::getline(info, line);) {
    std::vector<std::string> f = words(line, ' ');
    size_t dash = 0;
    while (dash < f.size() && f[dash] != "-") dash++;
    if (dash < 5 || dash + 3 >= f.size() || f[dash + 1] != "cgroup") continue;
    for (const auto& opt : words(f[dash + 3], ',')) {
      if (opt == controller) {
        root = f[3];
        mount = f[4];
      }
    }
  }
  if (mount.empty()) {
    why = "no cgroup v1 hierarchy has the " + controller + " controller either";
    return "";
  }
  std::string own;
  bool found = false;
  std::istringstream lines(read_file("/proc/self/cgroup"));
  for (std::string line; std::getline(lines, line);) {
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    for (const auto& c : words(line.substr(a + 1, b - a - 1), ',')) {
      if (c == controller) {
        own = line.substr(b + 1);
        found = true;
      }
    }
  }
  if (!found) {
    why = "the agent has no " + controller + " cgroup in /proc/self/cgroup";
    return "";
  }
  if (root != "/" && own.rfind(root, 0) == 0) own = own.substr(root.size());
  if (own == "/") own.clear();
  return mount + own;
}

// cgroup v2's no-internal-process rule: `dir` can pass controllers on only
// when no process is in it. When the agent is its only process, the agent
// moves into a leaf of its own beside its task root.
agent::Status leave_for_leaf(const std::string& dir) {
  std::vector<std::string> procs = words(read_file(dir + "/cgroup.procs"), ' ');
  if (procs.size() != 1 || procs[0] != std::to_string(getpid())) {
    return agent::Error(agent::Errc::kUnavailable,
                        "other processes share the agent's cgroup " + dir +
                            ", and a cgroup that holds processes cannot pass controllers on (run the "
                            "agent in a cgroup of its own, e.g. a systemd service with Delegate=yes)");
  }
  std::string leaf = dir + "/runnerd-agent";
  if (mkdir(leaf.c_str(), 0755) != 0 && errno != EEXIST) {
    return agent::Error::from_errno(errno, "creating cgroup " + leaf);
  }
  return write_file(leaf + "/cgroup.procs", std::to_string(getpid()));
}

// Enables `controller` for the task cgroups under `root` (v2).
agent::Status enable_v2(const std::string& root, const std::string& controller) {
  if (!has_word(read_file(root + "/cgroup.controllers"), controller)) {
    std::string parent = parent_of(root);
    if (!has_word(read_file(parent + "/cgroup.controllers"), controller)) {
      return agent::Error(agent::Errc::kUnavailable,
                          "cgroup v2: the agent's cgroup " + parent + " is not given the " + controller +
                              " controller (not in its cgroup.controllers)");
    }
    int err = 0;
    agent::Status st = write_file(parent + "/cgroup.subtree_control", "+" + controller, &err);
    if (err == EBUSY) {  // processes in `parent`: the no-internal-process rule
      agent::Status moved = leave_for_leaf(parent);
      if (!moved.ok()) return std::move(moved).error().context("cgroup v2: enabling " + controller);
      st = write_file(parent + "/cgroup.subtree_control", "+" + controller);
    }
    if (!st.ok()) return std::move(st).error().context("cgroup v2: enabling " + controller);
  }
  if (has_word(read_file(root + "/cgroup.subtree_control"), controller)) return {};
  agent::Status st = write_file(root + "/cgroup.subtree_control", "+" + controller);
  if (!st.ok()) return std::move(st).error().context("cgroup v2: enabling " + controller);
  return {};
}

std::string memory_text(int64_t bytes) {
  if (bytes % (1 << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

// 1500 -> "1.5"
std::string cpus_text(int64_t millicpus) {
  std::string out = std::to_string(millicpus / 1000);
  int64_t frac = millicpus % 1000;
  if (frac == 0) return out;
  char buf[8];
  std::snprintf(buf, sizeof buf, "%03lld", static_cast<long long>(frac));
  std::string f = buf;
  while (f.back() == '0') f.pop_back();
  return out + "." + f;
}

}  // namespace

void TaskLimits::close_fds() {
  for (int fd : join_fds) ::close(fd);
  join_fds.clear();
}

void Limits::init(bool allowed, const std::string& v2_root, const std::string& why_no_v2,
                  const std::string& name) {
  for (int c = 0; c < 3; c++) {
    Where& w = where_[c];
    w = Where{};
    if (!allowed) {
      w.why_not = "the agent's configuration disables task cgroups (process.cgroups: false)";
      continue;
    }
    std::string v2_why = why_no_v2;
    if (!v2_root.empty()) {
      agent::Status st = enable_v2(v2_root, kNames[c]);
      if (st.ok()) {
        w.v2 = true;
        continue;
      }
      v2_why = st.error().message();
    }
    std::string v1_why;
    std::string own = v1_own_dir(kNames[c], v1_why);
    if (!own.empty()) {
      std::string dir = own + "/" + name;
      if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        v1_why = std::string("cgroup v1: creating ") + dir + ": " + std::strerror(errno);
      } else if (access((dir + "/cgroup.procs").c_str(), W_OK) != 0) {
        v1_why = "cgroup v1: " + dir + " is not writable";
      } else {
        w.v1_dir = dir;
        continue;
      }
    }
    w.why_not = v2_why + "; " + v1_why;
  }
}

std::string Limits::describe() const {
  std::string v2, v1, none;
  for (int c = 0; c < 3; c++) {
    std::string& list = where_[c].v2 ? v2 : !where_[c].v1_dir.empty() ? v1 : none;
    list += (list.empty() ? "" : ", ") + std::string(kNames[c]);
  }
  std::string out;
  if (!v2.empty()) out += v2 + " through cgroup v2";
  if (!v1.empty()) out += (out.empty() ? "" : "; ") + v1 + " through cgroup v1 (hybrid host)";
  for (int c = 0; c < 3; c++) {
    if (!where_[c].v2 && where_[c].v1_dir.empty()) {
      out += (out.empty() ? "" : "; ") + std::string("no ") + kNames[c] + " limits: " + where_[c].why_not;
    }
  }
  return out;
}

agent::Result<TaskLimits> Limits::apply(const agent::runner::ResourceGrant& g, const std::string& task_v2_dir,
                                        const std::string& task_name) {
  TaskLimits out;
  int64_t asked[3] = {g.millicpus, g.memory_bytes, g.pids};
  std::string values[3] = {cpus_text(g.millicpus) + " CPUs", memory_text(g.memory_bytes),
                           std::to_string(g.pids) + " processes"};
  auto fail = [&](int c, const std::string& why) {
    out.close_fds();
    for (const auto& d : out.v1_dirs) rmdir(d.c_str());
    return agent::Error(agent::Errc::kUnavailable,
                        "the limit (" + values[c] + ") cannot be enforced on this host: " + why,
                        kProperty[c]);
  };
  for (int c = 0; c < 3; c++) {
    if (asked[c] <= 0) continue;
    const Where& w = where_[c];
    if (w.v2) {
      if (task_v2_dir.empty()) return fail(c, "the task has no cgroup");
      agent::Status st;
      if (c == kCpu) {
        st = write_file(task_v2_dir + "/cpu.max",
                        std::to_string(g.millicpus * kCpuPeriodUs / 1000) + " " + std::to_string(kCpuPeriodUs));
      } else if (c == kMemory) {
        st = write_file(task_v2_dir + "/memory.max", std::to_string(g.memory_bytes));
        // Killed at its limit rather than swapped out (no swap: no file).
        if (st.ok() && exists(task_v2_dir + "/memory.swap.max")) {
          st = write_file(task_v2_dir + "/memory.swap.max", "0");
        }
        out.oom_file = task_v2_dir + "/memory.events";
      } else {
        st = write_file(task_v2_dir + "/pids.max", std::to_string(g.pids));
      }
      if (!st.ok()) return fail(c, st.error().message());
      continue;
    }
    if (w.v1_dir.empty()) return fail(c, w.why_not);
    std::string dir = w.v1_dir + "/" + task_name;
    if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return fail(c, std::string("cgroup v1: creating ") + dir + ": " + std::strerror(errno));
    }
    out.v1_dirs.push_back(dir);
    agent::Status st;
    if (c == kCpu) {
      st = write_file(dir + "/cpu.cfs_period_us", std::to_string(kCpuPeriodUs));
      if (st.ok()) st = write_file(dir + "/cpu.cfs_quota_us", std::to_string(g.millicpus * kCpuPeriodUs / 1000));
    } else if (c == kMemory) {
      st = write_file(dir + "/memory.limit_in_bytes", std::to_string(g.memory_bytes));
      // Memory and swap together (where swap is accounted): killed, not swapped.
      if (st.ok() && exists(dir + "/memory.memsw.limit_in_bytes")) {
        st = write_file(dir + "/memory.memsw.limit_in_bytes", std::to_string(g.memory_bytes));
      }
      out.oom_file = dir + "/memory.oom_control";
    } else {
      st = write_file(dir + "/pids.max", std::to_string(g.pids));
    }
    if (!st.ok()) return fail(c, st.error().message());
    int fd = open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return fail(c, std::string("cgroup v1: opening ") + dir + "/cgroup.procs: " + std::strerror(errno));
    out.join_fds.push_back(fd);
  }
  return out;
}

std::vector<std::string> Limits::v1_roots() const {
  std::vector<std::string> out;
  for (const auto& w : where_) {
    if (!w.v1_dir.empty()) out.push_back(w.v1_dir);
  }
  return out;
}

int64_t oom_kills(const std::string& oom_file) {
  if (oom_file.empty()) return 0;
  std::istringstream in(read_file(oom_file));
  int64_t total = 0;
  std::string key;
  int64_t value = 0;
  while (in >> key >> value) {
    if (key == "oom_kill" || key == "oom_group_kill") total += value;
  }
  return total;
}

}  // namespace runners::process
