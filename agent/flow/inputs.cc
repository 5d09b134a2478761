#include "agent/flow/inputs.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <regex>

#include "agent/common/base64.h"
#include "agent/common/time.h"

namespace agent::flow {

namespace {

using template_::Value;

const std::vector<std::string_view> kTypes = {
    "STRING", "INT",    "FLOAT",  "BOOLEAN", "BOOL",   "DATETIME", "DATE", "TIME", "DURATION",
    "JSON",   "URI",    "SELECT", "MULTISELECT", "FILE", "SECRET", "ARRAY", "EMAIL", "ENUM"};

std::string type_list() {
  std::string out;
  for (auto t : kTypes) {
    if (t == "ENUM") continue;
    out += (out.empty() ? "" : ", ") + std::string(t);
  }
  return out;
}

Result<double> number(json::Element e, const std::string& path) {
  double d;
  if (e.get_double().get(d) == simdjson::SUCCESS) return d;
  int64_t i;
  if (e.get_int64().get(i) == simdjson::SUCCESS) return static_cast<double>(i);
  return json::type_error(path, "a number", e);
}

// "2024-01-31T10:00:00+02:00" / "...Z" / fractions -> epoch ms.
bool parse_datetime(std::string_view s, int64_t& ms) {
  if (parse_iso8601(s, ms)) return true;
  if (s.size() < 20) return false;
  // An explicit offset: +HH:MM or -HH:MM at the end.
  std::string_view off = s.substr(s.size() - 6);
  if ((off[0] != '+' && off[0] != '-') || off[3] != ':') return false;
  int hh = (off[1] - '0') * 10 + (off[2] - '0');
  int mm = (off[4] - '0') * 10 + (off[5] - '0');
  if (hh < 0 || hh > 18 || mm < 0 || mm > 59) return false;
  std::string utc(s.substr(0, s.size() - 6));
  utc += 'Z';
  if (!parse_iso8601(utc, ms)) return false;
  int64_t shift = (hh * 60 + mm) * 60000LL;
  ms += off[0] == '+' ? -shift : shift;
  return true;
}

// Java's Instant.toString(): no fraction when it is zero.
std::string instant_text(int64_t ms) {
  std::string s = iso8601(ms);
  if (ms % 1000 == 0) s = s.substr(0, 19) + "Z";
  return s;
}

bool parse_date(std::string_view s) {
  int64_t ms;
  return s.size() == 10 && parse_iso8601(std::string(s) + "T00:00:00Z", ms);
}

bool parse_time(std::string_view s) {
  int64_t ms;
  if (s.size() == 5) return parse_iso8601("2000-01-01T" + std::string(s) + ":00Z", ms);
  return s.size() >= 8 && parse_iso8601("2000-01-01T" + std::string(s) + "Z", ms);
}

Result<Value> to_bool(const Value& v, const std::string& path) {
  if (v.is_bool()) return v;
  if (v.is_string()) {
    std::string s = v.as_string();
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    if (s == "true") return Value(true);
    if (s == "false") return Value(false);
  }
  return Error::invalid(path, "expected true or false");
}

Result<Value> to_int(const Value& v, const InputDef& def, const std::string& path) {
  int64_t n = 0;
  if (v.is_int()) {
    n = v.as_int();
  } else if (v.is_string()) {
    const std::string& s = v.as_string();
    errno = 0;
    char* end = nullptr;
    long long parsed = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE) {
      return Error::invalid(path, "expected an integer, found '" + s + "'");
    }
    n = parsed;
  } else {
    return Error::invalid(path, std::string("expected an integer, found ") + std::string(kind_name(v)));
  }
  if (def.min && static_cast<double>(n) < *def.min) {
    return Error::invalid(path, "must be at least " + template_::to_output(Value(*def.min)));
  }
  if (def.max && static_cast<double>(n) > *def.max) {
    return Error::invalid(path, "must be at most " + template_::to_output(Value(*def.max)));
  }
  return Value(n);
}

Result<Value> to_float(const Value& v, const InputDef& def, const std::string& path) {
  double d = 0;
  if (v.is_number()) {
    d = v.as_double();
  } else if (v.is_string()) {
    const std::string& s = v.as_string();
    char* end = nullptr;
    d = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(d)) {
      return Error::invalid(path, "expected a number, found '" + s + "'");
    }
  } else {
    return Error::invalid(path, std::string("expected a number, found ") + std::string(kind_name(v)));
  }
  if (def.min && d < *def.min) return Error::invalid(path, "must be at least " + template_::to_output(Value(*def.min)));
  if (def.max && d > *def.max) return Error::invalid(path, "must be at most " + template_::to_output(Value(*def.max)));
  return Value(d);
}

Result<std::string> as_text(const Value& v, const std::string& path, std::string_view what) {
  if (v.is_string()) return v.as_string();
  return Error::invalid(path, "expected " + std::string(what) + ", found " + std::string(kind_name(v)));
}

Result<Value> coerce(const InputDef& def, const Value& v, const FileInputStore& store,
                     std::vector<std::string>* secrets, const std::string& path) {
  const std::string& t = def.type;
  if (t == "STRING" || t == "SECRET" || t == "EMAIL") {
    std::string s = v.is_string() ? v.as_string() : template_::to_output(v);
    if (t == "STRING") {
      if (def.min_length && static_cast<int64_t>(s.size()) < *def.min_length) {
        return Error::invalid(path, "must be at least " + std::to_string(*def.min_length) + " characters");
      }
      if (def.max_length && static_cast<int64_t>(s.size()) > *def.max_length) {
        return Error::invalid(path, "must be at most " + std::to_string(*def.max_length) + " characters");
      }
      if (!def.validator.empty()) {
        std::regex re(def.validator, std::regex::ECMAScript);  // checked at parse
        if (!std::regex_match(s, re)) {
          return Error::invalid(path, "'" + s + "' does not match the validator '" + def.validator + "'");
        }
      }
    } else if (t == "EMAIL") {
      size_t at = s.find('@');
      if (at == std::string::npos || at == 0 || s.find('.', at) == std::string::npos ||
          s.find(' ') != std::string::npos) {
        return Error::invalid(path, "'" + s + "' is not an email address");
      }
    } else if (secrets != nullptr) {
      secrets->push_back(s);
    }
    return Value(std::move(s));
  }
  if (t == "INT") return to_int(v, def, path);
  if (t == "FLOAT") return to_float(v, def, path);
  if (t == "BOOLEAN" || t == "BOOL") return to_bool(v, path);
  if (t == "DATETIME") {
    AGENT_ASSIGN_OR_RETURN(std::string s, as_text(v, path, "a date-time"));
    int64_t ms;
    if (!parse_datetime(s, ms)) {
      return Error::invalid(path, "'" + s + "' is not an ISO-8601 date-time (2024-01-31T10:00:00Z)");
    }
    int64_t bound;
    if (!def.after.empty() && parse_datetime(def.after, bound) && ms <= bound) {
      return Error::invalid(path, "must be after " + def.after);
    }
    if (!def.before.empty() && parse_datetime(def.before, bound) && ms >= bound) {
      return Error::invalid(path, "must be before " + def.before);
    }
    return Value(instant_text(ms));
  }
  if (t == "DATE" || t == "TIME") {
    AGENT_ASSIGN_OR_RETURN(std::string s, as_text(v, path, t == "DATE" ? "a date" : "a time"));
    bool ok = t == "DATE" ? parse_date(s) : parse_time(s);
    if (!ok) {
      return Error::invalid(path, "'" + s + "' is not an ISO-8601 " +
                               (t == "DATE" ? std::string("date (2024-01-31)") : "time (10:00:00)"));
    }
    // Same-format ISO texts order as their values.
    if (!def.after.empty() && s <= def.after) return Error::invalid(path, "must be after " + def.after);
    if (!def.before.empty() && s >= def.before) return Error::invalid(path, "must be before " + def.before);
    return Value(std::move(s));
  }
  if (t == "DURATION") {
    AGENT_ASSIGN_OR_RETURN(std::string s, as_text(v, path, "a duration"));
    auto d = parse_duration(s);
    if (!d.ok()) return Error::invalid(path, d.error().message());
    if (!def.min_duration.empty()) {
      auto m = parse_duration(def.min_duration);
      if (m.ok() && *d < *m) return Error::invalid(path, "must be at least " + def.min_duration);
    }
    if (!def.max_duration.empty()) {
      auto m = parse_duration(def.max_duration);
      if (m.ok() && *d > *m) return Error::invalid(path, "must be at most " + def.max_duration);
    }
    return Value(std::move(s));
  }
  if (t == "JSON") {
    if (!v.is_string()) return v;
    auto parsed = template_::parse_json(v.as_string());
    if (!parsed.ok()) return Error::invalid(path, "not valid JSON: " + parsed.error().message());
    return parsed;
  }
  if (t == "URI") {
    AGENT_ASSIGN_OR_RETURN(std::string s, as_text(v, path, "a URI"));
    static const std::regex kUri(R"(^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$)");
    if (!std::regex_match(s, kUri)) return Error::invalid(path, "'" + s + "' is not a URI");
    return Value(std::move(s));
  }
  if (t == "SELECT") {
    AGENT_ASSIGN_OR_RETURN(std::string s, as_text(v, path, "one of the values"));
    if (!def.allow_custom_value &&
        std::find(def.values.begin(), def.values.end(), s) == def.values.end()) {
      std::string list;
      for (const auto& x : def.values) list += (list.empty() ? "" : ", ") + x;
      return Error::invalid(path, "'" + s + "' is not one of: " + list);
    }
    return Value(std::move(s));
  }
  if (t == "MULTISELECT" || t == "ARRAY") {
    Value list = v;
    if (v.is_string()) {
      auto parsed = template_::parse_json(v.as_string());
      if (parsed.ok() && parsed->is_list()) {
        list = std::move(parsed).value();
      } else {
        // A comma-separated list, as typed on a command line.
        Value::List items;
        std::string_view rest = v.as_string();
        while (!rest.empty()) {
          size_t comma = rest.find(',');
          items.emplace_back(std::string(rest.substr(0, comma)));
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
        list = Value(std::move(items));
      }
    }
    if (!list.is_list()) return Error::invalid(path, "expected a list");
    Value::List out;
    for (const auto& item : list.as_list()) {
      if (t == "MULTISELECT") {
        std::string s = item.is_string() ? item.as_string() : template_::to_output(item);
        if (!def.allow_custom_value &&
            std::find(def.values.begin(), def.values.end(), s) == def.values.end()) {
          return Error::invalid(path, "'" + s + "' is not one of the allowed values");
        }
        out.emplace_back(std::move(s));
      } else if (def.item_type.empty() || def.item_type == "STRING") {
        out.push_back(item.is_string() ? item : Value(template_::to_output(item)));
      } else {
        InputDef inner = def;
        inner.type = def.item_type;
        AGENT_ASSIGN_OR_RETURN(Value c, coerce(inner, item, store, secrets, path));
        out.push_back(std::move(c));
      }
    }
    return Value(std::move(out));
  }
  if (t == "FILE") {
    if (v.is_string()) {
      if (!v.as_string().starts_with("kestra://")) {
        return Error::invalid(path, "a FILE input is a kestra:// URI or an upload "
                             "({\"filename\", \"contentBase64\"}; runnerctl: --input " +
                                 def.id + "=@path)");
      }
      return v;
    }
    const Value* name = v.find("filename");
    const Value* content = v.find("contentBase64");
    if (!v.is_map() || name == nullptr || content == nullptr || !name->is_string() ||
        !content->is_string() || v.as_map().size() != 2) {
      return Error::invalid(path, "an upload is {\"filename\": \"...\", \"contentBase64\": \"...\"}");
    }
    const std::string& fname = name->as_string();
    if (fname.empty() || fname.find('/') != std::string::npos || fname == "." || fname == "..") {
      return Error::invalid(path + ".filename", "must be a plain file name");
    }
    AGENT_ASSIGN_OR_RETURN(std::string bytes, base64_decode(content->as_string()));
    if (!store) return Error::invalid(path, "file inputs cannot be stored here");
    AGENT_ASSIGN_OR_RETURN(std::string uri, store(def.id, fname, bytes));
    return Value(std::move(uri));
  }
  return Error::invalid(path, "unsupported input type " + t);
}

}  // namespace

const std::vector<std::string_view>& input_types() { return kTypes; }

Result<std::vector<InputDef>> parse_inputs(json::Element inputs, std::string_view path_view,
                                           std::vector<std::string>* warnings) {
  std::string path(path_view);
  simdjson::dom::array arr;
  if (inputs.get_array().get(arr) != simdjson::SUCCESS) {
    return json::type_error(path, "a list of inputs", inputs);
  }
  std::vector<InputDef> out;
  size_t i = 0;
  for (json::Element e : arr) {
    std::string ipath = json::index(path, i++);
    AGENT_ASSIGN_OR_RETURN(json::Object obj, json::as_object(e, ipath));
    InputDef def;
    bool has_type = false;
    for (auto field : obj) {
      std::string key(field.key);
      std::string fpath = json::join(ipath, key);
      json::Element v = field.value;
      if (key == "id" || key == "name") {
        AGENT_ASSIGN_OR_RETURN(def.id, json::as_string(v, fpath));
        if (key == "name" && warnings != nullptr) {
          warnings->push_back("input property 'name' is deprecated; write 'id'");
        }
      } else if (key == "type") {
        AGENT_ASSIGN_OR_RETURN(def.type, json::as_string(v, fpath));
        if (std::find(kTypes.begin(), kTypes.end(), def.type) == kTypes.end()) {
          return Error::invalid(fpath, "unknown input type '" + def.type + "' (expected one of " +
                                    type_list() + ")");
        }
        if (def.type == "ENUM") {
          def.type = "SELECT";
          if (warnings != nullptr) warnings->push_back("input type 'ENUM' is deprecated; write 'SELECT'");
        }
        has_type = true;
      } else if (key == "description") {
        AGENT_ASSIGN_OR_RETURN(def.description, json::as_string(v, fpath));
      } else if (key == "displayName") {
        AGENT_ASSIGN_OR_RETURN(def.display_name, json::as_string(v, fpath));
      } else if (key == "required") {
        AGENT_ASSIGN_OR_RETURN(def.required, json::as_bool(v, fpath));
      } else if (key == "defaults") {
        AGENT_ASSIGN_OR_RETURN(Value d, template_::from_json(v));
        def.defaults = std::move(d);
      } else if (key == "validator") {
        AGENT_ASSIGN_OR_RETURN(def.validator, json::as_string(v, fpath));
      } else if (key == "min" || key == "max") {
        if (v.is_string()) {  // DURATION bounds
          AGENT_ASSIGN_OR_RETURN(std::string s, json::as_string(v, fpath));
          (key == "min" ? def.min_duration : def.max_duration) = std::move(s);
        } else {
          AGENT_ASSIGN_OR_RETURN(double d, number(v, fpath));
          (key == "min" ? def.min : def.max) = d;
        }
      } else if (key == "minLength" || key == "maxLength") {
        AGENT_ASSIGN_OR_RETURN(int64_t n, json::as_int(v, fpath));
        (key == "minLength" ? def.min_length : def.max_length) = n;
      } else if (key == "values" || key == "options") {
        AGENT_ASSIGN_OR_RETURN(def.values, json::as_string_list(v, fpath));
      } else if (key == "allowCustomValue") {
        AGENT_ASSIGN_OR_RETURN(def.allow_custom_value, json::as_bool(v, fpath));
      } else if (key == "after" || key == "before") {
        AGENT_ASSIGN_OR_RETURN(std::string s, json::as_string(v, fpath));
        (key == "after" ? def.after : def.before) = std::move(s);
      } else if (key == "itemType") {
        AGENT_ASSIGN_OR_RETURN(def.item_type, json::as_string(v, fpath));
      } else if (key == "extension" || key == "dependsOn" || key == "autoSelectFirst" ||
                 key == "expression" || key == "isRadio" || key == "allowedFileExtensions") {
        continue;  // UI-only properties of Kestra's inputs: no effect on a worker
      } else {
        return Error::invalid(fpath, "unknown input property");
      }
    }
    if (def.id.empty()) return Error::invalid(json::join(ipath, "id"), "required property missing");
    if (!has_type) return Error::invalid(json::join(ipath, "type"), "required property missing");
    for (const auto& other : out) {
      if (other.id == def.id) return Error::invalid(json::join(ipath, "id"), "duplicate input id '" + def.id + "'");
    }
    if (!def.validator.empty()) {
      // std::regex reports a bad pattern by throwing; check it without exceptions
      // crossing anything: compile in a guarded scope.
      bool ok = true;
      try {
        std::regex re(def.validator, std::regex::ECMAScript);
      } catch (const std::regex_error&) {
        ok = false;
      }
      if (!ok) return Error::invalid(json::join(ipath, "validator"), "invalid regular expression");
    }
    if ((def.type == "SELECT" || def.type == "MULTISELECT") && def.values.empty() &&
        !def.allow_custom_value) {
      return Error::invalid(json::join(ipath, "values"), "a " + def.type + " input needs values");
    }
    out.push_back(std::move(def));
  }
  return out;
}

Result<Value> resolve_inputs(const std::vector<InputDef>& defs, const Value& supplied,
                             const FileInputStore& store_file, std::vector<std::string>* secrets) {
  if (supplied.is_map()) {
    for (const auto& [k, v] : supplied.as_map()) {
      const std::string& name = k;  // a lambda may not capture a structured binding (clang 14)
      bool known = std::any_of(defs.begin(), defs.end(), [&](const InputDef& d) { return d.id == name; });
      if (!known) {
        std::string list;
        for (const auto& d : defs) list += (list.empty() ? "" : ", ") + d.id;
        return Error::invalid("inputs." + k, "the flow declares no input '" + k + "'" +
                                          (list.empty() ? std::string(" (it has no inputs)")
                                                        : " (declared: " + list + ")"));
      }
    }
  }
  Value::Map out;
  for (const auto& def : defs) {
    std::string path = "inputs." + def.id;
    const Value* given = supplied.is_map() ? supplied.find(def.id) : nullptr;
    if (given == nullptr || given->is_null()) {
      if (def.defaults && !def.defaults->is_null()) {
        given = &*def.defaults;
      } else if (def.required) {
        return Error::invalid(path, "required input missing");
      } else {
        out.emplace_back(def.id, Value());
        continue;
      }
    }
    AGENT_ASSIGN_OR_RETURN(Value v, coerce(def, *given, store_file, secrets, path));
    out.emplace_back(def.id, std::move(v));
  }
  return Value(std::move(out));
}

}  // namespace agent::flow
