// Where each value of a YAML document is: a map from the value's path in the
// validator's syntax (`tasks[0].commands`) to its 1-based line and column
// (of the key for map entries, of the item for list items). For error
// messages only: a path it does not know has no position.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>

namespace agent::yaml {

struct Position {
  int line = 0;
  int column = 0;
};

struct LineMap {
  std::unordered_map<std::string, Position> positions;
  Position find(const std::string& path) const;  // {0, 0} when unknown
};

// An empty map when the document does not parse (yaml_to_json reports why).
LineMap yaml_line_map(std::string_view yaml);

}  // namespace agent::yaml
