#include "agent/files/glob.h"

#include <gtest/gtest.h>

namespace {

using agent::files::PathMatcher;

bool m(const std::string& pattern, const std::string& path, const std::string& wd = "/wd") {
  auto matcher = PathMatcher::compile(pattern, wd);
  EXPECT_TRUE(matcher.ok()) << pattern;
  return matcher.ok() && matcher->matches(path);
}

TEST(FilesGlob, JavaNioSemantics) {
  EXPECT_TRUE(m("*.txt", "/wd/a.txt"));
  EXPECT_FALSE(m("*.txt", "/wd/sub/a.txt"));  // * does not cross /
  EXPECT_TRUE(m("**.txt", "/wd/sub/deep/a.txt"));
  EXPECT_TRUE(m("**/*.txt", "/wd/sub/a.txt"));
  EXPECT_FALSE(m("**/*.txt", "/wd/a.txt"));   // needs a directory, as Java's
  EXPECT_TRUE(m("?.csv", "/wd/a.csv"));
  EXPECT_FALSE(m("?.csv", "/wd/ab.csv"));
  EXPECT_TRUE(m("[ab].log", "/wd/b.log"));
  EXPECT_FALSE(m("[!ab].log", "/wd/a.log"));
  EXPECT_TRUE(m("[!ab].log", "/wd/c.log"));
  EXPECT_TRUE(m("out.{csv,json}", "/wd/out.json"));
  EXPECT_FALSE(m("out.{csv,json}", "/wd/out.xml"));
  EXPECT_TRUE(m("\\*.txt", "/wd/*.txt"));
  EXPECT_TRUE(m("/out.txt", "/wd/out.txt"));  // a leading / is not doubled
}

TEST(FilesGlob, PrefixesAndAWorkingDirWithMetacharacters) {
  EXPECT_TRUE(m("glob:/elsewhere/*.txt", "/elsewhere/a.txt"));
  EXPECT_TRUE(m("regex:.*/data/[0-9]+\\.json", "/wd/data/42.json"));
  EXPECT_FALSE(m("regex:.*/data/[0-9]+\\.json", "/wd/data/42.json.bak"));  // full match
  EXPECT_TRUE(m("*.txt", "/w+d (1)/a.txt", "/w+d (1)"));
  EXPECT_FALSE(m("*.txt", "/wxd (1)/a.txt", "/w.d (1)"));
}

TEST(FilesGlob, MalformedPatternsAreErrors) {
  EXPECT_FALSE(PathMatcher::compile("[abc", "/wd").ok());
  EXPECT_FALSE(PathMatcher::compile("{a,b", "/wd").ok());
  EXPECT_FALSE(PathMatcher::compile("{a,{b}}", "/wd").ok());
  EXPECT_FALSE(PathMatcher::compile("regex:(", "/wd").ok());
  EXPECT_TRUE(agent::files::glob_match("data/*.csv", "data/x.csv"));
  EXPECT_FALSE(agent::files::glob_match("data/*.csv", "data/sub/x.csv"));
}

}  // namespace
