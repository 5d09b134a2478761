#include "agent/flow/schema_doc.h"

#include <algorithm>

#include "agent/json/writer.h"

namespace agent::flow {

namespace {

std::string status_text(Support s, const std::string& note) {
  std::string out = s == Support::kSupported ? "supported" : s == Support::kIgnored ? "ignored" : "not yet";
  if (!note.empty() && note != "not yet") out += " (" + note + ")";
  return out;
}

std::string pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// The JSON Schema of one property's value.
void write_prop_schema(json::Writer& w, const PropSpec& p) {
  w.begin_object();
  std::string desc = p.description;
  if (!p.default_text.empty()) desc += " Default: " + p.default_text + ".";
  if (p.deprecated) desc += " Deprecated: " + p.note + ".";
  if (p.support == Support::kNotYet) desc += " Not supported by runnerd yet (" + p.note + ").";
  if (p.support == Support::kIgnored) desc += " Ignored: " + p.note + ".";
  w.kv("description", desc);
  if (p.deprecated) w.kv_bool("deprecated", true);
  auto templated = [&](auto&& body) {
    if (!p.dynamic) {
      body();
      return;
    }
    w.key("anyOf").begin_array();
    w.begin_object();
    body();
    w.end_object();
    w.begin_object().kv("type", "string").kv("pattern", "\\{\\{|\\{%").end_object();
    w.end_array();
  };
  switch (p.type) {
    case PropType::kString:
      if (!p.enum_values.empty()) {
        w.key("enum").begin_array();
        for (const auto& e : p.enum_values) w.string(e);
        w.end_array();
      } else {
        w.kv("type", "string");
      }
      break;
    case PropType::kBool: w.kv("type", "boolean"); break;
    case PropType::kInt: w.kv("type", "integer"); break;
    case PropType::kNumber: w.kv("type", "number"); break;
    case PropType::kDuration:
      templated([&] { w.kv("type", "string").kv("pattern", "^[-+]?[Pp]"); });
      break;
    case PropType::kStringList:
      templated([&] { w.kv("type", "array").key("items").begin_object().kv("type", "string").end_object(); });
      break;
    case PropType::kStringMap:
      w.kv("type", "object").key("additionalProperties").begin_object();
      w.key("type").begin_array().string("string").string("number").string("boolean").end_array();
      w.end_object();
      break;
    case PropType::kMap:
    case PropType::kRetry:
    case PropType::kNamespaceFiles: w.kv("type", "object"); break;
    case PropType::kAny: break;
    case PropType::kStringOrList:
      w.key("type").begin_array().string("string").string("array").end_array();
      break;
    case PropType::kTaskList:
      w.kv("type", "array").key("items").begin_object().kv("$ref", "#/definitions/task").end_object();
      break;
    case PropType::kTaskRunner: w.kv("$ref", "#/definitions/taskRunner"); break;
    case PropType::kInputFiles: w.key("type").begin_array().string("object").string("string").end_array(); break;
    case PropType::kInputs: w.kv("type", "array"); break;
    case PropType::kLabels: w.key("type").begin_array().string("object").string("array").end_array(); break;
  }
  w.end_object();
}

// properties + required + additionalProperties: false, for one type.
void write_type_body(json::Writer& w, const TypeSpec& t) {
  w.kv("type", "object").kv("description", t.description);
  w.key("properties").begin_object();
  for (const auto& p : t.props) {
    w.key(p.name);
    if (p.name == "type") {
      w.begin_object().key("enum").begin_array().string(t.type);
      for (const auto& a : t.aliases) w.string(a);
      w.end_array().end_object();
    } else {
      write_prop_schema(w, p);
    }
  }
  w.end_object();
  w.key("required").begin_array();
  for (const auto& p : t.props) {
    if (p.required) w.string(p.name);
  }
  w.end_array();
  w.kv_bool("additionalProperties", false);
}

void write_one_of(json::Writer& w, bool runners) {
  w.begin_object();
  w.kv("type", "object");
  w.key("required").begin_array().string("type").end_array();
  w.key("properties").begin_object().key("type").begin_object().key("enum").begin_array();
  for (const auto& t : all_types()) {
    if ((t.kind == TypeKind::kRunner) != runners) continue;
    w.string(t.type);
    for (const auto& a : t.aliases) w.string(a);
  }
  w.end_array().end_object().end_object();
  w.key("allOf").begin_array();
  for (const auto& t : all_types()) {
    if ((t.kind == TypeKind::kRunner) != runners) continue;
    w.begin_object();
    w.key("if").begin_object().key("properties").begin_object().key("type").begin_object();
    w.key("enum").begin_array().string(t.type);
    for (const auto& a : t.aliases) w.string(a);
    w.end_array().end_object().end_object().end_object();
    w.key("then").begin_object();
    write_type_body(w, t);
    w.end_object();
    w.end_object();
  }
  w.end_array();
  w.end_object();
}

}  // namespace

std::string type_list_text() {
  std::string out;
  for (TypeKind kind : {TypeKind::kScriptTask, TypeKind::kFlowableTask, TypeKind::kCoreTask,
                        TypeKind::kRunner}) {
    out += std::string(type_kind_name(kind)) + "s:\n";
    for (const auto& t : all_types()) {
      if (t.kind != kind) continue;
      out += "  " + pad(t.type, 56) + " " + status_text(t.support, t.note) + "\n";
      for (const auto& a : t.aliases) out += "    (legacy name " + a + ")\n";
    }
    out += "\n";
  }
  out += "runnerctl schema TYPE shows a type's properties; runnerctl schema flow the flow's.\n";
  return out;
}

std::string type_doc_text(const TypeSpec& t) {
  std::string out = t.type + " (" + std::string(type_kind_name(t.kind)) + ")\n  " + t.description + "\n";
  if (!t.aliases.empty()) {
    out += "  Legacy names (accepted with a deprecation warning):";
    for (const auto& a : t.aliases) out += " " + a;
    out += "\n";
  }
  if (t.support != Support::kSupported || !t.note.empty()) out += "  Status: " + status_text(t.support, t.note) + "\n";
  out += "\n";
  size_t w = 8;
  for (const auto& p : t.props) w = std::max(w, p.name.size());
  for (const auto& p : t.props) {
    out += "  " + pad(p.name, w) + "  " + std::string(prop_type_name(p.type));
    if (p.required) out += ", required";
    if (!p.default_text.empty()) out += ", default " + p.default_text;
    if (p.dynamic) out += ", templated";
    out += "\n    " + p.description;
    if (!p.enum_values.empty()) {
      out += " One of:";
      for (const auto& e : p.enum_values) out += " " + e;
      out += ".";
    }
    if (p.deprecated) out += " Deprecated: write " + p.note + ".";
    if (p.support != Support::kSupported) out += " [" + status_text(p.support, p.note) + "]";
    out += "\n";
  }
  return out;
}

std::string flow_json_schema() {
  std::string out;
  json::Writer w(out);
  w.begin_object();
  w.kv("$schema", "http://json-schema.org/draft-07/schema#");
  w.kv("$id", "flow.schema.json");  // as proto/schema/ names it
  w.kv("title", "Kestra flow (as runnerd runs it)");
  write_type_body(w, flow_spec());
  w.key("definitions").begin_object();
  w.key("task");
  write_one_of(w, false);
  w.key("taskRunner");
  write_one_of(w, true);
  w.end_object();
  w.end_object();
  out += '\n';
  return out;
}

}  // namespace agent::flow
