// `run` and `logs`: submitting, and streaming an execution's logs to its end.
#include <optional>

#include "agent/cli/client.h"
#include "agent/cli/commands.h"
#include "agent/cli/document.h"
#include "agent/cli/exit_codes.h"
#include "agent/cli/format.h"
#include "agent/cli/interrupt.h"
#include "agent/cli/request.h"
#include "agent/common/fs.h"
#include "agent/common/time.h"

namespace agent::cli {

namespace {

struct LogStream {
  std::string execution_id;
  std::string task_run_id;
  std::optional<int64_t> from;
  bool follow = false;
  bool json = false;
  // Ctrl-C cancels the execution (once) and keeps following; a second one
  // leaves with an Errc::kCancelled error.
  InterruptPipe* interrupts = nullptr;
};

// Asks the agent, on a connection of its own, to cancel an execution.
void request_cancel(const std::string& socket, const std::string& execution_id) {
  print_err("runnerctl: cancelling execution " + execution_id +
            " (press Ctrl-C again to stop waiting)\n");
  auto client = Client::connect(socket);
  if (!client.ok()) {
    fail(client.error());
    return;
  }
  simdjson::dom::parser parser;
  int64_t id = client->next_id();
  auto result = client->call(execution_request(id, "cancel", execution_id), id, parser);
  if (!result.ok()) fail(std::move(result).error().context("cancel"));
}

// Prints the log of an execution (or one task run) and returns the state the
// `end` event carries.
Result<std::string> stream_logs(Client& client, const std::string& socket,
                                const LogStream& stream) {
  simdjson::dom::parser parser;
  int64_t id = client.next_id();
  AGENT_TRY(client.send(
      logs_request(id, stream.execution_id, stream.follow, stream.task_run_id, stream.from)));
  int interrupt_fd = stream.interrupts != nullptr ? stream.interrupts->fd() : -1;
  int interrupts = 0;
  for (;;) {
    auto msg = client.read(parser, interrupt_fd);
    if (!msg.ok() && msg.error().code() == Errc::kCancelled && stream.interrupts != nullptr) {
      int before = interrupts;
      interrupts += stream.interrupts->take();
      if (interrupts >= 2) return Error(Errc::kCancelled, "interrupted");
      if (before == 0 && interrupts == 1) request_cancel(socket, stream.execution_id);
      continue;
    }
    if (!msg.ok()) return std::move(msg).error();
    int64_t got = 0;
    if (!message_id(*msg, got) || got != id) {
      // Not ours, unless the agent could not read our request.
      bool ok = true;
      json::Element error;
      if ((*msg)["ok"].get_bool().get(ok) == simdjson::SUCCESS && !ok &&
          (*msg)["error"].get(error) == simdjson::SUCCESS && (*msg)["id"].is_null()) {
        return protocol_error(error);
      }
      continue;
    }
    bool ok = true;
    if ((*msg)["ok"].get_bool().get(ok) == simdjson::SUCCESS) {
      json::Element error;
      if (!ok && (*msg)["error"].get(error) == simdjson::SUCCESS) return protocol_error(error);
      continue;
    }
    std::string_view event;
    if ((*msg)["event"].get_string().get(event) != simdjson::SUCCESS) continue;
    if (stream.json && (event == "logs" || event == "end")) {
      print_out(json::to_json(*msg) + "\n");
    } else if (event == "logs") {
      print_out(format_log_event(*msg));
    }
    if (event == "end") {
      return std::string(string_field(*msg, "state"));
    }
  }
}

// Reads the file and makes the submit request (without its id).
struct Submission {
  std::string kind;  // "flow" or "task"
  std::string doc_json;
};

Result<Submission> read_submission(const std::string& path) {
  Submission s;
  AGENT_ASSIGN_OR_RETURN(s.doc_json, load_document(path));
  simdjson::dom::parser parser;
  json::Element doc;
  if (parser.parse(s.doc_json).get(doc) != simdjson::SUCCESS) {
    return Error(Errc::kInternal, path + ": cannot read the converted document");
  }
  AGENT_ASSIGN_OR_RETURN(s.kind, document_kind(doc, path == "-" ? "<stdin>" : path));
  return s;
}

// Submits; returns the execution id.
Result<std::string> submit(Client& client, const Invocation& inv, const Submission& sub) {
  simdjson::dom::parser parser;
  int64_t id = client.next_id();
  auto inputs_result = inputs_object(inv.values("input"),
                                     [](const std::string& path) { return fs::read_file(path); });
  if (!inputs_result.ok()) return std::move(inputs_result).error();
  std::string inputs = inv.values("input").empty() ? std::string() : *inputs_result;
  std::string request =
      submit_request(id, sub.kind, sub.doc_json, inv.value("namespace").value_or(""), inputs);
  AGENT_ASSIGN_OR_RETURN(json::Element result, client.call(request, id, parser));
  std::string_view execution_id;
  if (result["executionId"].get_string().get(execution_id) != simdjson::SUCCESS) {
    return Error(Errc::kInternal, "runnerd's submit result has no executionId");
  }
  if (inv.flag("json") && inv.flag("detach")) print_out(json::to_json(result) + "\n");
  simdjson::dom::array warnings;
  if (result["warnings"].get_array().get(warnings) == simdjson::SUCCESS) {
    for (json::Element w : warnings) {
      std::string_view text;
      if (w.get_string().get(text) == simdjson::SUCCESS) print_err("warning: " + std::string(text) + "\n");
    }
  }
  return std::string(execution_id);
}

int finish(Result<std::string> end_state) {
  if (!end_state.ok()) {
    if (end_state.error().code() == Errc::kCancelled) return kExitInterrupted;
    return fail(end_state.error());
  }
  return exit_code_for_state(*end_state);
}

}  // namespace

int cmd_run(const Invocation& inv, const std::string& socket) {
  auto submission = read_submission(inv.args[0]);
  if (!submission.ok()) return fail(submission.error());
  auto client = Client::connect(socket);
  if (!client.ok()) return fail(client.error());
  auto execution_id = submit(*client, inv, *submission);
  if (!execution_id.ok()) return fail(execution_id.error());
  print_err("execution " + *execution_id + " submitted\n");
  if (inv.flag("detach")) {
    if (!inv.flag("json")) print_out(*execution_id + "\n");
    return kExitOk;
  }

  auto interrupts = InterruptPipe::install();
  if (!interrupts.ok()) return fail(interrupts.error());
  LogStream stream;
  stream.execution_id = *execution_id;
  stream.follow = true;
  stream.json = inv.flag("json");
  stream.interrupts = &*interrupts;
  auto end_state = stream_logs(*client, socket, stream);
  if (!end_state.ok()) return finish(std::move(end_state));

  // The summary: the execution as it ended.
  simdjson::dom::parser parser;
  int64_t id = client->next_id();
  auto execution = client->call(execution_request(id, "get", *execution_id), id, parser);
  if (!execution.ok()) {
    fail(std::move(execution).error().context("reading the execution's final state"));
    return finish(std::move(end_state));
  }
  if (inv.flag("json")) print_out(json::to_json(*execution) + "\n");
  print_err(format_summary(*execution, now_ms()));
  std::string_view state;
  if ((*execution)["state"].get_string().get(state) == simdjson::SUCCESS) {
    return exit_code_for_state(state);
  }
  return finish(std::move(end_state));
}

int cmd_logs(const Invocation& inv, const std::string& socket) {
  auto client = Client::connect(socket);
  if (!client.ok()) return fail(client.error());
  LogStream stream;
  stream.execution_id = inv.args[0];
  stream.task_run_id = inv.value("task").value_or("");
  stream.from = inv.int_value("from");
  stream.follow = inv.flag("follow");
  stream.json = inv.flag("json");
  auto end_state = stream_logs(*client, socket, stream);
  if (!stream.follow && end_state.ok()) return kExitOk;
  return finish(std::move(end_state));
}

}  // namespace agent::cli
