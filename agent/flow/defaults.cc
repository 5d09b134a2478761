#include "agent/flow/defaults.h"

#include <algorithm>

#include "agent/flow/did_you_mean.h"

namespace agent::flow {

namespace {

using template_::Value;

bool contains(const Value::List& list, const Value& v) {
  return std::any_of(list.begin(), list.end(), [&](const Value& x) { return template_::equals(x, v); });
}

// `high` wins over `low`; keys in the order of `first` (the task's own map).
Value merge(const Value& low, const Value& high, bool high_keys_first) {
  if (low.is_map() && high.is_map()) {
    const Value::Map& primary = high_keys_first ? high.as_map() : low.as_map();
    const Value::Map& secondary = high_keys_first ? low.as_map() : high.as_map();
    Value::Map out;
    auto add = [&](const std::string& key) {
      const Value* l = low.find(key);
      const Value* h = high.find(key);
      if (l != nullptr && h != nullptr) {
        out.emplace_back(key, merge(*l, *h, high_keys_first));
      } else {
        out.emplace_back(key, h != nullptr ? *h : *l);
      }
    };
    for (const auto& [k, v] : primary) add(k);
    for (const auto& entry : secondary) {
      const std::string& k = entry.first;  // a lambda may not capture a structured binding (clang 14)
      bool seen = std::any_of(primary.begin(), primary.end(), [&](const auto& kv) { return kv.first == k; });
      if (!seen) add(k);
    }
    return Value(std::move(out));
  }
  if (low.is_list() && high.is_list()) {
    Value::List out = low.as_list();
    for (const auto& item : high.as_list()) {
      if (!contains(out, item)) out.push_back(item);
    }
    return Value(std::move(out));
  }
  return high;
}

bool matches(std::string_view type, std::string_view key) {
  return type == key || type.starts_with(key);
}

using Accepts = std::function<bool(std::string_view, std::string_view)>;

// The default's values the type has a property for.
Value accepted(const Value& values, const std::string& type, const Accepts& accepts) {
  if (!accepts) return values;
  Value::Map out;
  for (const auto& [k, v] : values.as_map()) {
    if (accepts(type, k)) out.emplace_back(k, v);
  }
  return Value(std::move(out));
}

// Children first, then the map itself.
Value walk(const Value& v, const std::vector<const PluginDefault*>& defaults, bool forced,
           const Accepts& accepts) {
  if (v.is_list()) {
    Value::List out;
    out.reserve(v.as_list().size());
    for (const auto& item : v.as_list()) out.push_back(walk(item, defaults, forced, accepts));
    return Value(std::move(out));
  }
  if (!v.is_map()) return v;
  Value::Map children;
  children.reserve(v.as_map().size());
  for (const auto& [k, child] : v.as_map()) {
    children.emplace_back(k, walk(child, defaults, forced, accepts));
  }
  Value result(std::move(children));
  const Value* type = result.find("type");
  if (type == nullptr || !type->is_string()) return result;
  const std::string t = type->as_string();  // a copy: `result` is replaced below
  for (const PluginDefault* d : defaults) {
    if (!matches(t, d->type)) continue;
    Value values = accepted(d->values, t, accepts);
    result = forced ? merge(result, values, false) : merge(values, result, true);
  }
  return result;
}

}  // namespace

Result<std::vector<PluginDefault>> parse_plugin_defaults(const Value& list, std::string_view path) {
  std::string base(path);
  if (!list.is_list()) {
    return Error::invalid(base, std::string("expected a list of {type, values, forced}, found ") +
                             std::string(template_::kind_name(list)));
  }
  std::vector<PluginDefault> out;
  size_t i = 0;
  for (const auto& item : list.as_list()) {
    std::string ipath = base + "[" + std::to_string(i++) + "]";
    if (!item.is_map()) return Error::invalid(ipath, "expected a map with type and values");
    PluginDefault d;
    bool has_type = false, has_values = false;
    for (const auto& [k, v] : item.as_map()) {
      std::string kpath = ipath + "." + k;
      if (k == "type") {
        if (!v.is_string() || v.as_string().empty()) return Error::invalid(kpath, "expected a non-empty string");
        d.type = v.as_string();
        has_type = true;
      } else if (k == "forced") {
        if (!v.is_bool()) return Error::invalid(kpath, "expected true or false");
        d.forced = v.as_bool();
      } else if (k == "values") {
        if (!v.is_map()) return Error::invalid(kpath, "expected a map of property values");
        d.values = v;
        has_values = true;
      } else {
        std::string hint = did_you_mean(k, {"type", "forced", "values"});
        return Error::invalid(kpath, "unknown property" + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      }
    }
    if (!has_type) return Error::invalid(ipath + ".type", "required property missing");
    if (!has_values) return Error::invalid(ipath + ".values", "required property missing");
    out.push_back(std::move(d));
  }
  return out;
}

Result<Value> apply_plugin_defaults(const Value& flow, const std::vector<PluginDefault>& global,
                                    const std::function<std::string(std::string_view)>& canonical_type,
                                    std::vector<std::string>* warnings, const Accepts& accepts) {
  if (!flow.is_map()) return flow;
  std::vector<PluginDefault> all;
  Value::Map rest;
  for (const auto& [k, v] : flow.as_map()) {
    if (k != "pluginDefaults" && k != "taskDefaults") {
      rest.emplace_back(k, v);
    }
  }
  for (std::string_view key : {"pluginDefaults", "taskDefaults"}) {
    const Value* list = flow.find(key);
    if (list == nullptr || list->is_null()) continue;
    AGENT_ASSIGN_OR_RETURN(auto parsed, parse_plugin_defaults(*list, key));
    if (key == "taskDefaults" && warnings != nullptr) {
      warnings->push_back("flow property 'taskDefaults' is deprecated; write 'pluginDefaults'");
    }
    all.insert(all.end(), parsed.begin(), parsed.end());
  }
  all.insert(all.end(), global.begin(), global.end());
  if (all.empty()) return Value(std::move(rest));
  // Legacy keys also apply under the current type name.
  size_t n = all.size();
  for (size_t i = 0; i < n; i++) {
    std::string canonical = canonical_type ? canonical_type(all[i].type) : all[i].type;
    if (canonical != all[i].type) {
      PluginDefault copy = all[i];
      copy.type = std::move(canonical);
      all.insert(all.begin() + static_cast<long>(i) + 1, std::move(copy));
      i++;
      n++;
    }
  }
  std::vector<const PluginDefault*> normal, forced;
  for (const auto& d : all) (d.forced ? forced : normal).push_back(&d);
  std::reverse(forced.begin(), forced.end());  // the most important applied last
  Value result(std::move(rest));
  if (!normal.empty()) result = walk(result, normal, false, accepts);
  if (!forced.empty()) result = walk(result, forced, true, accepts);
  return result;
}

}  // namespace agent::flow
