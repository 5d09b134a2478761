#include "agent/config/config.h"

#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

namespace {

TEST(Config, ReadsEveryOption) {
  agent::AgentConfig c;
  auto st = agent::load_config_text(R"(
socket: /tmp/x.sock
socketMode: "0600"
stateDir: /tmp/state
maxRunning: 64
maxQueued: 10
killGracePeriod: PT3S
terminationGracePeriod: PT1M
maxLineBytes: 4096
zstdLevel: 3
defaultRunner: io.kestra.plugin.core.runner.Process
scriptLibDir: /opt/lib
process:
  cgroups: false
)",
                                    "test.yaml", c);
  ASSERT_TRUE(st.ok()) << st.error().describe();
  EXPECT_EQ(c.socket_path, "/tmp/x.sock");
  EXPECT_EQ(c.socket_mode, 0600);
  EXPECT_EQ(c.max_running, 64);
  EXPECT_EQ(c.kill_grace.count(), 3000);
  EXPECT_EQ(c.termination_grace.count(), 60000);
  EXPECT_EQ(c.zstd_level, 3);
  EXPECT_FALSE(c.process_cgroups);
  EXPECT_EQ(c.script_lib_dir, "/opt/lib");
  agent::apply_default_paths(c);
  EXPECT_EQ(c.work_dir, "/tmp/state/work");
}

TEST(Config, ScriptLibrariesOfTheSourceTreeInABuildTree) {
  // Nothing is installed beside a test binary (<build>/../share/runnerd/lib):
  // the default is scripts/lib of the sources, where the modules are.
  std::string dir = agent::AgentConfig().script_lib_dir;
  EXPECT_TRUE(dir.ends_with("/scripts/lib")) << dir;
  EXPECT_EQ(access((dir + "/python/kestra.py").c_str(), R_OK), 0) << dir;
}

TEST(Config, TheReferenceFileIsTheDefaults) {
  // etc/runnerd.yaml, every option commented out, is /etc/runnerd/runnerd.yaml
  // in the packages: the agent starts with it as with no file. Its sections
  // with nothing left in them (`process:`) read as null.
  std::string here = __FILE__;  // <root>/test/unit/agent/config/config_test.cc
  std::string root = here.substr(0, here.rfind("/test/unit/"));
  agent::AgentConfig c;
  agent::Status st = agent::load_config_file(root + "/etc/runnerd.yaml", c);
  ASSERT_TRUE(st.ok()) << st.error().describe();
  agent::AgentConfig defaults;
  EXPECT_EQ(c.process_cgroups, defaults.process_cgroups);
  EXPECT_EQ(c.docker.host, defaults.docker.host);
  EXPECT_EQ(c.max_running, defaults.max_running);
}

TEST(Config, EmptyFileMeansDefaults) {
  agent::AgentConfig c;
  EXPECT_TRUE(agent::load_config_text("", "empty.yaml", c).ok());
  EXPECT_EQ(c.max_running, 256);
}

TEST(Config, ErrorsNameTheFileAndKey) {
  agent::AgentConfig c;
  auto st = agent::load_config_text("maxRuning: 3\n", "a.yaml", c);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().path(), "maxRuning");
  EXPECT_NE(st.error().message().find("a.yaml"), std::string::npos);
  st = agent::load_config_text("maxRunning: 0\n", "a.yaml", c);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("between 1"), std::string::npos);
  st = agent::load_config_text("killGracePeriod: 5\n", "a.yaml", c);
  EXPECT_FALSE(st.ok());
  st = agent::load_config_text("process:\n  cgroup: true\n", "a.yaml", c);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().path(), "process.cgroup");
  st = agent::load_config_text("[1, 2]\n", "a.yaml", c);
  EXPECT_FALSE(st.ok());
}

TEST(Config, KestraOptionsPluginDefaultsPathsPrefixAndSecrets) {
  agent::AgentConfig c;
  auto st = agent::load_config_text(R"Y(
pluginDefaults:
  - type: io.kestra.plugin.scripts
    values:
      taskRunner: {type: io.kestra.plugin.core.runner.Process}
allowedPaths: [/srv/data]
envVarsPrefix: KESTRA_
secretsFile: /etc/runnerd/secrets
)Y", "k.yaml", c);
  ASSERT_TRUE(st.ok()) << st.error().describe();
  ASSERT_EQ(c.plugin_defaults.size(), 1u);
  EXPECT_EQ(c.plugin_defaults[0].type, "io.kestra.plugin.scripts");
  EXPECT_EQ(c.allowed_paths, std::vector<std::string>{"/srv/data"});
  EXPECT_EQ(c.env_vars_prefix, "KESTRA_");
  EXPECT_EQ(c.secrets_file, "/etc/runnerd/secrets");
  st = agent::load_config_text("pluginDefaults:\n  - type: x\n    valus: {}\n", "k.yaml", c);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().path(), "pluginDefaults[0].valus");
  st = agent::load_config_text("allowedPaths: [relative/dir]\n", "k.yaml", c);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().path(), "allowedPaths[0]");
}

}  // namespace
