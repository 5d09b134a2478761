// Checks a flow (after plugin defaults) against the catalog (schema.h) and
// reports every problem at once: unknown properties with a "did you mean",
// unknown types, missing required properties, wrong types, values outside an
// enum, not-yet-supported properties, duplicate task ids; deprecations as
// warnings. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/template/value.h"
#include "agent/yaml/line_map.h"

namespace agent::flow {

struct Diagnostic {
  std::string path;  // "tasks[0].commands" (no "flow." prefix)
  int line = 0;      // 1-based, 0 when unknown
  int column = 0;
  std::string message;
  bool warning = false;
};

std::vector<Diagnostic> validate_flow(const template_::Value& flow, const yaml::LineMap* lines);

// A `pluginDefaults` / `taskDefaults` list on its own (a configuration
// fragment): each default's values are checked against the type it names, or,
// for a prefix, the properties every matching type could take (a taskRunner
// block is checked against its runner). `path` prefixes the diagnostics.
std::vector<Diagnostic> validate_defaults(const template_::Value& list, std::string_view path,
                                          const yaml::LineMap* lines);

// "source:line:col: error: path: message", one per line.
std::string format_diagnostics(const std::vector<Diagnostic>& diagnostics, std::string_view source);

}  // namespace agent::flow
