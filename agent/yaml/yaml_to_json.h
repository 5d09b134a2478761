// YAML to compact JSON, so that flows written in YAML (as Kestra's are) go
// through the same JSON path as everything else.
//
// Scalars follow the YAML 1.2 core schema, for plain (unquoted) scalars only:
// null/Null/NULL/~/empty -> null, true/True/TRUE/false/... -> booleans, decimal
// integers and floats -> numbers. Everything else, and every quoted or block
// (| and >) scalar, is a string, kept exactly. Hex and octal integers (0x1F,
// 0o17), .inf and .nan stay strings, as do integers too large for 64 bits.
// The tags !!str, !!int, !!float, !!bool and !!null are honoured (a value that
// does not fit its tag is an error); any other tag gives a string.
//
// Anchors and aliases are expanded; merge keys (<<: *base) are applied, keys
// written in the mapping winning. A duplicate key, a non-scalar key, or more
// than one document in the stream is an error. Errors read
// "source:line:col: message" (1-based).
#pragma once

#include <string>
#include <string_view>

#include "agent/common/result.h"

namespace agent::yaml {

// `source_name` names the document in error messages (a file name, "<stdin>").
// An empty document converts to "null".
Result<std::string> yaml_to_json(std::string_view yaml, std::string_view source_name);

// Reads and converts a file; errors name the path.
Result<std::string> yaml_file_to_json(const std::string& path);

}  // namespace agent::yaml

namespace agent {
using yaml::yaml_file_to_json;
using yaml::yaml_to_json;
}  // namespace agent
