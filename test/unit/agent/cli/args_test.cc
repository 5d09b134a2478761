#include "agent/cli/args.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <vector>

namespace agent::cli {
namespace {

Result<Invocation> parse(std::initializer_list<std::string_view> args) {
  std::vector<std::string_view> v(args);
  return parse_args(v);
}

std::string error_of(std::initializer_list<std::string_view> args) {
  auto r = parse(args);
  EXPECT_FALSE(r.ok());
  return r.ok() ? std::string() : r.error().message();
}

TEST(CliArgsTest, RunWithFlagsAndFile) {
  auto r = parse({"run", "-d", "--json", "flow.yaml"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->command, "run");
  EXPECT_TRUE(r->flag("detach"));
  EXPECT_TRUE(r->flag("json"));
  EXPECT_FALSE(r->flag("namespace"));
  EXPECT_EQ(r->args, std::vector<std::string>{"flow.yaml"});
  EXPECT_TRUE(r->socket.empty());
}

TEST(CliArgsTest, OptionsGoAnywhereAfterTheCommand) {
  auto r = parse({"--socket", "/tmp/s.sock", "run", "flow.yaml", "--detach"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->socket, "/tmp/s.sock");
  EXPECT_TRUE(r->flag("detach"));
  auto late = parse({"ps", "--socket=/x.sock"});
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->socket, "/x.sock");
}

TEST(CliArgsTest, ValuesInAllSpellings) {
  for (auto args :
       {std::initializer_list<std::string_view>{"ps", "-n", "5", "--state", "running"},
        std::initializer_list<std::string_view>{"ps", "-n5", "--state=running"},
        std::initializer_list<std::string_view>{"ps", "--limit=5", "--state", "running"}}) {
    auto r = parse(args);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->int_value("limit"), 5);
    EXPECT_EQ(r->value("state"), "running");
  }
}

TEST(CliArgsTest, CombinedShortFlags) {
  auto r = parse({"ps", "-t", "--json"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->flag("tasks"));
  auto run = parse({"run", "-d", "f.yaml"});
  ASSERT_TRUE(run.ok());
  auto logs = parse({"logs", "-f", "abc", "--from", "120", "--task", "tr1"});
  ASSERT_TRUE(logs.ok()) << logs.error().message();
  EXPECT_TRUE(logs->flag("follow"));
  EXPECT_EQ(logs->int_value("from"), 120);
  EXPECT_EQ(logs->value("task"), "tr1");
  EXPECT_EQ(logs->args, std::vector<std::string>{"abc"});
}

TEST(CliArgsTest, DoubleDashEndsOptions) {
  auto r = parse({"get", "--", "-weird-id"});
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->args, std::vector<std::string>{"-weird-id"});
  auto stdin_file = parse({"run", "-"});
  ASSERT_TRUE(stdin_file.ok());
  EXPECT_EQ(stdin_file->args, std::vector<std::string>{"-"});
}

TEST(CliArgsTest, HelpAndVersion) {
  auto h = parse({"--help"});
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->help);
  EXPECT_TRUE(h->command.empty());
  auto ch = parse({"logs", "-h"});
  ASSERT_TRUE(ch.ok());
  EXPECT_TRUE(ch->help);
  EXPECT_EQ(ch->command, "logs");
  auto hc = parse({"help", "cancel"});
  ASSERT_TRUE(hc.ok());
  EXPECT_TRUE(hc->help);
  EXPECT_EQ(hc->command, "cancel");
  // Help needs no arguments of the command.
  EXPECT_TRUE(parse({"get", "--help"}).ok());
  auto v = parse({"--version"});
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->version);
}

TEST(CliArgsTest, UsageErrorsSayWhatAndWhere) {
  EXPECT_EQ(error_of({}), "missing command (see 'runnerctl --help')");
  EXPECT_EQ(error_of({"frob"}), "unknown command 'frob' (see 'runnerctl --help')");
  EXPECT_EQ(error_of({"ps", "--bogus"}),
            "ps: unknown option '--bogus' (see 'runnerctl ps --help')");
  EXPECT_EQ(error_of({"ps", "-x"}), "ps: unknown option '-x' (see 'runnerctl ps --help')");
  EXPECT_EQ(error_of({"ps", "-n"}),
            "ps: option '--limit' needs a value (see 'runnerctl ps --help')");
  EXPECT_EQ(error_of({"ps", "-n", "x"}),
            "ps: --limit expects a number >= 0, not 'x' (see 'runnerctl ps --help')");
  EXPECT_EQ(error_of({"ps", "-n", "-1"}),
            "ps: --limit expects a number >= 0, not '-1' (see 'runnerctl ps --help')");
  EXPECT_EQ(error_of({"get"}),
            "get: missing argument; usage: runnerctl get [--json] EXEC_ID (see 'runnerctl get "
            "--help')");
  EXPECT_EQ(error_of({"get", "a", "b"}),
            "get: unexpected argument 'b' (see 'runnerctl get --help')");
  EXPECT_EQ(error_of({"run", "--detach=yes", "f"}),
            "run: --detach takes no value (see 'runnerctl run --help')");
  EXPECT_EQ(error_of({"--json", "ps"}),
            "unknown option '--json'; a command's options go after its name (see 'runnerctl "
            "--help')");
  EXPECT_EQ(error_of({"--socket"}), "option '--socket' needs a value (see 'runnerctl --help')");
  // Options of another command are not accepted.
  EXPECT_EQ(error_of({"get", "-d", "x"}), "get: unknown option '-d' (see 'runnerctl get --help')");
}

TEST(CliArgsTest, HelpTexts) {
  std::string global = global_help();
  for (const CommandSpec& c : commands()) {
    EXPECT_NE(global.find("  " + std::string(c.name) + " "), std::string::npos) << c.name;
    std::string help = command_help(c);
    EXPECT_EQ(help.rfind("usage: runnerctl " + std::string(c.name), 0), 0u) << help;
    for (const OptionSpec& o : c.options) {
      EXPECT_NE(help.find("--" + std::string(o.name)), std::string::npos) << c.name;
    }
  }
  std::string ps = command_help(*find_command("ps"));
  EXPECT_NE(ps.find("  -n, --limit N"), std::string::npos) << ps;
  EXPECT_NE(ps.find("\nList executions, newest first.\n"), std::string::npos) << ps;
}

TEST(CliArgsTest, SocketResolution) {
  EXPECT_EQ(resolve_socket("/flag.sock", "/env.sock", "/default.sock"), "/flag.sock");
  EXPECT_EQ(resolve_socket("", "/env.sock", "/default.sock"), "/env.sock");
  EXPECT_EQ(resolve_socket("", "", "/default.sock"), "/default.sock");
  EXPECT_EQ(resolve_socket("", nullptr, "/default.sock"), "/default.sock");
}

}  // namespace
}  // namespace agent::cli
