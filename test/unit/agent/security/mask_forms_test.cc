// H12: the forms a secret takes on its way to a log are masked too: bash's
// xtrace quoting, JSON and URL escaping, and each line of a multi-line secret.
#include "agent/context/mask.h"

#include <gtest/gtest.h>

namespace {

using agent::context::SecretMasker;

TEST(SecretForms, XtraceJsonUrlAndMultiLineFormsAreMasked) {
  SecretMasker m;
  m.add("it's s3cr\"et");
  EXPECT_EQ(m.mask("+ echo 'it'\\''s s3cr\"et'"), "+ echo '******'");
  EXPECT_EQ(m.mask("+ echo it's s3cr\"et"), "+ echo ******");  // dash prints it as it is
  EXPECT_EQ(m.mask(R"({"v":"it's s3cr\"et"})"), R"({"v":"******"})");
  EXPECT_EQ(m.mask("GET /?t=it%27s%20s3cr%22et"), "GET /?t=******");
  SecretMasker pem;
  pem.add("-----BEGIN KEY-----\nMIIEvQIBADANBgkq\nhkiG9w0BAQEF\nab\n-----END KEY-----");
  EXPECT_EQ(pem.mask("MIIEvQIBADANBgkq"), "******");
  EXPECT_EQ(pem.mask("line hkiG9w0BAQEF end"), "line ****** end");
  EXPECT_EQ(pem.mask("ab"), "ab");  // too short a part to mask on its own
}

}  // namespace
