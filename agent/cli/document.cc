#include "agent/cli/document.h"

#include <simdjson.h>

#include <cerrno>
#include <fstream>
#include <iostream>
#include <sstream>

#include "agent/json/read.h"
#include "agent/yaml/yaml_to_json.h"

namespace agent::cli {

namespace {

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<std::string> read_all(const std::string& path) {
  std::ostringstream text;
  if (path == "-") {
    text << std::cin.rdbuf();
    if (std::cin.bad()) return Error::from_errno(errno, "cannot read standard input");
    return text.str();
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error::from_errno(errno, "cannot open " + path);
  text << file.rdbuf();
  if (file.bad()) return Error::from_errno(errno, "cannot read " + path);
  return text.str();
}

}  // namespace

Result<std::string> load_document(const std::string& path) {
  AGENT_ASSIGN_OR_RETURN(std::string text, read_all(path));
  std::string name = path == "-" ? "<stdin>" : path;
  if (!ends_with(path, ".json")) return yaml_to_json(text, name);
  simdjson::dom::parser parser;
  json::Element doc;
  auto err = parser.parse(text).get(doc);
  if (err != simdjson::SUCCESS) {
    return Error(Errc::kInvalidArgument,
                 name + ": not valid JSON: " + simdjson::error_message(err));
  }
  return json::to_json(doc);
}

}  // namespace agent::cli
