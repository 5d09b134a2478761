#include "agent/logstream/protocol_line.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace agent::logstream {
namespace {

using Outputs = std::vector<std::pair<std::string, std::string>>;

ClassifiedLine expect_protocol(std::string_view line) {
  ClassifiedLine c = classify_line(line);
  EXPECT_EQ(c.kind, LineKind::kProtocol) << line << " error: " << c.error;
  return c;
}

std::string expect_invalid(std::string_view line) {
  ClassifiedLine c = classify_line(line);
  EXPECT_EQ(c.kind, LineKind::kInvalid) << line;
  EXPECT_FALSE(c.error.empty()) << line;
  EXPECT_TRUE(c.message.outputs.empty() && c.message.metrics.empty() && c.message.logs.empty());
  return c.error;
}

TEST(ProtocolLineTest, PlainLines) {
  for (std::string_view line :
       {"", "hello", "::", "::{}", "{}::", ":{}::", "::{}:", " ::{}::", "::{}:: ", "x::{}::",
        "::{}::x", "::[]::", "::\"a\"::", ":: {}::", "::{} ::", "::{\"a\":1}\r::",
        "::{\"a\":\"\r\"}::", "::{\"a\":\"\xe2\x80\xa8\"}::"}) {
    ClassifiedLine c = classify_line(line);
    EXPECT_EQ(c.kind, LineKind::kPlain) << "'" << line << "'";
    EXPECT_TRUE(c.error.empty());
  }
}

TEST(ProtocolLineTest, EmptyObjectAndUnknownKeys) {
  ClassifiedLine c = expect_protocol("::{}::");
  EXPECT_TRUE(c.message.outputs.empty());
  c = expect_protocol(
      "::{\"assets\":[1],\"otlp\":{\"x\":true},\"encryptedOutputs\":\"zz\","
      "\"outputs\":{\"a\":1}}::");
  EXPECT_EQ(c.message.outputs, (Outputs{{"a", "1"}}));
  // null is an absent field, as Jackson leaves it.
  c = expect_protocol("::{\"outputs\":null,\"metrics\":null,\"logs\":null}::");
  EXPECT_TRUE(c.message.outputs.empty() && c.message.metrics.empty() && c.message.logs.empty());
}

TEST(ProtocolLineTest, OutputsOfEveryJsonType) {
  ClassifiedLine c = expect_protocol(
      "::{\"outputs\": {\"s\": \"te\\\"xt\", \"i\": -42, \"u\": 18446744073709551615, "
      "\"d\": 1.5, \"t\": true, \"f\": false, \"n\": null, \"a\": [1, \"two\", {\"x\": 3}], "
      "\"o\": {\"k\": [ ], \"e\": { }}}}::");
  EXPECT_EQ(c.message.outputs, (Outputs{{"s", "\"te\\\"xt\""},
                                        {"i", "-42"},
                                        {"u", "18446744073709551615"},
                                        {"d", "1.5"},
                                        {"t", "true"},
                                        {"f", "false"},
                                        {"n", "null"},
                                        {"a", "[1,\"two\",{\"x\":3}]"},
                                        {"o", "{\"k\":[],\"e\":{}}"}}));
}

TEST(ProtocolLineTest, RepeatedOutputKeyKeepsLastValue) {
  ClassifiedLine c = expect_protocol("::{\"outputs\":{\"a\":1,\"b\":2,\"a\":3}}::");
  EXPECT_EQ(c.message.outputs, (Outputs{{"a", "3"}, {"b", "2"}}));
}

TEST(ProtocolLineTest, TrailingCarriageReturnIsStripped) {
  ClassifiedLine c = expect_protocol("::{\"outputs\":{\"a\":\"b\"}}::\r");
  EXPECT_EQ(c.message.outputs, (Outputs{{"a", "\"b\""}}));
  // Only one.
  EXPECT_EQ(classify_line("::{\"outputs\":{}}::\r\r").kind, LineKind::kPlain);
}

TEST(ProtocolLineTest, GreedyMatchWithClosingMarkerInsideString) {
  // The regex is greedy: the object runs to the last "}::".
  ClassifiedLine c = expect_protocol("::{\"outputs\":{\"s\":\"a}::b\"}}::");
  EXPECT_EQ(c.message.outputs, (Outputs{{"s", "\"a}::b\""}}));
  // Two objects on one line match as a whole and are invalid JSON.
  expect_invalid("::{\"outputs\":{}}::{\"outputs\":{}}::");
}

TEST(ProtocolLineTest, InvalidJson) {
  std::string err = expect_invalid("::{not json}::");
  EXPECT_NE(err.find("invalid JSON"), std::string::npos) << err;
  expect_invalid("::{\"outputs\":{\"a\":1,}}::");
  expect_invalid("::{\"outputs\":{\"a\":1}} }::");
  expect_invalid("::{\"a\":\"\xff\"}::");  // not UTF-8
}

TEST(ProtocolLineTest, OutputsMustBeAnObject) {
  std::string err = expect_invalid("::{\"outputs\":[1]}::");
  EXPECT_EQ(err, "outputs: must be an object, not an array");
  expect_invalid("::{\"outputs\":\"x\"}::");
}

TEST(ProtocolLineTest, MetricsOfEachType) {
  ClassifiedLine c = expect_protocol(
      "::{\"metrics\":["
      "{\"name\":\"rows\",\"type\":\"counter\",\"value\":3,\"description\":\"ignored\"},"
      "{\"name\":\"ratio\",\"type\":\"gauge\",\"value\":0.25,\"tags\":{}},"
      "{\"name\":\"t1\",\"type\":\"timer\",\"value\":\"PT2.5S\"},"
      "{\"name\":\"t2\",\"type\":\"timer\",\"value\":\"1.5\"},"
      "{\"name\":\"t3\",\"type\":\"timer\",\"value\":2},"
      "{\"name\":\"t4\",\"type\":\"timer\",\"value\":\"PT1M\"},"
      "{\"name\":\"big\",\"type\":\"counter\",\"value\":-1e3}"
      "]}::");
  const auto& m = c.message.metrics;
  ASSERT_EQ(m.size(), 7u);
  EXPECT_EQ(m[0].name, "rows");
  EXPECT_EQ(m[0].type, "counter");
  EXPECT_DOUBLE_EQ(m[0].value, 3);
  EXPECT_TRUE(m[0].tags.empty());
  EXPECT_EQ(m[1].type, "gauge");
  EXPECT_DOUBLE_EQ(m[1].value, 0.25);
  EXPECT_EQ(m[2].type, "timer");
  EXPECT_DOUBLE_EQ(m[2].value, 2.5);
  EXPECT_DOUBLE_EQ(m[3].value, 1.5);
  EXPECT_DOUBLE_EQ(m[4].value, 2);
  EXPECT_DOUBLE_EQ(m[5].value, 60);
  EXPECT_DOUBLE_EQ(m[6].value, -1000);
}

TEST(ProtocolLineTest, MetricTags) {
  ClassifiedLine c = expect_protocol(
      "::{\"metrics\":[{\"name\":\"n\",\"type\":\"counter\",\"value\":1,"
      "\"tags\":{\"s\":\"x\",\"i\":5,\"d\":1.5,\"b\":true}}]}::");
  ASSERT_EQ(c.message.metrics.size(), 1u);
  EXPECT_EQ(c.message.metrics[0].tags, (std::map<std::string, std::string>{
                                           {"s", "x"}, {"i", "5"}, {"d", "1.5"}, {"b", "true"}}));
  EXPECT_EQ(expect_invalid("::{\"metrics\":[{\"name\":\"n\",\"type\":\"counter\",\"value\":1,"
                           "\"tags\":{\"o\":{}}}]}::"),
            "metrics[0].tags.o: must be a string, not an object");
  EXPECT_EQ(expect_invalid("::{\"metrics\":[{\"name\":\"n\",\"type\":\"counter\",\"value\":1,"
                           "\"tags\":[]}]}::"),
            "metrics[0].tags: must be an object, not an array");
}

TEST(ProtocolLineTest, BadMetrics) {
  EXPECT_EQ(expect_invalid("::{\"metrics\":[{\"name\":\"n\",\"type\":\"histo\",\"value\":1}]}::"),
            "metrics[0].type: unknown metric type 'histo'");
  EXPECT_EQ(expect_invalid("::{\"metrics\":[{\"name\":\"a\",\"type\":\"counter\",\"value\":1},"
                           "{\"type\":\"counter\",\"value\":1}]}::"),
            "metrics[1].name: required");
  EXPECT_EQ(expect_invalid("::{\"metrics\":[{\"name\":\"n\",\"value\":1}]}::"),
            "metrics[0].type: required");
  EXPECT_EQ(expect_invalid("::{\"metrics\":[{\"name\":\"n\",\"type\":\"counter\"}]}::"),
            "metrics[0].value: required");
  EXPECT_EQ(
      expect_invalid("::{\"metrics\":[{\"name\":\"n\",\"type\":\"counter\",\"value\":\"3\"}]}::"),
      "metrics[0].value: must be a number, not a string");
  EXPECT_EQ(expect_invalid("::{\"metrics\":[{\"name\":7,\"type\":\"gauge\",\"value\":1}]}::"),
            "metrics[0].name: must be a string, not a number");
  std::string err =
      expect_invalid("::{\"metrics\":[{\"name\":\"n\",\"type\":\"timer\",\"value\":\"soon\"}]}::");
  EXPECT_EQ(err.rfind("metrics[0].value: invalid duration 'soon'", 0), 0u) << err;
  err =
      expect_invalid("::{\"metrics\":[{\"name\":\"n\",\"type\":\"timer\",\"value\":\"PTxS\"}]}::");
  EXPECT_EQ(err.rfind("metrics[0].value: ", 0), 0u) << err;
  expect_invalid("::{\"metrics\":[{\"name\":\"n\",\"type\":\"timer\",\"value\":true}]}::");
  expect_invalid("::{\"metrics\":{}}::");
  expect_invalid("::{\"metrics\":[1]}::");
}

TEST(ProtocolLineTest, Logs) {
  ClassifiedLine c = expect_protocol(
      "::{\"logs\":[{\"level\":\"TRACE\",\"message\":\"t\"},"
      "{\"level\":\"DEBUG\",\"message\":\"d\"},"
      "{\"level\":\"INFO\",\"message\":\"i\"},{\"level\":\"WARN\",\"message\":\"w\"},"
      "{\"level\":\"ERROR\",\"message\":\"multi\\nline\"}]}::");
  const auto& logs = c.message.logs;
  ASSERT_EQ(logs.size(), 5u);
  EXPECT_EQ(logs[0].level, Level::kTrace);
  EXPECT_EQ(logs[1].level, Level::kDebug);
  EXPECT_EQ(logs[2].level, Level::kInfo);
  EXPECT_EQ(logs[3].level, Level::kWarn);
  EXPECT_EQ(logs[4].level, Level::kError);
  EXPECT_EQ(logs[0].message, "t");
  EXPECT_EQ(logs[4].message, "multi\nline");
}

TEST(ProtocolLineTest, BadLogs) {
  std::string err = expect_invalid("::{\"logs\":[{\"level\":\"WARNING\",\"message\":\"w\"}]}::");
  EXPECT_EQ(err.rfind("logs[0].level: unknown level 'WARNING'", 0), 0u) << err;
  EXPECT_EQ(expect_invalid("::{\"logs\":[{\"message\":\"w\"}]}::"), "logs[0].level: required");
  expect_invalid("::{\"logs\":[{\"level\":\"info\",\"message\":\"w\"}]}::");
  expect_invalid("::{\"logs\":[{\"level\":\"INFO\",\"message\":3}]}::");
  expect_invalid("::{\"logs\":{}}::");
  // A bad part invalidates the whole line, outputs included.
  expect_invalid(
      "::{\"outputs\":{\"a\":1},\"logs\":[{\"level\":\"WARNING\",\"message\":\"w\"}]}::");
}

TEST(ProtocolLineTest, EverythingTogether) {
  ClassifiedLine c = expect_protocol(
      "::{\"outputs\":{\"x\":\"y\"},"
      "\"metrics\":[{\"name\":\"m\",\"type\":\"counter\",\"value\":1}],"
      "\"logs\":[{\"level\":\"INFO\",\"message\":\"hi\"}]}::\r");
  EXPECT_EQ(c.message.outputs.size(), 1u);
  EXPECT_EQ(c.message.metrics.size(), 1u);
  EXPECT_EQ(c.message.logs.size(), 1u);
  // The parser is reused: a following line does not see the previous one.
  c = expect_protocol("::{\"outputs\":{\"z\":2}}::");
  EXPECT_EQ(c.message.outputs, (Outputs{{"z", "2"}}));
  EXPECT_TRUE(c.message.metrics.empty());
}

MetricEntry metric(std::string name, std::string type, double value,
                   std::map<std::string, std::string> tags = {}) {
  return MetricEntry{std::move(name), std::move(type), value, std::move(tags)};
}

TEST(MetricSetTest, MergesEqualEntries) {
  MetricSet set;
  set.add(metric("rows", "counter", 3));
  set.add(metric("rows", "counter", 4));
  set.add(metric("rows", "counter", 1, {{"t", "a"}}));  // other tags: separate
  set.add(metric("rows", "gauge", 10));                 // other type: separate
  set.add(metric("rows", "gauge", 7));                  // gauge replaces
  set.add(metric("dur", "timer", 1.5));
  set.add(metric("dur", "timer", 2.5));  // timer adds
  set.add(metric("rows", "counter", 2, {{"t", "a"}}));
  set.add(metric("rows", "counter", 1, {{"t", "b"}}));
  const auto& e = set.entries();
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[0].name, "rows");
  EXPECT_EQ(e[0].type, "counter");
  EXPECT_DOUBLE_EQ(e[0].value, 7);
  EXPECT_TRUE(e[0].tags.empty());
  EXPECT_DOUBLE_EQ(e[1].value, 3);
  EXPECT_EQ(e[1].tags.at("t"), "a");
  EXPECT_EQ(e[2].type, "gauge");
  EXPECT_DOUBLE_EQ(e[2].value, 7);
  EXPECT_EQ(e[3].type, "timer");
  EXPECT_DOUBLE_EQ(e[3].value, 4);
  EXPECT_EQ(e[4].tags.at("t"), "b");
  EXPECT_DOUBLE_EQ(e[4].value, 1);
}

}  // namespace
}  // namespace agent::logstream
