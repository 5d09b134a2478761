// A test that runs YAML flows through a real runnerd and reads back what they
// produced: states, task runs, outputs, stored files and log lines.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "test/helpers/agent_harness.h"

namespace test {

class FlowTest : public AgentTest {
 protected:
  explicit FlowTest(std::string config_yaml) : AgentTest(std::move(config_yaml)) {}

  // YAML text as JSON (fails the test when it does not parse).
  static std::string json(const std::string& yaml);
  // Submits a YAML flow (with optional inputs JSON), waits for the end and
  // returns the final state; `exec_id` receives the execution's id.
  std::string run(const std::string& yaml, std::string* exec_id, const std::string& inputs_json = "");
  // "path: message" of the submit's error, for flows that must be refused.
  std::string refused(const std::string& yaml, const std::string& inputs_json = "");
  Message outputs(const std::string& id);
  Message get(const std::string& id);
  // A kestra:// file's content, through the agent.
  std::string read_file(const std::string& uri);
  static bool contains(const std::vector<std::string>& lines, std::string_view needle);
};

}  // namespace test
