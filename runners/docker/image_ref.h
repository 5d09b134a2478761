// Image references and registry credentials for pulls: what POST
// /images/create takes (fromImage, tag) and the X-Registry-Auth header built
// from the runner's `credentials` and `config` as Kestra merges them
// (credentials win; the registry defaults to the image's host, else Docker
// Hub's https://index.docker.io/v1/). Pure.
#pragma once

#include <string>
#include <string_view>

#include "agent/common/result.h"

namespace runners::docker {

struct ImageRef {
  std::string repository;  // "ghcr.io/kestra-io/pydata", "busybox"
  std::string tag;         // "latest" when none is written; empty with a digest
  std::string digest;      // "sha256:..." or empty
  std::string registry;    // "ghcr.io"; empty for Docker Hub
};

agent::Result<ImageRef> parse_image(std::string_view image);

// The registry key credentials are looked up under.
std::string registry_key(const ImageRef& ref);

// The header's value (base64url of the auth JSON), or empty when neither
// `credentials` nor `config` hold anything for the image's registry.
// `credentials_json` and `config_json` are the runner's properties as written.
agent::Result<std::string> registry_auth(const ImageRef& ref, std::string_view credentials_json,
                                         std::string_view config_json);

}  // namespace runners::docker
