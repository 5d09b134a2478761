#include "agent/yaml/yaml_to_json.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "agent/json/writer.h"

namespace agent::yaml {

namespace {

// Aliases can make a small document expand enormously ("billion laughs").
constexpr size_t kMaxJsonBytes = 64u << 20;

constexpr std::string_view kTagPrefix = "tag:yaml.org,2002:";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool is_null_text(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> bool_text(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

// [-+]?[0-9]+ as JSON: no '+', no leading zeros. Empty if it is not one, or if
// it does not fit in 64 bits (JSON readers would choke on it).
std::string int_json(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return {};
  for (char c : s) {
    if (!is_digit(c)) return {};
  }
  while (s.size() > 1 && s[0] == '0') s.remove_prefix(1);
  std::string out = negative && s != "0" ? "-" : "";
  out += s;
  errno = 0;
  if (negative) {
    (void)std::strtoll(out.c_str(), nullptr, 10);
  } else {
    (void)std::strtoull(out.c_str(), nullptr, 10);
  }
  if (errno == ERANGE) return {};
  return out;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? as JSON, keeping the
// digits as written. Empty if it is not one or overflows a double.
std::string float_json(std::string_view s) {
  std::string out;
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    if (s[i] == '-') out += '-';
    i++;
  }
  size_t int_start = i;
  while (i < s.size() && is_digit(s[i])) i++;
  std::string_view int_part = s.substr(int_start, i - int_start);
  std::string_view frac_part;
  bool has_dot = false;
  if (i < s.size() && s[i] == '.') {
    has_dot = true;
    size_t frac_start = ++i;
    while (i < s.size() && is_digit(s[i])) i++;
    frac_part = s.substr(frac_start, i - frac_start);
  }
  if (int_part.empty() && frac_part.empty()) return {};
  std::string_view exp_part;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t exp_start = i++;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) i++;
    size_t digits_start = i;
    while (i < s.size() && is_digit(s[i])) i++;
    if (i == digits_start) return {};
    exp_part = s.substr(exp_start, i - exp_start);
  }
  if (i != s.size() || (!has_dot && exp_part.empty())) return {};
  while (int_part.size() > 1 && int_part[0] == '0') int_part.remove_prefix(1);
  out += int_part.empty() ? "0" : int_part;
  if (has_dot) {
    out += '.';
    out += frac_part.empty() ? "0" : frac_part;
  }
  out += exp_part;
  if (!std::isfinite(std::strtod(out.c_str(), nullptr))) return {};
  return out;
}

// JSON for a plain scalar under the core schema.
std::string resolve_plain(const std::string& s) {
  if (is_null_text(s)) return "null";
  if (auto b = bool_text(s)) return *b ? "true" : "false";
  if (std::string n = int_json(s); !n.empty()) return n;
  if (std::string f = float_json(s); !f.empty()) return f;
  std::string out;
  json::append_quoted(out, s);
  return out;
}

Error located(std::string_view source, const YAML::Mark& mark, std::string_view message) {
  std::string msg(source);
  if (!mark.is_null()) {
    msg += ':' + std::to_string(mark.line + 1) + ':' + std::to_string(mark.column + 1);
  }
  msg += ": ";
  msg += message;
  return Error(Errc::kInvalidArgument, std::move(msg));
}

struct Node {
  enum class Kind { kScalar, kSequence, kMapping };
  Kind kind = Kind::kScalar;
  std::string json;  // scalars: their JSON text
  std::string text;  // scalars: the text as written (for mapping keys)
  bool plain = false;
  std::vector<size_t> items;                            // sequences
  std::vector<std::pair<std::string, size_t>> members;  // mappings, after merges; keys as JSON strings
  bool complete = false;
};

// Builds a tree of the document from yaml-cpp's events. Aliases share nodes.
class Builder : public YAML::EventHandler {
 public:
  explicit Builder(std::string_view source) : source_(source) {}

  const std::optional<Error>& error() const { return error_; }
  std::optional<size_t> root() const { return root_; }
  const std::vector<Node>& nodes() const { return nodes_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Node n;
    n.json = "null";
    n.plain = true;
    n.complete = true;
    add(mark, std::move(n), anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (error_) return;
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      fail(mark, "unknown anchor");
      return;
    }
    if (!nodes_[it->second].complete) {
      fail(mark, "an alias may not refer to a node that contains it");
      return;
    }
    attach(mark, it->second);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (error_) return;
    Node n;
    n.text = value;
    n.complete = true;
    n.plain = tag == "?";
    auto resolved = resolve(mark, tag, value);
    if (!resolved) return;
    n.json = std::move(*resolved);
    add(mark, std::move(n), anchor);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Node n;
    n.kind = Node::Kind::kSequence;
    open(mark, std::move(n), anchor);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Node n;
    n.kind = Node::Kind::kMapping;
    open(mark, std::move(n), anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  // An open collection. Mappings collect keys until their value arrives.
  struct Frame {
    size_t node;
    std::optional<size_t> pending_key;
    YAML::Mark pending_key_mark;
    std::map<std::string, int> key_lines;  // explicit keys (as JSON strings) -> 1-based line
    std::vector<std::pair<size_t, YAML::Mark>> merges;
  };

  void fail(const YAML::Mark& mark, std::string_view message) {
    if (!error_) error_ = located(source_, mark, message);
  }

  // JSON for a scalar: plain ones by the core schema, non-plain ("!") ones as
  // strings, and the core schema's own tags as they say.
  std::optional<std::string> resolve(const YAML::Mark& mark, const std::string& tag,
                                     const std::string& value) {
    if (tag == "?") return resolve_plain(value);
    std::string_view name;
    if (tag.rfind(kTagPrefix, 0) == 0) name = std::string_view(tag).substr(kTagPrefix.size());
    std::string out;
    if (name == "null") {
      if (is_null_text(value)) return std::string("null");
    } else if (name == "bool") {
      if (auto b = bool_text(value)) return std::string(*b ? "true" : "false");
    } else if (name == "int") {
      if (!(out = int_json(value)).empty()) return out;
    } else if (name == "float") {
      if (!(out = float_json(value)).empty() || !(out = int_json(value)).empty()) return out;
    } else {
      json::append_quoted(out, value);  // "!", !!str, !!binary, !!timestamp, other tags
      return out;
    }
    fail(mark, "'" + value + "' is not a valid !!" + std::string(name));
    return std::nullopt;
  }

  void add(const YAML::Mark& mark, Node node, YAML::anchor_t anchor) {
    if (error_) return;
    nodes_.push_back(std::move(node));
    size_t id = nodes_.size() - 1;
    if (anchor != YAML::NullAnchor) anchors_[anchor] = id;
    attach(mark, id);
  }

  void open(const YAML::Mark& mark, Node node, YAML::anchor_t anchor) {
    if (error_) return;
    if (!stack_.empty()) {
      Frame& parent = stack_.back();
      if (nodes_[parent.node].kind == Node::Kind::kMapping && !parent.pending_key) {
        fail(mark, "a mapping key must be a scalar");
        return;
      }
    }
    nodes_.push_back(std::move(node));
    size_t id = nodes_.size() - 1;
    if (anchor != YAML::NullAnchor) anchors_[anchor] = id;
    stack_.push_back(Frame{id, std::nullopt, YAML::Mark(), {}, {}});
    marks_.push_back(mark);
  }

  void close() {
    if (error_ || stack_.empty()) return;
    Frame frame = std::move(stack_.back());
    YAML::Mark mark = marks_.back();
    stack_.pop_back();
    marks_.pop_back();
    if (!frame.merges.empty()) apply_merges(frame);
    if (error_) return;
    nodes_[frame.node].complete = true;
    attach(mark, frame.node);
  }

  // Merge keys: mappings named by `<<` add the keys the mapping lacks, earlier
  // ones first. Merged keys come before the mapping's own, as PyYAML does.
  void apply_merges(Frame& frame) {
    std::vector<std::pair<std::string, size_t>> merged;
    std::set<std::string> seen;
    for (const auto& member : nodes_[frame.node].members) seen.insert(member.first);
    for (const auto& [source, mark] : frame.merges) {
      const Node& src = nodes_[source];
      std::vector<size_t> maps = src.items;
      if (src.kind == Node::Kind::kMapping) maps = {source};
      for (size_t m : maps) {
        if (src.kind == Node::Kind::kScalar || nodes_[m].kind != Node::Kind::kMapping) {
          fail(mark, "a merge key (<<) takes a mapping or a list of mappings");
          return;
        }
        for (const auto& member : nodes_[m].members) {
          if (seen.insert(member.first).second) merged.push_back(member);
        }
      }
      if (src.kind == Node::Kind::kScalar) {
        fail(mark, "a merge key (<<) takes a mapping or a list of mappings");
        return;
      }
    }
    auto& members = nodes_[frame.node].members;
    merged.insert(merged.end(), members.begin(), members.end());
    members = std::move(merged);
  }

  // Places a finished node in its parent (or as the document's root).
  void attach(const YAML::Mark& mark, size_t id) {
    if (error_) return;
    if (stack_.empty()) {
      root_ = id;
      return;
    }
    Frame& parent = stack_.back();
    Node& pnode = nodes_[parent.node];
    if (pnode.kind == Node::Kind::kSequence) {
      pnode.items.push_back(id);
      return;
    }
    if (!parent.pending_key) {
      if (nodes_[id].kind != Node::Kind::kScalar) {
        fail(mark, "a mapping key must be a scalar");
        return;
      }
      parent.pending_key = id;
      parent.pending_key_mark = mark;
      return;
    }
    size_t key_id = *parent.pending_key;
    parent.pending_key.reset();
    const Node& key = nodes_[key_id];
    const YAML::Mark& key_mark = parent.pending_key_mark;
    if (key.plain && key.text == "<<") {
      parent.merges.emplace_back(id, key_mark);
      return;
    }
    // Keys are told apart as written: two that differ only in bytes that
    // are not UTF-8 (both written U+FFFD) are the same key.
    std::string written;
    json::append_quoted(written, key.text);
    auto [it, inserted] = parent.key_lines.emplace(written, key_mark.line + 1);
    if (!inserted) {
      fail(key_mark,
           "duplicate key '" + key.text + "' (first at line " + std::to_string(it->second) + ")");
      return;
    }
    pnode.members.emplace_back(std::move(written), id);
  }

  std::string_view source_;
  std::vector<Node> nodes_;
  std::vector<Frame> stack_;
  std::vector<YAML::Mark> marks_;
  std::map<YAML::anchor_t, size_t> anchors_;
  std::optional<size_t> root_;
  std::optional<Error> error_;
};

// Counts documents after the first without building anything.
class Ignore : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { mark_ = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
  const YAML::Mark& mark() const { return mark_; }

 private:
  YAML::Mark mark_;
};

// The size of a node's JSON (escapes in keys aside), without writing it:
// aliases share nodes, so a small document can stand for a huge one.
// Saturates past kMaxJsonBytes.
size_t json_size(const std::vector<Node>& nodes, size_t id, std::vector<size_t>& memo) {
  constexpr size_t kUnknown = static_cast<size_t>(-1);
  if (memo[id] != kUnknown) return memo[id];
  const Node& n = nodes[id];
  size_t size = 2;
  auto add = [&](size_t more) { size = std::min(size + more, kMaxJsonBytes + 1); };
  switch (n.kind) {
    case Node::Kind::kScalar:
      size = n.json.size();
      break;
    case Node::Kind::kSequence:
      for (size_t item : n.items) add(json_size(nodes, item, memo) + 1);
      break;
    case Node::Kind::kMapping:
      for (const auto& [key, value] : n.members) {
        add(key.size() + 4 + json_size(nodes, value, memo));
      }
      break;
  }
  memo[id] = size;
  return size;
}

void emit(const std::vector<Node>& nodes, size_t id, std::string& out) {
  const Node& n = nodes[id];
  switch (n.kind) {
    case Node::Kind::kScalar:
      out += n.json;
      return;
    case Node::Kind::kSequence: {
      out += '[';
      for (size_t i = 0; i < n.items.size(); i++) {
        if (i > 0) out += ',';
        emit(nodes, n.items[i], out);
      }
      out += ']';
      return;
    }
    case Node::Kind::kMapping: {
      out += '{';
      for (size_t i = 0; i < n.members.size(); i++) {
        if (i > 0) out += ',';
        out += n.members[i].first;  // written already
        out += ':';
        emit(nodes, n.members[i].second, out);
      }
      out += '}';
      return;
    }
  }
}

// Whether the line of `mark` (or the one before: yaml-cpp often reports the
// next token) starts with whitespace that contains a tab.
bool indented_with_tab(std::string_view text, const YAML::Mark& mark) {
  if (mark.is_null()) return false;
  int line = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (line == mark.line || line + 1 == mark.line) {
      for (size_t i = start; i < end && (text[i] == ' ' || text[i] == '\t'); i++) {
        if (text[i] == '\t') return true;
      }
    }
    if (line == mark.line) break;
    line++;
    start = end + 1;
  }
  return false;
}

}  // namespace

Result<std::string> yaml_to_json(std::string_view yaml, std::string_view source_name) {
  std::istringstream in{std::string(yaml)};
  Builder builder(source_name);
  try {
    YAML::Parser parser(in);
    if (!parser.HandleNextDocument(builder)) return std::string("null");
    if (builder.error()) return *builder.error();
    Ignore rest;
    if (parser.HandleNextDocument(rest)) {
      return located(source_name, rest.mark(),
                     "content after the end of the document (expected exactly one YAML "
                     "document)");
    }
  } catch (const YAML::Exception& e) {
    std::string msg = e.msg;
    if (indented_with_tab(yaml, e.mark)) msg += " (tabs may not be used for indentation)";
    return located(source_name, e.mark, msg);
  } catch (const std::exception& e) {
    return Error(Errc::kInvalidArgument, std::string(source_name) + ": " + e.what());
  }
  if (builder.error()) return *builder.error();
  if (!builder.root()) return std::string("null");
  const std::vector<Node>& nodes = builder.nodes();
  std::vector<size_t> memo(nodes.size(), static_cast<size_t>(-1));
  size_t size = json_size(nodes, *builder.root(), memo);
  if (size > kMaxJsonBytes) {
    return Error(Errc::kResourceExhausted,
                 std::string(source_name) + ": the document expands to more than " +
                     std::to_string(kMaxJsonBytes >> 20) + " MiB of JSON (aliases?)");
  }
  std::string out;
  out.reserve(size);
  emit(nodes, *builder.root(), out);
  return out;
}

Result<std::string> yaml_file_to_json(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error::from_errno(errno, "cannot open " + path);
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return Error::from_errno(errno, "cannot read " + path);
  return yaml_to_json(text.str(), path);
}

}  // namespace agent::yaml
