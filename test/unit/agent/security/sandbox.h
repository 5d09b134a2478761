// A sandbox for the hostile-path tests: a tree of canaries around a working
// directory, a snapshot of everything outside that directory (to prove
// nothing there was written), and the table of hostile paths.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "agent/common/fs.h"

namespace security_test {

// Canary files hold this text; no byte of it may ever reach a working
// directory or the storage.
inline constexpr std::string_view kCanary = "CANARY-7f3a9c-do-not-collect";

inline void put(const std::string& path, const std::string& content) {
  size_t slash = path.rfind('/');
  ASSERT_TRUE(agent::fs::make_dirs(path.substr(0, slash), 0755).ok()) << path;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Everything under `root` (lstat, never following links) but the excluded
// subtrees: type, size, mode, mtime and content (or link target).
inline std::map<std::string, std::string> snapshot(const std::string& root,
                                                   const std::vector<std::string>& exclude) {
  std::map<std::string, std::string> out;
  std::function<void(const std::string&)> walk = [&](const std::string& dir) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return;
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(d);
    for (const auto& n : names) {
      std::string p = dir + "/" + n;
      bool skip = false;
      for (const auto& x : exclude) skip = skip || p == x;
      if (skip) continue;
      struct stat st;
      if (lstat(p.c_str(), &st) != 0) continue;
      // A directory's own size and mtime change with its entries, which are
      // compared one by one; the working directory is made anew in its parent.
      std::string v = std::to_string(st.st_mode);
      if (!S_ISDIR(st.st_mode)) {
        v += " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
             std::to_string(st.st_mtim.tv_nsec);
      }
      if (S_ISREG(st.st_mode)) {
        v += " " + slurp(p);
      } else if (S_ISLNK(st.st_mode)) {
        char t[4096];
        ssize_t k = readlink(p.c_str(), t, sizeof t);
        v += " -> " + std::string(t, k > 0 ? static_cast<size_t>(k) : 0);
      }
      out[p] = v;
      if (S_ISDIR(st.st_mode)) walk(p);
    }
  };
  walk(root);
  return out;
}

// Bytes of the canary found in regular files under `dir` (links not followed).
inline size_t canary_bytes_under(const std::string& dir) {
  size_t found = 0;
  std::function<void(const std::string&)> walk = [&](const std::string& d) {
    DIR* h = opendir(d.c_str());
    if (h == nullptr) return;
    std::vector<std::string> names;
    while (dirent* e = readdir(h)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    closedir(h);
    for (const auto& n : names) {
      std::string p = d + "/" + n;
      struct stat st;
      if (lstat(p.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        walk(p);
      } else if (S_ISREG(st.st_mode)) {
        std::string data = slurp(p);
        for (size_t at = data.find(kCanary); at != std::string::npos; at = data.find(kCanary, at + 1)) {
          found += kCanary.size();
        }
      }
    }
  };
  walk(dir);
  return found;
}

// The hostile paths of the anchors' H3, H5 and H6: `..` in every spelling,
// absolute paths, NUL, very long names and paths, many components,
// backslashes, invalid and overlong UTF-8, trailing slashes, shell and
// Windows oddities, and the sandbox's own symlinks (`link`, `filelink`,
// `abslink`, which point at the canaries). `pwn` names a file that must never
// appear anywhere.
inline std::vector<std::string> hostile_paths(const std::string& pwn) {
  std::vector<std::string> cores = {
      "..",
      "../" + pwn,
      "../../" + pwn,
      "../../../" + pwn,
      "../../../../../../../../../../../../../../../../tmp/" + pwn,
      "../../../../../../../../../../../../../../../../etc/passwd",
      "a/../../" + pwn,
      "a/b/../../../" + pwn,
      "./../" + pwn,
      ".//..//" + pwn,
      "a/./../../" + pwn,
      "a/..",
      "a/../..",
      "../",
      "../canary/secret.txt",
      "../../l1/canary/secret.txt",
      "/" + pwn,
      "/tmp/" + pwn,
      "/etc/passwd",
      "//etc/passwd",
      "///tmp/" + pwn,
      "/proc/self/environ",
      "/proc/self/cwd/../" + pwn,
      "/dev/zero",
      "link/" + pwn,
      "link/secret.txt",
      "link",
      "filelink",
      "abslink/" + pwn,
      "abslink/secret.txt",
      "link/../" + pwn,
      "sub/../link/" + pwn,
      "..\\" + pwn,
      "..\\..\\" + pwn,
      "a\\..\\..\\" + pwn,
      "evil",                                 // the sandbox's links in a namespace,
      "dlink/secret.txt",                     // in allowedPaths and in the storage
      "escape",
      "dlink",
      "%2e%2e/" + pwn,
      "%2e%2e%2f" + pwn,
      "..%2f" + pwn,
      "..%252f" + pwn,
      "%c0%ae%c0%ae/" + pwn,
      "\xc0\xae\xc0\xae/" + pwn,              // overlong UTF-8 for ".."
      "\xc0\xaf" + pwn,                       // overlong UTF-8 for "/"
      "..\xe2\x88\x95" + pwn,                 // U+2215 DIVISION SLASH
      "..\xef\xbc\x8f" + pwn,                 // U+FF0F FULLWIDTH SOLIDUS
      "\xe2\x80\xae" "txt.exe",               // U+202E RIGHT-TO-LEFT OVERRIDE
      "a\x80" "b",                            // not UTF-8
      "\xff\xfe\xfd",
      std::string("a\0/../../", 9) + pwn,     // NUL
      std::string("\0", 1),
      std::string("..\0", 3),
      "a\nb",
      "a\rb",
      "a\tb",
      "\x1b[31mred",
      "",
      ".",
      "./",
      "/",
      "//",
      "a/",
      "a/b/",
      "../a/",
      "...",
      "....",
      "..../" + pwn,
      " ..",
      ".. ",
      "../ " + pwn,
      "..;/" + pwn,
      "~/" + pwn,
      "~root/" + pwn,
      "$HOME/" + pwn,
      "$(touch /tmp/" + pwn + ")",
      "`touch /tmp/" + pwn + "`",
      "con",
      "nul",
      "aux.txt",
      "com1",
      "C:\\Windows\\" + pwn,
      "\\\\server\\share\\" + pwn,
      "file:///etc/passwd",
      ".kestra/../../" + pwn,
      ".kestra",
      "*",
      "**",
      "**/*",
      "../*",
      "../**",
      "/etc/*",
      "/**",
      "**/../../*",
      "{a,../b}",
      "{../*,**}",
      "[.][.]/*",
      "?/../*",
      "glob:/etc/*",
      "glob:**",
      "glob:/**",
      "regex:.*",
      "regex:/etc/.*",
      "regex:.*/canary/.*",
      "regex:(",
  };
  std::vector<std::string> out = cores;
  // Each escape again behind ordinary prefixes, so that a check that looks
  // only at the start of a name is caught out.
  for (const std::string prefix : {"sub/", "./", "sub/./", "x/y/z/"}) {
    for (size_t i = 0; i < 34; i++) out.push_back(prefix + cores[i]);
  }
  std::string long_name(300, 'n');
  std::string five_k(5000, 'a');
  std::string deep, deep_escape;
  for (int i = 0; i < 300; i++) deep += "d/";
  for (int i = 0; i < 300; i++) deep_escape += "../";
  out.push_back(long_name);
  out.push_back(std::string(255, 'n'));
  out.push_back(five_k);
  out.push_back(five_k + "/../../" + pwn);
  out.push_back(deep + pwn);
  out.push_back(deep_escape + "tmp/" + pwn);
  out.push_back(deep + deep_escape + deep_escape + pwn);
  out.push_back(std::string(70, 'x') + "/" + long_name);
  return out;
}

// A tar built in memory, as an engine could send it.
class TarBuilder {
 public:
  TarBuilder() : a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_);
    archive_write_set_bytes_in_last_block(a_, 1);
    archive_write_open2(a_, &out_, nullptr, &TarBuilder::append, nullptr, nullptr);
  }
  ~TarBuilder() { archive_write_free(a_); }
  TarBuilder& file(const std::string& name, const std::string& content) {
    return add(name, AE_IFREG, 0644, content, nullptr);
  }
  TarBuilder& dir(const std::string& name) { return add(name, AE_IFDIR, 0755, "", nullptr); }
  TarBuilder& symlink(const std::string& name, const std::string& target) {
    return add(name, AE_IFLNK, 0777, "", target.c_str());
  }
  std::string finish() {
    archive_write_close(a_);
    return out_;
  }

 private:
  static la_ssize_t append(struct archive*, void* client, const void* buf, size_t n) {
    static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }
  TarBuilder& add(const std::string& name, mode_t type, mode_t perm, const std::string& content,
                  const char* link) {
    archive_entry* e = archive_entry_new();
    archive_entry_copy_pathname(e, name.c_str());  // a NUL ends the name, as in a real tar
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    if (link != nullptr) archive_entry_set_symlink(e, link);
    if (archive_write_header(a_, e) == ARCHIVE_OK && !content.empty()) {
      archive_write_data(a_, content.data(), content.size());
    }
    archive_entry_free(e);
    return *this;
  }
  struct archive* a_;
  std::string out_;
};

}  // namespace security_test
