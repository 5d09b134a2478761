// Typed access to simdjson DOM values with errors that name the property path
// and what was found ("expected a string, found an array").
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/common/result.h"

namespace agent::json {

using Element = simdjson::dom::element;
using Object = simdjson::dom::object;

std::string_view type_name(Element e);  // "a string", "an array", ...
Error type_error(std::string_view path, std::string_view expected, Element found);

Result<Object> as_object(Element e, std::string_view path);
Result<std::string> as_string(Element e, std::string_view path);
Result<int64_t> as_int(Element e, std::string_view path);
Result<bool> as_bool(Element e, std::string_view path);
// An array of strings. A single string is an error (Kestra's lists are lists).
Result<std::vector<std::string>> as_string_list(Element e, std::string_view path);
// An object of string values; numbers and booleans are taken as their JSON text,
// as Kestra renders env values.
Result<std::vector<std::pair<std::string, std::string>>> as_string_map(Element e,
                                                                       std::string_view path);

// A small document parsed with `reused`, a thread_local parser of the call
// site's: a fresh simdjson parser allocates its buffers at its first parse,
// which for the few hundred bytes parsed per task (a runner's properties, a
// flow) cost about as much as the parse. The element is valid until that
// parser parses again, so a call site that may run inside itself must not
// use this. A document above kReusedParserMaxBytes is parsed by `own`
// instead, so that one large document does not pin its buffers for the
// thread's life.
constexpr size_t kReusedParserMaxBytes = 64 * 1024;
inline simdjson::error_code parse_reusing(simdjson::dom::parser& reused, simdjson::dom::parser& own,
                                          std::string_view text, Element& out) {
  auto& p = text.size() <= kReusedParserMaxBytes ? reused : own;
  return p.parse(text.data(), text.size()).get(out);
}

// Minified JSON text of any value.
std::string to_json(Element e);

// Joins a path and a key: join("flow", "tasks") == "flow.tasks"; join("", "x") == "x".
std::string join(std::string_view parent, std::string_view key);
std::string index(std::string_view parent, size_t i);  // "tasks[3]"

}  // namespace agent::json
