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

// As bash's `set -x` prints a word with a single quote: 'it'\''s'.
std::string shell_quoted(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out;
}

// Percent-encoded (everything but A-Z a-z 0-9 - . _ ~), as in a URL.
std::string url_encoded(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
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
  if (secret.empty()) return;
  // The forms a secret takes on its way to a log: JSON-escaped (a marker, a
  // JSON log), as bash's xtrace quotes it, URL-encoded; and each line of a
  // multi-line secret (a log line never holds a line break), if long enough
  // not to mask ordinary words.
  std::vector<std::string> forms = {json_escaped(secret), shell_quoted(secret), url_encoded(secret)};
  if (secret.find_first_of("\r\n") != std::string::npos) {
    size_t start = 0;
    while (start <= secret.size()) {
      size_t end = secret.find_first_of("\r\n", start);
      if (end == std::string::npos) end = secret.size();
      if (end - start >= kMinLinePart) forms.push_back(secret.substr(start, end - start));
      start = end + 1;
    }
  }
  for (auto& f : forms) {
    if (f != secret) insert_sorted(secrets_, std::move(f));
  }
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
