// The one catalog of every type a flow may name: the flow itself, script
// tasks (generated from the languages table), core tasks, and task runners,
// each with its properties (type, default, description, whether runnerd
// supports it). The validator, `runnerctl schema` and the JSON Schema for
// editors all read this catalog. Immutable; safe from any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace agent::flow {

enum class PropType {
  kString,
  kBool,
  kInt,
  kNumber,
  kDuration,        // an ISO-8601 duration string
  kStringList,
  kStringMap,       // values: strings, numbers or booleans
  kMap,             // any map
  kAny,
  kStringOrList,    // Log's message
  kTaskList,        // nested tasks: validated as tasks
  kTaskRunner,      // a map with `type`: validated against the runner's spec
  kRetry,
  kNamespaceFiles,
  kInputFiles,      // a map of strings, or a string (JSON)
  kInputs,          // the flow's inputs (checked by parse_inputs)
  kLabels,          // a map, or a list of {key, value}
};

enum class Support { kSupported, kIgnored, kNotYet };
enum class TypeKind { kFlow, kScriptTask, kFlowableTask, kCoreTask, kRunner };

struct PropSpec {
  std::string name;
  PropType type = PropType::kString;
  std::string default_text;  // "" when none
  std::string description;
  bool required = false;
  bool dynamic = false;      // may be a template string
  Support support = Support::kSupported;
  std::string note;          // deprecation replacement, or why not yet
  std::vector<std::string> enum_values;
  bool deprecated = false;
};

struct TypeSpec {
  std::string type;                  // the current Kestra name
  std::vector<std::string> aliases;  // legacy names, accepted with a warning
  TypeKind kind = TypeKind::kCoreTask;
  std::string description;
  std::vector<PropSpec> props;
  Support support = Support::kSupported;
  std::string note;  // why not yet (a runner of a later issue)

  const PropSpec* prop(std::string_view name) const;
};

std::span<const TypeSpec> all_types();
const TypeSpec& flow_spec();
// A task or runner type by its current or legacy name; *via_alias tells which.
const TypeSpec* find_type(std::string_view type, bool* via_alias = nullptr);
// The current name of a legacy type name; the input otherwise.
std::string canonical_type(std::string_view type);

std::string_view prop_type_name(PropType t);
std::string_view type_kind_name(TypeKind k);

}  // namespace agent::flow
