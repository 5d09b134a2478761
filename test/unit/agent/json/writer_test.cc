#include "agent/json/writer.h"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace {

using agent::json::Writer;

TEST(JsonWriter, WritesNestedDocuments) {
  std::string out;
  Writer w(out);
  w.begin_object().kv("a", 1).key("b").begin_array().number(2).string("x").null().end_array();
  w.kv_bool("c", true).key("d").begin_object().end_object().kv("e", 1.5).end_object();
  EXPECT_EQ(out, R"({"a":1,"b":[2,"x",null],"c":true,"d":{},"e":1.5})");
}

TEST(JsonWriter, EscapesControlsQuotesAndInvalidUtf8) {
  std::string out;
  agent::json::append_quoted(out, "q\"b\\n\n\t\x01 \xc3\xa9 \xff end");
  EXPECT_EQ(out, "\"q\\\"b\\\\n\\n\\t\\u0001 \xc3\xa9 \xef\xbf\xbd end\"");
  simdjson::dom::parser p;
  simdjson::dom::element e;
  EXPECT_EQ(p.parse(out).get(e), simdjson::SUCCESS);
}

TEST(JsonWriter, RejectsOverlongAndSurrogateUtf8) {
  std::string out;
  agent::json::append_quoted(out, "\xc0\xaf|\xed\xa0\x80");
  EXPECT_EQ(out, "\"\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"");
}

TEST(JsonWriter, NumbersRoundTrip) {
  std::string out;
  Writer w(out);
  w.begin_array().number(0.1).number(1e300).number(int64_t{-5}).number(uint64_t{18446744073709551615u});
  w.end_array();
  EXPECT_EQ(out, "[0.1,1e+300,-5,18446744073709551615]");
}

}  // namespace
