#include "test/helpers/flow_test.h"

#include "agent/common/base64.h"
#include "agent/yaml/yaml_to_json.h"

namespace test {

std::string FlowTest::json(const std::string& yaml) {
  auto j = agent::yaml_to_json(yaml, "test.yaml");
  EXPECT_TRUE(j.ok()) << (j.ok() ? "" : j.error().describe());
  return j.ok() ? *j : "null";
}

std::string FlowTest::run(const std::string& yaml, std::string* exec_id, const std::string& inputs_json) {
  std::string req = "{\"op\":\"submit\",\"flow\":" + json(yaml) +
                    (inputs_json.empty() ? "" : ",\"inputs\":" + inputs_json) + "}";
  auto r = client_->call(req);
  EXPECT_TRUE(r && r->truth("/ok")) << (r ? r->text : "no answer");
  if (!r || !r->truth("/ok")) return "";
  *exec_id = r->str("/result/executionId");
  return wait_final(*client_, *exec_id, std::chrono::seconds(120));
}

std::string FlowTest::refused(const std::string& yaml, const std::string& inputs_json) {
  std::string req = "{\"op\":\"submit\",\"flow\":" + json(yaml) +
                    (inputs_json.empty() ? "" : ",\"inputs\":" + inputs_json) + "}";
  auto r = client_->call(req);
  EXPECT_TRUE(r && !r->truth("/ok")) << (r ? r->text : "no answer");
  if (!r) return "";
  return r->str("/error/path") + ": " + r->str("/error/message");
}

Message FlowTest::outputs(const std::string& id) {
  auto r = client_->call("{\"op\":\"outputs\",\"executionId\":\"" + id + "\"}");
  EXPECT_TRUE(r);
  return std::move(*r);
}

Message FlowTest::get(const std::string& id) {
  auto r = client_->call("{\"op\":\"get\",\"executionId\":\"" + id + "\"}");
  EXPECT_TRUE(r);
  return std::move(*r);
}

std::string FlowTest::read_file(const std::string& uri) {
  auto r = client_->call("{\"op\":\"readFile\",\"uri\":" + json_quote(uri) + "}");
  EXPECT_TRUE(r && r->truth("/ok")) << (r ? r->text : "");
  if (!r || !r->truth("/ok")) return "";
  auto data = agent::base64_decode(r->str("/result/data"));
  return data.ok() ? *data : "";
}

bool FlowTest::contains(const std::vector<std::string>& lines, std::string_view needle) {
  for (const auto& l : lines) {
    if (l.find(needle) != std::string::npos) return true;
  }
  return false;
}

}  // namespace test
