// The flow loader: YAML text (as a client or `runnerctl validate` sends it) to
// JSON (agent/yaml), then to a compiled flow (agent/flow/load.h). The YAML
// converter's output must be JSON; neither step may crash.
#include <simdjson.h>

#include <string>

#include "agent/flow/load.h"
#include "agent/flow/validate.h"
#include "agent/yaml/yaml_to_json.h"
#include "test/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  auto json = agent::yaml::yaml_to_json(yaml, "fuzz.yaml");
  if (!json.ok()) return 0;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(*json).get(doc) != simdjson::SUCCESS) fuzz::fail("yaml_to_json gave invalid JSON");
  std::vector<agent::flow::Diagnostic> diagnostics;
  agent::flow::LoadOptions options;
  auto flow = agent::flow::load_flow(doc, "flow", options, &diagnostics);
  (void)flow.ok();
  auto single = agent::flow::load_single_task(doc, "default", "task", options, nullptr);
  (void)single.ok();
  return 0;
}
