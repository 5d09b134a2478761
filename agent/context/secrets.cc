#include "agent/context/secrets.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

#include "agent/common/base64.h"
#include "agent/common/fs.h"

namespace agent::context {

namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

SecretStore::SecretStore(const std::vector<std::string>& env) {
  constexpr std::string_view kPrefix = "SECRET_";
  for (const auto& e : env) {
    if (e.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    size_t eq = e.find('=');
    if (eq == std::string::npos) continue;
    encoded_.emplace_back(e.substr(kPrefix.size(), eq - kPrefix.size()), e.substr(eq + 1));
  }
}

Status SecretStore::load_file(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Error::from_errno(errno, "secretsFile " + path);
  if (st.st_uid != geteuid()) {
    return Error(Errc::kPermissionDenied,
                 "secretsFile " + path + " must be owned by the agent's user (uid " +
                     std::to_string(geteuid()) + ")");
  }
  if ((st.st_mode & 077) != 0) {
    return Error(Errc::kPermissionDenied,
                 "secretsFile " + path + " is readable by other users; chmod 600 it");
  }
  AGENT_ASSIGN_OR_RETURN(std::string text, fs::read_file(path));
  std::vector<std::pair<std::string, std::string>> from_file;
  size_t line_no = 0, pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    line_no++;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Error(Errc::kInvalidArgument,
                   "secretsFile " + path + " line " + std::to_string(line_no) +
                       ": expected KEY=base64value");
    }
    std::string key = upper(line.substr(0, eq));
    std::string value(line.substr(eq + 1));
    if (!base64_decode(value).ok()) {
      return Error(Errc::kInvalidArgument, "secretsFile " + path + " line " +
                                               std::to_string(line_no) + ": the value of " + key +
                                               " is not base64");
    }
    from_file.emplace_back(std::move(key), std::move(value));
  }
  // The file comes first: it is the agent's own, the environment is inherited.
  encoded_.insert(encoded_.begin(), from_file.begin(), from_file.end());
  return {};
}

Result<std::string> SecretStore::get(std::string_view key) const {
  std::string k = upper(key);
  for (const auto& [name, value] : encoded_) {
    if (name != k) continue;
    auto decoded = base64_decode(value);
    if (!decoded.ok()) {
      return Error(Errc::kInvalidArgument, "secret '" + std::string(key) + "': SECRET_" + k +
                                               " is not base64: " + decoded.error().message());
    }
    return decoded;
  }
  return Error(Errc::kNotFound, "secret '" + std::string(key) + "' not found: set SECRET_" + k +
                                    " (base64) in the agent's environment or add it to "
                                    "secretsFile");
}

}  // namespace agent::context
