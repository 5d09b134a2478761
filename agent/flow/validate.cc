#include "agent/flow/validate.h"

#include <algorithm>
#include <unordered_map>

#include "agent/common/time.h"
#include "agent/flow/did_you_mean.h"
#include "agent/flow/schema.h"
#include "agent/template/template.h"

namespace agent::flow {

namespace {

using template_::Value;

class Validator {
 public:
  explicit Validator(const yaml::LineMap* lines) : lines_(lines) {}

  void flow(const Value& v) {
    if (!v.is_map()) {
      error("", "a flow is a map with id, namespace and tasks");
      return;
    }
    props(v, flow_spec(), "");
    check_duplicate_ids();
  }

  void defaults(const Value& list, const std::string& path) {
    if (!list.is_list()) {
      expect(false, list, path, "a list of {type, values, forced}");
      return;
    }
    size_t i = 0;
    for (const auto& d : list.as_list()) {
      std::string dpath = path + "[" + std::to_string(i++) + "]";
      if (!d.is_map()) {
        expect(false, d, dpath, "a map with type and values");
        continue;
      }
      keys(d, dpath, {"type", "forced", "values"});
      const Value* type = d.find("type");
      const Value* values = d.find("values");
      if (type == nullptr || !type->is_string()) {
        error(join(dpath, "type"), "required property missing");
        continue;
      }
      if (values == nullptr || !values->is_map()) {
        error(join(dpath, "values"), "required: a map of property values");
        continue;
      }
      std::string vpath = join(dpath, "values");
      const TypeSpec* exact = find_type(type->as_string());
      if (exact != nullptr) {
        for (const auto& [k, x] : values->as_map()) {
          const PropSpec* p = exact->prop(k);
          if (p == nullptr) {
            error(join(vpath, k), "no property '" + k + "' in " + exact->type);
          } else {
            value(x, *p, join(vpath, k));
          }
        }
        continue;
      }
      // A prefix: a property is fine when some matching type has it.
      for (const auto& [k, x] : values->as_map()) {
        const PropSpec* found = nullptr;
        bool any_type = false;
        for (const auto& t : all_types()) {
          if (!t.type.starts_with(type->as_string())) continue;
          any_type = true;
          if ((found = t.prop(k)) != nullptr) break;
        }
        if (!any_type) break;  // a plugin runnerd does not know: nothing to check against
        if (found == nullptr) {
          error(join(vpath, k), "no type matching '" + type->as_string() + "' has a property '" + k + "'");
        } else {
          value(x, *found, join(vpath, k));
        }
      }
    }
  }

  std::vector<Diagnostic> take() { return std::move(out_); }

 private:
  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  void add(const std::string& path, std::string message, bool warning) {
    Diagnostic d;
    d.path = path;
    d.message = std::move(message);
    d.warning = warning;
    if (lines_ != nullptr) {
      yaml::Position p = lines_->find(path);
      d.line = p.line;
      d.column = p.column;
    }
    out_.push_back(std::move(d));
  }
  void error(const std::string& path, std::string message) { add(path, std::move(message), false); }
  void warn(const std::string& path, std::string message) { add(path, std::move(message), true); }

  static bool is_template(const Value& v) {
    return v.is_string() && template_::has_template(v.as_string());
  }

  void expect(bool ok, const Value& v, const std::string& path, std::string_view what) {
    if (!ok) {
      error(path, "expected " + std::string(what) + ", found " + std::string(template_::kind_name(v)));
    }
  }

  void string_list(const Value& v, const std::string& path) {
    if (!v.is_list()) {
      expect(false, v, path, "a list of strings");
      return;
    }
    size_t i = 0;
    for (const auto& item : v.as_list()) {
      std::string ipath = path + "[" + std::to_string(i++) + "]";
      expect(item.is_string(), item, ipath, "a string");
    }
  }

  void value(const Value& v, const PropSpec& p, const std::string& path) {
    if (p.dynamic && is_template(v)) return;
    switch (p.type) {
      case PropType::kString:
        expect(v.is_string() || v.is_number() || v.is_bool(), v, path, "a string");
        break;
      case PropType::kBool: expect(v.is_bool(), v, path, "true or false"); break;
      case PropType::kInt: expect(v.is_int(), v, path, "an integer"); break;
      case PropType::kNumber: expect(v.is_number(), v, path, "a number"); break;
      case PropType::kDuration:
        if (!v.is_string()) {
          expect(false, v, path, "an ISO-8601 duration string (PT30S)");
        } else if (auto d = parse_duration(v.as_string()); !d.ok()) {
          error(path, d.error().message());
        }
        break;
      case PropType::kStringList: string_list(v, path); break;
      case PropType::kStringMap:
        if (!v.is_map()) {
          expect(false, v, path, "a map");
        } else {
          for (const auto& [k, x] : v.as_map()) {
            expect(x.is_string() || x.is_number() || x.is_bool(), x, join(path, k), "a string");
          }
        }
        break;
      case PropType::kMap: expect(v.is_map(), v, path, "a map"); break;
      case PropType::kAny: break;
      case PropType::kStringOrList:
        if (!v.is_string()) string_list(v, path);
        break;
      case PropType::kTaskList:
        if (!v.is_list()) {
          expect(false, v, path, "a list of tasks");
        } else {
          size_t i = 0;
          for (const auto& t : v.as_list()) task(t, path + "[" + std::to_string(i++) + "]");
        }
        break;
      case PropType::kTaskRunner: task_runner(v, path); break;
      case PropType::kRetry: retry(v, path); break;
      case PropType::kNamespaceFiles: namespace_files(v, path); break;
      case PropType::kInputFiles:
        if (v.is_string()) break;
        if (!v.is_map()) {
          expect(false, v, path, "a map of file name to content, or a JSON string");
          break;
        }
        for (const auto& [k, x] : v.as_map()) {
          expect(x.is_string() || x.is_null(), x, join(path, k), "a string (content or URI)");
        }
        break;
      case PropType::kInputs: expect(v.is_list(), v, path, "a list of inputs"); break;
      case PropType::kLabels: expect(v.is_map() || v.is_list(), v, path, "a map or a list of {key, value}"); break;
    }
    if (!p.enum_values.empty() && v.is_string() && !is_template(v) &&
        std::find(p.enum_values.begin(), p.enum_values.end(), v.as_string()) == p.enum_values.end()) {
      std::string list;
      for (const auto& e : p.enum_values) list += (list.empty() ? "" : ", ") + e;
      error(path, "expected one of " + list + ", found '" + v.as_string() + "'");
    }
  }

  // Unknown keys of a small fixed map (retry, namespaceFiles).
  void keys(const Value& v, const std::string& path, const std::vector<std::string_view>& known) {
    for (const auto& [k, x] : v.as_map()) {
      if (std::find(known.begin(), known.end(), k) != known.end()) continue;
      std::string hint = did_you_mean(k, known);
      error(join(path, k), "unknown property" + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    }
  }

  void retry(const Value& v, const std::string& path) {
    if (!v.is_map()) {
      expect(false, v, path, "a map");
      return;
    }
    keys(v, path, {"type", "maxAttempts", "maxAttempt", "maxDuration", "warningOnRetry", "behavior",
                   "interval", "delayFactor", "maxInterval", "minInterval"});
    const Value* type = v.find("type");
    if (type == nullptr) {
      error(join(path, "type"), "required property missing (constant, exponential or random)");
    } else if (!type->is_string() || (type->as_string() != "constant" &&
                                      type->as_string() != "exponential" && type->as_string() != "random")) {
      error(join(path, "type"), "expected constant, exponential or random");
    }
    if (v.find("maxAttempt") != nullptr) warn(join(path, "maxAttempt"), "deprecated; write 'maxAttempts'");
  }

  void namespace_files(const Value& v, const std::string& path) {
    if (!v.is_map()) {
      expect(false, v, path, "a map");
      return;
    }
    keys(v, path, {"enabled", "include", "exclude", "namespaces", "ifExists", "folderPerNamespace"});
  }

  void task_runner(const Value& v, const std::string& path) {
    if (!v.is_map()) {
      expect(false, v, path, "a map with a type");
      return;
    }
    const Value* type = v.find("type");
    if (type == nullptr || !type->is_string()) {
      error(join(path, "type"), "required property missing");
      return;
    }
    bool alias = false;
    const TypeSpec* spec = find_type(type->as_string(), &alias);
    if (spec == nullptr || spec->kind != TypeKind::kRunner) {
      std::vector<std::string_view> names;
      for (const auto& t : all_types()) {
        if (t.kind == TypeKind::kRunner) names.push_back(t.type);
      }
      std::string hint = did_you_mean(type->as_string(), names);
      error(join(path, "type"), "unknown task runner '" + type->as_string() + "'" +
                                    (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      return;
    }
    props(v, *spec, path);
  }

  void task(const Value& v, const std::string& path) {
    if (!v.is_map()) {
      expect(false, v, path, "a task (a map with id and type)");
      return;
    }
    const Value* id = v.find("id");
    if (id != nullptr && id->is_string()) ids_.emplace_back(id->as_string(), join(path, "id"));
    const Value* type = v.find("type");
    if (type == nullptr || !type->is_string()) {
      error(join(path, "type"), "required property missing");
      return;
    }
    bool alias = false;
    const TypeSpec* spec = find_type(type->as_string(), &alias);
    if (spec == nullptr || spec->kind == TypeKind::kRunner || spec->kind == TypeKind::kFlow) {
      std::vector<std::string_view> names;
      for (const auto& t : all_types()) {
        if (t.kind != TypeKind::kRunner) names.push_back(t.type);
      }
      std::string hint = did_you_mean(type->as_string(), names);
      error(join(path, "type"),
            "task type '" + type->as_string() + "' is not supported by runnerd" +
                (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                " (`runnerctl schema` lists the supported types)");
      return;
    }
    if (alias) {
      warn(join(path, "type"), "task type '" + type->as_string() + "' is deprecated; use '" + spec->type + "'");
    }
    props(v, *spec, path);
  }

  void props(const Value& v, const TypeSpec& spec, const std::string& path) {
    std::vector<std::string_view> names;
    for (const auto& p : spec.props) {
      if (p.support != Support::kNotYet) names.push_back(p.name);
    }
    for (const auto& [k, x] : v.as_map()) {
      std::string kpath = join(path, k);
      const PropSpec* p = spec.prop(k);
      if (p == nullptr) {
        std::string hint = did_you_mean(k, names);
        error(kpath, "unknown property" + (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
        continue;
      }
      if (p->support == Support::kNotYet) {
        error(kpath, "Kestra property '" + k + "' is not supported by runnerd yet (" + p->note +
                         "); see docs/kestra-compatibility.md");
        continue;
      }
      if (p->support == Support::kIgnored) warn(kpath, "has no effect: " + p->note);
      if (p->deprecated) warn(kpath, "property '" + k + "' is deprecated; write " + p->note);
      value(x, *p, kpath);
    }
    for (const auto& p : spec.props) {
      if (p.required && v.find(p.name) == nullptr) error(join(path, p.name), "required property missing");
    }
  }

  void check_duplicate_ids() {
    std::unordered_map<std::string_view, std::string_view> first;  // id -> path
    for (const auto& [id, path] : ids_) {
      auto [it, added] = first.emplace(id, path);
      if (!added) error(path, "duplicate task id '" + id + "' (first at " + std::string(it->second) + ")");
    }
  }

  const yaml::LineMap* lines_;
  std::vector<Diagnostic> out_;
  std::vector<std::pair<std::string, std::string>> ids_;  // id, path
};

}  // namespace

std::vector<Diagnostic> validate_flow(const Value& flow, const yaml::LineMap* lines) {
  Validator v(lines);
  v.flow(flow);
  return v.take();
}

std::vector<Diagnostic> validate_defaults(const Value& list, std::string_view path,
                                          const yaml::LineMap* lines) {
  Validator v(lines);
  v.defaults(list, std::string(path));
  return v.take();
}

std::string format_diagnostics(const std::vector<Diagnostic>& diagnostics, std::string_view source) {
  std::string out;
  for (const auto& d : diagnostics) {
    out += source;
    if (d.line > 0) {
      out += ':';
      out += std::to_string(d.line);
      out += ':';
      out += std::to_string(d.column);
    }
    out.append(d.warning ? std::string_view(": warning: ") : std::string_view(": error: "));
    if (!d.path.empty()) {
      out += d.path;
      out += ": ";
    }
    out += d.message;
    out += '\n';
  }
  return out;
}

}  // namespace agent::flow
