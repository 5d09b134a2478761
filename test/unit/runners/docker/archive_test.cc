// The working directory as a tar archive: packed under its absolute path, and
// unpacked from the engine's archive (first element stripped) without ever
// writing outside the target directory.
#include "runners/docker/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using agent::Errc;
using runners::docker::pack_directory;
using runners::docker::unpack_into;
using runners::docker::UnpackReport;

constexpr size_t kNoLimit = size_t{256} << 20;

// ---------------------------------------------------------------------------
// Files

void write_file(const std::string& path, const std::string& content, mode_t mode = 0644) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    ASSERT_TRUE(out.good()) << path;
    out << content;
  }
  ASSERT_EQ(0, ::chmod(path.c_str(), mode)) << path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool exists_no_follow(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

mode_t mode_of(const std::string& path) {
  struct stat st;
  EXPECT_EQ(0, ::lstat(path.c_str(), &st)) << path;
  return st.st_mode;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    names.push_back(e.path().filename().string());
  return names;
}

// What a tree holds, by path relative to its root: type, permission bits and
// content (or link target).
struct Node {
  char type;  // 'f', 'd', 'l'
  mode_t perm;
  std::string data;
  bool operator==(const Node&) const = default;
};

std::map<std::string, Node> snapshot(const std::string& root) {
  std::map<std::string, Node> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::string path = e.path().string();
    std::string rel = e.path().lexically_relative(root).string();
    struct stat st;
    EXPECT_EQ(0, ::lstat(path.c_str(), &st));
    Node n{'?', static_cast<mode_t>(st.st_mode & 07777), {}};
    if (S_ISREG(st.st_mode)) {
      n.type = 'f';
      n.data = read_file(path);
    } else if (S_ISDIR(st.st_mode)) {
      n.type = 'd';
    } else if (S_ISLNK(st.st_mode)) {
      n.type = 'l';
      n.perm = 0;  // meaningless on Linux
      n.data = fs::read_symlink(e.path()).string();
    }
    out[rel] = n;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Tars

la_ssize_t append_cb(struct archive*, void* client, const void* buf, size_t n) {
  static_cast<std::string*>(client)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

// Builds a tar in memory as an engine could send it.
class TarBuilder {
 public:
  TarBuilder() : a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_);
    archive_write_set_bytes_in_last_block(a_, 1);
    EXPECT_EQ(ARCHIVE_OK, archive_write_open2(a_, &out_, nullptr, append_cb, nullptr, nullptr));
  }
  ~TarBuilder() { archive_write_free(a_); }

  TarBuilder& dir(const std::string& name, mode_t perm = 0755) {
    return add(name, AE_IFDIR, perm, "");
  }
  TarBuilder& file(const std::string& name, const std::string& content, mode_t perm = 0644) {
    return add(name, AE_IFREG, perm, content);
  }
  TarBuilder& symlink(const std::string& name, const std::string& target) {
    return add(name, AE_IFLNK, 0777, "",
               [&](archive_entry* e) { archive_entry_set_symlink(e, target.c_str()); });
  }
  TarBuilder& hardlink(const std::string& name, const std::string& target) {
    return add(name, AE_IFREG, 0644, "",
               [&](archive_entry* e) { archive_entry_set_hardlink(e, target.c_str()); });
  }
  TarBuilder& special(const std::string& name, mode_t type, int major = 0, int minor = 0) {
    return add(name, type, 0644, "", [&](archive_entry* e) {
      archive_entry_set_rdevmajor(e, major);
      archive_entry_set_rdevminor(e, minor);
    });
  }
  std::string finish() {
    EXPECT_EQ(ARCHIVE_OK, archive_write_close(a_));
    return out_;
  }

 private:
  template <typename Fn = void (*)(archive_entry*)>
  TarBuilder& add(
      const std::string& name, mode_t type, mode_t perm, const std::string& content,
      Fn extra = [](archive_entry*) {}) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_entry_set_mtime(e, 1700000000, 0);
    extra(e);
    EXPECT_EQ(ARCHIVE_OK, archive_write_header(a_, e)) << name << ": " << archive_error_string(a_);
    if (!content.empty()) {
      EXPECT_EQ(static_cast<la_ssize_t>(content.size()),
                archive_write_data(a_, content.data(), content.size()));
    }
    archive_entry_free(e);
    return *this;
  }

  struct archive* a_;
  std::string out_;
};

struct Member {
  std::string name;
  mode_t type;
  mode_t perm;
  std::string data;     // content of a regular file
  std::string symlink;  // target of a link
};

std::vector<Member> read_members(const std::string& tar) {
  std::vector<Member> out;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(ARCHIVE_OK, archive_read_open_memory(a, tar.data(), tar.size()));
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    Member m{archive_entry_pathname(e), archive_entry_filetype(e), archive_entry_perm(e), {}, {}};
    // libarchive writes directories with a trailing '/', as Docker does.
    if (m.type == AE_IFDIR) {
      EXPECT_TRUE(m.name.ends_with("/")) << m.name;
      while (m.name.ends_with("/")) m.name.pop_back();
    }
    if (archive_entry_symlink(e) != nullptr) m.symlink = archive_entry_symlink(e);
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0)
      m.data.append(buf, static_cast<size_t>(n));
    out.push_back(std::move(m));
  }
  archive_read_free(a);
  return out;
}

// The packed archive renamed as the engine returns it: members under `from`
// (no leading '/') become members under `to` (the directory's base name).
std::string as_engine_returns(const std::string& tar, const std::string& from,
                              const std::string& to) {
  std::string out;
  struct archive* in = archive_read_new();
  archive_read_support_format_tar(in);
  EXPECT_EQ(ARCHIVE_OK, archive_read_open_memory(in, tar.data(), tar.size()));
  struct archive* w = archive_write_new();
  archive_write_set_format_pax_restricted(w);
  EXPECT_EQ(ARCHIVE_OK, archive_write_open2(w, &out, nullptr, append_cb, nullptr, nullptr));
  archive_entry* e;
  while (archive_read_next_header(in, &e) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e);
    EXPECT_TRUE(name == from || name.starts_with(from + "/")) << name;
    name = to + name.substr(from.size());
    archive_entry_set_pathname(e, name.c_str());
    EXPECT_EQ(ARCHIVE_OK, archive_write_header(w, e)) << name;
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(in, buf, sizeof buf)) > 0) {
      EXPECT_EQ(n, archive_write_data(w, buf, static_cast<size_t>(n)));
    }
  }
  EXPECT_EQ(ARCHIVE_OK, archive_write_close(w));
  archive_write_free(w);
  archive_read_free(in);
  return out;
}

bool mentions(const std::vector<std::string>& lines, const std::string& what) {
  for (const auto& l : lines) {
    if (l.find(what) != std::string::npos) return true;
  }
  return false;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// ---------------------------------------------------------------------------

class DockerArchive : public ::testing::Test {
 protected:
  void SetUp() override {
    static int counter = 0;
    root_ = "/tmp/runnerd-docker-archive-" + std::to_string(::getpid()) + "-" +
            std::to_string(counter++);
    remove_tree(root_);
    ASSERT_TRUE(fs::create_directories(root_));
    a_ = root_ + "/A";
    b_ = root_ + "/B";
    outside_ = root_ + "/outside-dir";
    ASSERT_TRUE(fs::create_directory(a_));
    ASSERT_TRUE(fs::create_directory(b_));
    ASSERT_TRUE(fs::create_directory(outside_));
  }
  void TearDown() override { remove_tree(root_); }

  static void remove_tree(const std::string& dir) {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(dir, ec))) return;
    // Read-only directories must be writable again to be emptied.
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (it->is_directory() && !it->is_symlink()) {
        fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
      }
    }
    fs::remove_all(dir, ec);
  }

  UnpackReport unpack_ok(const std::string& tar) {
    auto r = unpack_into(tar, b_);
    EXPECT_TRUE(r.ok()) << r.error().describe();
    return r.ok() ? *r : UnpackReport{};
  }

  // The packed directory's own name in the archive, without the leading '/'.
  std::string rel(const std::string& path) const { return path.substr(1); }

  std::string root_, a_, b_, outside_;
};

TEST_F(DockerArchive, PackNamesMembersByAbsolutePathWithoutLeadingSlash) {
  ASSERT_TRUE(fs::create_directory(a_ + "/sub"));
  write_file(a_ + "/sub/main.py", "print(1)\n", 0755);
  ASSERT_EQ(0, ::symlink("sub/main.py", (a_ + "/link").c_str()));
  ASSERT_EQ(0, ::symlink("sub", (a_ + "/dirlink").c_str()));
  ASSERT_EQ(0, ::mkfifo((a_ + "/fifo").c_str(), 0644));

  auto tar = pack_directory(a_, kNoLimit);
  ASSERT_TRUE(tar.ok()) << tar.error().describe();
  std::map<std::string, Member> by_name;
  for (auto& m : read_members(*tar)) {
    EXPECT_NE(m.name[0], '/') << m.name;
    by_name[m.name] = m;
  }
  std::string top = rel(a_);
  ASSERT_EQ(by_name.size(), 5u) << "members: " << [&] {
    std::string s;
    for (auto& [n, m] : by_name) s += n + " ";
    return s;
  }();
  ASSERT_TRUE(by_name.count(top));
  EXPECT_EQ(by_name[top].type, static_cast<mode_t>(AE_IFDIR));
  ASSERT_TRUE(by_name.count(top + "/sub"));
  EXPECT_EQ(by_name[top + "/sub"].type, static_cast<mode_t>(AE_IFDIR));
  ASSERT_TRUE(by_name.count(top + "/sub/main.py"));
  EXPECT_EQ(by_name[top + "/sub/main.py"].type, static_cast<mode_t>(AE_IFREG));
  EXPECT_EQ(by_name[top + "/sub/main.py"].perm, 0755u);
  EXPECT_EQ(by_name[top + "/sub/main.py"].data, "print(1)\n");
  ASSERT_TRUE(by_name.count(top + "/link"));
  EXPECT_EQ(by_name[top + "/link"].type, static_cast<mode_t>(AE_IFLNK));
  EXPECT_EQ(by_name[top + "/link"].symlink, "sub/main.py");
  // A link to a directory is a link, never followed; FIFOs are not shipped.
  ASSERT_TRUE(by_name.count(top + "/dirlink"));
  EXPECT_EQ(by_name[top + "/dirlink"].type, static_cast<mode_t>(AE_IFLNK));
  EXPECT_EQ(by_name.count(top + "/fifo"), 0u);
}

TEST_F(DockerArchive, PackAcceptsATrailingSlashAndRefusesRelativeOrMissingDirs) {
  write_file(a_ + "/f", "x");
  auto with_slash = pack_directory(a_ + "//", kNoLimit);
  ASSERT_TRUE(with_slash.ok()) << with_slash.error().describe();
  std::vector<std::string> names;
  for (auto& m : read_members(*with_slash)) names.push_back(m.name);
  EXPECT_EQ(names, (std::vector<std::string>{rel(a_), rel(a_) + "/f"}));

  auto relative = pack_directory("relative/dir", kNoLimit);
  ASSERT_FALSE(relative.ok());
  EXPECT_EQ(relative.error().code(), Errc::kInvalidArgument);
  auto empty = pack_directory("", kNoLimit);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code(), Errc::kInvalidArgument);
  auto missing = pack_directory(root_ + "/does-not-exist", kNoLimit);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("does-not-exist"), std::string::npos)
      << missing.error().message();
}

TEST_F(DockerArchive, RoundTripKeepsContentsModesAndLinks) {
  // A tree with everything a working directory may hold.
  ASSERT_TRUE(fs::create_directories(a_ + "/sub/deeper/deepest"));
  ASSERT_EQ(0, ::chmod((a_ + "/sub/deeper").c_str(), 0750));
  write_file(a_ + "/sub/deeper/deepest/data.csv", "a,b\n1,2\n");
  write_file(a_ + "/run.sh", "#!/bin/sh\necho hi\n", 0755);
  write_file(a_ + "/secret.key", "key material", 0600);
  write_file(a_ + "/empty", "", 0644);
  ASSERT_EQ(0, ::symlink("run.sh", (a_ + "/link").c_str()));
  ASSERT_EQ(0, ::symlink("/nonexistent/absolute/target", (a_ + "/dangling").c_str()));
  ASSERT_EQ(0, ::symlink("sub/deeper", (a_ + "/dirlink").c_str()));
  std::string long_dir = a_ + "/" + std::string(120, 'd');
  std::string long_file = long_dir + "/" + std::string(150, 'n') + ".txt";
  ASSERT_TRUE(fs::create_directory(long_dir));
  write_file(long_file, "long name\n");
  std::string big(2 << 20, '\0');
  std::mt19937 rng(42);
  for (char& c : big) c = static_cast<char>(rng());
  write_file(a_ + "/big.bin", big);
  ASSERT_TRUE(fs::create_directory(a_ + "/readonly"));
  write_file(a_ + "/readonly/inside", "ro");
  ASSERT_EQ(0, ::chmod((a_ + "/readonly").c_str(), 0555));
  // A fixed modification time, kept by the trip.
  struct timespec times[2] = {{1600000000, 0}, {1600000000, 0}};
  ASSERT_EQ(0, ::utimensat(AT_FDCWD, (a_ + "/run.sh").c_str(), times, 0));

  auto packed = pack_directory(a_, kNoLimit);
  ASSERT_TRUE(packed.ok()) << packed.error().describe();
  EXPECT_GT(packed->size(), big.size());
  std::string tar = as_engine_returns(*packed, rel(a_), "A");

  UnpackReport report = unpack_ok(tar);
  EXPECT_TRUE(report.skipped.empty()) << joined(report.skipped);
  EXPECT_EQ(report.files, 7u);  // data.csv run.sh secret.key empty long big.bin inside

  auto want = snapshot(a_);
  auto got = snapshot(b_);
  ASSERT_EQ(want.size(), 15u);
  EXPECT_EQ(got.size(), want.size());
  for (const auto& [path, node] : want) {
    auto it = got.find(path);
    ASSERT_NE(it, got.end()) << path << " is missing";
    EXPECT_EQ(it->second.type, node.type) << path;
    EXPECT_EQ(it->second.perm, node.perm) << std::oct << path << " " << it->second.perm;
    EXPECT_TRUE(it->second.data == node.data) << path << " differs";
  }
  EXPECT_EQ(mode_of(b_ + "/run.sh") & 07777, 0755u);
  EXPECT_EQ(mode_of(b_ + "/secret.key") & 07777, 0600u);
  EXPECT_TRUE(S_ISLNK(mode_of(b_ + "/link")));
  EXPECT_EQ(fs::read_symlink(b_ + "/link").string(), "run.sh");
  EXPECT_TRUE(S_ISLNK(mode_of(b_ + "/dirlink")));
  EXPECT_EQ(read_file(b_ + "/big.bin").size(), big.size());
  struct stat st;
  ASSERT_EQ(0, ::stat((b_ + "/run.sh").c_str(), &st));
  EXPECT_EQ(st.st_mtim.tv_sec, 1600000000);
}

TEST_F(DockerArchive, UnpackOverwritesWhatIsThere) {
  write_file(b_ + "/out.txt", "old", 0444);
  ASSERT_EQ(0, ::symlink("/nonexistent", (b_ + "/was-link").c_str()));
  std::string tar = TarBuilder()
                        .dir("wd")
                        .file("wd/out.txt", "new", 0644)
                        .file("wd/was-link", "now a file", 0644)
                        .finish();
  UnpackReport report = unpack_ok(tar);
  EXPECT_EQ(report.files, 2u);
  EXPECT_EQ(read_file(b_ + "/out.txt"), "new");
  EXPECT_EQ(mode_of(b_ + "/out.txt") & 07777, 0644u);
  EXPECT_TRUE(S_ISREG(mode_of(b_ + "/was-link")));
  EXPECT_EQ(read_file(b_ + "/was-link"), "now a file");
}

TEST_F(DockerArchive, UnpackIgnoresTheFirstElementsNameAndDotSlashes) {
  std::string tar = TarBuilder()
                        .dir("whatever/")
                        .file("whatever/./a.txt", "a")
                        .dir("whatever/d/", 0700)
                        .file("whatever/d/b.txt", "b")
                        .file("whatever/...", "three dots are a name")
                        .file("whatever/..hidden", "so is this")
                        .finish();
  UnpackReport report = unpack_ok(tar);
  EXPECT_TRUE(report.skipped.empty()) << joined(report.skipped);
  EXPECT_EQ(report.files, 4u);
  EXPECT_EQ(read_file(b_ + "/a.txt"), "a");
  EXPECT_EQ(read_file(b_ + "/d/b.txt"), "b");
  EXPECT_EQ(mode_of(b_ + "/d") & 07777, 0700u);
  EXPECT_EQ(read_file(b_ + "/..."), "three dots are a name");
  EXPECT_EQ(read_file(b_ + "/..hidden"), "so is this");
  EXPECT_FALSE(exists_no_follow(b_ + "/whatever"));
}

TEST_F(DockerArchive, UnpackIntoAPathThroughASymlinkAndIntoNothing) {
  ASSERT_EQ(0, ::symlink(b_.c_str(), (root_ + "/via").c_str()));
  std::string tar = TarBuilder().dir("wd").file("wd/x", "through").finish();
  auto r = unpack_into(tar, root_ + "/via");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(read_file(b_ + "/x"), "through");

  auto missing = unpack_into(tar, root_ + "/missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find(root_ + "/missing"), std::string::npos)
      << missing.error().message();
}

TEST_F(DockerArchive, GarbageAndTruncatedArchivesAreErrors) {
  auto garbage = unpack_into(std::string(4096, 'z'), b_);
  EXPECT_FALSE(garbage.ok());

  std::string payload(100000, 'p');
  std::string tar = TarBuilder().dir("wd").file("wd/big", payload).finish();
  auto cut = unpack_into(tar.substr(0, 3000), b_);
  EXPECT_FALSE(cut.ok());
}

TEST_F(DockerArchive, PackPastTheLimitIsResourceExhausted) {
  write_file(a_ + "/big", std::string(2 << 20, 'x'));
  auto r = pack_directory(a_, 1 << 20);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kResourceExhausted) << r.error().message();
  EXPECT_NE(r.error().message().find("docker.maxArchiveBytes"), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("1 MiB"), std::string::npos) << r.error().message();

  // Exactly the archive's size is within the limit.
  auto whole = pack_directory(a_, kNoLimit);
  ASSERT_TRUE(whole.ok());
  auto exact = pack_directory(a_, whole->size());
  ASSERT_TRUE(exact.ok()) << exact.error().describe();
  EXPECT_EQ(exact->size(), whole->size());
}

// libarchive writes in 10 KiB blocks: for a small directory the limit first
// trips when the archive is closed, and must still read as the size limit.
TEST_F(DockerArchive, PackPastTheLimitInTheLastBlockIsResourceExhausted) {
  write_file(a_ + "/small", std::string(5000, 's'));
  auto r = pack_directory(a_, 2048);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Errc::kResourceExhausted) << r.error().message();
  EXPECT_NE(r.error().message().find("docker.maxArchiveBytes"), std::string::npos)
      << r.error().message();
}

// ---------------------------------------------------------------------------
// Hostile archives: nothing is written outside the directory.

TEST_F(DockerArchive, DotDotComponentsAreSkipped) {
  std::string tar = TarBuilder()
                        .dir("wd")
                        .file("wd/../escape1", "x")
                        .file("x/../../escape2", "x")
                        .file("wd/a/../../escape3", "x")
                        .file("wd/..", "x")
                        .dir("wd/sub/../../escdir")
                        .file("wd/fine", "ok")
                        .finish();
  UnpackReport report = unpack_ok(tar);
  EXPECT_EQ(report.files, 1u);
  EXPECT_EQ(read_file(b_ + "/fine"), "ok");
  EXPECT_EQ(report.skipped.size(), 5u) << joined(report.skipped);
  for (std::string name :
       {"wd/../escape1: ", "x/../../escape2: ", "wd/a/../../escape3: ", "wd/..: ",
        "wd/sub/../../escdir/: "}) {  // directories are written with a '/'
    EXPECT_TRUE(mentions(report.skipped, name)) << name << "\n" << joined(report.skipped);
  }
  for (const auto& line : report.skipped) {
    EXPECT_NE(line.find("its name has a '..' component"), std::string::npos) << line;
  }
  for (std::string name : {"escape1", "escape2", "escape3", "escdir"}) {
    EXPECT_FALSE(exists_no_follow(root_ + "/" + name)) << name;
    EXPECT_FALSE(exists_no_follow("/tmp/" + name)) << name;
  }
  EXPECT_EQ(list_dir(b_), std::vector<std::string>{"fine"});
}

TEST_F(DockerArchive, AbsoluteNamesStayInside) {
  // "/etc/x": its first element is the empty one before '/', so it lands at
  // <dir>/etc/x. A name that spells out an absolute path of this test lands
  // under <dir> too, never at that path.
  std::string escape = root_ + "/abs-escape";
  std::string tar = TarBuilder()
                        .file("/etc/runnerd-test-x", "etc")
                        .file(escape, "abs")
                        .file("wd//double", "dbl")
                        .finish();
  UnpackReport report = unpack_ok(tar);
  EXPECT_FALSE(exists_no_follow(escape));
  EXPECT_FALSE(exists_no_follow("/etc/runnerd-test-x"));
  EXPECT_EQ(read_file(b_ + "/etc/runnerd-test-x"), "etc");
  EXPECT_EQ(read_file(b_ + escape), "abs");
  EXPECT_EQ(read_file(b_ + "/double"), "dbl");
  EXPECT_EQ(report.files, 3u);
}

// Note: archive.h says members reached through a symbolic link are skipped.
// With ARCHIVE_EXTRACT_UNLINK, libarchive instead removes the link on the way
// and writes the member into a real directory in its place. Either way nothing
// lands outside the directory, which is what this test holds to.
TEST_F(DockerArchive, NothingIsWrittenThroughASymlink) {
  std::string tar = TarBuilder()
                        .dir("wd")
                        .symlink("wd/link", outside_)
                        .file("wd/link/pwned", "pwned")
                        .dir("wd/link/pwned-dir")
                        .symlink("wd/rel", "../outside-dir")
                        .file("wd/rel/pwned2", "pwned")
                        .symlink("wd/file-link", outside_ + "/target")
                        .file("wd/file-link", "replaces the link")
                        .symlink("wd/kept", outside_)
                        .finish();
  auto r = unpack_into(tar, b_);
  ASSERT_TRUE(r.ok()) << r.error().describe();
  auto outside = list_dir(outside_);
  EXPECT_TRUE(outside.empty()) << "written outside: " << outside[0];
  // Whatever was written stays under the directory, links resolved.
  char real_b[PATH_MAX];
  ASSERT_NE(::realpath(b_.c_str(), real_b), nullptr);
  for (std::string name : {"link/pwned", "link/pwned-dir", "rel/pwned2"}) {
    char real[PATH_MAX];
    if (::realpath((b_ + "/" + name).c_str(), real) != nullptr) {
      EXPECT_TRUE(std::string(real).starts_with(std::string(real_b) + "/"))
          << name << " -> " << real;
    } else {
      EXPECT_TRUE(mentions(r->skipped, "wd/" + name)) << name << "\n" << joined(r->skipped);
    }
  }
  // A member named like a link replaces the link, it never writes through it.
  EXPECT_TRUE(S_ISREG(mode_of(b_ + "/file-link")));
  EXPECT_EQ(read_file(b_ + "/file-link"), "replaces the link");
  EXPECT_FALSE(exists_no_follow(outside_ + "/target"));
  // A link that nothing goes through is kept as a link, target untouched.
  EXPECT_TRUE(S_ISLNK(mode_of(b_ + "/kept")));
  EXPECT_EQ(fs::read_symlink(b_ + "/kept").string(), outside_);
}

TEST_F(DockerArchive, HardLinksAreSkipped) {
  write_file(outside_ + "/victim", "secret");
  std::string tar = TarBuilder()
                        .dir("wd")
                        .file("wd/target", "t")
                        .hardlink("wd/hl", "wd/target")
                        .hardlink("wd/hl-out", outside_.substr(1) + "/victim")
                        .hardlink("wd/hl-etc", "/etc/passwd")
                        .finish();
  UnpackReport report = unpack_ok(tar);
  EXPECT_EQ(report.files, 1u);
  EXPECT_EQ(read_file(b_ + "/target"), "t");
  for (std::string name : {"hl", "hl-out", "hl-etc"}) {
    EXPECT_FALSE(exists_no_follow(b_ + "/" + name)) << name;
    EXPECT_TRUE(mentions(report.skipped, "wd/" + name + ": hard links")) << joined(report.skipped);
  }
  EXPECT_EQ(read_file(outside_ + "/victim"), "secret");
}

TEST_F(DockerArchive, DevicesAndFifosAreSkipped) {
  std::string tar = TarBuilder()
                        .dir("wd")
                        .special("wd/fifo", AE_IFIFO)
                        .special("wd/null", AE_IFCHR, 1, 3)
                        .special("wd/disk", AE_IFBLK, 8, 0)
                        .file("wd/regular", "r")
                        .finish();
  UnpackReport report = unpack_ok(tar);
  EXPECT_EQ(report.files, 1u);
  EXPECT_EQ(report.skipped.size(), 3u) << joined(report.skipped);
  for (std::string name : {"fifo", "null", "disk"}) {
    EXPECT_FALSE(exists_no_follow(b_ + "/" + name)) << name;
    EXPECT_TRUE(mentions(report.skipped, "wd/" + name + ": not a file, directory or symbolic link"))
        << joined(report.skipped);
  }
  EXPECT_EQ(list_dir(b_), std::vector<std::string>{"regular"});
}

TEST_F(DockerArchive, SetuidSetgidAndStickyBitsAreDropped) {
  std::string tar = TarBuilder()
                        .dir("wd")
                        .file("wd/suid", "s", 04755)
                        .file("wd/sgid", "g", 02750)
                        .dir("wd/sticky", 01777)
                        .finish();
  UnpackReport report = unpack_ok(tar);
  EXPECT_TRUE(report.skipped.empty()) << joined(report.skipped);
  EXPECT_EQ(mode_of(b_ + "/suid") & 07777, 0755u);
  EXPECT_EQ(mode_of(b_ + "/sgid") & 07777, 0750u);
  EXPECT_EQ(mode_of(b_ + "/sticky") & 07777, 0777u);
}

}  // namespace
