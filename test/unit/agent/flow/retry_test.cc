#include "agent/flow/retry.h"

#include <gtest/gtest.h>
#include <simdjson.h>

namespace {

using agent::flow::next_retry_delay;
using agent::flow::parse_retry;
using agent::flow::RetryPolicy;

agent::Result<RetryPolicy> parse(const std::string& json, std::vector<std::string>* warnings = nullptr) {
  static simdjson::dom::parser parser;
  simdjson::dom::element e;
  EXPECT_EQ(parser.parse(json).get(e), simdjson::SUCCESS);
  return parse_retry(e, "retry", warnings);
}

TEST(Retry, ConstantRetriesUntilMaxAttemptsCountingTheFirst) {
  auto p = parse(R"({"type":"constant","interval":"PT0.25S","maxAttempts":3})");
  ASSERT_TRUE(p.ok()) << p.error().describe();
  EXPECT_EQ(next_retry_delay(*p, 1, 0, 100, 0.5)->count(), 250);
  EXPECT_EQ(next_retry_delay(*p, 2, 0, 500, 0.5)->count(), 250);
  EXPECT_FALSE(next_retry_delay(*p, 3, 0, 900, 0.5));
}

TEST(Retry, ExponentialGrowsByTheFactorUpToMaxInterval) {
  auto p = parse(R"({"type":"exponential","interval":"PT1S","maxInterval":"PT5S","delayFactor":2,"maxAttempts":100})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(next_retry_delay(*p, 1, 0, 0, 0)->count(), 1000);
  EXPECT_EQ(next_retry_delay(*p, 2, 0, 0, 0)->count(), 2000);
  EXPECT_EQ(next_retry_delay(*p, 3, 0, 0, 0)->count(), 4000);
  EXPECT_EQ(next_retry_delay(*p, 4, 0, 0, 0)->count(), 5000);
  EXPECT_EQ(next_retry_delay(*p, 60, 0, 0, 0)->count(), 5000);  // no overflow
}

TEST(Retry, RandomStaysWithinItsBounds) {
  auto p = parse(R"({"type":"random","minInterval":"PT1S","maxInterval":"PT2S","maxAttempts":2})");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(next_retry_delay(*p, 1, 0, 0, 0.0)->count(), 1000);
  EXPECT_EQ(next_retry_delay(*p, 1, 0, 0, 0.999)->count(), 1999);
}

TEST(Retry, MaxDurationCountsFromTheFirstAttempt) {
  auto p = parse(R"({"type":"constant","interval":"PT10S","maxDuration":"PT30S"})");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(next_retry_delay(*p, 1, 0, 15000, 0));   // next at 25s
  EXPECT_FALSE(next_retry_delay(*p, 2, 0, 25000, 0));  // next at 35s > 30s
}

TEST(Retry, LegacyMaxAttemptIsAcceptedWithAWarning) {
  std::vector<std::string> warnings;
  auto p = parse(R"({"type":"constant","interval":"PT1S","maxAttempt":2})", &warnings);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p->max_attempts, 2);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("maxAttempts"), std::string::npos);
}

TEST(Retry, ErrorsNameTheProperty) {
  auto missing = parse(R"({"type":"constant","maxAttempts":2})");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().path(), "retry.interval");
  auto unbounded = parse(R"({"type":"constant","interval":"PT1S"})");
  ASSERT_FALSE(unbounded.ok());
  EXPECT_NE(unbounded.error().message().find("maxAttempts or maxDuration"), std::string::npos);
  auto type = parse(R"({"type":"linear","interval":"PT1S","maxAttempts":2})");
  ASSERT_FALSE(type.ok());
  EXPECT_EQ(type.error().path(), "retry.type");
  auto zero = parse(R"({"type":"constant","interval":"PT1S","maxAttempts":0})");
  ASSERT_FALSE(zero.ok());
  EXPECT_EQ(zero.error().path(), "retry.maxAttempts");
  auto exp = parse(R"({"type":"exponential","interval":"PT10S","maxInterval":"PT1S","maxAttempts":2})");
  ASSERT_FALSE(exp.ok());
}

}  // namespace
