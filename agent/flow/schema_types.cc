// The catalog's content: the flow, tasks and runners, with their properties.
#include <algorithm>

#include "agent/flow/languages.h"
#include "agent/flow/schema.h"

namespace agent::flow {

namespace {

using P = PropType;
using S = Support;

PropSpec prop(std::string name, PropType type, std::string description, std::string dflt = "",
              bool dynamic = false) {
  PropSpec p;
  p.name = std::move(name);
  p.type = type;
  p.description = std::move(description);
  p.default_text = std::move(dflt);
  p.dynamic = dynamic;
  return p;
}

PropSpec required(PropSpec p) {
  p.required = true;
  return p;
}

PropSpec not_yet(std::string name, PropType type, std::string description, std::string note) {
  PropSpec p = prop(std::move(name), type, std::move(description));
  p.support = S::kNotYet;
  p.note = std::move(note);
  return p;
}

PropSpec deprecated(PropSpec p, std::string replacement) {
  p.deprecated = true;
  p.note = std::move(replacement);
  return p;
}

PropSpec with_enum(PropSpec p, std::vector<std::string> values) {
  p.enum_values = std::move(values);
  return p;
}

// Every task's base properties (Kestra's Task).
std::vector<PropSpec> base_task_props() {
  return {
      required(prop("id", P::kString, "Unique id of the task in the flow, ^[a-zA-Z0-9][a-zA-Z0-9_-]*$.")),
      required(prop("type", P::kString, "The task's type.")),
      prop("description", P::kString, "Free text."),
      prop("timeout", P::kDuration, "Maximum duration of one attempt; the task is killed and FAILED after it.", "", true),
      prop("retry", P::kRetry, "Retry policy: constant, exponential or random, with maxAttempts and/or maxDuration."),
      prop("disabled", P::kBool, "A disabled task is skipped.", "false"),
      prop("allowFailure", P::kBool, "A FAILED task makes the flow WARNING instead of FAILED.", "false"),
      prop("allowWarning", P::kBool, "A WARNING task makes the flow SUCCESS.", "false"),
      not_yet("logLevel", P::kString, "Minimum level of the logs kept.", "not yet"),
      not_yet("logToFile", P::kBool, "Logs to a file instead of the log store.", "runnerd stores every log as a compressed file already"),
      prop("workerGroup", P::kMap,
           "Route the task to a worker group of the agent: {key, fallback: WAIT|FAIL|CANCEL}; a key the "
           "agent does not serve waits (WAIT, the default), fails (FAIL) or is killed (CANCEL)."),
      not_yet("runIf", P::kString, "Skip the task when the expression renders false.", "not yet"),
      not_yet("when", P::kString, "Skip the task when the expression renders false (2.0 name of runIf).", "not yet"),
  };
}

std::vector<PropSpec> file_props() {
  return {
      prop("inputFiles", P::kInputFiles,
           "Files written into the working directory before the task: name -> content, or a "
           "kestra://, nsfile:// or file:// URI. May be one string rendering to a JSON map.",
           "", true),
      prop("outputFiles", P::kStringList,
           "Files kept after the task, as Java NIO globs relative to the working directory (or "
           "glob:/regex: patterns); exposed as outputs.<id>.outputFiles['path'].",
           "", true),
      prop("namespaceFiles", P::kNamespaceFiles,
           "Load the namespace's files into the working directory: enabled, include, exclude, "
           "namespaces, ifExists (OVERWRITE|FAIL|WARN|IGNORE), folderPerNamespace."),
  };
}

std::vector<PropSpec> script_props(const Language& lang, ScriptKind kind) {
  std::vector<PropSpec> p = base_task_props();
  if (kind == ScriptKind::kCommands) {
    p.push_back(required(prop("commands", P::kStringList,
                              "Commands run in one shell invocation, joined by new lines.", "", true)));
  } else {
    p.push_back(required(prop("script", P::kString,
                              std::string("The ") + std::string(lang.label) + " script.", "", true)));
  }
  p.push_back(prop("beforeCommands", P::kStringList,
                   "Commands run first in the same shell, logged at DEBUG.", "", true));
  std::string interp = lang.interpreter.empty() ? "[/bin/sh, -c]" : "[" + std::string(lang.interpreter) + "]";
  for (size_t i = 0; !lang.interpreter.empty() && (i = interp.find(' ', i)) != std::string::npos; i += 2) {
    interp.replace(i, 1, ", ");
  }
  p.push_back(prop("interpreter", P::kStringList, "The argv prefix of the command line.", interp, true));
  p.push_back(prop("failFast", P::kBool, "Stop at the first failing command (set -e).", "true"));
  p.push_back(prop("env", P::kStringMap, "Extra environment variables (values are rendered).", "", true));
  p.push_back(prop("taskRunner", P::kTaskRunner, "Where the task runs.",
                   "{type: io.kestra.plugin.scripts.runner.docker.Docker}"));
  p.push_back(prop("containerImage", P::kString, "Image for container runners.",
                   std::string(lang.default_image), true));
  p.push_back(with_enum(prop("targetOS", P::kString, "Line separator and fail-fast line of the command line.", "AUTO"),
                        {"LINUX", "WINDOWS", "AUTO"}));
  for (auto& f : file_props()) p.push_back(std::move(f));
  p.push_back(deprecated(prop("outputDirectory", P::kBool,
                              "Enables {{outputDir}} / OUTPUT_DIR: its files are outputs.", "false"),
                         "write files to the working directory and list them in outputFiles"));
  p.push_back(deprecated(with_enum(prop("runner", P::kString, "Where the task runs (before 0.18)."),
                                   {"PROCESS", "DOCKER"}),
                         "taskRunner: {type: ...}"));
  p.push_back(deprecated(prop("docker", P::kMap, "Docker options (before 0.18)."),
                         "containerImage and the Docker runner's properties"));
  PropSpec w = prop("warningOnStdErr", P::kBool, "Had stderr output make the task WARNING.", "true");
  w.support = S::kIgnored;
  w.note = "no effect since Kestra 0.23";
  p.push_back(std::move(w));
  p.push_back(not_yet("executionContext", P::kBool, "Write the execution context file.", "not yet"));
  if (lang.name == "python") {
    for (const char* name : {"dependencies", "pythonVersion", "packageManager", "dependencyCacheEnabled",
                             "uvAutoInstallEnabled"}) {
      p.push_back(not_yet(name, P::kAny, "Python dependency management.", "not yet: use beforeCommands"));
    }
  }
  return p;
}

TypeSpec runner(std::string type, std::vector<std::string> aliases, std::string description,
                std::vector<PropSpec> props, Support support = S::kSupported, std::string note = "") {
  TypeSpec t;
  t.type = std::move(type);
  t.aliases = std::move(aliases);
  t.kind = TypeKind::kRunner;
  t.description = std::move(description);
  t.props.push_back(required(prop("type", P::kString, "The runner's type.")));
  for (auto& p : props) t.props.push_back(std::move(p));
  t.support = support;
  t.note = std::move(note);
  return t;
}

std::vector<PropSpec> any_props(std::initializer_list<std::pair<const char*, const char*>> list) {
  std::vector<PropSpec> out;
  for (const auto& [name, desc] : list) out.push_back(prop(name, P::kAny, desc));
  return out;
}

std::vector<TypeSpec> build() {
  std::vector<TypeSpec> types;

  TypeSpec flow;
  flow.type = "flow";
  flow.kind = TypeKind::kFlow;
  flow.description = "A flow: inputs, variables, and tasks run in order.";
  flow.props = {
      required(prop("id", P::kString, "The flow's id, ^[a-zA-Z0-9][a-zA-Z0-9._-]*$.")),
      required(prop("namespace", P::kString, "The flow's namespace, lower case, dot-separated.")),
      prop("description", P::kString, "Free text."),
      prop("labels", P::kLabels, "Labels: a map, or a list of {key, value}."),
      prop("variables", P::kMap, "Values available as {{ vars.x }}."),
      prop("inputs", P::kInputs, "Inputs given at submission (runnerctl run --input name=value)."),
      required(prop("tasks", P::kTaskList, "The tasks, run in order.")),
      prop("errors", P::kTaskList, "Tasks run once, when a task failed."),
      prop("disabled", P::kBool, "A disabled flow cannot be submitted.", "false"),
      prop("pluginDefaults", P::kAny, "Default property values by task or runner type."),
      deprecated(prop("taskDefaults", P::kAny, "Default property values (before pluginDefaults)."),
                 "pluginDefaults"),
      prop("revision", P::kInt, "Kestra's revision number (informational)."),
      prop("tenantId", P::kString, "Kestra's tenant (informational)."),
      not_yet("timeout", P::kDuration, "Maximum duration of the execution.", "not yet"),
      not_yet("retry", P::kRetry, "Flow-level retry.", "not yet"),
      not_yet("finally", P::kTaskList, "Tasks run at the end in any case.", "not yet"),
      not_yet("afterExecution", P::kTaskList, "Tasks run after the execution ended.", "not yet"),
      not_yet("outputs", P::kAny, "Flow outputs.", "not yet"),
      not_yet("triggers", P::kAny, "Triggers.", "the controller that submits owns triggers"),
      not_yet("concurrency", P::kAny, "Concurrency limit.", "the controller that submits owns it"),
      not_yet("sla", P::kAny, "SLA.", "not yet"),
      not_yet("checks", P::kAny, "Checks.", "not yet"),
      not_yet("listeners", P::kAny, "Listeners (before 0.18).", "not yet"),
      not_yet("workerGroup", P::kMap, "Worker group.", "issue 7: worker groups"),
  };
  types.push_back(std::move(flow));

  for (const Language& lang : languages()) {
    for (ScriptKind kind : {ScriptKind::kCommands, ScriptKind::kScript}) {
      std::string_view type = kind == ScriptKind::kCommands ? lang.commands_type : lang.script_type;
      if (type.empty()) continue;
      TypeSpec t;
      t.type = std::string(type);
      t.kind = TypeKind::kScriptTask;
      t.description = std::string(lang.label) +
                      (kind == ScriptKind::kCommands ? " commands." : " script, written to a file and run.");
      t.props = script_props(lang, kind);
      types.push_back(std::move(t));
    }
  }

  TypeSpec wd;
  wd.type = "io.kestra.plugin.core.flow.WorkingDirectory";
  wd.aliases = {"io.kestra.core.tasks.flows.WorkingDirectory"};
  wd.kind = TypeKind::kFlowableTask;
  wd.description = "Runs its tasks in order in one shared working directory.";
  wd.props = base_task_props();
  wd.props.push_back(required(prop("tasks", P::kTaskList, "Tasks sharing the directory.")));
  wd.props.push_back(prop("errors", P::kTaskList, "Tasks run when one of its tasks failed."));
  for (auto& f : file_props()) wd.props.push_back(std::move(f));
  wd.props.push_back(not_yet("cache", P::kMap, "Cache of the directory between executions.", "not yet"));
  types.push_back(std::move(wd));

  TypeSpec log;
  log.type = "io.kestra.plugin.core.log.Log";
  log.aliases = {"io.kestra.core.tasks.log.Log"};
  log.description = "Logs a message (or a list of messages).";
  log.props = base_task_props();
  log.props.push_back(required(prop("message", P::kStringOrList, "The message(s), rendered.", "", true)));
  log.props.push_back(with_enum(prop("level", P::kString, "Level of the messages.", "INFO"),
                                {"TRACE", "DEBUG", "INFO", "WARN", "ERROR"}));
  types.push_back(std::move(log));

  TypeSpec ret;
  ret.type = "io.kestra.plugin.core.debug.Return";
  ret.aliases = {"io.kestra.core.tasks.debugs.Return"};
  ret.description = "Renders `format`; the result is outputs.<id>.value.";
  ret.props = base_task_props();
  ret.props.push_back(prop("format", P::kString, "The text to render.", "", true));
  types.push_back(std::move(ret));

  TypeSpec clone;
  clone.type = "io.kestra.plugin.git.Clone";
  clone.description = "Clones a git repository into the working directory (the host's git).";
  clone.props = base_task_props();
  clone.props.push_back(required(prop("url", P::kString, "The repository's URL.", "", true)));
  clone.props.push_back(prop("branch", P::kString, "The branch to check out; the remote's default when unset.", "", true));
  clone.props.push_back(prop("directory", P::kString, "Where to clone, relative to the working directory.", ".", true));
  clone.props.push_back(prop("depth", P::kInt, "History depth.", "1"));
  for (const char* name : {"username", "password", "privateKey", "passphrase", "cloneSubmodules",
                           "trustedCaPemPath", "gitConfig", "noCheckout"}) {
    clone.props.push_back(not_yet(name, P::kAny, "Authentication and clone options.", "not yet"));
  }
  types.push_back(std::move(clone));

  // Runners.
  types.push_back(runner("io.kestra.plugin.core.runner.Process",
                         {"io.kestra.core.models.script.types.ProcessTaskRunner",
                          "io.kestra.core.models.tasks.runners.types.ProcessTaskRunner",
                          "io.kestra.plugin.core.runner.ProcessTaskRunner"},
                         "Runs the task as a child process of the agent, in its working directory.",
                         {prop("resources", P::kMap,
                               "runnerd extension: cpus, memory, pids, and gpus or gpuIds; enforced "
                               "through the task's cgroup (docs/kestra-compatibility.md).")}));
  types.push_back(runner(
      "io.kestra.plugin.scripts.runner.docker.Docker",
      {"io.kestra.plugin.scripts.runner.docker.DockerTaskRunner",
       "io.kestra.core.models.script.types.DockerTaskRunner"},
      "Runs the task in a container through the Docker Engine API.",
      any_props({{"host", "Docker API URI."}, {"config", "Docker config (registry auth)."},
                 {"credentials", "Registry credentials."}, {"volumes", "Bind mounts."},
                 {"pullPolicy", "IF_NOT_PRESENT, ALWAYS or NEVER."}, {"deviceRequests", "GPUs."},
                 {"cpu", "CPU limits."}, {"memory", "Memory limits."}, {"wait", "Wait for the end."},
                 {"shmSize", "Size of /dev/shm."}, {"privileged", "Privileged mode."},
                 {"fileHandlingStrategy", "VOLUME or MOUNT."}, {"delete", "Remove the container."},
                 {"resume", "Reattach after a restart."}, {"networkMode", "Network mode."},
                 {"extraHosts", "Extra /etc/hosts entries."}, {"user", "Container user."},
                 {"entryPoint", "Entrypoint."}, {"portBindings", "Port bindings."},
                 {"killGracePeriod", "Grace before SIGKILL."}}),
      S::kSupported, "issue 4: the Docker runner"));
  types.push_back(runner(
      "io.kestra.plugin.ee.kubernetes.runner.Kubernetes",
      {"io.kestra.plugin.kubernetes.runner.Kubernetes",
       "io.kestra.plugin.kubernetes.runner.KubernetesTaskRunner"},
      "Runs the task as a Kubernetes pod.",
      any_props({{"config", "Cluster connection."}, {"namespace", "Kubernetes namespace."},
                 {"labels", "Pod labels."}, {"podSpec", "Pod spec overrides."},
                 {"pullPolicy", "Image pull policy."}, {"resources", "Requests and limits."},
                 {"serviceAccountName", "Service account."}, {"delete", "Delete the pod."},
                 {"resume", "Reattach."}, {"waitUntilRunning", "Start timeout."},
                 {"waitForLogInterval", "Log wait."}, {"fileSidecar", "Sidecar options."},
                 {"nodeSelector", "Node selector."}, {"secretName", "Secret."},
                 {"waitForLogs", "Log wait ceiling."}}),
      S::kSupported, "a later issue: the Kubernetes runner"));
  types.push_back(runner(
      "io.kestra.plugin.ee.aws.runner.Batch",
      {"io.kestra.plugin.aws.runner.Batch", "io.kestra.plugin.aws.runner.AwsBatchTaskRunner"},
      "Runs the task as an AWS Batch job.",
      any_props({{"region", "AWS region."}, {"accessKeyId", "Access key."},
                 {"secretKeyId", "Secret key."}, {"sessionToken", "Session token."},
                 {"computeEnvironmentArn", "Compute environment."}, {"jobQueueArn", "Job queue."},
                 {"executionRoleArn", "Execution role."}, {"taskRoleArn", "Task role."},
                 {"bucket", "S3 bucket for files."}, {"resources", "vCPU and memory."},
                 {"sidecarResources", "Sidecar resources."}, {"completionCheckInterval", "Polling."},
                 {"waitUntilCompletion", "Wait limit."}, {"delete", "Delete the job definition."},
                 {"resume", "Reattach."}, {"endpointOverride", "API endpoint."},
                 {"logGroupName", "CloudWatch group."}}),
      S::kSupported, "a later issue: the AWS Batch runner"));
  types.push_back(runner(
      "io.kestra.plugin.ee.gcp.runner.Batch",
      {"io.kestra.plugin.gcp.runner.Batch", "io.kestra.plugin.gcp.runner.GcpBatchTaskRunner"},
      "Runs the task as a Google Cloud Batch job.",
      any_props({{"projectId", "GCP project."}, {"region", "Region."},
                 {"serviceAccount", "Credentials (JSON)."}, {"bucket", "GCS bucket for files."},
                 {"machineType", "Machine type."}, {"computeResource", "CPU and memory."},
                 {"networkInterfaces", "Network."}, {"reservation", "Reservation."},
                 {"completionCheckInterval", "Polling."}, {"waitUntilCompletion", "Wait limit."},
                 {"delete", "Delete the job."}, {"resume", "Reattach."}, {"scopes", "OAuth scopes."},
                 {"entryPoint", "Entrypoint."}, {"maxRetries", "Retries."},
                 {"impersonatedServiceAccount", "Impersonation."}, {"provisioningModel", "Spot or standard."}}),
      S::kSupported, "a later issue: the Google Batch runner"));
  types.push_back(runner(
      "io.kestra.plugin.ee.azure.runner.Batch",
      {"io.kestra.plugin.azure.runner.Batch", "io.kestra.plugin.azure.runner.AzureBatchTaskRunner"},
      "Runs the task as an Azure Batch job.",
      any_props({{"account", "Batch account."}, {"accessKey", "Account key."},
                 {"endpoint", "Batch endpoint."}, {"poolId", "Pool."},
                 {"blobStorage", "Blob storage for files."}, {"registry", "Container registry."},
                 {"completionCheckInterval", "Polling."}, {"waitUntilCompletion", "Wait limit."},
                 {"delete", "Delete the job."}, {"resume", "Reattach."}, {"streamLogs", "Live logs."}}),
      S::kSupported, "a later issue: the Azure Batch runner"));
  return types;
}

const std::vector<TypeSpec>& catalog() {
  static const std::vector<TypeSpec> kTypes = build();
  return kTypes;
}

}  // namespace

const PropSpec* TypeSpec::prop(std::string_view name) const {
  for (const auto& p : props) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

std::span<const TypeSpec> all_types() {
  const auto& c = catalog();
  return std::span<const TypeSpec>(c).subspan(1);
}

const TypeSpec& flow_spec() { return catalog()[0]; }

const TypeSpec* find_type(std::string_view type, bool* via_alias) {
  for (const TypeSpec& t : all_types()) {
    if (t.type == type) {
      if (via_alias != nullptr) *via_alias = false;
      return &t;
    }
    if (std::find(t.aliases.begin(), t.aliases.end(), type) != t.aliases.end()) {
      if (via_alias != nullptr) *via_alias = true;
      return &t;
    }
  }
  return nullptr;
}

std::string canonical_type(std::string_view type) {
  const TypeSpec* t = find_type(type);
  return t != nullptr ? t->type : std::string(type);
}

std::string_view prop_type_name(PropType t) {
  switch (t) {
    case P::kString: return "string";
    case P::kBool: return "boolean";
    case P::kInt: return "integer";
    case P::kNumber: return "number";
    case P::kDuration: return "duration";
    case P::kStringList: return "list of strings";
    case P::kStringMap: return "map of strings";
    case P::kMap: return "map";
    case P::kAny: return "any";
    case P::kStringOrList: return "string or list of strings";
    case P::kTaskList: return "list of tasks";
    case P::kTaskRunner: return "task runner";
    case P::kRetry: return "retry";
    case P::kNamespaceFiles: return "namespace files";
    case P::kInputFiles: return "map of strings, or a JSON string";
    case P::kInputs: return "list of inputs";
    case P::kLabels: return "map or list of {key, value}";
  }
  return "?";
}

std::string_view type_kind_name(TypeKind k) {
  switch (k) {
    case TypeKind::kFlow: return "flow";
    case TypeKind::kScriptTask: return "script task";
    case TypeKind::kFlowableTask: return "flowable task";
    case TypeKind::kCoreTask: return "core task";
    case TypeKind::kRunner: return "task runner";
  }
  return "?";
}

}  // namespace agent::flow
