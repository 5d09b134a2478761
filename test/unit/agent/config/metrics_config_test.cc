// The `metrics` section of the configuration: the listen address forms, the
// loopback default of a bare port, strict keys.
#include <gtest/gtest.h>

#include "agent/config/config.h"

namespace {

agent::Status load(const std::string& yaml, agent::AgentConfig& c) {
  return agent::load_config_text(yaml, "test.yaml", c);
}

TEST(MetricsConfig, AbsentOrEmptyMeansNoListener) {
  agent::AgentConfig c;
  ASSERT_TRUE(load("", c).ok());
  EXPECT_TRUE(c.metrics.listen.empty());
  ASSERT_TRUE(load("metrics:\n", c).ok());
  EXPECT_TRUE(c.metrics.listen.empty());
  ASSERT_TRUE(load("metrics: {}\n", c).ok());
  EXPECT_TRUE(c.metrics.listen.empty());
  ASSERT_TRUE(load("metrics: {listen: \"\"}\n", c).ok());
  EXPECT_TRUE(c.metrics.listen.empty());
}

TEST(MetricsConfig, ABarePortBindsLoopback) {
  agent::AgentConfig c;
  ASSERT_TRUE(load("metrics: {listen: 9464}\n", c).ok());
  EXPECT_EQ(c.metrics.host, "127.0.0.1");
  EXPECT_EQ(c.metrics.port, 9464);
  ASSERT_TRUE(load("metrics: {listen: \"9465\"}\n", c).ok());
  EXPECT_EQ(c.metrics.host, "127.0.0.1");
  EXPECT_EQ(c.metrics.port, 9465);
  EXPECT_EQ(c.metrics.listen, "9465");
}

TEST(MetricsConfig, AddressesAreTakenAsWritten) {
  agent::AgentConfig c;
  ASSERT_TRUE(load("metrics: {listen: \"127.0.0.1:9464\"}\n", c).ok());
  EXPECT_EQ(c.metrics.host, "127.0.0.1");
  ASSERT_TRUE(load("metrics: {listen: \"localhost:9464\"}\n", c).ok());
  EXPECT_EQ(c.metrics.host, "127.0.0.1");
  // Not loopback: allowed, because it is written out.
  ASSERT_TRUE(load("metrics: {listen: \"0.0.0.0:9464\"}\n", c).ok());
  EXPECT_EQ(c.metrics.host, "0.0.0.0");
  ASSERT_TRUE(load("metrics: {listen: \"[::1]:9464\"}\n", c).ok());
  EXPECT_EQ(c.metrics.host, "::1");
  EXPECT_EQ(c.metrics.port, 9464);
}

TEST(MetricsConfig, OptionsAndDefaults) {
  agent::AgentConfig c;
  EXPECT_EQ(c.metrics.request_timeout.count(), 10000);
  EXPECT_EQ(c.metrics.max_connections, 16);
  ASSERT_TRUE(load("metrics:\n  listen: 9464\n  requestTimeout: PT2S\n  maxConnections: 4\n", c).ok());
  EXPECT_EQ(c.metrics.request_timeout.count(), 2000);
  EXPECT_EQ(c.metrics.max_connections, 4);
}

TEST(MetricsConfig, BadValuesAndUnknownKeysAreErrors) {
  struct Case {
    const char* yaml;
    const char* path;
  };
  for (const Case& k : {
           Case{"metrics: {listen: \"example.com:9464\"}\n", "metrics.listen"},
           Case{"metrics: {listen: \"127.0.0.1\"}\n", "metrics.listen"},
           Case{"metrics: {listen: \"127.0.0.1:99999\"}\n", "metrics.listen"},
           Case{"metrics: {listen: \":9464\"}\n", "metrics.listen"},
           Case{"metrics: {listen: \"::1:9464\"}\n", "metrics.listen"},
           Case{"metrics: {listen: \"[::1]\"}\n", "metrics.listen"},
           Case{"metrics: {listen: 70000}\n", "metrics.listen"},
           Case{"metrics: {listen: 9464, port: 1}\n", "metrics.port"},
           Case{"metrics: {requestTimeout: PT0S}\n", "metrics.requestTimeout"},
           Case{"metrics: {maxConnections: 0}\n", "metrics.maxConnections"},
           Case{"metrics: 9464\n", "metrics"},
       }) {
    agent::AgentConfig c;
    agent::Status st = load(k.yaml, c);
    ASSERT_FALSE(st.ok()) << k.yaml;
    EXPECT_EQ(st.error().path(), k.path) << k.yaml << st.error().describe();
  }
}

}  // namespace
