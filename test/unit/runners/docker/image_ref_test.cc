// Image references (repository, tag, digest, registry) and the X-Registry-Auth
// header built from the runner's `credentials` and a Docker config.json.
#include "runners/docker/image_ref.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <string>

#include "agent/common/base64.h"

namespace {

using agent::Errc;
using runners::docker::ImageRef;
using runners::docker::parse_image;
using runners::docker::registry_auth;
using runners::docker::registry_key;

constexpr std::string_view kHub = "https://index.docker.io/v1/";

ImageRef parsed(std::string_view image) {
  auto r = parse_image(image);
  EXPECT_TRUE(r.ok()) << image << ": " << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : ImageRef{};
}

// The header's JSON object, decoded from base64url, as key -> string value.
// Fails the test when the header is not base64url of a flat JSON object of strings.
std::map<std::string, std::string> decode_header(const std::string& header) {
  std::map<std::string, std::string> fields;
  EXPECT_EQ(header.find('+'), std::string::npos) << header;
  EXPECT_EQ(header.find('/'), std::string::npos) << header;
  std::string std64 = header;
  for (char& c : std64) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  auto json = agent::base64_decode(std64);
  EXPECT_TRUE(json.ok()) << header;
  if (!json.ok()) return fields;
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  EXPECT_EQ(parser.parse(*json).get_object().get(obj), simdjson::SUCCESS) << *json;
  for (auto field : obj) {
    std::string_view v;
    EXPECT_EQ(field.value.get_string().get(v), simdjson::SUCCESS) << field.key;
    fields[std::string(field.key)] = std::string(v);
  }
  return fields;
}

std::map<std::string, std::string> auth_fields(std::string_view image, std::string_view credentials,
                                               std::string_view config) {
  auto r = registry_auth(parsed(image), credentials, config);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  if (!r.ok()) return {};
  EXPECT_FALSE(r->empty()) << "no header for " << image;
  return decode_header(*r);
}

std::string b64(std::string_view s) { return agent::base64_encode(s); }

// ---------------------------------------------------------------------------
// parse_image

TEST(DockerImageRef, BareNameIsDockerHubLatest) {
  ImageRef r = parsed("busybox");
  EXPECT_EQ(r.repository, "busybox");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(r.digest, "");
  EXPECT_EQ(r.registry, "");
  EXPECT_EQ(registry_key(r), kHub);
}

TEST(DockerImageRef, NamespacedHubImageHasNoRegistry) {
  // A first element without '.', ':' and other than "localhost" is a Docker Hub namespace.
  ImageRef r = parsed("library/python:3.12-slim");
  EXPECT_EQ(r.repository, "library/python");
  EXPECT_EQ(r.tag, "3.12-slim");
  EXPECT_EQ(r.registry, "");
  EXPECT_EQ(registry_key(r), kHub);

  ImageRef k = parsed("kestra/kestra");
  EXPECT_EQ(k.repository, "kestra/kestra");
  EXPECT_EQ(k.tag, "latest");
  EXPECT_EQ(k.registry, "");
}

TEST(DockerImageRef, RegistryWithADot) {
  ImageRef r = parsed("ghcr.io/kestra-io/pydata:latest");
  EXPECT_EQ(r.repository, "ghcr.io/kestra-io/pydata");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(r.digest, "");
  EXPECT_EQ(r.registry, "ghcr.io");
  EXPECT_EQ(registry_key(r), "ghcr.io");

  ImageRef d = parsed("docker.io/library/busybox:1.36");
  EXPECT_EQ(d.repository, "docker.io/library/busybox");
  EXPECT_EQ(d.tag, "1.36");
  EXPECT_EQ(d.registry, "docker.io");
}

TEST(DockerImageRef, RegistryWithAPortIsNotATag) {
  ImageRef r = parsed("localhost:5000/a/b");
  EXPECT_EQ(r.repository, "localhost:5000/a/b");
  EXPECT_EQ(r.tag, "latest");
  EXPECT_EQ(r.digest, "");
  EXPECT_EQ(r.registry, "localhost:5000");
  EXPECT_EQ(registry_key(r), "localhost:5000");

  ImageRef h = parsed("host:5000/x:1.2");
  EXPECT_EQ(h.repository, "host:5000/x");
  EXPECT_EQ(h.tag, "1.2");
  EXPECT_EQ(h.registry, "host:5000");

  ImageRef l = parsed("localhost/app:dev");
  EXPECT_EQ(l.repository, "localhost/app");
  EXPECT_EQ(l.tag, "dev");
  EXPECT_EQ(l.registry, "localhost");
}

TEST(DockerImageRef, DigestWithoutTag) {
  ImageRef r = parsed("a/b@sha256:abc");
  EXPECT_EQ(r.repository, "a/b");
  EXPECT_EQ(r.tag, "");
  EXPECT_EQ(r.digest, "sha256:abc");
  EXPECT_EQ(r.registry, "");

  ImageRef p = parsed("localhost:5000/x@sha256:0123");
  EXPECT_EQ(p.repository, "localhost:5000/x");
  EXPECT_EQ(p.tag, "");
  EXPECT_EQ(p.digest, "sha256:0123");
  EXPECT_EQ(p.registry, "localhost:5000");
}

TEST(DockerImageRef, TagAndDigestTogether) {
  ImageRef r = parsed("ghcr.io/org/img:1.0@sha256:ff");
  EXPECT_EQ(r.repository, "ghcr.io/org/img");
  EXPECT_EQ(r.tag, "1.0");
  EXPECT_EQ(r.digest, "sha256:ff");
  EXPECT_EQ(r.registry, "ghcr.io");
}

TEST(DockerImageRef, EmptySpacedAndMalformedNamesAreErrors) {
  for (std::string_view bad :
       {std::string_view(""), std::string_view("busy box"), std::string_view(" busybox"),
        std::string_view("busybox "), std::string_view("busybox\t"), std::string_view("a\nb"),
        std::string_view("a\x7f"), std::string_view(":tag"), std::string_view("@sha256:abc"),
        std::string_view("ghcr.io/"), std::string_view("ghcr.io/org/:1")}) {
    auto r = parse_image(bad);
    ASSERT_FALSE(r.ok()) << "'" << bad << "' parsed as " << r->repository;
    EXPECT_EQ(r.error().code(), Errc::kInvalidArgument) << bad;
    EXPECT_FALSE(r.error().message().empty());
  }
  auto spaced = parse_image("my image");
  ASSERT_FALSE(spaced.ok());
  EXPECT_NE(spaced.error().message().find("'my image'"), std::string::npos)
      << spaced.error().message();
  EXPECT_NE(spaced.error().message().find("space"), std::string::npos);
  auto empty = parse_image("");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message().find("empty"), std::string::npos);
}

// ---------------------------------------------------------------------------
// registry_auth

TEST(DockerImageRef, NothingConfiguredGivesNoHeader) {
  auto r = registry_auth(parsed("busybox"), "", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "");
  // Credentials that hold no secret at all: still nothing to send.
  auto only_registry = registry_auth(parsed("busybox"), R"({"registry":"ghcr.io"})", "");
  ASSERT_TRUE(only_registry.ok());
  EXPECT_EQ(*only_registry, "");
  auto empty_object = registry_auth(parsed("busybox"), "{}", "{}");
  ASSERT_TRUE(empty_object.ok());
  EXPECT_EQ(*empty_object, "");
}

TEST(DockerImageRef, UsernameAndPasswordForDockerHub) {
  auto f = auth_fields("busybox", R"({"username":"alice","password":"s3cret"})", "");
  EXPECT_EQ(
      f, (std::map<std::string, std::string>{
             {"username", "alice"}, {"password", "s3cret"}, {"serveraddress", std::string(kHub)}}));
}

TEST(DockerImageRef, ServerAddressIsTheImagesRegistry) {
  auto f = auth_fields("ghcr.io/kestra-io/pydata:latest", R"({"username":"u","password":"p"})", "");
  EXPECT_EQ(f["serveraddress"], "ghcr.io");
  EXPECT_EQ(f["username"], "u");
  EXPECT_EQ(f["password"], "p");
  EXPECT_EQ(f.count("identitytoken"), 0u);
  EXPECT_EQ(f.count("registrytoken"), 0u);
}

TEST(DockerImageRef, CredentialsRegistryOverridesTheServerAddress) {
  auto f = auth_fields("busybox",
                       R"({"registry":"registry.example.com","username":"u","password":"p"})", "");
  EXPECT_EQ(f["serveraddress"], "registry.example.com");
  EXPECT_EQ(f["username"], "u");
}

TEST(DockerImageRef, AuthIsDecodedIntoUserAndPassword) {
  // Only the first ':' separates: passwords may hold colons.
  std::string creds = R"({"auth":")" + b64("bob:pa:ss") + R"("})";
  auto f = auth_fields("ghcr.io/x/y", creds, "");
  EXPECT_EQ(f, (std::map<std::string, std::string>{
                   {"username", "bob"}, {"password", "pa:ss"}, {"serveraddress", "ghcr.io"}}));
}

TEST(DockerImageRef, AuthThatIsNotUserColonPasswordIsAnError) {
  auto not_b64 = registry_auth(parsed("busybox"), R"({"auth":"%%%not base64"})", "");
  ASSERT_FALSE(not_b64.ok());
  EXPECT_EQ(not_b64.error().code(), Errc::kInvalidArgument);
  EXPECT_EQ(not_b64.error().path(), "credentials.auth");

  std::string no_colon = R"({"auth":")" + b64("justauser") + R"("})";
  auto r = registry_auth(parsed("busybox"), no_colon, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
  EXPECT_NE(r.error().message().find("user:password"), std::string::npos) << r.error().message();
}

TEST(DockerImageRef, ABadAuthInTheConfigIsAnError) {
  // Note: the error's path is "credentials.auth" even though the value came
  // from `config`; only the code and the wording are checked here.
  std::string config = R"({"auths": {"ghcr.io": {"auth": ")" + b64("nocolon") + R"("}}})";
  auto r = registry_auth(parsed("ghcr.io/o/i"), "", config);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
  EXPECT_NE(r.error().message().find("user:password"), std::string::npos) << r.error().message();
  // Not looked at when the image's registry is another one.
  auto other = registry_auth(parsed("quay.io/o/i"), "", config);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(*other, "");
}

TEST(DockerImageRef, TokensAreSentUnderTheEnginesNames) {
  auto f = auth_fields("ghcr.io/o/i", R"({"identityToken":"idt","registryToken":"rgt"})", "");
  EXPECT_EQ(f,
            (std::map<std::string, std::string>{
                {"identitytoken", "idt"}, {"registrytoken", "rgt"}, {"serveraddress", "ghcr.io"}}));
}

TEST(DockerImageRef, HeaderIsBase64UrlOfValidJsonEvenWithSpecialCharacters) {
  // Any three aligned '?' encode to "Pz8/" and '>' to "Pj4+" in standard
  // base64, whatever the offset of a run of six: the header must carry '_' and
  // '-' instead. Quotes, backslashes and non-ASCII survive.
  std::string user = std::string(6, '?');
  std::string password = std::string(6, '>') + " \"\\ \u00e9";
  std::string creds =
      R"({"username":")" + user + R"(","password":")" + std::string(6, '>') + R"( \"\\ \u00e9"})";
  auto r = registry_auth(parsed("busybox"), creds, "");
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->find_first_of("+/"), std::string::npos) << *r;
  EXPECT_NE(r->find('-'), std::string::npos) << *r;
  EXPECT_NE(r->find('_'), std::string::npos) << *r;
  auto f = decode_header(*r);
  EXPECT_EQ(f["username"], user);
  EXPECT_EQ(f["password"], password);
  EXPECT_EQ(password.substr(password.size() - 2), "\xc3\xa9");
  EXPECT_EQ(f["serveraddress"], kHub);
}

TEST(DockerImageRef, DockerConfigAuthForTheImagesRegistry) {
  std::string config = R"({"auths": {"ghcr.io": {"auth": ")" + b64("cfguser:cfgpass") + R"("}}})";
  auto f = auth_fields("ghcr.io/kestra-io/pydata:latest", "", config);
  EXPECT_EQ(f,
            (std::map<std::string, std::string>{
                {"username", "cfguser"}, {"password", "cfgpass"}, {"serveraddress", "ghcr.io"}}));
}

TEST(DockerImageRef, DockerConfigKeysWithSchemeOrPathMatch) {
  for (std::string key : {"https://ghcr.io", "http://ghcr.io", "https://ghcr.io/",
                          "https://ghcr.io/v2/", "ghcr.io/some/path"}) {
    std::string config = R"({"auths": {")" + key + R"(": {"auth": ")" + b64("u:p") + R"("}}})";
    auto f = auth_fields("ghcr.io/o/i:1", "", config);
    EXPECT_EQ(f["username"], "u") << key;
    EXPECT_EQ(f["password"], "p") << key;
    EXPECT_EQ(f["serveraddress"], "ghcr.io") << key;
  }
}

TEST(DockerImageRef, DockerConfigForDockerHub) {
  std::string config =
      R"({"auths": {"https://index.docker.io/v1/": {"auth": ")" + b64("hub:pw") + R"("}}})";
  auto f = auth_fields("python:3.12", "", config);
  EXPECT_EQ(f["username"], "hub");
  EXPECT_EQ(f["password"], "pw");
  EXPECT_EQ(f["serveraddress"], kHub);
}

TEST(DockerImageRef, DockerConfigExplicitFieldsAndTokens) {
  std::string config =
      R"({"auths": {"localhost:5000": {"username": "u", "password": "p",
          "identitytoken": "it", "registrytoken": "rt"}}})";
  auto f = auth_fields("localhost:5000/a/b", "", config);
  EXPECT_EQ(f, (std::map<std::string, std::string>{{"username", "u"},
                                                   {"password", "p"},
                                                   {"identitytoken", "it"},
                                                   {"registrytoken", "rt"},
                                                   {"serveraddress", "localhost:5000"}}));
}

TEST(DockerImageRef, DockerConfigForOtherRegistriesGivesNoHeader) {
  std::string config = R"({"auths": {)";
  for (std::string key :
       {"quay.io", "ghcr.io.evil.example", "localhost:5001", "https://index.docker.io/v1/"}) {
    config += "\"" + key + R"(": {"auth": ")" + b64("user:" + key) + R"("},)";
  }
  config.back() = '}';
  config += "}";
  for (std::string_view image : {"ghcr.io/o/i", "localhost:5000/a", "evilghcr.io/x"}) {
    auto r = registry_auth(parsed(image), "", config);
    ASSERT_TRUE(r.ok()) << image;
    EXPECT_EQ(*r, "") << image << " matched " << decode_header(*r)["username"];
  }
  // The same config does serve the one registry it names.
  auto hub = auth_fields("busybox", "", config);
  EXPECT_EQ(hub["username"], "user");
  EXPECT_EQ(hub["password"], kHub);
  auto no_auths = registry_auth(parsed("busybox"), "", R"({"credHelpers": {"ghcr.io": "x"}})");
  ASSERT_TRUE(no_auths.ok());
  EXPECT_EQ(*no_auths, "");
}

TEST(DockerImageRef, CredentialsWinOverConfig) {
  std::string config = R"({"auths": {"ghcr.io": {"auth": ")" + b64("cfg:cfgpw") + R"("}}})";
  auto explicit_creds =
      auth_fields("ghcr.io/o/i", R"({"username":"cred","password":"credpw"})", config);
  EXPECT_EQ(explicit_creds["username"], "cred");
  EXPECT_EQ(explicit_creds["password"], "credpw");

  std::string creds_auth = R"({"auth":")" + b64("cred2:pw2") + R"("})";
  auto auth_creds = auth_fields("ghcr.io/o/i", creds_auth, config);
  EXPECT_EQ(auth_creds["username"], "cred2");
  EXPECT_EQ(auth_creds["password"], "pw2");
}

// The runner's credentials replace the config's entry for the registry, also
// when they hold only `auth` and the config an explicit username/password.
TEST(DockerImageRef, CredentialsAuthWinsOverConfigUsernamePassword) {
  std::string config = R"({"auths": {"ghcr.io": {"username": "cfg", "password": "cfgpw"}}})";
  std::string creds = R"({"auth":")" + b64("cred:credpw") + R"("})";
  auto f = auth_fields("ghcr.io/o/i", creds, config);
  EXPECT_EQ(f["username"], "cred");
  EXPECT_EQ(f["password"], "credpw");
}

TEST(DockerImageRef, BadJsonIsAnErrorNamingTheProperty) {
  auto bad_creds = registry_auth(parsed("busybox"), "{not json", "");
  ASSERT_FALSE(bad_creds.ok());
  EXPECT_EQ(bad_creds.error().code(), Errc::kInvalidArgument);
  EXPECT_EQ(bad_creds.error().path(), "credentials");

  auto bad_config = registry_auth(parsed("busybox"), "", "[1, 2");
  ASSERT_FALSE(bad_config.ok());
  EXPECT_EQ(bad_config.error().code(), Errc::kInvalidArgument);
  EXPECT_EQ(bad_config.error().path(), "config");

  // A bad config is reported even when credentials alone would do.
  auto both = registry_auth(parsed("busybox"), R"({"username":"u","password":"p"})", "}");
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error().path(), "config");
}

}  // namespace
