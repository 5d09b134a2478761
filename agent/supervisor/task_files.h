// The file work around a task: rendering its inputFiles / namespaceFiles on
// the loop, then, on libuv's thread pool, creating the working directory,
// loading namespace files, writing input files and the Script file, and
// replacing kestra:// URIs in the command line by local copies; after the
// task, storing its output files. Supervisor-private.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/common/result.h"
#include "agent/files/namespace_files.h"
#include "agent/files/storage.h"
#include "agent/flow/command_line.h"
#include "agent/flow/flow.h"
#include "agent/template/template.h"

namespace agent {

// The template context of a task, built on first use: most properties hold no
// template, and building it reads every earlier task's outputs.
class LazyContext {
 public:
  explicit LazyContext(std::function<template_::Context()> make) : make_(std::move(make)) {}
  const template_::Context& get() {
    if (!ctx_) ctx_ = make_();
    return *ctx_;
  }

 private:
  std::function<template_::Context()> make_;
  std::optional<template_::Context> ctx_;
};

// `text` rendered when it holds a template, else as it is.
Result<std::string> render_text(std::string_view text, LazyContext& ctx, std::string_view what);

struct PreparedTask {
  // Filled on the loop.
  std::string working_dir;
  bool create_dir = false;       // false: a WorkingDirectory's, already there
  bool reuse_dir = false;        // an existing directory is fine (taken up after a restart)
  // An empty pair from the pool (work_dir_pool.h), renamed to working_dir
  // (its output directory already inside) instead of making both.
  std::string pooled_dir;
  // A task followed again after a restart: its log loses the lines stamped
  // from `cut_before_ms` on (logstream::cut_log); `cut_lines` is what is left.
  std::string cut_log;
  int64_t cut_before_ms = 0;
  std::optional<uint64_t> cut_lines;
  std::string output_dir;        // created when not empty
  std::string namespace_;        // the flow's, for nsfile:///path
  std::string namespaces_root;   // <stateDir>/namespaces
  std::vector<std::string> allowed_paths;  // for file:// URIs
  const files::Storage* storage = nullptr;
  bool load_namespace_files = false;
  files::NamespaceFilesSpec namespace_files;
  flow::StringPairs input_files;            // rendered name -> rendered content or URI
  std::optional<flow::ScriptFile> script_file;
  std::vector<std::string> argv;            // kestra:// URIs are localized in the pool
  // Filled by prepare_files.
  std::vector<std::string> infos;
  std::vector<std::string> warnings;
};

// Renders the task's inputFiles (map or JSON string) and namespaceFiles. Loop thread.
Status render_files(const flow::TaskDef& def, LazyContext& ctx,
                    const std::string& flow_namespace, PreparedTask& out);
// Blocking: runs on the thread pool, or on the loop when only_directories().
Status prepare_files(PreparedTask& task);
// The task needs only its pooled directories renamed into place: no log to
// cut, no file to stage, no kestra:// URI to localize.
bool only_directories(const PreparedTask& task);

struct CollectJob {
  std::string working_dir;
  std::string output_dir;              // its files are outputs when not empty
  std::string skip_dir;                // never matched by globs (the output dir)
  std::vector<std::string> globs;      // rendered outputFiles
  files::TaskFileKey key;
  const files::Storage* storage = nullptr;
  // Results.
  std::vector<std::pair<std::string, std::string>> files;  // key -> kestra:// URI
  std::vector<std::string> errors;
};
// Blocking: runs on the thread pool. Errors are collected, not fatal.
void collect_files(CollectJob& job);

}  // namespace agent
