#include "agent/flow/load.h"

#include <simdjson.h>

#include "agent/flow/schema.h"
#include "agent/template/value.h"

namespace agent::flow {

namespace {

using template_::Value;

std::string prefixed(std::string_view prefix, const std::string& path) {
  if (path.empty()) return std::string(prefix);
  if (path[0] == '[') return std::string(prefix) + path;
  return std::string(prefix) + "." + path;
}

Result<Flow> load_value(const Value& submitted, std::string_view path, const LoadOptions& options,
                        std::vector<Diagnostic>* diagnostics) {
  std::vector<std::string> warnings;
  static const std::vector<PluginDefault> kNone;
  AGENT_ASSIGN_OR_RETURN(
      Value merged,
      apply_plugin_defaults(submitted, options.global_defaults ? *options.global_defaults : kNone,
                            [](std::string_view t) { return canonical_type(t); }, &warnings,
                            [](std::string_view type, std::string_view property) {
                              const TypeSpec* spec = find_type(type);
                              return spec == nullptr || spec->prop(property) != nullptr;
                            }));
  std::vector<Diagnostic> found = validate_flow(merged, options.lines);
  const Diagnostic* first_error = nullptr;
  size_t errors = 0;
  for (const auto& d : found) {
    if (d.warning) continue;
    if (first_error == nullptr) first_error = &d;
    errors++;
  }
  if (diagnostics != nullptr) {
    for (const auto& w : warnings) {
      Diagnostic d;
      d.message = w;
      d.warning = true;
      diagnostics->push_back(std::move(d));
    }
    diagnostics->insert(diagnostics->end(), found.begin(), found.end());
  }
  if (first_error != nullptr) {
    std::string msg = first_error->message;
    if (errors > 1) {
      msg += " (and " + std::to_string(errors - 1) +
             " more problems: `runnerctl validate` lists them all)";
    }
    return Error(Errc::kInvalidArgument, std::move(msg), prefixed(path, first_error->path));
  }
  // Compile from the merged document.
  std::string text = template_::to_json(merged);
  static thread_local simdjson::dom::parser reused;  // compile_flow does not load a flow
  simdjson::dom::parser own;
  simdjson::dom::element doc;
  if (json::parse_reusing(reused, own, text, doc) != simdjson::SUCCESS) {
    return Error(Errc::kInternal, "re-reading the flow after plugin defaults failed");
  }
  AGENT_ASSIGN_OR_RETURN(Flow flow, compile_flow(doc, path));
  for (auto& w : warnings) flow.warnings.push_back(std::move(w));
  return flow;
}

}  // namespace

Result<Flow> load_flow(json::Element flow, std::string_view path, const LoadOptions& options,
                       std::vector<Diagnostic>* diagnostics) {
  if (!flow.is_object()) return json::type_error(path, "a flow object", flow);
  AGENT_ASSIGN_OR_RETURN(Value v, template_::from_json(flow));
  return load_value(v, path, options, diagnostics);
}

Result<Flow> load_single_task(json::Element task, const std::string& namespace_,
                              std::string_view path, const LoadOptions& options,
                              std::vector<Diagnostic>* diagnostics) {
  if (!task.is_object()) return json::type_error(path, "a task object", task);
  AGENT_ASSIGN_OR_RETURN(Value t, template_::from_json(task));
  const Value* id = t.find("id");
  if (id == nullptr || !id->is_string()) {
    return Error(Errc::kInvalidArgument, "required property missing", std::string(path) + ".id");
  }
  Value flow(Value::Map{{"id", *id}, {"namespace", Value(namespace_)},
                        {"tasks", Value(Value::List{t})}});
  auto loaded = load_value(flow, "flow", options, diagnostics);
  if (loaded.ok()) return loaded;
  // flow.tasks[0].x -> task.x
  Error e = std::move(loaded).error();
  std::string p = e.path();
  constexpr std::string_view kTask = "flow.tasks[0]";
  if (p.starts_with(kTask)) {
    p = std::string(path) + p.substr(kTask.size());
  } else if (p == "flow.namespace") {
    p = "namespace";
  }
  return Error(e.code(), e.message(), p);
}

}  // namespace agent::flow
