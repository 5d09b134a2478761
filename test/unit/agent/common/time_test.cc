#include "agent/common/time.h"

#include <gtest/gtest.h>

namespace {

TEST(Time, FormatsAndParsesIso8601) {
  EXPECT_EQ(agent::iso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(agent::iso8601(1763933400123), "2025-11-23T21:30:00.123Z");
  int64_t ms = 0;
  ASSERT_TRUE(agent::parse_iso8601("2025-11-23T21:30:00.123Z", ms));
  EXPECT_EQ(ms, 1763933400123);
  ASSERT_TRUE(agent::parse_iso8601("2000-02-29T00:00:00Z", ms));
  EXPECT_EQ(agent::iso8601(ms), "2000-02-29T00:00:00.000Z");
  EXPECT_FALSE(agent::parse_iso8601("2025-11-23 21:30:00Z", ms));
  EXPECT_FALSE(agent::parse_iso8601("2025-13-01T00:00:00Z", ms));
}

TEST(Time, ParsesIsoDurationsAsJavaDoes) {
  EXPECT_EQ(agent::parse_duration("PT30S")->count(), 30000);
  EXPECT_EQ(agent::parse_duration("PT1H30M")->count(), 5400000);
  EXPECT_EQ(agent::parse_duration("P1DT1S")->count(), 86401000);
  EXPECT_EQ(agent::parse_duration("PT0.25S")->count(), 250);
  EXPECT_EQ(agent::parse_duration("pt2m")->count(), 120000);
  EXPECT_FALSE(agent::parse_duration("30s").ok());
  EXPECT_FALSE(agent::parse_duration("PT").ok());
  EXPECT_FALSE(agent::parse_duration("P1H").ok());  // hours need the T
  EXPECT_FALSE(agent::parse_duration("-PT1S").ok());
  EXPECT_NE(agent::parse_duration("5m").error().message().find("PT30S"), std::string::npos);
}

TEST(Time, HumanDurations) {
  EXPECT_EQ(agent::human_duration(12), "12ms");
  EXPECT_EQ(agent::human_duration(1500), "1.5s");
  EXPECT_EQ(agent::human_duration(125000), "2m5s");
  EXPECT_EQ(agent::human_duration(3720000), "1h2m");
}

}  // namespace
