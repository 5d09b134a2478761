#include "agent/files/kestra_uris.h"

#include <sys/stat.h>

#include <cctype>
#include <utility>
#include <vector>

#include "agent/common/fs.h"

namespace agent::files {

namespace {

// Kestra's pattern: kestra:\/\/[-\p{Alnum}._\+~#=/]*  (plus % for encoded names)
bool uri_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("-._+~#=/%").find(c) != std::string_view::npos;
}

}  // namespace

Result<std::string> localize_kestra_uris(std::string_view text, const Storage& storage,
                                         const std::string& working_dir) {
  constexpr std::string_view kScheme = "kestra://";
  std::string out;
  std::vector<std::pair<std::string, std::string>> copied;  // uri -> local path
  size_t pos = 0;
  while (true) {
    size_t at = text.find(kScheme, pos);
    if (at == std::string_view::npos) break;
    size_t end = at + kScheme.size();
    while (end < text.size() && uri_char(text[end])) end++;
    std::string uri(text.substr(at, end - at));
    out.append(text.substr(pos, at - pos));
    std::string local;
    for (const auto& [u, l] : copied) {
      if (u == uri) local = l;
    }
    if (local.empty()) {
      AGENT_ASSIGN_OR_RETURN(std::string source, storage.resolve(uri));
      std::string name = uri.substr(uri.rfind('/') + 1);
      std::string dir = working_dir + "/.kestra";
      AGENT_TRY(fs::make_dirs(dir, 0750));
      local = dir + "/" + std::to_string(copied.size()) + "-" + name;
      AGENT_ASSIGN_OR_RETURN(std::string data, fs::read_file(source));
      AGENT_TRY(fs::write_file(local, data));
      copied.emplace_back(uri, local);
    }
    out += local;
    pos = end;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace agent::files
