// Commands that need no agent: validate and schema.
#include <simdjson.h>

#include "agent/cli/commands.h"
#include "agent/cli/exit_codes.h"
#include "agent/common/fs.h"
#include "agent/config/config.h"
#include "agent/flow/load.h"
#include "agent/flow/schema_doc.h"
#include "agent/flow/validate.h"
#include "agent/template/value.h"
#include "agent/yaml/line_map.h"
#include "agent/yaml/yaml_to_json.h"

namespace agent::cli {

int cmd_validate(const Invocation& inv) {
  AgentConfig config;
  if (auto path = inv.value("config")) {
    Status st = load_config_file(*path, config);
    if (!st.ok()) return fail(st.error());
  }
  bool all_valid = true;
  for (const auto& path : inv.args) {
    auto text = fs::read_file(path);
    if (!text.ok()) {
      fail(text.error());
      all_valid = false;
      continue;
    }
    std::string source = path;
    auto json_text = path.ends_with(".json") ? Result<std::string>(*text) : yaml_to_json(*text, source);
    if (!json_text.ok()) {
      // "source:line:col: message" -> "source:line:col: error: message"
      std::string msg = json_text.error().message();
      size_t at = msg.starts_with(source) ? msg.find(": ", source.size()) : std::string::npos;
      if (at != std::string::npos) msg.insert(at + 2, "error: ");
      print_err(msg + "\n");
      all_valid = false;
      continue;
    }
    yaml::LineMap lines = path.ends_with(".json") ? yaml::LineMap{} : yaml::yaml_line_map(*text);
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(*json_text).get(doc) != simdjson::SUCCESS) {
      print_err(source + ": not a JSON or YAML document\n");
      all_valid = false;
      continue;
    }
    // A configuration fragment: only pluginDefaults / taskDefaults.
    simdjson::dom::object obj;
    if (doc.get_object().get(obj) == simdjson::SUCCESS && obj.size() > 0) {
      bool only_defaults = true;
      for (auto f : obj) only_defaults = only_defaults && (f.key == "pluginDefaults" || f.key == "taskDefaults");
      if (only_defaults) {
        std::vector<flow::Diagnostic> diagnostics;
        for (auto f : obj) {
          auto list = template_::from_json(f.value);
          if (!list.ok()) continue;
          auto found = flow::validate_defaults(*list, f.key, &lines);
          diagnostics.insert(diagnostics.end(), found.begin(), found.end());
        }
        bool bad = false;
        for (const auto& d : diagnostics) bad = bad || !d.warning;
        print_err(flow::format_diagnostics(diagnostics, source));
        if (bad) {
          all_valid = false;
        } else {
          print_out(source + ": valid (plugin defaults)\n");
        }
        continue;
      }
    }
    // A task, or a list of tasks: checked as the tasks of a flow of their own.
    std::string wrapped;
    if (doc.is_array() || (doc.is_object() && doc["tasks"].error() != simdjson::SUCCESS &&
                           doc["type"].error() == simdjson::SUCCESS)) {
      std::string tasks = doc.is_array() ? std::string(*json_text) : "[" + std::string(*json_text) + "]";
      wrapped = "{\"id\":\"fragment\",\"namespace\":\"fragment\",\"tasks\":" + tasks + "}";
      if (parser.parse(wrapped).get(doc) != simdjson::SUCCESS) continue;
      lines = yaml::LineMap{};
    }
    std::vector<flow::Diagnostic> diagnostics;
    flow::LoadOptions options{.global_defaults = &config.plugin_defaults, .lines = &lines};
    auto loaded = flow::load_flow(doc, "", options, &diagnostics);
    bool has_error = false;
    for (const auto& d : diagnostics) has_error = has_error || !d.warning;
    if (!loaded.ok() && !has_error) {
      // A problem found while compiling (after the schema checks passed).
      flow::Diagnostic d;
      d.path = loaded.error().path();
      if (d.path.starts_with(".")) d.path.erase(0, 1);
      yaml::Position p = lines.find(d.path);
      d.line = p.line;
      d.column = p.column;
      d.message = loaded.error().message();
      diagnostics.push_back(std::move(d));
    }
    print_err(flow::format_diagnostics(diagnostics, source));
    if (loaded.ok()) {
      print_out(source + ": valid (" + std::to_string(loaded->tasks.size()) + " tasks)\n");
    } else {
      all_valid = false;
    }
  }
  return all_valid ? kExitOk : kExitFailed;
}

int cmd_schema(const Invocation& inv) {
  if (inv.flag("json-schema")) {
    print_out(flow::flow_json_schema());
    return kExitOk;
  }
  if (inv.args.empty()) {
    print_out(flow::type_list_text());
    return kExitOk;
  }
  const std::string& name = inv.args[0];
  if (name == "flow") {
    print_out(flow::type_doc_text(flow::flow_spec()));
    return kExitOk;
  }
  const flow::TypeSpec* t = flow::find_type(name);
  if (t == nullptr) {
    // A short name: every type whose name ends with it.
    std::string found;
    const flow::TypeSpec* only = nullptr;
    int count = 0;
    for (const auto& spec : flow::all_types()) {
      if (spec.type.ends_with("." + name)) {
        found += "  " + spec.type + "\n";
        only = &spec;
        count++;
      }
    }
    if (count == 1) {
      print_out(flow::type_doc_text(*only));
      return kExitOk;
    }
    if (!found.empty()) {
      print_out("types named " + name + ":\n" + found);
      return kExitOk;
    }
    return fail(Error(Errc::kNotFound, "unknown type '" + name + "' (runnerctl schema lists them)"));
  }
  print_out(flow::type_doc_text(*t));
  return kExitOk;
}

}  // namespace agent::cli
