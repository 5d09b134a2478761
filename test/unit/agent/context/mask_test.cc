#include "agent/context/mask.h"

#include <gtest/gtest.h>

namespace {

using agent::context::SecretMasker;

TEST(SecretMasker, MasksEveryOccurrenceWithoutRevealingTheLength) {
  SecretMasker m;
  EXPECT_EQ(m.mask("nothing"), "nothing");
  m.add("hunter2");
  m.add("");
  EXPECT_EQ(m.mask("pw=hunter2 and again hunter2hunter2"), "pw=****** and again ************");
  m.add("x");
  EXPECT_EQ(m.mask("x"), "******");
}

TEST(SecretMasker, LongestFirstAndJsonEscapedForms) {
  SecretMasker m;
  m.add("abc");
  m.add("abcdef");
  EXPECT_EQ(m.mask("[abcdef] [abc]"), "[******] [******]");
  SecretMasker q;
  q.add("a\"b");
  EXPECT_EQ(q.mask(R"({"v":"a\"b"} a"b)"), R"({"v":"******"} ******)");
  SecretMasker u;
  u.add("clé");
  EXPECT_EQ(u.mask("la clé!"), "la ******!");
}

}  // namespace
