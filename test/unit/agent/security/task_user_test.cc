// taskUser, socketGroup, allowedUids/allowedGids: resolution and strict
// parsing, the startup layout check, and (as root) a task spawned as
// `nobody` (H9, H10, H11): its credentials, no_new_privs, no capabilities,
// only fds 0-2, none of the agent's systemd or secret variables, and no way
// into the agent's files or processes.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "agent/common/fs.h"
#include "agent/config/config.h"
#include "agent/config/identity.h"
#include "agent/files/tree.h"
#include "runners/process/spawn.h"

namespace {

TEST(TaskUser, ResolvesNamesAndNumbersAndRefusesRoot) {
  auto by_name = agent::resolve_task_user("nobody");
  ASSERT_TRUE(by_name.ok()) << by_name.error().describe();
  EXPECT_EQ(by_name->uid, 65534u);
  EXPECT_EQ(by_name->gid, 65534u);
  auto by_uid = agent::resolve_task_user("65534");
  ASSERT_TRUE(by_uid.ok());
  EXPECT_EQ(by_uid->gid, 65534u);
  EXPECT_TRUE(by_uid->groups.empty());
  auto pair = agent::resolve_task_user("4242:4343");
  ASSERT_TRUE(pair.ok());
  EXPECT_EQ(pair->uid, 4242u);
  EXPECT_EQ(pair->gid, 4343u);
  for (std::string bad : {"root", "0", "0:5", "5:0", "no-such-user-here", "12:x", "4242"}) {
    auto r = agent::resolve_task_user(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.error().message().find("'" + bad + "'"), std::string::npos) << r.error().message();
  }
}

TEST(TaskUser, ConfigKeysAreParsedStrictly) {
  agent::AgentConfig c;
  auto st = agent::load_config_text(R"(
socketGroup: nogroup
allowedUids: [0, nobody, 1234]
allowedGids: [nogroup, 7]
taskUser: nobody
)",
                                    "test.yaml", c);
  ASSERT_TRUE(st.ok()) << st.error().describe();
  EXPECT_EQ(c.socket_gid, gid_t{65534});
  EXPECT_EQ(c.allowed_uids, (std::vector<uid_t>{0, 65534, 1234}));
  EXPECT_EQ(c.allowed_gids, (std::vector<gid_t>{65534, 7}));
  ASSERT_TRUE(c.task_user);
  EXPECT_EQ(c.task_user->uid, 65534u);
  struct Bad {
    std::string yaml, path;
  };
  for (const Bad& b : std::vector<Bad>{{"socketGroup: no-such-group-x", "socketGroup"},
                                       {"allowedUids: 5", "allowedUids"},
                                       {"allowedUids: [no-such-user-x]", "allowedUids[0]"},
                                       {"allowedGids: [1, {a: 1}]", "allowedGids[1]"},
                                       {"taskUser: root", "taskUser"},
                                       {"taskUser: [1]", "taskUser"}}) {
    agent::AgentConfig d;
    auto r = agent::load_config_text(b.yaml, "test.yaml", d);
    ASSERT_FALSE(r.ok()) << b.yaml;
    EXPECT_EQ(r.error().path(), b.path) << b.yaml << ": " << r.error().describe();
  }
}

TEST(TaskUser, LayoutCheckKeepsTheStateClosedAndTheWorkDirReachable) {
  char tmpl[] = "/tmp/rdu.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  ASSERT_EQ(chmod(root.c_str(), 0755), 0);
  auto user = *agent::resolve_task_user("nobody");
  auto inside = agent::check_task_user_layout(user, root + "/state/work", root + "/state");
  ASSERT_FALSE(inside.ok());
  EXPECT_NE(inside.error().message().find("outside stateDir"), std::string::npos);
  ASSERT_TRUE(agent::fs::make_dirs(root + "/state", 0750).ok());
  ASSERT_EQ(chmod((root + "/state").c_str(), 0750), 0);
  auto ok = agent::check_task_user_layout(user, root + "/work", root + "/state");
  EXPECT_TRUE(ok.ok()) << ok.error().describe();
  struct stat st;
  ASSERT_EQ(stat((root + "/work").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0711u);
  ASSERT_EQ(chmod((root + "/state").c_str(), 0755), 0);
  auto open_state = agent::check_task_user_layout(user, root + "/work", root + "/state");
  ASSERT_FALSE(open_state.ok());
  EXPECT_EQ(open_state.error().path(), "stateDir");
  ASSERT_EQ(chmod(root.c_str(), 0700), 0);
  auto closed = agent::check_task_user_layout(user, root + "/work", root + "/state");
  ASSERT_FALSE(closed.ok());
  EXPECT_NE(closed.error().message().find("cannot pass through " + root), std::string::npos)
      << closed.error().message();
  (void)agent::files::remove_tree(root);
}

// Everything a child wrote on stdout, until it exits.
std::string drain(const runners::process::Spawned& s) {
  std::string out;
  char buf[4096];
  for (int fd : {s.stdout_fd}) {
    while (true) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 10000) <= 0) break;
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
  }
  int status;
  waitpid(s.pid, &status, 0);
  close(s.stdout_fd);
  close(s.stderr_fd);
  close(s.pidfd);
  return out;
}

std::string field(const std::string& status, const std::string& name) {
  size_t at = status.find("\n" + name + ":");
  if (at == std::string::npos) return "<none>";
  size_t start = status.find_first_not_of(" \t", at + name.size() + 2);
  return status.substr(start, status.find('\n', start) - start);
}

TEST(TaskUser, SpawnedAsNobodyWithNoNewPrivsNoCapsAndOnlyThreeFds) {
  if (geteuid() != 0) GTEST_SKIP() << "switching users needs root";
  char tmpl[] = "/tmp/rdu.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  ASSERT_EQ(chmod(root.c_str(), 0711), 0);
  std::string wd = root + "/wd", state = root + "/state";
  ASSERT_TRUE(agent::fs::make_dirs(wd, 0750).ok());
  ASSERT_TRUE(agent::fs::make_dirs(state, 0700).ok());
  ASSERT_TRUE(agent::fs::write_file(state + "/state.db", "agent state").ok());
  ASSERT_TRUE(agent::fs::write_file(wd + "/input.txt", "staged by the agent").ok());
  // A descriptor the agent holds without close-on-exec: it must not reach the task.
  int leak = open("/dev/null", O_RDONLY);
  ASSERT_GE(leak, 3);
  setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
  setenv("WATCHDOG_USEC", "30000000", 1);
  setenv("SECRET_TOKEN", "czNjcjN0", 1);
  std::vector<std::string> env = {"PATH=/usr/bin:/bin", "NOTIFY_SOCKET=/run/systemd/notify",
                                  "WATCHDOG_USEC=30000000", "SECRET_TOKEN=czNjcjN0",
                                  "SECRET_OWN=set-by-the-flow"};
  std::string script =
      "cat /proc/self/status; python3 -c 'import os; "
      "print(\"FDS\", *sorted((f for f in os.listdir(\"/proc/self/fd\") if os.path.exists(\"/proc/self/fd/\" + f)), key=int))'; "
      "env | sed 's/^/ENV /'; "
      "cat " + state + "/state.db >/dev/null 2>&1 && echo STATE-READ || echo STATE-DENIED; "
      "kill -0 " + std::to_string(getpid()) + " 2>/dev/null && echo KILL-OK || echo KILL-DENIED; "
      "cat input.txt >/dev/null && echo > made-by-task && echo WD-WRITABLE";
  auto user = *agent::resolve_task_user("nobody");
  auto s = runners::process::spawn_task({"/bin/sh", "-c", script}, env, wd, -1, &user);
  close(leak);
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("SECRET_TOKEN");
  ASSERT_TRUE(s.ok()) << s.error().describe();
  std::string out = drain(*s);
  EXPECT_EQ(field(out, "Uid"), "65534\t65534\t65534\t65534") << out;
  EXPECT_EQ(field(out, "Gid"), "65534\t65534\t65534\t65534");
  EXPECT_EQ(field(out, "NoNewPrivs"), "1");
  EXPECT_EQ(field(out, "CapEff"), "0000000000000000");
  EXPECT_EQ(field(out, "CapPrm"), "0000000000000000");
  EXPECT_EQ(field(out, "CapAmb"), "0000000000000000");
  EXPECT_NE(out.find("FDS 0 1 2\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("ENV NOTIFY_SOCKET"), std::string::npos);
  EXPECT_EQ(out.find("ENV WATCHDOG_"), std::string::npos);
  EXPECT_EQ(out.find("ENV SECRET_TOKEN"), std::string::npos);
  EXPECT_NE(out.find("ENV SECRET_OWN=set-by-the-flow"), std::string::npos);  // the flow's own
  EXPECT_NE(out.find("STATE-DENIED"), std::string::npos);
  EXPECT_NE(out.find("KILL-DENIED"), std::string::npos);
  EXPECT_NE(out.find("WD-WRITABLE"), std::string::npos) << out;
  struct stat st;
  ASSERT_EQ(stat((wd + "/made-by-task").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  (void)agent::files::remove_tree(root);
}

TEST(TaskUser, AMissingWorkingDirectoryIsAnError) {
  if (geteuid() != 0) GTEST_SKIP() << "switching users needs root";
  auto user = *agent::resolve_task_user("nobody");
  auto s = runners::process::spawn_task({"/bin/true"}, {}, "/nonexistent-dir-x", -1, &user);
  ASSERT_FALSE(s.ok());
}

}  // namespace
