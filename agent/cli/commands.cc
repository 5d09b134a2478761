#include "agent/cli/commands.h"

#include <cstdio>
#include <functional>

#include "agent/cli/client.h"
#include "agent/cli/exit_codes.h"
#include "agent/cli/format.h"
#include "agent/cli/request.h"
#include "agent/common/time.h"

namespace agent::cli {

namespace {

// Connects and makes one call; the result lives as long as `parser`.
Result<json::Element> call_once(const std::string& socket, simdjson::dom::parser& parser,
                                const std::function<std::string(int64_t)>& make_request) {
  AGENT_ASSIGN_OR_RETURN(Client client, Client::connect(socket));
  int64_t id = client.next_id();
  return client.call(make_request(id), id, parser);
}

// Prints a result as JSON or through `format`.
int show(const Invocation& inv, Result<json::Element> result,
         const std::function<std::string(json::Element)>& format) {
  if (!result.ok()) return fail(result.error());
  print_out(inv.flag("json") ? json::to_json(*result) + "\n" : format(*result));
  return kExitOk;
}

}  // namespace

int fail(const Error& error) {
  print_err("runnerctl: " + error.describe() + "\n");
  return kExitError;
}

void print_out(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void print_err(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

int dispatch(const Invocation& inv, const std::string& socket) {
  const std::string& c = inv.command;
  if (c == "run") return cmd_run(inv, socket);
  if (c == "logs") return cmd_logs(inv, socket);
  if (c == "ps") return cmd_ps(inv, socket);
  if (c == "get") return cmd_get(inv, socket);
  if (c == "outputs") return cmd_outputs(inv, socket);
  if (c == "cancel") return cmd_cancel(inv, socket);
  if (c == "stats") return cmd_stats(inv, socket);
  if (c == "hello") return cmd_hello(inv, socket);
  if (c == "files") return cmd_files(inv, socket);
  if (c == "cat") return cmd_cat(inv, socket);
  if (c == "validate") return cmd_validate(inv);
  if (c == "schema") return cmd_schema(inv);
  return fail(Error(Errc::kInvalidArgument, "unknown command '" + c + "'"));
}

int cmd_ps(const Invocation& inv, const std::string& socket) {
  simdjson::dom::parser parser;
  auto result = call_once(socket, parser, [&](int64_t id) {
    return list_request(id, inv.int_value("limit"), inv.value("state").value_or(""));
  });
  return show(inv, std::move(result),
              [&](json::Element r) { return format_ps(r, inv.flag("tasks"), now_ms()); });
}

int cmd_get(const Invocation& inv, const std::string& socket) {
  simdjson::dom::parser parser;
  auto result = call_once(socket, parser,
                          [&](int64_t id) { return execution_request(id, "get", inv.args[0]); });
  return show(inv, std::move(result),
              [](json::Element r) { return format_execution(r, now_ms()); });
}

int cmd_outputs(const Invocation& inv, const std::string& socket) {
  simdjson::dom::parser parser;
  auto result = call_once(
      socket, parser, [&](int64_t id) { return execution_request(id, "outputs", inv.args[0]); });
  return show(inv, std::move(result), [](json::Element r) { return format_outputs(r); });
}

int cmd_stats(const Invocation& inv, const std::string& socket) {
  simdjson::dom::parser parser;
  bool prometheus = inv.flag("prometheus");
  auto result =
      call_once(socket, parser, [&](int64_t id) { return stats_request(id, prometheus); });
  if (prometheus) {
    return show(inv, std::move(result),
                [](json::Element r) { return std::string(string_field(r, "text")); });
  }
  return show(inv, std::move(result), [](json::Element r) { return format_stats(r); });
}

int cmd_hello(const Invocation& inv, const std::string& socket) {
  auto client = Client::connect(socket);
  if (!client.ok()) return fail(client.error());
  simdjson::dom::parser parser;
  json::Element hello;
  if (parser.parse(client->hello_json()).get(hello) != simdjson::SUCCESS) {
    return fail(Error(Errc::kInternal, "cannot read the hello result"));
  }
  return show(inv, hello, [](json::Element r) { return format_hello(r); });
}

int cmd_cancel(const Invocation& inv, const std::string& socket) {
  const std::string& exec_id = inv.args[0];
  auto client = Client::connect(socket);
  if (!client.ok()) return fail(client.error());
  simdjson::dom::parser parser;
  int64_t id = client->next_id();
  auto result = client->call(execution_request(id, "cancel", exec_id), id, parser);
  if (!result.ok()) return fail(result.error());
  std::string state(string_field(*result, "state"));
  bool already_final = bool_field(*result, "alreadyFinal");
  print_out("execution " + exec_id + " " + state + (already_final ? " (already final)\n" : "\n"));
  if (already_final || inv.flag("no-wait")) return kExitOk;

  // Wait for the end of the execution.
  id = client->next_id();
  if (Status sent = client->send(execution_request(id, "watch", exec_id)); !sent.ok()) {
    return fail(sent.error());
  }
  for (;;) {
    auto msg = client->read(parser);
    if (!msg.ok()) return fail(msg.error());
    int64_t got = 0;
    if (!message_id(*msg, got) || got != id) continue;
    bool ok = true;
    if ((*msg)["ok"].get_bool().get(ok) == simdjson::SUCCESS) {
      json::Element error;
      if (!ok && (*msg)["error"].get(error) == simdjson::SUCCESS) {
        return fail(protocol_error(error));
      }
      continue;
    }
    std::string_view event;
    if ((*msg)["event"].get_string().get(event) != simdjson::SUCCESS || event != "end") continue;
    print_out("execution " + exec_id + " " + std::string(string_field(*msg, "state")) + "\n");
    return kExitOk;
  }
}

}  // namespace agent::cli
