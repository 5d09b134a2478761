// A temporary directory for the file-layer tests, removed at the end.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "agent/common/fs.h"
#include "agent/files/tree.h"

namespace files_test {

class Dir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/runnerd-files-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root = tmpl;
  }
  void TearDown() override { (void)agent::files::remove_tree(root); }
  void write(const std::string& rel, const std::string& content) {
    std::string path = root + "/" + rel;
    ASSERT_TRUE(agent::fs::make_dirs(path.substr(0, path.rfind('/')), 0750).ok());
    std::ofstream(path) << content;
  }
  std::string read(const std::string& rel) {
    auto r = agent::fs::read_file(root + "/" + rel);
    return r.ok() ? *r : "<missing>";
  }
  std::string root;
};

}  // namespace files_test
