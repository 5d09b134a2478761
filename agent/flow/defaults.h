// Plugin defaults (Kestra 1.x `pluginDefaults`, legacy `taskDefaults`): values
// merged into every map of a flow whose `type` matches, before validation.
//
// Rules (reference §6, PluginDefaultService):
// - Sources, most important first: the flow's `pluginDefaults`, then its
//   `taskDefaults`, then the agent's global list. A default keyed on a legacy
//   type name also applies under the current name.
// - A default matches a map with a string `type` equal to its key or starting
//   with it (a plain prefix: `io.kestra.plugin.scripts` matches every script
//   task). Every map of the flow is visited, children before parents: tasks,
//   nested tasks, `errors`, `taskRunner`.
// - Non-forced defaults first: the map's own values win; maps merge deeply;
//   lists are concatenated, default items first, without duplicates. Of two
//   matching non-forced defaults the more important one wins.
// - Forced defaults second, over the result: the default's values win. Of two
//   forced defaults the more important one wins (it is applied last).
// - Determinism: Kestra orders defaults of different keys by HashMap order;
//   runnerd applies them in source order (flow, then global), each source in
//   the order written, which makes "the more important one wins" hold for
//   every pair.
// - Only the values a matched type has a property for are injected (when the
//   type is known): `io.kestra.plugin.scripts` also matches the runner type
//   `io.kestra.plugin.scripts.runner.docker.Docker`, which has no `taskRunner`
//   property; Kestra drops such values too instead of failing the flow.
// - A map inserted by a default (a `taskRunner` block) is not visited by the
//   non-forced pass that inserted it, but is visited by the forced pass, as in
//   Kestra.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/common/result.h"
#include "agent/template/value.h"

namespace agent::flow {

struct PluginDefault {
  std::string type;
  bool forced = false;
  template_::Value values;  // a map
};

// A `pluginDefaults` list; `path` names it in errors ("pluginDefaults").
Result<std::vector<PluginDefault>> parse_plugin_defaults(const template_::Value& list,
                                                         std::string_view path);

// The flow with its own defaults and `global` applied, and its
// `pluginDefaults` / `taskDefaults` keys removed. `canonical_type` maps a
// legacy type name to its current one (identity otherwise).
Result<template_::Value> apply_plugin_defaults(
    const template_::Value& flow, const std::vector<PluginDefault>& global,
    const std::function<std::string(std::string_view)>& canonical_type,
    std::vector<std::string>* warnings,
    const std::function<bool(std::string_view type, std::string_view property)>& accepts = {});

}  // namespace agent::flow
