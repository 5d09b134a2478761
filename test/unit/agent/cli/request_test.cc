#include "agent/cli/request.h"

#include <gtest/gtest.h>

namespace agent::cli {
namespace {

json::Element parse(simdjson::dom::parser& parser, const std::string& text) {
  json::Element e;
  EXPECT_EQ(parser.parse(text).get(e), simdjson::SUCCESS) << text;
  return e;
}

TEST(CliRequestTest, Hello) {
  EXPECT_EQ(hello_request(1),
            R"({"id":1,"op":"hello","versions":[1],"client":"runnerctl )" RUNNERD_VERSION R"("})");
}

TEST(CliRequestTest, Submit) {
  EXPECT_EQ(submit_request(2, "flow", R"({"id":"f","tasks":[]})", "ignored"),
            R"({"id":2,"op":"submit","flow":{"id":"f","tasks":[]}})");
  EXPECT_EQ(submit_request(3, "task", R"({"id":"t"})", "dev"),
            R"({"id":3,"op":"submit","task":{"id":"t"},"namespace":"dev"})");
  EXPECT_EQ(submit_request(3, "task", R"({"id":"t"})", ""),
            R"({"id":3,"op":"submit","task":{"id":"t"}})");
}

TEST(CliRequestTest, ExecutionRequests) {
  EXPECT_EQ(execution_request(4, "get", "ab\"c"), R"({"id":4,"op":"get","executionId":"ab\"c"})");
  EXPECT_EQ(logs_request(5, "e1", true, "", std::nullopt),
            R"({"id":5,"op":"logs","executionId":"e1","follow":true})");
  EXPECT_EQ(logs_request(5, "e1", false, "tr", 120),
            R"({"id":5,"op":"logs","executionId":"e1","taskRunId":"tr","from":120})");
  EXPECT_EQ(list_request(6, std::nullopt, ""), R"({"id":6,"op":"list"})");
  EXPECT_EQ(list_request(6, 0, "running"), R"({"id":6,"op":"list","limit":0,"state":"RUNNING"})");
  EXPECT_EQ(stats_request(7), R"({"id":7,"op":"stats"})");
  EXPECT_EQ(stats_request(8, true), R"({"id":8,"op":"stats","format":"prometheus"})");
}

TEST(CliRequestTest, DocumentKind) {
  simdjson::dom::parser p;
  EXPECT_EQ(*document_kind(parse(p, R"({"id":"f","tasks":[],"type":"x"})"), "f.yaml"), "flow");
  EXPECT_EQ(*document_kind(parse(p, R"({"id":"t","type":"x"})"), "f.yaml"), "task");
  auto neither = document_kind(parse(p, R"({"id":"t"})"), "f.yaml");
  ASSERT_FALSE(neither.ok());
  EXPECT_EQ(neither.error().message(),
            "f.yaml: neither a flow (no 'tasks') nor a task (no 'type')");
  auto list = document_kind(parse(p, "[1]"), "f.yaml");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.error().message(),
            "f.yaml: expected a flow (an object with 'tasks') or a task (an object with 'type'), "
            "found an array");
}

TEST(CliRequestTest, ProtocolErrorsKeepMessageAndPath) {
  simdjson::dom::parser p;
  Error e = protocol_error(parse(p, R"({"code":"invalid_argument",)"
                                    R"("message":"expected an array, found a string",)"
                                    R"("path":"flow.tasks[0].commands"})"));
  EXPECT_EQ(e.code(), Errc::kInvalidArgument);
  EXPECT_EQ(e.describe(), "flow.tasks[0].commands: expected an array, found a string");
  Error nf =
      protocol_error(parse(p, R"({"code":"not_found","message":"no execution 'x'","path":""})"));
  EXPECT_EQ(nf.code(), Errc::kNotFound);
  EXPECT_EQ(nf.describe(), "no execution 'x'");
  Error bare = protocol_error(parse(p, R"({"code":"unavailable"})"));
  EXPECT_EQ(bare.code(), Errc::kUnavailable);
  EXPECT_EQ(bare.describe(), "unavailable");
  EXPECT_EQ(protocol_error(parse(p, "42")).describe(), "the agent sent an error");
}

TEST(CliRequestTest, Fields) {
  simdjson::dom::parser p;
  json::Element e = parse(p, R"({"s":"x","b":true,"n":1})");
  EXPECT_EQ(string_field(e, "s"), "x");
  EXPECT_EQ(string_field(e, "n"), "");
  EXPECT_EQ(string_field(e, "missing"), "");
  EXPECT_TRUE(bool_field(e, "b"));
  EXPECT_FALSE(bool_field(e, "s"));
}

}  // namespace
}  // namespace agent::cli
