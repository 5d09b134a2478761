// The socket protocol against the real runnerd: malformed input, pipelining,
// many clients, a stalled client, credentials and the socket's mode.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

#include "test/helpers/agent_harness.h"

namespace {

using test::Client;

class Protocol : public test::AgentTest {
 protected:
  Protocol() : AgentTest("maxRequestBytes: 65536\nmaxClientBufferBytes: 1048576\n") {}
  // Sends a raw line and returns the error it gets.
  test::Message error_for(const std::string& line) {
    EXPECT_TRUE(client_->send_raw(line + "\n"));
    auto m = client_->read_message(std::chrono::seconds(10));
    EXPECT_TRUE(m.has_value()) << "no answer to " << line;
    if (!m) return *test::parse_message("{}");
    EXPECT_TRUE(!m->truth("/ok") && m->has("/ok")) << m->text;
    return std::move(*m);
  }
  void expect_still_serving() {
    auto r = client_->call("{\"op\":\"stats\"}");
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->truth("/ok")) << r->text;
  }
};

TEST_F(Protocol, HelloNegotiatesVersionOne) {
  auto r = client_->call(R"({"op":"hello","versions":[1,2],"client":"test"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->num("/result/version"), 1);
  EXPECT_EQ(r->str("/result/agent"), "runnerd");
  auto bad = client_->call(R"({"op":"hello","versions":[7]})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->str("/error/code"), "unsupported_version");
}

TEST_F(Protocol, MalformedMessagesGetStructuredErrorsAndTheConnectionCarriesOn) {
  auto e = error_for("this is not json");
  EXPECT_EQ(e.str("/error/code"), "parse_error");
  EXPECT_TRUE(e.root["id"].is_null());
  e = error_for("[1,2,3]");
  EXPECT_EQ(e.str("/error/code"), "invalid_request");
  e = error_for(R"({"op":"stats"})");
  EXPECT_EQ(e.str("/error/code"), "invalid_request");
  EXPECT_EQ(e.str("/error/path"), "id");
  e = error_for(R"({"id":{"x":1},"op":"stats"})");
  EXPECT_EQ(e.str("/error/path"), "id");
  e = error_for(R"({"id":"a","op":"frobnicate"})");
  EXPECT_EQ(e.str("/error/code"), "unknown_op");
  EXPECT_EQ(e.str("/id"), "a");
  e = error_for(R"({"id":5,"op":"get","executionId":"nope"})");
  EXPECT_EQ(e.str("/error/code"), "not_found");
  EXPECT_EQ(e.num("/id"), 5);
  e = error_for(R"({"id":6,"op":"get","execution":"x"})");
  EXPECT_EQ(e.str("/error/path"), "execution");
  expect_still_serving();
}

TEST_F(Protocol, FlowErrorsNameThePropertyPath) {
  auto e = error_for(R"({"id":1,"op":"submit","flow":{"id":"f","namespace":"n","tasks":[{"id":"a","type":"io.kestra.plugin.scripts.shell.Commands","commands":"echo"}]}})");
  EXPECT_EQ(e.str("/error/code"), "invalid_argument");
  EXPECT_EQ(e.str("/error/path"), "flow.tasks[0].commands");
  EXPECT_NE(e.str("/error/message").find("found a string"), std::string::npos);
  e = error_for(R"({"id":2,"op":"submit","flow":{"id":"f","namespace":"n","tasks":[{"id":"a","type":"io.kestra.plugin.scripts.shell.Commands","commands":["x"],"taskRunner":{"type":"io.kestra.plugin.core.runner.Process","cpu":1}}]}})");
  EXPECT_EQ(e.str("/error/path"), "flow.tasks[0].taskRunner.cpu");
  e = error_for(R"({"id":3,"op":"submit","flow":{"id":"f","namespace":"n","tasks":[{"id":"a","type":"io.kestra.plugin.scripts.shell.Commands","commands":["x"],"taskRunner":{"type":"no.such.Runner"}}]}})");
  EXPECT_EQ(e.str("/error/path"), "flow.tasks[0].taskRunner.type");
  // A bad size in the Docker runner's properties is refused at submission.
  e = error_for(R"({"id":4,"op":"submit","flow":{"id":"f","namespace":"n","tasks":[{"id":"a","type":"io.kestra.plugin.scripts.shell.Commands","commands":["x"],"taskRunner":{"type":"io.kestra.plugin.scripts.runner.docker.Docker","memory":{"memory":"12XB"}}}]}})");
  EXPECT_EQ(e.str("/error/path"), "flow.tasks[0].taskRunner.memory.memory");
  EXPECT_NE(e.str("/error/message").find("12XB"), std::string::npos);
  e = error_for(R"({"id":5,"op":"submit","flow":{"id":"f","namespace":"n","tasks":[{"id":"a","type":"io.kestra.plugin.scripts.shell.Commands","commands":["x"],"workerGroup":{"key":"gpu","fallback":"LATER"}}]}})");
  EXPECT_EQ(e.str("/error/path"), "flow.tasks[0].workerGroup.fallback");
  EXPECT_NE(e.str("/error/message").find("expected WAIT, FAIL or CANCEL"), std::string::npos);
  expect_still_serving();
  // Nothing was accepted by any of these.
  auto r = client_->call(R"({"op":"list"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->num("/result/total"), 0);
}

TEST_F(Protocol, OversizeLinesAreRefusedAndSkipped) {
  std::string big = R"({"id":1,"op":"stats","pad":")" + std::string(100000, 'x') + "\"}";
  auto e = error_for(big);
  EXPECT_EQ(e.str("/error/code"), "oversize");
  // Sent in pieces, the same line is still skipped to its end.
  ASSERT_TRUE(client_->send_raw(big.substr(0, 70000)));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(client_->send_raw(big.substr(70000) + "\n"));
  auto m = client_->read_message(std::chrono::seconds(10));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->str("/error/code"), "oversize");
  expect_still_serving();
}

TEST_F(Protocol, RequestsPipelineAndAnswersCarryTheirIds) {
  std::string batch;
  for (int i = 0; i < 200; i++) batch += "{\"id\":\"r" + std::to_string(i) + "\",\"op\":\"stats\"}\n";
  ASSERT_TRUE(client_->send_raw(batch));
  for (int i = 0; i < 200; i++) {
    auto m = client_->read_message(std::chrono::seconds(10));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->str("/id"), "r" + std::to_string(i));
  }
}

TEST_F(Protocol, SocketIsGroupReadableOnlyAndSubmissionsRecordThePeer) {
  struct stat st;
  ASSERT_EQ(stat(agent_->socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  std::string id = test::submit_flow(*client_, test::shell_flow({"true"}));
  auto r = client_->call("{\"op\":\"get\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->num("/result/submittedBy/uid"), static_cast<int64_t>(getuid()));
  EXPECT_EQ(r->num("/result/submittedBy/pid"), static_cast<int64_t>(getpid()));
}

TEST_F(Protocol, AHundredConcurrentClients) {
  constexpr int kClients = 100;
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<std::string> ids;
  for (int i = 0; i < kClients; i++) {
    clients.push_back(std::make_unique<Client>(agent_->socket()));
    ASSERT_TRUE(clients.back()->connected()) << "client " << i;
  }
  for (int i = 0; i < kClients; i++) {
    ids.push_back(test::submit_flow(*clients[static_cast<size_t>(i)],
                                    test::shell_flow({"echo client " + std::to_string(i)})));
  }
  for (int i = 0; i < kClients; i++) {
    auto& c = *clients[static_cast<size_t>(i)];
    EXPECT_EQ(test::wait_final(c, ids[static_cast<size_t>(i)]), "SUCCESS");
    EXPECT_EQ(test::log_lines(c, ids[static_cast<size_t>(i)]),
              std::vector<std::string>{"INFO client " + std::to_string(i)});
  }
}

TEST_F(Protocol, AStalledClientDoesNotBlockOthersOrTheTask) {
  // A client follows the logs of a chatty task and never reads.
  Client stalled(agent_->socket());
  ASSERT_TRUE(stalled.connected());
  int rcvbuf = 4096;
  setsockopt(stalled.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  std::string id = test::submit_flow(
      *client_, test::shell_flow({"i=0; while [ $i -lt 200000 ]; do echo line $i; i=$((i+1)); done"}));
  ASSERT_TRUE(stalled.send_raw("{\"id\":1,\"op\":\"logs\",\"follow\":true,\"executionId\":\"" + id +
                               "\"}\n"));
  EXPECT_EQ(test::wait_final(*client_, id, std::chrono::seconds(120)), "SUCCESS");
  expect_still_serving();
  auto r = client_->call("{\"op\":\"get\",\"executionId\":\"" + id + "\"}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->num("/result/taskRuns/0/logLines"), 200000);
}

TEST_F(Protocol, AClientThatStopsSendingStillGetsEveryAnswerAndItsStreams) {
  std::string id = test::submit_flow(*client_, test::shell_flow({"sleep 0.2", "echo done"}));
  Client c(agent_->socket());
  ASSERT_TRUE(c.send_raw("{\"id\":1,\"op\":\"stats\"}\n{\"id\":2,\"op\":\"logs\",\"follow\":true,"
                         "\"executionId\":\"" + id + "\"}\n{\"id\":3,\"op\":\"stats\"}"));
  ::shutdown(c.fd(), SHUT_WR);  // like `printf ... | socat - UNIX-CONNECT:...`
  std::vector<std::string> seen;
  while (auto m = c.read_message(std::chrono::seconds(20))) {
    seen.push_back(std::to_string(m->num("/id")) + ":" + m->str("/event"));
  }
  // All answers, the whole stream to its end, and then the agent closed the connection.
  ASSERT_GE(seen.size(), 5u);
  EXPECT_EQ(seen[0], "1:");
  EXPECT_EQ(seen[1], "2:");
  EXPECT_EQ(seen[2], "3:");
  EXPECT_EQ(seen.back(), "2:end");
}

TEST_F(Protocol, AClientThatNeverReadsItsAnswersIsDroppedAtTheBound) {
  Client greedy(agent_->socket());
  ASSERT_TRUE(greedy.connected());
  int rcvbuf = 4096;
  setsockopt(greedy.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  std::string batch;
  for (int i = 0; i < 200; i++) batch += "{\"id\":" + std::to_string(i) + ",\"op\":\"stats\"}\n";
  // About 5,000 answers of ~800 bytes, never read: far past the 1 MiB bound.
  for (int round = 0; round < 25 && greedy.send_raw(batch); round++) {
  }
  expect_still_serving();
  // The agent closed it: reading what was buffered ends in EOF, well short of all answers.
  int answers = 0;
  while (greedy.read_line(std::chrono::seconds(10))) answers++;
  EXPECT_LT(answers, 5000);
  expect_still_serving();
}

TEST_F(Protocol, ListFiltersByStateNewestFirst) {
  std::string a = test::submit_flow(*client_, test::shell_flow({"true"}));
  std::string b = test::submit_flow(*client_, test::shell_flow({"false"}));
  test::wait_final(*client_, a);
  test::wait_final(*client_, b);
  auto r = client_->call(R"({"op":"list"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str("/result/executions/0/id"), b);
  EXPECT_EQ(r->str("/result/executions/1/id"), a);
  r = client_->call(R"({"op":"list","state":"FAILED"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str("/result/executions/0/id"), b);
  EXPECT_FALSE(r->has("/result/executions/1"));
  r = client_->call(R"({"op":"list","state":"DONE"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str("/error/path"), "state");
}

}  // namespace
