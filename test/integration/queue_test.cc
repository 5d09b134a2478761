// The queue and streams: one slot, a bounded queue, cancel before start,
// watching every execution, and reading a log from an offset.
#include <fstream>

#include <gtest/gtest.h>

#include "test/helpers/agent_harness.h"

namespace {

using test::Client;

class Queue : public test::AgentTest {
 protected:
  Queue() : AgentTest("maxRunning: 1\nmaxQueued: 2\n") {}
};

TEST_F(Queue, WaitingExecutionsAreCreatedCanBeCancelledAndTheQueueIsBounded) {
  std::string gate = agent_->dir() + "/gate";
  std::string running = test::submit_flow(
      *client_, test::shell_flow({"while [ ! -e " + gate + " ]; do sleep 0.01; done"}));
  std::string queued = test::submit_flow(*client_, test::shell_flow({"echo never"}));
  std::string third = test::submit_flow(*client_, test::shell_flow({"echo third"}));
  // The queue holds two: a fourth submission is refused, and nothing is lost.
  auto refused = client_->call("{\"op\":\"submit\",\"flow\":" + test::shell_flow({"true"}) + "}");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->str("/error/code"), "resource_exhausted") << refused->text;

  auto g = client_->call("{\"op\":\"get\",\"executionId\":\"" + queued + "\"}");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->str("/result/state"), "CREATED");
  EXPECT_FALSE(g->has("/result/taskRuns/0"));

  auto c = client_->call("{\"op\":\"cancel\",\"executionId\":\"" + queued + "\"}");
  ASSERT_TRUE(c);
  EXPECT_EQ(test::wait_final(*client_, queued), "KILLED");
  g = client_->call("{\"op\":\"get\",\"executionId\":\"" + queued + "\"}");
  EXPECT_FALSE(g->has("/result/taskRuns/0")) << "a cancelled queued execution never starts";

  std::ofstream(gate) << "go";
  EXPECT_EQ(test::wait_final(*client_, running), "SUCCESS");
  EXPECT_EQ(test::wait_final(*client_, third), "SUCCESS");
  EXPECT_EQ(test::log_lines(*client_, third), std::vector<std::string>{"INFO third"});

  // A cancel of a final execution says so.
  c = client_->call("{\"op\":\"cancel\",\"executionId\":\"" + third + "\"}");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->truth("/result/alreadyFinal"));
}

TEST_F(Queue, AWatchOnEveryExecutionSeesEachStateAndUnwatchEndsIt) {
  Client watcher(agent_->socket());
  auto w = watcher.call(R"({"op":"watch"})");
  ASSERT_TRUE(w);
  int64_t wid = w->num("/id");
  std::string id = test::submit_flow(*client_, test::shell_flow({"true"}));
  ASSERT_EQ(test::wait_final(*client_, id), "SUCCESS");
  std::vector<std::string> states;
  while (states.empty() || states.back() != "exec:SUCCESS") {
    auto m = watcher.read_message(std::chrono::seconds(10));
    ASSERT_TRUE(m);
    ASSERT_EQ(m->num("/id"), wid);
    ASSERT_EQ(m->str("/executionId"), id);
    states.push_back((m->has("/taskRunId") ? "task:" : "exec:") + m->str("/state"));
  }
  EXPECT_EQ(states, (std::vector<std::string>{"exec:CREATED", "exec:RUNNING", "task:CREATED",
                                              "task:RUNNING", "task:SUCCESS", "exec:SUCCESS"}));
  auto u = watcher.call("{\"op\":\"unwatch\",\"stream\":" + std::to_string(wid) + "}");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->truth("/ok")) << u->text;
  ASSERT_FALSE(watcher.backlog.empty());
  EXPECT_EQ(watcher.backlog.back().str("/event"), "end");
  auto again = watcher.call("{\"op\":\"unwatch\",\"stream\":" + std::to_string(wid) + "}");
  EXPECT_EQ(again->str("/error/code"), "not_found");
}

TEST_F(Queue, LogsFromAnOffsetOfOneTaskRun) {
  std::string id = test::submit_flow(
      *client_, test::shell_flow({"for i in 0 1 2 3 4 5 6 7 8 9; do echo line$i; done"}));
  ASSERT_EQ(test::wait_final(*client_, id), "SUCCESS");
  auto g = client_->call("{\"op\":\"get\",\"executionId\":\"" + id + "\"}");
  std::string run = g->str("/result/taskRuns/0/id");
  auto r = client_->call("{\"op\":\"logs\",\"executionId\":\"" + id + "\",\"taskRunId\":\"" + run +
                         "\",\"from\":7}");
  ASSERT_TRUE(r);
  auto events = client_->read_stream(r->num("/id"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].num("/lines/0/seq"), 7);
  EXPECT_EQ(events[0].str("/lines/0/message"), "line7");
  EXPECT_EQ(events[0].str("/lines/2/message"), "line9");
  EXPECT_FALSE(events[0].has("/lines/3"));
  EXPECT_EQ(events[1].str("/event"), "end");
  // An offset needs a task run: line numbers are per task run.
  auto bad = client_->call("{\"op\":\"logs\",\"executionId\":\"" + id + "\",\"from\":3}");
  EXPECT_EQ(bad->str("/error/path"), "from");
}

}  // namespace
