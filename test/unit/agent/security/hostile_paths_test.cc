// H3, H5, H6: every hostile path of the table (sandbox.h) through every
// place a flow or a container names a file — input-file keys, file://,
// nsfile:// and kestra:// URIs of input files, kestra:// URIs in a command,
// namespace names and include globs, output globs (regex: and glob: forms
// too) and archive members from a container — with openat2 and with the
// O_NOFOLLOW walk. After each one: nothing outside the working directory and
// the storage changed (a snapshot of the whole sandbox tree, canaries
// included, compared byte for byte), no canary byte reached the working
// directory or the storage, and no file named like the table's `pwn` exists
// at /, /tmp or /etc.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "agent/files/beneath.h"
#include "agent/files/storage.h"
#include "agent/files/tree.h"
#include "agent/supervisor/task_files.h"
#include "runners/docker/archive.h"
#include "test/unit/agent/security/sandbox.h"

namespace {

using security_test::kCanary;

class HostilePaths : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    agent::files::force_component_walk_for_tests(GetParam());
    char tmpl[] = "/tmp/rdh.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    // Deep enough that eight `..` stay inside the sandbox.
    sandbox_ = root_;
    for (int i = 1; i <= 8; i++) sandbox_ += "/l" + std::to_string(i);
    wd_ = sandbox_ + "/wd";
    storage_dir_ = root_ + "/storage";
    ns_root_ = sandbox_ + "/ns";
    allowed_ = sandbox_ + "/allowed";
    std::string canary(kCanary);
    for (std::string dir : {root_ + "/l1", sandbox_, sandbox_ + "/l9"}) {
      security_test::put(dir + "/canary/secret.txt", canary);
    }
    security_test::put(ns_root_ + "/team/good.txt", "namespace file");
    ASSERT_EQ(symlink((sandbox_ + "/canary/secret.txt").c_str(), (ns_root_ + "/team/evil").c_str()), 0);
    ASSERT_EQ(symlink((sandbox_ + "/canary").c_str(), (ns_root_ + "/team/dlink").c_str()), 0);
    security_test::put(allowed_ + "/data.txt", "allowed data");
    ASSERT_EQ(symlink("../canary/secret.txt", (allowed_ + "/escape").c_str()), 0);
    ASSERT_EQ(symlink("../canary", (allowed_ + "/dlink").c_str()), 0);
    security_test::put(storage_dir_ + "/dev/legit.txt", "stored");
    ASSERT_EQ(symlink((sandbox_ + "/canary").c_str(), (storage_dir_ + "/dev/link").c_str()), 0);
    pwn_ = "pwn-" + std::to_string(getpid());
    reset_wd();
    baseline_ = security_test::snapshot(root_, {wd_, storage_dir_});
  }
  void TearDown() override {
    agent::files::force_component_walk_for_tests(false);
    (void)agent::files::remove_tree(root_);
  }

  // A fresh working directory with links out of it.
  void reset_wd() {
    (void)agent::files::remove_tree(wd_);
    security_test::put(wd_ + "/out.txt", "an output");
    security_test::put(wd_ + "/sub/inner.txt", "inner");
    ASSERT_EQ(symlink("../canary", (wd_ + "/link").c_str()), 0);
    ASSERT_EQ(symlink((sandbox_ + "/canary").c_str(), (wd_ + "/abslink").c_str()), 0);
    ASSERT_EQ(symlink((sandbox_ + "/canary/secret.txt").c_str(), (wd_ + "/filelink").c_str()), 0);
  }

  agent::PreparedTask task() {
    agent::PreparedTask t;
    t.working_dir = wd_;
    t.namespace_ = "team";
    t.namespaces_root = ns_root_;
    t.allowed_paths = {allowed_};
    t.storage = &storage_;
    return t;
  }

  // The checks after each attempt; `what` names it in failures.
  void audit(const std::string& what) {
    auto now = security_test::snapshot(root_, {wd_, storage_dir_});
    if (now != baseline_) {
      std::string diff;
      for (const auto& [p, v] : now) {
        auto it = baseline_.find(p);
        if (it == baseline_.end() || it->second != v) diff += "  changed or new: " + p + "\n";
      }
      for (const auto& [p, v] : baseline_) {
        if (!now.count(p)) diff += "  gone: " + p + "\n";
      }
      ADD_FAILURE() << what << " touched the sandbox outside the working directory:\n" << diff;
      baseline_ = now;
    }
    size_t leaked = security_test::canary_bytes_under(wd_) + security_test::canary_bytes_under(storage_dir_);
    canary_bytes_ += leaked;
    EXPECT_EQ(leaked, 0u) << what << " read a canary";
    for (std::string dir : {"", "/tmp", "/etc"}) {
      struct stat st;
      EXPECT_NE(lstat((dir + "/" + pwn_).c_str(), &st), 0) << what << " created " << dir << "/" << pwn_;
    }
    attempts_++;
  }

  std::string root_, sandbox_, wd_, storage_dir_, ns_root_, allowed_, pwn_;
  agent::files::Storage storage_{""};
  std::map<std::string, std::string> baseline_;
  size_t attempts_ = 0;
  size_t canary_bytes_ = 0;
  void SetStorage() { storage_ = agent::files::Storage(storage_dir_); }
};

// Whether a path, once split, goes through one of the working directory's
// links (they are at its top).
bool through_link(const std::vector<std::string>& parts) {
  return !parts.empty() && (parts[0] == "link" || parts[0] == "abslink" || parts[0] == "filelink");
}

TEST_P(HostilePaths, NothingOutsideTheWorkingDirectoryIsReadOrWritten) {
  SetStorage();
  std::vector<std::string> paths = security_test::hostile_paths(pwn_);
  ASSERT_GE(paths.size(), 200u);
  size_t accepted_keys = 0;
  for (const auto& p : paths) {
    std::string shown;
    for (unsigned char c : p.substr(0, 80)) {
      char b[8];
      std::snprintf(b, sizeof b, c < 0x20 || c >= 0x7f ? "\\x%02x" : "%c", c);
      shown += b;
    }
    SCOPED_TRACE("path '" + shown + "' (" + std::to_string(p.size()) + " bytes)");

    // Input-file key: accepted exactly when it is a relative name that goes
    // through no link; then written where it says, inside.
    {
      auto t = task();
      t.input_files = {{p, "PWN-DATA"}};
      agent::Status st = agent::prepare_files(t);
      auto parts = agent::files::split_relative(p);
      bool expect_ok = parts.ok() && !through_link(*parts);
      EXPECT_EQ(st.ok(), expect_ok) << (st.ok() ? "accepted" : st.error().describe());
      if (!st.ok()) {
        EXPECT_EQ(st.error().path(), "inputFiles." + p);
        EXPECT_FALSE(st.error().message().empty());
      } else {
        accepted_keys++;
        std::string joined;
        for (const auto& c : *parts) joined += (joined.empty() ? "" : "/") + c;
        EXPECT_EQ(security_test::slurp(wd_ + "/" + joined), "PWN-DATA");
      }
      audit("input-file key");
      reset_wd();
    }
    // URIs as input-file values: file:// under allowedPaths, nsfile://, kestra://.
    for (std::string uri : {"file://" + allowed_ + "/" + p, "file://" + p, "nsfile:///" + p, "nsfile://" + p,
                            "kestra:///" + p, "kestra:///dev/" + p}) {
      auto t = task();
      t.input_files = {{"in.txt", uri}};
      agent::Status st = agent::prepare_files(t);
      (void)st;  // refused or read from inside: the audit says which is not allowed
      audit("input-file URI " + uri.substr(0, 40));
    }
    reset_wd();
    // A kestra:// URI in the command line, copied into <wd>/.kestra.
    {
      auto t = task();
      t.argv = {"sh", "-c", "cat kestra:///" + p};
      (void)agent::prepare_files(t);
      audit("kestra:// URI in a command");
      reset_wd();
    }
    // Namespace files: the namespace's name, and an include glob.
    {
      auto t = task();
      t.load_namespace_files = true;
      t.namespace_files.namespaces = {p};
      (void)agent::prepare_files(t);
      audit("namespace name");
      reset_wd();
      t = task();
      t.load_namespace_files = true;
      t.namespace_files.namespaces = {"team"};
      t.namespace_files.include = {p};
      t.namespace_files.folder_per_namespace = true;
      (void)agent::prepare_files(t);
      audit("namespace include glob");
      reset_wd();
    }
    // Output globs: only regular files found beneath the working directory
    // are stored, whatever the pattern says.
    for (std::string glob : {p, "glob:" + p, "regex:" + p}) {
      agent::CollectJob job;
      job.working_dir = wd_;
      job.globs = {glob};
      job.key = {"dev", "f", "exec", "task", "run"};
      job.storage = &storage_;
      agent::collect_files(job);
      for (const auto& [key, uri] : job.files) {
        auto parts = agent::files::split_relative(key);
        EXPECT_TRUE(parts.ok() && !through_link(*parts)) << "collected " << key;
        auto local = storage_.resolve(uri);
        ASSERT_TRUE(local.ok()) << uri;
        EXPECT_EQ(security_test::slurp(*local).find(kCanary), std::string::npos) << key;
      }
      audit("output glob " + glob.substr(0, 40));
    }
    reset_wd();
    // Archive members from a container: as a file, as a directory, behind a
    // link made by an earlier member, and as the link's own name.
    {
      std::string tar = security_test::TarBuilder()
                            .dir("wd")
                            .file("wd/" + p, "PWN-DATA")
                            .file(p, "PWN-DATA")
                            .dir("wd/" + p + "/d")
                            .symlink("wd/esc", sandbox_ + "/canary")
                            .file("wd/esc/" + p, "PWN-DATA")
                            .symlink("wd/" + p, sandbox_ + "/canary")
                            .file("wd/" + p + "/" + pwn_, "PWN-DATA")
                            .finish();
      auto r = runners::docker::unpack_into(tar, wd_);
      (void)r;
      audit("archive member");
      reset_wd();
    }
  }
  RecordProperty("hostile_paths", static_cast<int>(paths.size()));
  RecordProperty("attempts", static_cast<int>(attempts_));
  std::printf("[ figures ] hostile paths %zu, attempts %zu (%s), accepted input keys %zu, canary bytes read %zu\n",
              paths.size(), attempts_, GetParam() ? "O_NOFOLLOW walk" : "openat2", accepted_keys,
              canary_bytes_);
  EXPECT_EQ(canary_bytes_, 0u);
}

INSTANTIATE_TEST_SUITE_P(Resolvers, HostilePaths, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "walk" : "openat2"; });

}  // namespace
