#include "agent/common/base64.h"

#include <gtest/gtest.h>

namespace {

TEST(Base64, RoundTripsEveryLength) {
  std::string data;
  for (int i = 0; i < 300; i++) {
    auto back = agent::base64_decode(agent::base64_encode(data));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, data);
    data += static_cast<char>(i * 37);
  }
}

TEST(Base64, KnownVectorsAndLenientForms) {
  EXPECT_EQ(agent::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(agent::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(*agent::base64_decode("Zm8="), "fo");
  EXPECT_EQ(*agent::base64_decode("Zm8"), "fo");           // missing padding
  EXPECT_EQ(*agent::base64_decode("Zm9v\nYmFy\r\n"), "foobar");  // wrapped
}

TEST(Base64, RejectsGarbage) {
  EXPECT_FALSE(agent::base64_decode("Zm9v!").ok());
  EXPECT_FALSE(agent::base64_decode("Zm=9v").ok());
  EXPECT_FALSE(agent::base64_decode("Z").ok());
}

}  // namespace
