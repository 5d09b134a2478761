#include "agent/files/glob.h"

namespace agent::files {

namespace {

bool is_regex_meta(char c) {
  return std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos;
}

void literal(std::string& out, char c) {
  if (is_regex_meta(c)) out += '\\';
  out += c;
}

Error bad(std::string_view glob, std::string_view why) {
  return Error(Errc::kInvalidArgument, "invalid glob '" + std::string(glob) + "': " + std::string(why));
}

// std::regex reports a bad pattern by throwing; the throw never leaves here.
std::shared_ptr<const std::regex> make_regex(const std::string& text) {
  try {
    return std::make_shared<const std::regex>(text, std::regex::ECMAScript);
  } catch (const std::regex_error&) {
    return nullptr;
  }
}

}  // namespace

Result<std::string> glob_to_regex(std::string_view glob) {
  std::string out = "^";
  bool in_group = false;
  for (size_t i = 0; i < glob.size(); i++) {
    char c = glob[i];
    switch (c) {
      case '\\':
        if (i + 1 >= glob.size()) return bad(glob, "a trailing '\\'");
        literal(out, glob[++i]);
        break;
      case '*':
        if (i + 1 < glob.size() && glob[i + 1] == '*') {
          out += ".*";
          i++;
        } else {
          out += "[^/]*";
        }
        break;
      case '?': out += "[^/]"; break;
      case '[': {
        size_t end = glob.find(']', i + 1);
        if (end == std::string_view::npos) return bad(glob, "an unclosed '['");
        out += "[";
        size_t j = i + 1;
        if (j < end && (glob[j] == '!' || glob[j] == '^')) {
          out += "^/";  // a negated class never matches the separator
          j++;
        }
        for (; j < end; j++) {
          char k = glob[j];
          if (k == '\\' || k == '[' || k == ']' || k == '^') out += '\\';
          out += k;
        }
        out += "]";
        i = end;
        break;
      }
      case '{':
        if (in_group) return bad(glob, "nested '{' groups");
        in_group = true;
        out += "(?:";
        break;
      case '}':
        if (!in_group) {
          literal(out, c);
        } else {
          in_group = false;
          out += ")";
        }
        break;
      case ',':
        if (in_group) {
          out += "|";
        } else {
          out += ',';
        }
        break;
      default: literal(out, c);
    }
  }
  if (in_group) return bad(glob, "an unclosed '{'");
  out += "$";
  return out;
}

Result<PathMatcher> PathMatcher::compile(std::string_view pattern, std::string_view working_dir) {
  PathMatcher m;
  m.pattern_ = std::string(pattern);
  std::string regex;
  if (pattern.starts_with("regex:")) {
    regex = "^(?:" + std::string(pattern.substr(6)) + ")$";
  } else {
    std::string glob;
    if (pattern.starts_with("glob:")) {
      glob = std::string(pattern.substr(5));
    } else {
      // The working directory is literal text in the glob.
      for (char c : working_dir) {
        if (std::string_view("\\*?[]{},").find(c) != std::string_view::npos) glob += '\\';
        glob += c;
      }
      if (!pattern.starts_with("/")) glob += '/';
      glob += pattern;
    }
    AGENT_ASSIGN_OR_RETURN(regex, glob_to_regex(glob));
  }
  m.re_ = make_regex(regex);
  if (!m.re_) {
    return Error(Errc::kInvalidArgument, "invalid pattern '" + std::string(pattern) + "'");
  }
  return m;
}

bool PathMatcher::matches(std::string_view absolute_path) const {
  return std::regex_match(absolute_path.begin(), absolute_path.end(), *re_);
}

bool glob_match(std::string_view glob, std::string_view path) {
  auto regex = glob_to_regex(glob);
  if (!regex.ok()) return false;
  auto re = make_regex(*regex);
  return re && std::regex_match(path.begin(), path.end(), *re);
}

}  // namespace agent::files
