// files and cat: the output files of an execution, and their content.
#include <cstdio>
#include <fstream>

#include "agent/cli/client.h"
#include "agent/cli/commands.h"
#include "agent/cli/exit_codes.h"
#include "agent/cli/request.h"
#include "agent/common/base64.h"
#include "agent/json/writer.h"

namespace agent::cli {

int cmd_files(const Invocation& inv, const std::string& socket) {
  auto client = Client::connect(socket);
  if (!client.ok()) return fail(client.error());
  simdjson::dom::parser parser;
  int64_t id = client->next_id();
  auto result = client->call(execution_request(id, "outputs", inv.args[0]), id, parser);
  if (!result.ok()) return fail(result.error());
  std::string task = inv.args.size() > 1 ? inv.args[1] : "";
  std::string text, json = "[";
  simdjson::dom::array runs;
  if ((*result)["taskRuns"].get_array().get(runs) == simdjson::SUCCESS) {
    for (json::Element run : runs) {
      std::string task_id(string_field(run, "taskId"));
      if (!task.empty() && task_id != task) continue;
      simdjson::dom::object files;
      if (run["outputFiles"].get_object().get(files) != simdjson::SUCCESS) continue;
      for (auto f : files) {
        std::string_view uri;
        if (f.value.get_string().get(uri) != simdjson::SUCCESS) continue;
        text += task_id + "  " + std::string(f.key) + "  " + std::string(uri) + "\n";
        if (json.size() > 1) json += ",";
        std::string entry;
        json::Writer w(entry);
        w.begin_object().kv("taskId", task_id).kv("key", f.key).kv("uri", uri).end_object();
        json += entry;
      }
    }
  }
  print_out(inv.flag("json") ? json + "]\n" : text);
  return kExitOk;
}

int cmd_cat(const Invocation& inv, const std::string& socket) {
  auto client = Client::connect(socket);
  if (!client.ok()) return fail(client.error());
  FILE* out = stdout;
  auto path = inv.value("output");
  if (path) {
    out = std::fopen(path->c_str(), "wb");
    if (out == nullptr) return fail(Error::from_errno(errno, "opening " + *path));
  }
  simdjson::dom::parser parser;
  int64_t offset = 0;
  int status = kExitOk;
  for (;;) {
    int64_t id = client->next_id();
    auto result = client->call(read_file_request(id, inv.args[0], offset, 1 << 20), id, parser);
    if (!result.ok()) {
      status = fail(result.error());
      break;
    }
    auto data = base64_decode(string_field(*result, "data"));
    if (!data.ok()) {
      status = fail(data.error());
      break;
    }
    std::fwrite(data->data(), 1, data->size(), out);
    offset += static_cast<int64_t>(data->size());
    if (bool_field(*result, "eof") || data->empty()) break;
  }
  std::fflush(out);
  if (path) std::fclose(out);
  return status;
}

}  // namespace agent::cli
