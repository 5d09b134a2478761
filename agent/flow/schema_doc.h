// The catalog (schema.h) for people and editors: a list of types, one type's
// property table, and a JSON Schema (draft-07) of a whole flow for YAML
// language servers (completion, hover docs, validation).
#pragma once

#include <string>

#include "agent/flow/schema.h"

namespace agent::flow {

std::string type_list_text();
std::string type_doc_text(const TypeSpec& type);
std::string flow_json_schema();

}  // namespace agent::flow
