#include "agent/supervisor/task_files.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>

#include "agent/files/beneath.h"
#include "agent/files/collect.h"
#include "agent/files/glob.h"
#include "agent/files/input_files.h"
#include "agent/files/kestra_uris.h"
#include "agent/logstream/log_file.h"
#include "agent/template/value.h"

namespace agent {

namespace {

Result<std::string> render(std::string_view text, LazyContext& ctx, std::string_view what) {
  return render_text(text, ctx, what);
}

Result<std::vector<std::string>> render_list(const std::vector<std::string>& in,
                                             LazyContext& ctx, std::string_view what) {
  std::vector<std::string> out;
  out.reserve(in.size());
  for (const auto& s : in) {
    AGENT_ASSIGN_OR_RETURN(std::string r, render(s, ctx, what));
    out.push_back(std::move(r));
  }
  return out;
}

files::NamespaceFilesSpec::IfExists if_exists(std::string_view s) {
  using E = files::NamespaceFilesSpec::IfExists;
  if (s == "FAIL") return E::kFail;
  if (s == "WARN") return E::kWarn;
  if (s == "IGNORE") return E::kIgnore;
  return E::kOverwrite;
}

}  // namespace

Result<std::string> render_text(std::string_view text, LazyContext& ctx, std::string_view what) {
  if (!template_::has_template(text)) return std::string(text);
  auto out = template_::render(text, ctx.get());
  if (!out.ok()) return std::move(out).error().context("rendering " + std::string(what));
  return out;
}

Status render_files(const flow::TaskDef& def, LazyContext& ctx,
                    const std::string& flow_namespace, PreparedTask& out) {
  out.namespace_ = flow_namespace;
  for (const auto& [name, value] : def.input_files) {
    AGENT_ASSIGN_OR_RETURN(std::string n, render(name, ctx, "inputFiles"));
    AGENT_ASSIGN_OR_RETURN(std::string v, render(value, ctx, "inputFiles." + name));
    out.input_files.emplace_back(std::move(n), std::move(v));
  }
  if (!def.input_files_json.empty()) {
    // inputFiles written as one string that renders to a JSON map.
    AGENT_ASSIGN_OR_RETURN(std::string text, render(def.input_files_json, ctx, "inputFiles"));
    auto parsed = template_::parse_json(text);
    if (!parsed.ok() || !parsed->is_map()) {
      return Error(Errc::kInvalidArgument,
                   "inputFiles must render to a JSON object of file name to content",
                   "inputFiles");
    }
    for (const auto& [k, v] : parsed->as_map()) {
      if (v.is_null()) continue;
      out.input_files.emplace_back(k, v.is_string() ? v.as_string() : template_::to_json(v));
    }
  }
  const flow::NamespaceFilesDef& ns = def.namespace_files;
  if (ns.present) {
    auto enabled = render(ns.enabled, ctx, "namespaceFiles.enabled");
    if (!enabled.ok()) return std::move(enabled).error();
    out.load_namespace_files = *enabled == "true";
    if (out.load_namespace_files) {
      AGENT_ASSIGN_OR_RETURN(out.namespace_files.include,
                             render_list(ns.include, ctx, "namespaceFiles.include"));
      AGENT_ASSIGN_OR_RETURN(out.namespace_files.exclude,
                             render_list(ns.exclude, ctx, "namespaceFiles.exclude"));
      AGENT_ASSIGN_OR_RETURN(out.namespace_files.namespaces,
                             render_list(ns.namespaces, ctx, "namespaceFiles.namespaces"));
      if (out.namespace_files.namespaces.empty()) out.namespace_files.namespaces = {flow_namespace};
      out.namespace_files.if_exists = if_exists(ns.if_exists);
      out.namespace_files.folder_per_namespace = ns.folder_per_namespace;
    }
  }
  return {};
}

Status prepare_files(PreparedTask& task) {
  if (!task.cut_log.empty()) {
    AGENT_ASSIGN_OR_RETURN(uint64_t kept, logstream::cut_log(task.cut_log, task.cut_before_ms));
    task.cut_lines = kept;
  }
  // RENAME_NOREPLACE: never onto something already there. Should the pooled
  // pair be gone, both are made as usual.
  bool pooled = !task.pooled_dir.empty() &&
                renameat2(AT_FDCWD, task.pooled_dir.c_str(), AT_FDCWD, task.working_dir.c_str(),
                          RENAME_NOREPLACE) == 0;
  if (!pooled && task.create_dir && mkdir(task.working_dir.c_str(), 0750) != 0 &&
      !(task.reuse_dir && errno == EEXIST)) {
    return Error::from_errno(errno, "creating working directory " + task.working_dir);
  }
  if (!pooled && !task.output_dir.empty() && mkdir(task.output_dir.c_str(), 0750) != 0 &&
      errno != EEXIST) {
    return Error::from_errno(errno, "creating output directory " + task.output_dir);
  }
  if (task.load_namespace_files) {
    AGENT_ASSIGN_OR_RETURN(files::NamespaceFilesLoaded loaded,
                           files::load_namespace_files(task.namespaces_root, task.namespace_files,
                                                       task.working_dir));
    for (auto& w : loaded.warnings) task.warnings.push_back(std::move(w));
    for (const auto& [ns, count] : loaded.counts) {
      task.infos.push_back("Loaded " + std::to_string(count) + " namespace files from '" + ns + "'");
    }
  }
  if (!task.input_files.empty()) {
    const PreparedTask& t = task;
    files::SourceResolver resolve = [&t](std::string_view uri) -> Result<std::string> {
      if (uri.starts_with("kestra://")) return t.storage->resolve(uri);
      if (uri.starts_with("nsfile://")) {
        return files::resolve_nsfile_uri(uri, t.namespace_, t.namespaces_root);
      }
      return files::resolve_file_uri(uri, t.allowed_paths);
    };
    AGENT_TRY(files::write_input_files(task.working_dir, task.input_files, resolve));
  }
  for (auto& arg : task.argv) {
    if (arg.find("kestra://") == std::string::npos) continue;
    AGENT_ASSIGN_OR_RETURN(arg, files::localize_kestra_uris(arg, *task.storage, task.working_dir));
  }
  if (task.script_file) {
    flow::ScriptFile& f = *task.script_file;
    if (f.content.find("kestra://") != std::string::npos) {
      AGENT_ASSIGN_OR_RETURN(f.content,
                             files::localize_kestra_uris(f.content, *task.storage, task.working_dir));
    }
    // Beneath the directory: an input or namespace file staged before it
    // cannot have made the script's name a link to somewhere else.
    Status st = files::write_file_beneath(task.working_dir, f.name, f.content);
    if (!st.ok()) return std::move(st).error().context("writing the script file");
  }
  return {};
}

bool only_directories(const PreparedTask& task) {
  if (task.pooled_dir.empty() || !task.cut_log.empty() || task.load_namespace_files ||
      !task.input_files.empty() || task.script_file) {
    return false;
  }
  for (const auto& arg : task.argv) {
    if (arg.find("kestra://") != std::string::npos) return false;
  }
  return true;
}

void collect_files(CollectJob& job) {
  auto store = [&](const std::string& dir, const std::string& rel) {
    auto uri = job.storage->put_task_file(dir + "/" + rel, job.key, rel);
    if (uri.ok()) {
      job.files.emplace_back(rel, std::move(uri).value());
    } else {
      job.errors.push_back("storing output file '" + rel + "': " + uri.error().message());
    }
  };
  if (!job.output_dir.empty()) {
    auto listed = files::list_regular_files(job.output_dir);
    if (listed.ok()) {
      for (const auto& rel : *listed) store(job.output_dir, rel);
    } else {
      job.errors.push_back("listing the output directory: " + listed.error().message());
    }
  }
  if (job.globs.empty()) return;
  std::vector<files::PathMatcher> matchers;
  for (const auto& g : job.globs) {
    auto m = files::PathMatcher::compile(g, job.working_dir);
    if (m.ok()) {
      matchers.push_back(std::move(m).value());
    } else {
      job.errors.push_back("outputFiles: " + m.error().message());
    }
  }
  auto found = files::find_matching(job.working_dir, matchers, job.skip_dir);
  if (!found.ok()) {
    job.errors.push_back("finding output files: " + found.error().message());
    return;
  }
  for (const auto& rel : *found) store(job.working_dir, rel);
}

}  // namespace agent
