#include "agent/yaml/line_map.h"

#include <yaml-cpp/yaml.h>

namespace agent::yaml {

namespace {

void walk(const YAML::Node& node, const std::string& path, LineMap& out) {
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!it->first.IsScalar()) continue;
      std::string key = it->first.Scalar();
      std::string child = path.empty() ? key : path + "." + key;
      YAML::Mark m = it->first.Mark();
      out.positions.emplace(child, Position{m.line + 1, m.column + 1});
      walk(it->second, child, out);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); i++) {
      std::string child = path + "[" + std::to_string(i) + "]";
      YAML::Mark m = node[i].Mark();
      out.positions.emplace(child, Position{m.line + 1, m.column + 1});
      walk(node[i], child, out);
    }
  }
}

}  // namespace

Position LineMap::find(const std::string& path) const {
  // The closest known ancestor: a missing property is reported at its parent.
  std::string p = path;
  while (true) {
    auto it = positions.find(p);
    if (it != positions.end()) return it->second;
    size_t cut = p.find_last_of(".[");
    if (cut == std::string::npos || cut == 0) return {};
    p.resize(cut);
  }
}

LineMap yaml_line_map(std::string_view yaml) {
  LineMap out;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    walk(root, "", out);
  } catch (const YAML::Exception&) {
    out.positions.clear();  // yaml_to_json reports the error
  }
  return out;
}

}  // namespace agent::yaml
