#include "test/helpers/engine_client.h"

#include <curl/curl.h>

#include <cstdlib>

namespace test {

namespace {

size_t on_body(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

std::string url_escape(const std::string& s) {
  std::string out;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string test_engine_socket() {
  const char* env = std::getenv("RUNNERD_TEST_DOCKER_HOST");
  std::string host = env != nullptr && *env != '\0' ? env : "/tmp/runnerd-podman/podman.sock";
  if (host.starts_with("unix://")) host = host.substr(7);
  return host;
}

EngineAnswer engine_call(const std::string& method, const std::string& path, const std::string& body) {
  return engine_call_on(test_engine_socket(), method, path, body);
}

EngineAnswer engine_call_on(const std::string& socket, const std::string& method, const std::string& path,
                            const std::string& body) {
  EngineAnswer a;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return a;
  std::string url = "http://docker/v1.41" + path;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a.body);
  struct curl_slist* headers = nullptr;
  if (!body.empty() || method == "POST") {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &a.status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return a;
}

std::string docker_agent_config() {
  return "killGracePeriod: PT2S\n"
         "docker:\n"
         "  host: unix://" + test_engine_socket() + "\n";
}

std::optional<std::string> engine_missing() {
  EngineAnswer a = engine_call("GET", "/version");
  if (a.status == 200) return std::nullopt;
  return "no container engine answers on " + test_engine_socket() +
         ": run scripts/setup-podman.sh (make test does), or point RUNNERD_TEST_DOCKER_HOST at one";
}

std::optional<Message> containers_with_label(const std::string& key, const std::string& value) {
  return containers_with_label_on(test_engine_socket(), key, value);
}

std::optional<Message> containers_with_label_on(const std::string& socket, const std::string& key,
                                                const std::string& value) {
  std::string filters = "{\"label\":[\"" + key + "=" + value + "\"]}";
  EngineAnswer a = engine_call_on(socket, "GET", "/containers/json?all=1&filters=" + url_escape(filters));
  if (a.status != 200) return std::nullopt;
  return parse_message(a.body);
}

void remove_containers_with_label(const std::string& key, const std::string& value) {
  remove_containers_with_label_on(test_engine_socket(), key, value);
}

void remove_containers_with_label_on(const std::string& socket, const std::string& key, const std::string& value) {
  auto list = containers_with_label_on(socket, key, value);
  if (!list) return;
  simdjson::dom::array arr;
  if (list->root.get_array().get(arr) != simdjson::SUCCESS) return;
  for (auto c : arr) {
    std::string_view id;
    if (c["Id"].get_string().get(id) == simdjson::SUCCESS) {
      engine_call_on(socket, "DELETE", "/containers/" + std::string(id) + "?force=1&v=1");
    }
  }
}

}  // namespace test
