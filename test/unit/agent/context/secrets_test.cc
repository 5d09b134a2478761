#include "agent/context/secrets.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

namespace {

using agent::context::SecretStore;

TEST(SecretStore, ReadsBase64EnvironmentVariablesByUpperCasedKey) {
  SecretStore s({"PATH=/bin", "SECRET_API_TOKEN=czNjcjN0\n", "SECRET_BAD=!!"});
  auto v = s.get("api_token");
  ASSERT_TRUE(v.ok()) << v.error().describe();
  EXPECT_EQ(*v, "s3cr3t");
  auto missing = s.get("nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("SECRET_NOPE"), std::string::npos);
  EXPECT_FALSE(s.get("bad").ok());
}

TEST(SecretStore, SecretsFileMustBePrivate) {
  std::string path = "/tmp/runnerd-secrets-test-" + std::to_string(getpid());
  std::ofstream(path) << "# comment\nDB_PASSWORD=cGFzcw==\n";
  chmod(path.c_str(), 0644);
  SecretStore s({"SECRET_DB_PASSWORD=b3RoZXI="});
  auto st = s.load_file(path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("chmod 600"), std::string::npos);
  chmod(path.c_str(), 0600);
  ASSERT_TRUE(s.load_file(path).ok());
  EXPECT_EQ(*s.get("db_password"), "pass");  // the file wins over the environment
  unlink(path.c_str());
}

}  // namespace
