#include "agent/files/kestra_uris.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <optional>
#include <utility>
#include <vector>

#include "agent/files/beneath.h"

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
  std::optional<UniqueFd> wd;
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
      std::string name = std::to_string(copied.size()) + "-" + uri.substr(uri.rfind('/') + 1);
      // Into <working_dir>/.kestra, beneath it: a `.kestra` left as a symlink
      // by an earlier task of a WorkingDirectory is refused, not followed.
      if (!wd) {
        AGENT_ASSIGN_OR_RETURN(wd, open_dir(working_dir));
      }
      int in = ::open(source.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (in < 0) return Error::from_errno(errno, "reading " + uri);
      UniqueFd from(in);
      auto to = create_file_beneath(wd->get(), {".kestra", name});
      if (!to.ok()) return std::move(to).error().context("copying " + uri + " into the working directory");
      AGENT_TRY(copy_fd(from.get(), to->get()));
      local = working_dir + "/.kestra/" + name;
      copied.emplace_back(uri, local);
    }
    out += local;
    pos = end;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace agent::files
