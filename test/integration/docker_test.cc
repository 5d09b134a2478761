// The Docker runner through the real runnerd against a real engine: podman's
// Docker-compatible service (scripts/setup-podman.sh, run by make test) with
// its local busybox image. A missing engine fails these tests; it never skips.
//
// What podman 4.3 does not honour, and so is only checked in the create body
// the engine received: deviceRequests (podman's compat API drops them; see
// DockerHostConfig) and portBindings' reachability (the sandbox has no route
// to test it; the binding itself is checked).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "test/helpers/engine_client.h"
#include "test/helpers/flow_test.h"

namespace {

std::string config(bool volumes_enabled) {
  return test::docker_agent_config() +
         "  pullAttempts: 2\n"
         "  pullBackoff: PT0.1S\n" +
         std::string(volumes_enabled ? "  volumesEnabled: true\n" : "");
}

class Docker : public test::FlowTest {
 protected:
  explicit Docker(bool volumes_enabled = false) : FlowTest(config(volumes_enabled)) {}

  void SetUp() override {
    auto missing = test::engine_missing();
    ASSERT_FALSE(missing) << *missing;
    // Visible to the agent, and so to Process tasks; a container must not see it.
    setenv("RUNNERD_AGENT_ONLY", "agent-env", 1);
    FlowTest::SetUp();
  }

  void TearDown() override {
    for (const auto& id : executions_) test::remove_containers_with_label("kestra.io/execution-id", id);
    FlowTest::TearDown();
  }

  std::string run_flow(const std::string& yaml, std::string* id) {
    std::string state = run(yaml, id);
    executions_.push_back(*id);
    return state;
  }

  size_t containers_of(const std::string& id) {
    auto list = test::containers_with_label("kestra.io/execution-id", id);
    EXPECT_TRUE(list);
    simdjson::dom::array arr;
    if (!list || list->root.get_array().get(arr) != simdjson::SUCCESS) return 999;
    return arr.size();
  }

  // Inspects the one container of an execution (a task with delete: false).
  test::Message inspect_only_container(const std::string& id) {
    auto list = test::containers_with_label("kestra.io/execution-id", id);
    EXPECT_TRUE(list);
    std::string cid = list ? list->str("/0/Id") : "";
    EXPECT_FALSE(cid.empty()) << (list ? list->text : "");
    auto a = test::engine_call("GET", "/containers/" + cid + "/json");
    EXPECT_EQ(a.status, 200) << a.body;
    auto m = test::parse_message(a.body);
    EXPECT_TRUE(m);
    return m ? std::move(*m) : *test::parse_message("{}");
  }

  std::vector<std::string> executions_;
};

class DockerVolumes : public Docker {
 protected:
  DockerVolumes() : Docker(true) {}
};

TEST_F(Docker, AShellTaskRunsInAContainerWithFilesOutputsAndLevels) {
  std::string id;
  ASSERT_EQ(run_flow(R"Y(
id: container
namespace: dev.docker
tasks:
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
    inputFiles:
      in.txt: "hello input"
    outputFiles: [out.txt, "sub/*.csv"]
    env:
      GREETING: bonjour
    commands:
      - echo "Hello World!"
      - cat in.txt && echo
      - echo "to stderr" >&2
      - echo '::{"outputs":{"n":42}}::'
      - echo "env=$GREETING wd=$WORKING_DIR pwd=$(pwd) leak=${RUNNERD_AGENT_ONLY:-none}"
      - echo data > out.txt
      - mkdir sub && echo 1 > sub/a.csv
)Y",
                     &id),
            "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  EXPECT_TRUE(contains(lines, "INFO Hello World!")) << ::testing::PrintToString(lines);
  EXPECT_TRUE(contains(lines, "INFO hello input"));
  EXPECT_TRUE(contains(lines, "to stderr"));
  EXPECT_FALSE(contains(lines, "INFO to stderr"));
  EXPECT_TRUE(contains(lines, "env=bonjour wd=/"));
  EXPECT_TRUE(contains(lines, "leak=none")) << "the agent's environment reached the container";
  auto o = outputs(id);
  EXPECT_EQ(o.num("/result/taskRuns/0/vars/n"), 42) << o.text;
  EXPECT_EQ(read_file(o.str("/result/taskRuns/0/outputFiles/out.txt")), "data\n");
  EXPECT_EQ(read_file(o.str("/result/taskRuns/0/outputFiles/sub~1a.csv")), "1\n") << o.text;
  // The working directory inside is the agent's path, and the container is gone.
  auto g = get(id);
  EXPECT_EQ(g.num("/result/taskRuns/0/exitCode"), 0);
  EXPECT_EQ(containers_of(id), 0u);
}

TEST_F(Docker, TheDefaultRunnerIsDockerAndLegacyFormsStillRun) {
  std::string id;
  ASSERT_EQ(run_flow(R"Y(
id: defaults
namespace: dev.docker
tasks:
  - id: implicit
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    commands:
      - 'test -e /run/.containerenv -o -e /.dockerenv && echo in-container'
  - id: legacy
    type: io.kestra.plugin.scripts.shell.Commands
    runner: DOCKER
    docker:
      image: busybox
    commands:
      - echo legacy-ok
  - id: alias
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.DockerTaskRunner
    commands:
      - echo alias-ok
)Y",
                     &id),
            "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  EXPECT_TRUE(contains(lines, "INFO in-container")) << ::testing::PrintToString(lines);
  EXPECT_TRUE(contains(lines, "INFO legacy-ok"));
  EXPECT_TRUE(contains(lines, "INFO alias-ok"));
  EXPECT_TRUE(contains(lines, "WARN taskRunner type 'io.kestra.plugin.scripts.runner.docker.DockerTaskRunner' is deprecated"));
}

// File modes survive both ways: a Process task makes an executable that the
// container runs, and the container makes one that a Process task runs.
TEST_F(Docker, VolumeCopiesTheWorkingDirectoryBothWaysKeepingModes) {
  std::string id;
  ASSERT_EQ(run_flow(R"Y(
id: modes
namespace: dev.docker
tasks:
  - id: wd
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: host_makes
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - printf '#!/bin/sh\necho from-host-tool\n' > host_tool.sh && chmod 750 host_tool.sh
          - mkdir -p deep/er && echo nested > deep/er/f.txt
      - id: container_runs
        type: io.kestra.plugin.scripts.shell.Commands
        containerImage: busybox
        commands:
          - ./host_tool.sh
          - cat deep/er/f.txt
          - printf '#!/bin/sh\necho from-container-tool\n' > box_tool.sh && chmod 755 box_tool.sh
          - echo made > made_in_container.txt
      - id: host_runs
        type: io.kestra.plugin.scripts.shell.Commands
        taskRunner:
          type: io.kestra.plugin.core.runner.Process
        commands:
          - ./box_tool.sh
          - cat made_in_container.txt
          - stat -c %a box_tool.sh
)Y",
                     &id),
            "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  EXPECT_TRUE(contains(lines, "INFO from-host-tool")) << ::testing::PrintToString(lines);
  EXPECT_TRUE(contains(lines, "INFO nested"));
  EXPECT_TRUE(contains(lines, "INFO from-container-tool"));
  EXPECT_TRUE(contains(lines, "INFO made"));
  EXPECT_TRUE(contains(lines, "INFO 755"));
}

TEST_F(Docker, MountBindsTheWorkingDirectory) {
  std::string id;
  ASSERT_EQ(run_flow(R"Y(
id: mount
namespace: dev.docker
tasks:
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      fileHandlingStrategy: MOUNT
    outputFiles: [m.txt]
    commands:
      - grep -q " $(pwd) " /proc/self/mountinfo && echo bind-mounted
      - echo mounted > m.txt
)Y",
                     &id),
            "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  EXPECT_TRUE(contains(lines, "INFO bind-mounted")) << ::testing::PrintToString(lines);
  auto o = outputs(id);
  EXPECT_EQ(read_file(o.str("/result/taskRuns/0/outputFiles/m.txt")), "mounted\n");
}

TEST_F(Docker, ExitCodesAndTimeoutsFailTheTaskAndRemoveTheContainer) {
  std::string id;
  ASSERT_EQ(run_flow(R"Y(
id: failing
namespace: dev.docker
tasks:
  - id: exits
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    allowFailure: true
    outputFiles: [partial.txt]
    commands:
      - echo partial > partial.txt
      - echo "last words"
      - exit 7
  - id: slow
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    timeout: PT1S
    commands:
      - sleep 60
)Y",
                     &id),
            "FAILED");
  auto g = get(id);
  EXPECT_EQ(g.str("/result/taskRuns/0/state"), "FAILED");
  EXPECT_EQ(g.num("/result/taskRuns/0/exitCode"), 7);
  EXPECT_EQ(g.str("/result/taskRuns/1/state"), "FAILED");
  EXPECT_EQ(g.num("/result/taskRuns/1/exitCode"), 137);
  EXPECT_NE(g.str("/result/taskRuns/1/error").find("Timeout after 1.0s"), std::string::npos) << g.text;
  auto lines = test::log_lines(*client_, id);
  EXPECT_TRUE(contains(lines, "INFO last words"));
  // Output files are kept from a failed container too (Kestra copies them back).
  auto o = outputs(id);
  EXPECT_EQ(read_file(o.str("/result/taskRuns/0/outputFiles/partial.txt")), "partial\n") << o.text;
  EXPECT_EQ(containers_of(id), 0u);
}

TEST_F(Docker, CancelKillsAndKillGracePeriodStopsWithTerm) {
  std::string req = "{\"op\":\"submit\",\"flow\":" + json(R"Y(
id: cancelled
namespace: dev.docker
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: graceful
        type: io.kestra.plugin.scripts.shell.Commands
        containerImage: busybox
        taskRunner:
          type: io.kestra.plugin.scripts.runner.docker.Docker
          killGracePeriod: PT5S
        commands:
          - trap 'echo got-TERM; exit 0' TERM; echo ready; while true; do sleep 0.1; done
)Y") + "}";
  auto r = client_->call(req);
  ASSERT_TRUE(r && r->truth("/ok")) << (r ? r->text : "");
  std::string id = r->str("/result/executionId");
  executions_.push_back(id);
  // Podman's logs are read when the container ends: wait for it to run.
  bool running = false;
  for (int i = 0; i < 300 && !running; i++) {
    auto list = test::containers_with_label("kestra.io/execution-id", id);
    running = list && list->str("/0/State") == "running";
    if (!running) usleep(50000);
  }
  ASSERT_TRUE(running);
  usleep(300000);  // the shell sets its trap
  auto c = client_->call("{\"op\":\"cancel\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(c && c->truth("/ok"));
  EXPECT_EQ(test::wait_final(*client_, id), "KILLED");
  auto lines = test::log_lines(*client_, id);
  EXPECT_TRUE(contains(lines, "INFO got-TERM")) << ::testing::PrintToString(lines);
  EXPECT_EQ(containers_of(id), 0u);
}

TEST_F(Docker, DeleteFalseKeepsTheContainerWithKestrasLabels) {
  std::string id;
  ASSERT_EQ(run_flow(R"Y(
id: kept
namespace: dev.docker
tasks:
  - id: keep
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      delete: false
    commands: ["true"]
)Y",
                     &id),
            "SUCCESS");
  auto g = get(id);
  auto c = inspect_only_container(id);
  EXPECT_EQ(c.str("/Config/Labels/kestra.io~1namespace"), "dev.docker") << c.text.substr(0, 2000);
  EXPECT_EQ(c.str("/Config/Labels/kestra.io~1flow-id"), "kept");
  EXPECT_EQ(c.str("/Config/Labels/kestra.io~1task-id"), "keep");
  EXPECT_EQ(c.str("/Config/Labels/kestra.io~1execution-id"), id);
  EXPECT_EQ(c.str("/Config/Labels/kestra.io~1taskrun-id"), g.str("/result/taskRuns/0/id"));
  EXPECT_EQ(c.str("/Config/Labels/kestra.io~1taskrun-attempt"), "1");
  EXPECT_EQ(c.str("/State/Status"), "exited");
}

TEST_F(Docker, WaitFalseReturnsAtOnceAndLeavesTheContainerRunning) {
  std::string id;
  ASSERT_EQ(run_flow(R"Y(
id: nowait
namespace: dev.docker
tasks:
  - id: detached
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      wait: false
    commands: ["sleep 60"]
)Y",
                     &id),
            "SUCCESS");
  auto c = inspect_only_container(id);
  EXPECT_EQ(c.str("/State/Status"), "running");
}

TEST_F(Docker, HostConfigPropertiesReachTheEngine) {
  std::string id;
  ASSERT_EQ(run_flow(R"Y(
id: hostconfig
namespace: dev.docker
tasks:
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      delete: false
      user: "1234:1234"
      extraHosts: ["myhost:10.1.2.3"]
      portBindings: ["127.0.0.1:18089:80"]
      cpu:
        cpus: 0.5
      memory:
        memory: 64MB
      shmSize: 32MB
      privileged: true
    commands:
      - echo "uid=$(id -u)"
      - grep myhost /etc/hosts
      - df -k /dev/shm | tail -1
)Y",
                     &id),
            "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  EXPECT_TRUE(contains(lines, "INFO uid=1234")) << ::testing::PrintToString(lines);
  EXPECT_TRUE(contains(lines, "10.1.2.3"));
  EXPECT_TRUE(contains(lines, "32768"));  // /dev/shm of 32 MB
  auto c = inspect_only_container(id);
  EXPECT_EQ(c.str("/Config/User"), "1234:1234");
  EXPECT_EQ(c.num("/HostConfig/NanoCpus"), 500000000);
  EXPECT_EQ(c.num("/HostConfig/Memory"), 64 * 1024 * 1024);
  EXPECT_EQ(c.num("/HostConfig/ShmSize"), 32 * 1024 * 1024);
  EXPECT_TRUE(c.truth("/HostConfig/Privileged"));
  EXPECT_EQ(c.str("/HostConfig/PortBindings/80~1tcp/0/HostPort"), "18089");
  EXPECT_EQ(c.str("/HostConfig/PortBindings/80~1tcp/0/HostIp"), "127.0.0.1");
}

// GPUs are handed out by worker groups (worker_groups_test.cc); a container
// asking for some where its group has none is refused at submission rather
// than started with whatever the engine makes of the request.
TEST_F(Docker, AGpuRequestWhereTheGroupHasNoneIsRefusedAtSubmission) {
  std::string why = refused(R"Y(
id: gpu
namespace: dev.docker
tasks:
  - id: shell
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      deviceRequests:
        - driver: nvidia
          count: -1
          capabilities: [[gpu]]
    commands: ["true"]
)Y");
  EXPECT_EQ(why, "flow.tasks[0].taskRunner: asks for GPUs; worker group 'default' has none (workerGroups[].gpus)");
}

TEST_F(Docker, EntryPointAndNetworkMode) {
  std::string id;
  ASSERT_EQ(run_flow(R"Y(
id: entry
namespace: dev.docker
tasks:
  - id: entry
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      entryPoint: ["/bin/echo", "via-entrypoint"]
    commands: ["ignored"]
  - id: isolated
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      networkMode: none
    commands:
      - echo "nets=$(ls /sys/class/net | tr '\n' ' ')"
)Y",
                     &id),
            "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  // The entry point gets the assembled command line as its arguments.
  EXPECT_TRUE(contains(lines, "INFO via-entrypoint /bin/sh -c")) << ::testing::PrintToString(lines);
  EXPECT_TRUE(contains(lines, "INFO nets=lo "));
}

TEST_F(Docker, ImageAndEngineErrorsSayWhatToDo) {
  std::string id;
  ASSERT_EQ(run_flow(R"Y(
id: errors
namespace: dev.docker
tasks:
  - id: never
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: no-such-image:1
    allowFailure: true
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      pullPolicy: NEVER
    commands: ["true"]
  - id: unreachable_registry
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: 127.0.0.1:9/nothing:1
    allowFailure: true
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      credentials:
        username: me
        password: secret
    commands: ["true"]
  - id: no_engine
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    allowFailure: true
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      host: unix:///nonexistent/docker.sock
    commands: ["true"]
)Y",
                     &id),
            "WARNING");
  auto g = get(id);
  std::string never = g.str("/result/taskRuns/0/error");
  EXPECT_NE(never.find("no-such-image:1 is not on the container engine and pullPolicy is NEVER"),
            std::string::npos)
      << never;
  std::string pull = g.str("/result/taskRuns/1/error");
  EXPECT_NE(pull.find("pull 127.0.0.1:9/nothing:1"), std::string::npos) << pull;
  EXPECT_NE(pull.find("(after 2 attempts)"), std::string::npos) << pull;
  std::string engine = g.str("/result/taskRuns/2/error");
  EXPECT_NE(engine.find("unix:///nonexistent/docker.sock: no such socket"), std::string::npos) << engine;
  EXPECT_NE(engine.find("io.kestra.plugin.core.runner.Process"), std::string::npos) << engine;
  auto lines = test::log_lines(*client_, id);
  EXPECT_TRUE(contains(lines, "trying again in 100 ms")) << ::testing::PrintToString(lines);
  EXPECT_FALSE(contains(lines, "secret"));
  EXPECT_EQ(containers_of(id), 0u);
}

TEST_F(Docker, PropertyErrorsAreRefusedAtSubmission) {
  EXPECT_NE(refused(R"Y(
id: bad
namespace: dev.docker
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      memory:
        memory: 12XB
    commands: ["true"]
)Y").find("tasks[0].taskRunner.memory.memory"),
            std::string::npos);
  std::string id;
  ASSERT_EQ(run_flow(R"Y(
id: volumes
namespace: dev.docker
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      volumes: ["/tmp:/hosttmp"]
    commands: ["true"]
)Y",
                     &id),
            "FAILED");
  EXPECT_NE(get(id).str("/result/taskRuns/0/error").find("docker.volumesEnabled"), std::string::npos);
}

TEST_F(DockerVolumes, VolumesBindHostPathsWhenTheAgentAllowsThem) {
  std::string dir = "/tmp/runnerd-docker-vol-" + std::to_string(getpid());
  mkdir(dir.c_str(), 0755);
  std::ofstream(dir + "/host.txt") << "from the host\n";
  std::string id;
  EXPECT_EQ(run_flow(R"Y(
id: volumes
namespace: dev.docker
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      volumes: [")Y" + dir + R"Y(:/hostdir:ro"]
    commands: ["cat /hostdir/host.txt"]
)Y",
                     &id),
            "SUCCESS");
  EXPECT_TRUE(contains(test::log_lines(*client_, id), "INFO from the host"));
  test::run_command("rm -rf " + dir);
}

// Every line is there when the container ends: the log stream is read to its
// end, not for a fixed time.
TEST_F(Docker, NoLogLineIsLostAtTheEnd) {
  std::string id;
  ASSERT_EQ(run_flow(R"Y(
id: burst
namespace: dev.docker
tasks:
  - id: burst
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: busybox
    taskRunner:
      type: io.kestra.plugin.scripts.runner.docker.Docker
      fileHandlingStrategy: MOUNT
    commands:
      - seq 1 20000
      - seq 1 500 >&2
      - printf 'no newline at the end'
)Y",
                     &id),
            "SUCCESS");
  auto lines = test::log_lines(*client_, id);
  size_t numbers = 0;
  for (const auto& l : lines) {
    if (l.starts_with("INFO ") && l.size() > 5 && isdigit(static_cast<unsigned char>(l[5]))) numbers++;
  }
  EXPECT_EQ(numbers, 20000u);
  EXPECT_TRUE(contains(lines, "INFO 20000"));
  EXPECT_TRUE(contains(lines, " 500"));
  EXPECT_TRUE(contains(lines, "INFO no newline at the end"));
}

}  // namespace

namespace {

// A cancel while the image is being pulled ends the task at once (the pull is
// cancelled), KILLED, with no container made.
TEST_F(Docker, CancelDuringAPullEndsTheTask) {
  std::string req = "{\"op\":\"submit\",\"flow\":" + json(R"Y(
id: pulling
namespace: dev.docker
tasks:
  - id: t
    type: io.kestra.plugin.scripts.shell.Commands
    containerImage: 127.0.0.1:9/never:1
    commands: ["true"]
)Y") + "}";
  auto r = client_->call(req);
  ASSERT_TRUE(r && r->truth("/ok")) << (r ? r->text : "");
  std::string id = r->str("/result/executionId");
  executions_.push_back(id);
  bool pulling = false;
  for (int i = 0; i < 200 && !pulling; i++) {
    pulling = contains(test::log_lines(*client_, id), "pulling image 127.0.0.1:9/never:1");
    if (!pulling) usleep(20000);
  }
  ASSERT_TRUE(pulling);
  auto c = client_->call("{\"op\":\"cancel\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(c && c->truth("/ok"));
  EXPECT_EQ(test::wait_final(*client_, id, std::chrono::seconds(10)), "KILLED");
  EXPECT_EQ(containers_of(id), 0u);
}

}  // namespace
