#include "agent/context/mask.h"

#include <algorithm>

namespace agent::context {

namespace {

std::string json_escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  return out;
}

void insert_sorted(std::vector<std::string>& list, std::string s) {
  if (s.empty() || std::find(list.begin(), list.end(), s) != list.end()) return;
  auto at = std::find_if(list.begin(), list.end(),
                         [&](const std::string& x) { return x.size() < s.size(); });
  list.insert(at, std::move(s));
}

}  // namespace

void SecretMasker::add(std::string secret) {
  std::string escaped = json_escaped(secret);
  if (escaped != secret) insert_sorted(secrets_, std::move(escaped));
  insert_sorted(secrets_, std::move(secret));
}

std::string SecretMasker::mask(std::string_view line) const {
  std::string out;
  bool changed = false;
  std::string_view current = line;
  for (const auto& s : secrets_) {
    size_t pos = current.find(s);
    if (pos == std::string_view::npos) continue;
    std::string next;
    next.reserve(current.size());
    size_t from = 0;
    while (pos != std::string_view::npos) {
      next.append(current.substr(from, pos - from));
      next.append(kMask);
      from = pos + s.size();
      pos = current.find(s, from);
    }
    next.append(current.substr(from));
    out = std::move(next);
    current = out;
    changed = true;
  }
  return changed ? out : std::string(line);
}

}  // namespace agent::context
