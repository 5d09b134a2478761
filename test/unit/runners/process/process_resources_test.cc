// The Process runner's `resources` (a runnerd extension): what requests()
// reads from the taskRunner object, and the grant enforced through the task's
// cgroup (cgroup v2, or the v1 hierarchies of a hybrid host). Where the host
// cannot enforce limits at all, the runner-level tests fail loudly with its error.
#include <signal.h>
#include <unistd.h>

#include <string>

#include "agent/config/config.h"
#include "agent/log/log.h"
#include "runners/process/process_runner.h"
#include "test/helpers/loop_test.h"
#include "test/helpers/task_recorder.h"

extern char** environ;

namespace {

using agent::runner::ExitStatus;
using agent::runner::OutputStream;

using Recorder = test::TaskRecorder;

class ProcessResources : public test::LoopTest {
 protected:
  void SetUp() override {
    test::LoopTest::SetUp();
    agent::log::set_min_severity(agent::log::Severity::kWarn);
    config_.state_dir = "/tmp/runnerd-unit-res-" + std::to_string(getpid());
    make_runner();
  }
  // Until the cgroups of ended tasks are gone (their last processes exit
  // after the SIGKILL), so that none is left behind when the runner closes.
  // The runner's retry timer does not keep the loop alive: a tick of our own does.
  void settle() {
    auto pending = [&] {
      for (const auto& [name, value] : runner_->counters()) {
        if (name == "process_cgroups_pending_removal") return value;
      }
      return int64_t{0};
    };
    if (pending() == 0) return;
    uv_timer_t tick;
    uv_timer_init(&loop_, &tick);
    uv_timer_start(&tick, [](uv_timer_t*) {}, 10, 10);
    EXPECT_TRUE(run_until([&] { return pending() == 0; }, std::chrono::seconds(5)));
    uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  void make_runner() {
    if (runner_) {
      settle();
      runner_->close();
    }
    agent::runner::RunnerContext ctx{&loop_, &config_};
    runners::process::Factory f;
    auto r = f.create(ctx);
    ASSERT_TRUE(r.ok());
    runner_ = std::move(r).value();
  }
  void TearDown() override {
    settle();
    runner_->close();
    test::LoopTest::TearDown();
    runner_.reset();
  }
  agent::runner::TaskSpec spec(std::vector<std::string> argv) {
    agent::runner::TaskSpec s;
    // Unique in the process: a cgroup of an earlier test may still be on its way out.
    static int counter = 0;
    s.task_run_id = "res" + std::to_string(counter++);
    s.argv = std::move(argv);
    for (char** e = environ; *e != nullptr; e++) s.env.emplace_back(*e);
    s.working_dir = "/tmp";
    return s;
  }
  // Runs a task to its end; false when the host cannot enforce the grant
  // (`skip` then says why).
  bool run(agent::runner::TaskSpec s, Recorder& rec, std::string* skip) {
    auto t = runner_->start(s, rec);
    if (!t.ok()) {
      *skip = t.error().path() + ": " + t.error().message();
      EXPECT_NE(t.error().message().find("cannot be enforced"), std::string::npos) << *skip;
      return false;
    }
    EXPECT_TRUE(run_until([&] { return rec.finished > 0; }, std::chrono::seconds(30)));
    runner_->release(std::move(t).value());
    return true;
  }
  agent::AgentConfig config_;
  std::unique_ptr<agent::runner::Runner> runner_;
};

// --- requests(): what the taskRunner object asks --------------------------

TEST_F(ProcessResources, RequestsReadCpusMemoryPidsAndGpus) {
  auto r = runner_->requests(
      R"({"type":"io.kestra.plugin.core.runner.Process","resources":{"cpus":1.5,"memory":"512MiB","pids":200,"gpus":1}})");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->millicpus, 1500);
  EXPECT_EQ(r->memory_bytes, 512LL << 20);
  EXPECT_EQ(r->pids, 200);
  EXPECT_EQ(r->gpus, 1);
  EXPECT_TRUE(r->gpu_ids.empty());

  r = runner_->requests(R"({"resources":{"cpus":"2","memory":"1.5GB","gpuIds":["0","3"]}})");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->millicpus, 2000);
  EXPECT_EQ(r->memory_bytes, 1500000000);
  EXPECT_EQ(r->gpus, 0);
  EXPECT_EQ(r->gpu_ids, (std::vector<std::string>{"0", "3"}));

  r = runner_->requests(R"({"resources":{"memory":1048576,"cpus":0.01,"gpus":-1}})");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->memory_bytes, 1048576);
  EXPECT_EQ(r->millicpus, 10);
  EXPECT_EQ(r->gpus, -1);

  for (const char* none : {"", R"({"type":"io.kestra.plugin.core.runner.Process"})", R"({"resources":{}})"}) {
    auto e = runner_->requests(none);
    ASSERT_TRUE(e.ok()) << none;
    EXPECT_TRUE(e->empty()) << none;
    EXPECT_TRUE(runner_->validate(none).ok()) << none;
  }
}

TEST_F(ProcessResources, EveryBadValueIsRefusedWithItsPropertyPath) {
  struct Case {
    std::string json, path, says;
  };
  for (const auto& c : std::vector<Case>{
           {R"({"resources":{"cpu":1}})", "resources.cpu", "did you mean 'cpus'?"},
           {R"({"resources":{"mem":1}})", "resources.mem", "unknown property"},
           {R"({"resources":{"memroy":"1GiB"}})", "resources.memroy", "did you mean 'memory'?"},
           {R"({"resources":{"gpuIDs":["0"]}})", "resources.gpuIDs", "unknown property"},
           {R"({"resource":{"cpus":1}})", "resource", "did you mean 'resources'?"},
           {R"({"image":"x"})", "image", "unknown property"},
           {R"({"resources":5})", "resources", "object"},
           {R"({"resources":{"cpus":0}})", "resources.cpus", "more than 0"},
           {R"({"resources":{"cpus":-1}})", "resources.cpus", "more than 0"},
           {R"({"resources":{"cpus":0.001}})", "resources.cpus", "at least 0.01"},
           {R"({"resources":{"cpus":1025}})", "resources.cpus", "at most 1024"},
           {R"({"resources":{"cpus":"two"}})", "resources.cpus", "'two'"},
           {R"({"resources":{"cpus":true}})", "resources.cpus", "number"},
           {R"({"resources":{"memory":"512M"}})", "resources.memory", "invalid size"},
           {R"({"resources":{"memory":"12XB"}})", "resources.memory", "invalid size"},
           {R"({"resources":{"memory":"1000KiB"}})", "resources.memory", "at least 1 MiB"},
           {R"({"resources":{"memory":1000}})", "resources.memory", "at least 1 MiB"},
           {R"({"resources":{"memory":-5}})", "resources.memory", "at least 1 MiB"},
           {R"({"resources":{"memory":[1]}})", "resources.memory", "size"},
           {R"({"resources":{"pids":0}})", "resources.pids", "at least 1"},
           {R"({"resources":{"pids":"many"}})", "resources.pids", ""},
           {R"({"resources":{"gpus":-2}})", "resources.gpus", "-1"},
           {R"({"resources":{"gpus":1.5}})", "resources.gpus", ""},
           {R"({"resources":{"gpuIds":[]}})", "resources.gpuIds", "at least one"},
           {R"({"resources":{"gpuIds":"0"}})", "resources.gpuIds", ""},
           {R"({"resources":{"gpuIds":["0",""]}})", "resources.gpuIds[1]", "empty"},
           {R"({"resources":{"gpuIds":["0","0"]}})", "resources.gpuIds[1]", "twice"},
           {R"({"resources":{"gpus":1,"gpuIds":["0"]}})", "resources.gpuIds", "not both"},
           {R"({"resources":{"gpuIds":["0"],"gpus":1}})", "resources.gpus", "not both"},
       }) {
    auto r = runner_->requests(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.error().path(), c.path) << c.json << ": " << r.error().message();
    EXPECT_NE(r.error().message().find(c.says), std::string::npos) << c.json << ": " << r.error().message();
    auto v = runner_->validate(c.json);
    ASSERT_FALSE(v.ok()) << c.json;
    EXPECT_EQ(v.error().path(), c.path);
  }
}

// --- the grant, enforced ---------------------------------------------------

// Prints the limits of the task's own cgroup, the same way on v2 and on a
// hybrid host's v1 hierarchies: "cpu=<quota> <period> memory=<bytes> pids=<n>",
// "max" for no limit, "none" for a v1 controller whose cgroup is not a task's.
constexpr const char* kReadLimits = R"PY(
import os
lines = [l.rstrip("\n").split(":", 2) for l in open("/proc/self/cgroup")]
v2 = [p for i, c, p in lines if i == "0"]
base = "/sys/fs/cgroup" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "/sys/fs/cgroup/unified"
d = base + (v2[0] if v2 else "/-")
def read(path):
    return open(path).read().strip()
def v1(ctrl):
    for i, c, p in lines:
        if ctrl in c.split(","):
            return "/sys/fs/cgroup/" + ctrl + p if "/runnerd-" in p else None
    return None
out = {}
if os.path.exists(d + "/memory.max"):
    out["cpu"] = read(d + "/cpu.max") if os.path.exists(d + "/cpu.max") else "none"
    out["memory"] = read(d + "/memory.max")
    out["pids"] = read(d + "/pids.max") if os.path.exists(d + "/pids.max") else "none"
else:
    c, m, p = v1("cpu"), v1("memory"), v1("pids")
    q = read(c + "/cpu.cfs_quota_us") if c else None
    out["cpu"] = "none" if not c else ("max" if q == "-1" else q) + " " + read(c + "/cpu.cfs_period_us")
    b = int(read(m + "/memory.limit_in_bytes")) if m else 0
    out["memory"] = "none" if not m else ("max" if b >= 1 << 62 else str(b))
    out["pids"] = "none" if not p else read(p + "/pids.max")
print("cpu=%s memory=%s pids=%s" % (out["cpu"], out["memory"], out["pids"]))
)PY";

TEST_F(ProcessResources, ATaskSeesItsGrantInItsOwnCgroup) {
  Recorder rec;
  auto s = spec({"python3", "-c", kReadLimits});
  s.resources.millicpus = 1500;
  s.resources.memory_bytes = 512LL << 20;
  s.resources.pids = 200;
  std::string skip;
  ASSERT_TRUE(run(s, rec, &skip)) << "limits are enforced on this host: " << skip;
  ASSERT_TRUE(rec.outcome.ok());
  EXPECT_EQ(std::get<agent::runner::Exited>(*rec.outcome).code, 0) << rec.err;
  EXPECT_EQ(rec.out, "cpu=150000 100000 memory=536870912 pids=200\n") << rec.err;
}

TEST_F(ProcessResources, ATaskWithNoGrantHasNoLimits) {
  Recorder rec;
  std::string skip;
  ASSERT_TRUE(run(spec({"python3", "-c", kReadLimits}), rec, &skip)) << skip;
  ASSERT_TRUE(rec.outcome.ok());
  EXPECT_EQ(std::get<agent::runner::Exited>(*rec.outcome).code, 0) << rec.err;
  // v2: the task's own cgroup says max; v1: the task is in no task directory.
  EXPECT_TRUE(rec.out == "cpu=max 100000 memory=max pids=max\n" || rec.out == "cpu=none memory=none pids=none\n")
      << rec.out << rec.err;
}

TEST_F(ProcessResources, ATaskOverItsMemoryLimitIsKilledAndSaidOutOfMemory) {
  Recorder rec;
  // tail keeps the whole (newline-less) input in memory: 300 MB against 32 MiB.
  auto s = spec({"/bin/sh", "-c", "head -c 300000000 /dev/zero | tail"});
  s.resources.memory_bytes = 32LL << 20;
  std::string skip;
  ASSERT_TRUE(run(s, rec, &skip)) << "limits are enforced on this host: " << skip;
  ASSERT_TRUE(rec.outcome.ok());
  auto* sig = std::get_if<agent::runner::Signaled>(&*rec.outcome);
  ASSERT_NE(sig, nullptr) << "exited " << std::get<agent::runner::Exited>(*rec.outcome).code << ": " << rec.err;
  EXPECT_TRUE(sig->out_of_memory);
  EXPECT_EQ(sig->signal, SIGKILL);
}

TEST_F(ProcessResources, ATaskThatHandlesAChildsOutOfMemoryKillSucceedsWithANote) {
  Recorder rec;
  auto s = spec({"/bin/sh", "-c", "head -c 300000000 /dev/zero | tail; echo handled"});
  s.resources.memory_bytes = 32LL << 20;
  std::string skip;
  ASSERT_TRUE(run(s, rec, &skip)) << "limits are enforced on this host: " << skip;
  // The pipeline's status is tail's (137), and the shell goes on: exit 0.
  ASSERT_TRUE(rec.outcome.ok());
  auto* e = std::get_if<agent::runner::Exited>(&*rec.outcome);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->code, 0);
  EXPECT_EQ(rec.out, "handled\n");
  EXPECT_NE(rec.notes.find("hit its memory limit"), std::string::npos) << rec.notes;
}

TEST_F(ProcessResources, APidsLimitedTaskCannotForkPastItsLimit) {
  Recorder rec;
  // Each `sleep &` is a fork; the shell itself counts as one of the 5.
  auto s = spec({"/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & echo $i; done"});
  s.resources.pids = 5;
  std::string skip;
  ASSERT_TRUE(run(s, rec, &skip)) << "limits are enforced on this host: " << skip;
  ASSERT_TRUE(rec.outcome.ok());
  EXPECT_EQ(rec.out, "1\n2\n3\n4\n") << rec.err;  // the fifth fork is refused
  ASSERT_TRUE(rec.outcome.ok());
  auto* e = std::get_if<agent::runner::Exited>(&*rec.outcome);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->code, 0);
}

TEST_F(ProcessResources, WithoutTaskCgroupsALimitCannotStartAndSaysWhy) {
  config_.process_cgroups = false;
  make_runner();
  Recorder rec;
  auto s = spec({"/bin/true"});
  s.resources.memory_bytes = 512LL << 20;
  auto t = runner_->start(s, rec);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().path(), "taskRunner.resources.memory");
  EXPECT_NE(t.error().message().find("(512 MiB) cannot be enforced"), std::string::npos) << t.error().message();
  EXPECT_NE(t.error().message().find("process.cgroups: false"), std::string::npos) << t.error().message();
  // GPUs alone need no cgroup (they are the worker group's, in the environment).
  auto g = spec({"/bin/true"});
  g.resources.gpu_ids = {"0"};
  auto ok = runner_->start(g, rec);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  ASSERT_TRUE(run_until([&] { return rec.finished > 0; }));
  runner_->release(std::move(ok).value());
}

}  // namespace

// The cgroup v2 path on a tree of plain files shaped like cgroupfs (this
// host's unified hierarchy has no controllers): which files get which values.
#include <fstream>
#include <sys/stat.h>

#include "runners/process/task_limits.h"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void put(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(TaskLimitsV2, TheGrantIsWrittenIntoTheTaskCgroupAndControllersEnabledInItsRoot) {
  std::string base = "/tmp/runnerd-limits-v2-" + std::to_string(getpid());
  std::string root = base + "/runnerd-x", task = root + "/t-1";
  ASSERT_EQ(0, mkdir(base.c_str(), 0755));
  ASSERT_EQ(0, mkdir(root.c_str(), 0755));
  ASSERT_EQ(0, mkdir(task.c_str(), 0755));
  put(base + "/cgroup.controllers", "cpuset cpu io memory pids\n");
  put(root + "/cgroup.controllers", "cpuset cpu io memory pids\n");
  put(root + "/cgroup.subtree_control", "");
  for (const char* f : {"cpu.max", "memory.max", "memory.swap.max", "pids.max", "memory.events"}) put(task + "/" + f, "");

  runners::process::Limits limits;
  limits.init(true, root, "", "runnerd-x");
  EXPECT_EQ(limits.describe(), "cpu, memory, pids through cgroup v2");
  agent::runner::ResourceGrant g;
  g.millicpus = 1500;
  g.memory_bytes = 512LL << 20;
  g.pids = 200;
  auto applied = limits.apply(g, task, "t-1");
  ASSERT_TRUE(applied.ok()) << applied.error().message();
  EXPECT_TRUE(applied->join_fds.empty());
  EXPECT_TRUE(applied->v1_dirs.empty());
  EXPECT_EQ(applied->oom_file, task + "/memory.events");
  EXPECT_EQ(slurp(task + "/cpu.max"), "150000 100000");
  EXPECT_EQ(slurp(task + "/memory.max"), "536870912");
  EXPECT_EQ(slurp(task + "/memory.swap.max"), "0");
  EXPECT_EQ(slurp(task + "/pids.max"), "200");

  put(task + "/memory.events", "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n");
  EXPECT_EQ(runners::process::oom_kills(task + "/memory.events"), 1);
  put(task + "/memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
  EXPECT_EQ(runners::process::oom_kills(task + "/memory.events"), 0);
  EXPECT_EQ(runners::process::oom_kills(task + "/none"), 0);

  // A task without its cgroup cannot be limited: said, with the limit.
  auto refused = limits.apply(g, "", "t-2");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().path(), "taskRunner.resources.cpus");
  EXPECT_NE(refused.error().message().find("(1.5 CPUs) cannot be enforced"), std::string::npos)
      << refused.error().message();

  for (const char* f : {"cpu.max", "memory.max", "memory.swap.max", "pids.max", "memory.events"}) {
    unlink((task + "/" + f).c_str());
  }
  unlink((root + "/cgroup.controllers").c_str());
  unlink((root + "/cgroup.subtree_control").c_str());
  unlink((base + "/cgroup.controllers").c_str());
  rmdir(task.c_str());
  rmdir(root.c_str());
  rmdir(base.c_str());
}

}  // namespace
