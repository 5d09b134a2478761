// The flow loader: YAML text (as `runnerctl run` and `validate` read it) to
// JSON (agent/yaml), with its line map, then to a compiled flow
// (agent/flow/load.h), as a flow and as a single task. Besides never crashing:
//  - the YAML converter's output is JSON, and converting that JSON (which
//    is YAML too) again gives the same JSON: a flow means the same whether
//    sent as YAML or as the JSON the CLI made of it;
//  - a flow with an error diagnostic is refused, with the first of them as
//    its error; any refusal is the submitter's error (invalid argument),
//    never an internal one (the merged document failing to read back);
//  - a compiled flow has an id, a namespace and at least one task.
#include <simdjson.h>

#include <algorithm>

#include <string>

#include "agent/flow/load.h"
#include "agent/flow/validate.h"
#include "agent/yaml/line_map.h"
#include "agent/yaml/yaml_to_json.h"
#include "test/fuzz/fuzz_util.h"

namespace {

// A key's length as JSON writes it: quotes and escapes included.
size_t written_length(std::string_view key) {
  size_t n = 2;
  for (unsigned char c : key) n += c == '"' || c == '\\' ? 2 : c < 0x20 ? 6 : 1;
  return n;
}

// The longest object key in a document as written (YAML allows an implicit
// key of at most 1,024 characters; JSON has no such limit).
size_t longest_key(simdjson::dom::element e, int depth = 0) {
  size_t longest = 0;
  if (depth > 256) return 0;
  simdjson::dom::object obj;
  simdjson::dom::array arr;
  if (e.get_object().get(obj) == simdjson::SUCCESS) {
    for (auto field : obj) {
      longest = std::max({longest, written_length(field.key), longest_key(field.value, depth + 1)});
    }
  } else if (e.get_array().get(arr) == simdjson::SUCCESS) {
    for (auto v : arr) longest = std::max(longest, longest_key(v, depth + 1));
  }
  return longest;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace flow = agent::flow;
  std::string_view yaml(reinterpret_cast<const char*>(data), size);
  auto json = agent::yaml::yaml_to_json(yaml, "fuzz.yaml");
  if (!json.ok()) return 0;
  // As the CLI does: the line map only for a document that converted.
  agent::yaml::LineMap lines = agent::yaml::yaml_line_map(yaml);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(*json).get(doc) != simdjson::SUCCESS) fuzz::fail("yaml_to_json gave invalid JSON");
  auto again = agent::yaml::yaml_to_json(*json, "fuzz.json");
  if (!again.ok()) {
    // A key of more than 1,024 characters (quoted and folded YAML can make
    // one) is JSON but not YAML: read as YAML it needs the explicit "? ".
    if (longest_key(doc) > 1024) return 0;
    fuzz::fail("the JSON made from YAML does not read as YAML");
  }
  if (*again != *json) fuzz::fail("YAML -> JSON -> JSON changed the document");

  std::vector<flow::Diagnostic> diagnostics;
  flow::LoadOptions options;
  options.lines = &lines;
  auto loaded = flow::load_flow(doc, "flow", options, &diagnostics);
  const flow::Diagnostic* first_error = nullptr;
  for (const auto& d : diagnostics) {
    if (!d.warning && first_error == nullptr) first_error = &d;
  }
  if (loaded.ok()) {
    fuzz::check(first_error == nullptr, "a flow with an error diagnostic was loaded");
    fuzz::check(!loaded->id.empty() && !loaded->namespace_.empty(), "a flow without an id or namespace");
    fuzz::check(!loaded->tasks.empty(), "a flow without tasks");
  } else {
    fuzz::check(loaded.error().code() == agent::Errc::kInvalidArgument,
                "a flow was refused with an error that is not the submitter's");
    if (first_error != nullptr) {
      fuzz::check(loaded.error().message().starts_with(first_error->message),
                  "the error is not the first error diagnostic");
    }
  }

  auto single = flow::load_single_task(doc, "default", "task", options, nullptr);
  if (single.ok()) fuzz::check(single->tasks.size() == 1, "a single task is not a flow of one task");
  return 0;
}
