#include "runners/docker/image_ref.h"

#include <simdjson.h>

#include "agent/common/base64.h"
#include "agent/json/writer.h"

namespace runners::docker {

namespace {

using agent::Errc;
using agent::Error;

constexpr std::string_view kDockerHub = "https://index.docker.io/v1/";

std::string_view str(simdjson::dom::element obj, std::string_view key) {
  std::string_view v;
  if (obj[key].get_string().get(v) != simdjson::SUCCESS) return {};
  return v;
}

// The `auths` entry of a Docker config for `key`, also written with a scheme
// or a trailing path ("https://ghcr.io", "https://index.docker.io/v1/").
bool find_auth(simdjson::dom::element config, const std::string& key, simdjson::dom::element& out) {
  simdjson::dom::object auths;
  if (config["auths"].get_object().get(auths) != simdjson::SUCCESS) return false;
  auto bare = [](std::string_view s) {
    if (s.starts_with("https://")) s.remove_prefix(8);
    if (s.starts_with("http://")) s.remove_prefix(7);
    size_t slash = s.find('/');
    return std::string(s.substr(0, slash));
  };
  std::string want = bare(key);
  for (auto field : auths) {
    if (field.key == key || bare(field.key) == want) {
      out = field.value;
      return true;
    }
  }
  return false;
}

}  // namespace

agent::Result<ImageRef> parse_image(std::string_view image) {
  if (image.empty()) return Error(Errc::kInvalidArgument, "the image name is empty");
  for (char c : image) {
    if (c <= ' ' || c == 0x7f) {
      return Error(Errc::kInvalidArgument,
                   "invalid image name '" + std::string(image) + "': it contains a space or a control byte");
    }
  }
  ImageRef ref;
  std::string_view rest = image;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
  }
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (last_slash == std::string_view::npos || colon > last_slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
  }
  if (image.ends_with(":") || image.ends_with("@")) {
    return Error(Errc::kInvalidArgument, "invalid image name '" + std::string(image) + "': empty tag or digest");
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  size_t first_slash = rest.find('/');
  if (first_slash != std::string_view::npos) {
    std::string_view first = rest.substr(0, first_slash);
    if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
        first == "localhost") {
      ref.registry = std::string(first);
    }
  }
  ref.repository = std::string(rest);
  if (ref.repository.empty() || ref.repository.back() == '/') {
    return Error(Errc::kInvalidArgument, "invalid image name '" + std::string(image) + "'");
  }
  return ref;
}

std::string registry_key(const ImageRef& ref) {
  return ref.registry.empty() ? std::string(kDockerHub) : ref.registry;
}

agent::Result<std::string> registry_auth(const ImageRef& ref, std::string_view credentials_json,
                                         std::string_view config_json) {
  std::string key = registry_key(ref);
  struct Auth {
    std::string username, password, auth, identity_token, registry_token;
    bool any() const {
      return !username.empty() || !password.empty() || !auth.empty() || !identity_token.empty() ||
             !registry_token.empty();
    }
  };
  Auth from_config, from_credentials;

  simdjson::dom::parser config_parser;
  if (!config_json.empty()) {
    simdjson::dom::element config;
    if (config_parser.parse(config_json.data(), config_json.size()).get(config) != simdjson::SUCCESS) {
      return Error(Errc::kInvalidArgument, "config is not valid JSON (a Docker config.json)", "config");
    }
    simdjson::dom::element entry;
    if (find_auth(config, key, entry)) {
      from_config = {std::string(str(entry, "username")), std::string(str(entry, "password")),
                     std::string(str(entry, "auth")), std::string(str(entry, "identitytoken")),
                     std::string(str(entry, "registrytoken"))};
    }
  }
  simdjson::dom::parser cred_parser;
  if (!credentials_json.empty()) {
    simdjson::dom::element cred;
    if (cred_parser.parse(credentials_json.data(), credentials_json.size()).get(cred) != simdjson::SUCCESS) {
      return Error(Errc::kInvalidArgument, "credentials is not valid JSON", "credentials");
    }
    std::string_view reg = str(cred, "registry");
    if (!reg.empty()) key = std::string(reg);
    from_credentials = {std::string(str(cred, "username")), std::string(str(cred, "password")),
                        std::string(str(cred, "auth")), std::string(str(cred, "identityToken")),
                        std::string(str(cred, "registryToken"))};
  }
  // The runner's credentials replace the config's entry for the registry.
  bool use_credentials = from_credentials.any();
  if (!use_credentials && !from_config.any()) return std::string();
  Auth a = use_credentials ? from_credentials : from_config;
  const char* auth_path = use_credentials ? "credentials.auth" : "config.auths";
  if (a.username.empty() && a.password.empty() && !a.auth.empty()) {
    // `auth` is base64("user:password"), as in config.json.
    auto decoded = agent::base64_decode(a.auth);
    size_t colon = decoded.ok() ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) {
      return Error(Errc::kInvalidArgument, "auth is not base64 of user:password", auth_path);
    }
    a.username = decoded->substr(0, colon);
    a.password = decoded->substr(colon + 1);
  }
  const std::string& username = a.username;
  const std::string& password = a.password;
  const std::string& identity_token = a.identity_token;
  const std::string& registry_token = a.registry_token;
  std::string body;
  agent::json::Writer w(body);
  w.begin_object();
  if (!username.empty()) w.kv("username", username);
  if (!password.empty()) w.kv("password", password);
  if (!identity_token.empty()) w.kv("identitytoken", identity_token);
  if (!registry_token.empty()) w.kv("registrytoken", registry_token);
  w.kv("serveraddress", key);
  w.end_object();
  std::string encoded = agent::base64_encode(body);
  for (char& c : encoded) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return encoded;
}

}  // namespace runners::docker
