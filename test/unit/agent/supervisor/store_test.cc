#include "agent/supervisor/store.h"

#include <gtest/gtest.h>

namespace {

TEST(Store, RecordsRoundTrip) {
  agent::Execution e;
  e.id = "abc";
  e.namespace_ = "dev";
  e.flow_id = "hello";
  e.state = agent::State::kFailed;
  e.task_count = 2;
  e.created_ms = 1763933400123;
  e.started_ms = 1763933400200;
  e.ended_ms = 1763933401200;
  e.submitted_uid = 1000;
  e.submitted_pid = 42;
  auto run = std::make_unique<agent::TaskRun>();
  run->id = "r1";
  run->task_id = "t";
  run->type = "io.kestra.plugin.scripts.shell.Commands";
  run->runner = "io.kestra.plugin.core.runner.Process";
  run->state = agent::State::kFailed;
  run->exit_code = 3;
  run->log_lines = 17;
  run->vars = {{"k", "\"v\""}, {"n", "[1,2]"}};
  run->metrics.add({"rows", "counter", 2.5, {{"f", "a"}}});
  run->started_ms = e.started_ms;
  run->ended_ms = e.ended_ms;
  e.task_runs.push_back(std::move(run));

  std::string rec = agent::store::encode_record(e, agent::State::kFailed);
  auto back = agent::store::decode_record(rec);
  ASSERT_TRUE(back.ok()) << back.error().message();
  const agent::Execution& b = **back;
  EXPECT_EQ(b.id, "abc");
  EXPECT_EQ(b.state, agent::State::kFailed);
  EXPECT_EQ(b.task_count, 2u);
  EXPECT_EQ(b.created_ms, e.created_ms);
  EXPECT_EQ(b.submitted_pid, 42);
  ASSERT_EQ(b.task_runs.size(), 1u);
  const agent::TaskRun& r = *b.task_runs[0];
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.log_lines, 17u);
  EXPECT_EQ(r.committed_lines, 17u);
  EXPECT_EQ(r.vars, e.task_runs[0]->vars);
  ASSERT_EQ(r.metrics.entries().size(), 1u);
  EXPECT_EQ(r.metrics.entries()[0].value, 2.5);
  EXPECT_EQ(r.metrics.entries()[0].tags.at("f"), "a");
  EXPECT_EQ(agent::store::encode_record(b, b.state), rec);
}

TEST(Store, RejectsGarbage) {
  EXPECT_FALSE(agent::store::decode_record("{").ok());
  EXPECT_FALSE(agent::store::decode_record("[]").ok());
  EXPECT_FALSE(agent::store::decode_record("{}").ok());
}

}  // namespace
