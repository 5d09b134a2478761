// The Docker Engine API client's pure helpers (query escaping, engine error
// messages, socket paths) and its error wording, on a real HttpClient.
#include "runners/docker/engine.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/http/client.h"
#include "test/helpers/http_test_server.h"
#include "test/helpers/loop_test.h"

namespace {

using agent::Errc;
using agent::Error;
using agent::Result;
using agent::http::Response;
using runners::docker::engine_message;
using runners::docker::query_escape;
using runners::docker::socket_path_of;

bool contains(const std::string& s, std::string_view what) {
  return s.find(what) != std::string::npos;
}

// ---------------------------------------------------------------------------
// The fixture: an HttpClient on a loop (pure tests ignore it)

class DockerEngine : public test::LoopTest {
 protected:
  void SetUp() override {
    test::LoopTest::SetUp();
    dir_ = "/tmp/runnerd-docker-engine-" + std::to_string(::getpid());
    ::mkdir(dir_.c_str(), 0755);
    auto c = agent::http::HttpClient::create(&loop_);
    ASSERT_TRUE(c.ok()) << c.error().describe();
    http_ = std::move(c).value();
  }
  void TearDown() override {
    if (http_) {
      bool closed = false;
      http_->close([&] { closed = true; });
      EXPECT_TRUE(run_until([&] { return closed; }));
      http_.reset();
    }
    server_.stop();
    for (const auto& p : created_) ::unlink(p.c_str());
    ::rmdir(dir_.c_str());
    test::LoopTest::TearDown();
  }

  std::string path(const std::string& name) {
    std::string p = dir_ + "/" + name;
    created_.push_back(p);
    return p;
  }

  Result<Response> call(runners::docker::Engine& engine, std::string method, std::string api_path,
                        std::string body, agent::http::Headers headers = {}) {
    std::optional<Result<Response>> out;
    engine.call(
        std::move(method), std::move(api_path), std::move(body),
        [&](Result<Response> r) { out.emplace(std::move(r)); }, std::move(headers),
        std::chrono::seconds(10));
    if (!run_until([&] { return out.has_value(); })) return Error(Errc::kInternal, "no answer");
    return std::move(*out);
  }

  std::string dir_;
  std::vector<std::string> created_;
  std::unique_ptr<agent::http::HttpClient> http_;
  test::HttpTestServer server_;
};

// ---------------------------------------------------------------------------
// Pure helpers

TEST_F(DockerEngine, QueryEscapeKeepsUnreservedCharacters) {
  std::string unreserved = "ABCXYZabcxyz0123456789-._~";
  EXPECT_EQ(query_escape(unreserved), unreserved);
  EXPECT_EQ(query_escape(""), "");
}

TEST_F(DockerEngine, QueryEscapeEncodesEverythingElseInUppercaseHex) {
  EXPECT_EQ(query_escape(" "), "%20");
  EXPECT_EQ(query_escape("a/b:c"), "a%2Fb%3Ac");
  EXPECT_EQ(query_escape("?&=+#%"), "%3F%26%3D%2B%23%25");
  EXPECT_EQ(query_escape("\n"), "%0A");
  EXPECT_EQ(query_escape(std::string_view("\0", 1)), "%00");
  // UTF-8 bytes one by one; high bytes must not sign-extend.
  EXPECT_EQ(query_escape("é"), "%C3%A9");
  EXPECT_EQ(query_escape("\xff"), "%FF");
}

TEST_F(DockerEngine, QueryEscapeOfALabelFilter) {
  // GET /containers/json?filters=... as the runner sends it to find its containers.
  EXPECT_EQ(query_escape(R"({"label":["kestra.io/taskrun-id=abc"]})"),
            "%7B%22label%22%3A%5B%22kestra.io%2Ftaskrun-id%3Dabc%22%5D%7D");
  // ghcr.io/org/img as fromImage.
  EXPECT_EQ(query_escape("ghcr.io/kestra-io/pydata"), "ghcr.io%2Fkestra-io%2Fpydata");
}

TEST_F(DockerEngine, EngineMessageOfADockerError) {
  EXPECT_EQ(engine_message(R"({"message":"x"})"), "x");
  EXPECT_EQ(engine_message(R"({"message":"No such container: 1234"})"), "No such container: 1234");
  EXPECT_EQ(engine_message("{\"message\":\"conflict\"}\n"), "conflict");
}

TEST_F(DockerEngine, EngineMessageOfAPodmanError) {
  EXPECT_EQ(engine_message(R"({"cause":"no such image","message":"busybox:nope: image not known",)"
                           R"("response":404})"),
            "busybox:nope: image not known");
}

TEST_F(DockerEngine, EngineMessageOfANonJsonBodyIsOneLine) {
  EXPECT_EQ(engine_message("page not found\n"), "page not found");
  EXPECT_EQ(engine_message("line one\r\nline two\nthree\n\n"), "line one  line two three");
  EXPECT_EQ(engine_message(""), "");
  // JSON without a string "message": the body itself.
  EXPECT_EQ(engine_message(R"({"error":"e"})"), R"({"error":"e"})");
  EXPECT_EQ(engine_message(R"({"message":42})"), R"({"message":42})");
  // A long body is cut to an excerpt with no line breaks.
  std::string body;
  for (int i = 0; i < 200; i++) body += "line " + std::to_string(i) + "\n";
  std::string m = engine_message(body);
  EXPECT_LE(m.size(), 300u);
  EXPECT_GE(m.size(), 100u);
  EXPECT_TRUE(m.starts_with("line 0 line 1 line 2")) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos);
  EXPECT_EQ(m.find('\r'), std::string::npos);
}

TEST_F(DockerEngine, SocketPathOf) {
  EXPECT_EQ(socket_path_of("unix:///a/b"), "/a/b");
  EXPECT_EQ(socket_path_of("/a/b"), "/a/b");
  EXPECT_EQ(socket_path_of("unix:///var/run/docker.sock"), "/var/run/docker.sock");
  EXPECT_EQ(socket_path_of("/run/user/1000/podman/podman.sock"),
            "/run/user/1000/podman/podman.sock");
}

TEST_F(DockerEngine, ApiVersion) { EXPECT_EQ(runners::docker::kApiVersion, "v1.41"); }

const Error kRefused(Errc::kUnavailable, "connection refused (curl 7)");

TEST_F(DockerEngine, TransportErrorForAMissingSocket) {
  std::string sock = path("missing.sock");
  runners::docker::Engine engine(*http_, sock);
  EXPECT_EQ(engine.socket(), sock);
  Error e = engine.transport_error(kRefused, "create container");
  EXPECT_EQ(e.code(), Errc::kUnavailable);
  const std::string& m = e.message();
  EXPECT_TRUE(m.starts_with("create container: ")) << m;
  EXPECT_TRUE(contains(m, "no such socket")) << m;
  EXPECT_TRUE(contains(m, "unix://" + sock)) << m;
  EXPECT_TRUE(contains(m, "podman system service")) << m;
  EXPECT_TRUE(contains(m, "docker.host")) << m;
  EXPECT_TRUE(contains(m, "io.kestra.plugin.core.runner.Process")) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

// As root, access() grants everything: the check runs in a child that drops
// to the `nobody` uid first.
TEST_F(DockerEngine, TransportErrorForASocketWithoutPermission) {
  std::string sock = path("no-access.sock");
  int fd = ::open(sock.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ASSERT_EQ(0, ::chmod(sock.c_str(), 0));
  runners::docker::Engine engine(*http_, sock);
  int fds[2];
  ASSERT_EQ(0, ::pipe(fds));
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) _exit(2);
    std::string m = engine.transport_error(kRefused, "pull image").message();
    ssize_t n = ::write(fds[1], m.data(), m.size());
    _exit(n == static_cast<ssize_t>(m.size()) ? 0 : 3);
  }
  ::close(fds[1]);
  std::string m;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) m.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(pid, ::waitpid(pid, &status, 0));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_TRUE(contains(m, "pull image: ")) << m;
  EXPECT_TRUE(contains(m, "permission denied")) << m;
  EXPECT_TRUE(contains(m, "socket's group")) << m;
  EXPECT_TRUE(contains(m, sock)) << m;
  EXPECT_TRUE(contains(m, "Process")) << m;
}

TEST_F(DockerEngine, TransportErrorForAReachableSocketKeepsTheCause) {
  std::string sock = path("exists.sock");
  int fd = ::open(sock.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ::close(fd);
  runners::docker::Engine engine(*http_, sock);
  Error e = engine.transport_error(kRefused, "start container");
  EXPECT_EQ(e.code(), Errc::kUnavailable);
  EXPECT_TRUE(
      contains(e.message(), "start container: cannot reach the container engine at unix://" + sock +
                                ": connection refused (curl 7)"))
      << e.message();
  EXPECT_FALSE(contains(e.message(), "no such socket")) << e.message();
}

TEST_F(DockerEngine, OtherTransportErrorsAreNamedAndCancelKeptAsIs) {
  runners::docker::Engine engine(*http_, path("any.sock"));
  Error cancelled = engine.transport_error(Error(Errc::kCancelled, "cancelled"), "wait container");
  EXPECT_EQ(cancelled.code(), Errc::kCancelled);
  EXPECT_EQ(cancelled.message(), "cancelled");
  Error timeout = engine.transport_error(Error(Errc::kDeadlineExceeded, "timed out after 10 s"),
                                         "inspect image");
  EXPECT_EQ(timeout.code(), Errc::kDeadlineExceeded);
  EXPECT_EQ(timeout.message(), "inspect image: timed out after 10 s");
}

TEST_F(DockerEngine, CheckAcceptsListedStatusesAndWordsTheOthers) {
  runners::docker::Engine engine(*http_, path("any.sock"));
  Response created;
  created.status = 201;
  created.body = R"({"Id":"abc"})";
  auto ok = engine.check(created, "create container", {200, 201});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->body, R"({"Id":"abc"})");

  Response conflict;
  conflict.status = 409;
  conflict.body = R"({"message":"container name in use"})";
  auto e409 = engine.check(conflict, "create container", {201});
  ASSERT_FALSE(e409.ok());
  EXPECT_EQ(e409.error().message(), "create container: container name in use (HTTP 409)");
  EXPECT_EQ(e409.error().code(), Errc::kInvalidArgument);

  Response missing;
  missing.status = 404;
  missing.body = R"({"cause":"no such container","message":"no container with name or ID x",)"
                 R"("response":404})";
  auto e404 = engine.check(missing, "inspect container", {200});
  ASSERT_FALSE(e404.ok());
  EXPECT_EQ(e404.error().code(), Errc::kNotFound);
  EXPECT_EQ(e404.error().message(), "inspect container: no container with name or ID x (HTTP 404)");

  Response broken;
  broken.status = 500;
  broken.body = "internal\nerror\n";
  auto e500 = engine.check(broken, "start container", {204});
  ASSERT_FALSE(e500.ok());
  EXPECT_EQ(e500.error().code(), Errc::kInternal);
  EXPECT_EQ(e500.error().message(), "start container: internal error (HTTP 500)");

  auto transport = engine.check(Error(Errc::kUnavailable, "refused"), "list containers", {200});
  ASSERT_FALSE(transport.ok());
  EXPECT_TRUE(contains(transport.error().message(), "list containers: cannot reach"))
      << transport.error().message();
}

TEST_F(DockerEngine, CallsGoToTheVersionedPathOnTheSocket) {
  std::string sock = path("engine.sock");
  server_.route_echo("/v1.41/containers/create");
  server_.route_fixed("/v1.41/containers/x/start", 204, "");
  ASSERT_TRUE(server_.start(sock));
  runners::docker::Engine engine(*http_, sock);

  auto r =
      call(engine, "POST", "/containers/create?name=" + query_escape("a b"), R"({"Image":"x"})");
  ASSERT_TRUE(r.ok()) << r.error().describe();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"Image":"x"})");
  ASSERT_NE(r->header("X-Echo-Method"), nullptr);
  EXPECT_EQ(*r->header("X-Echo-Method"), "POST");
  ASSERT_NE(r->header("X-Echo-Target"), nullptr);
  EXPECT_EQ(*r->header("X-Echo-Target"), "/v1.41/containers/create?name=a%20b");
  ASSERT_NE(r->header("X-Echo-content-type"), nullptr);
  EXPECT_EQ(*r->header("X-Echo-content-type"), "application/json");

  // A Content-Type given by the caller is kept, and not doubled.
  auto tar = call(engine, "POST", "/containers/create", "tarbytes",
                  {{"content-type", "application/x-tar"}, {"X-Registry-Auth", "e30="}});
  ASSERT_TRUE(tar.ok()) << tar.error().describe();
  ASSERT_NE(tar->header("X-Echo-content-type"), nullptr);
  EXPECT_EQ(*tar->header("X-Echo-content-type"), "application/x-tar");
  int content_types = 0;
  for (const auto& [name, value] : tar->headers) {
    content_types += strcasecmp(name.c_str(), "X-Echo-content-type") == 0;
  }
  EXPECT_EQ(content_types, 1);
  ASSERT_NE(tar->header("X-Echo-x-registry-auth"), nullptr);
  EXPECT_EQ(*tar->header("X-Echo-x-registry-auth"), "e30=");

  // No body: no Content-Type added.
  auto start = call(engine, "POST", "/containers/x/start", "");
  ASSERT_TRUE(start.ok()) << start.error().describe();
  EXPECT_EQ(start->status, 204);
  EXPECT_TRUE(engine.check(std::move(start), "start container", {204, 304}).ok());
}

TEST_F(DockerEngine, ACallToAMissingSocketFailsWithTheFix) {
  std::string sock = path("nobody-listens.sock");
  runners::docker::Engine engine(*http_, sock);
  auto r = call(engine, "GET", "/_ping", "");
  ASSERT_FALSE(r.ok());
  auto checked = engine.check(std::move(r), "ping", {200});
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().code(), Errc::kUnavailable) << checked.error().message();
  EXPECT_TRUE(
      contains(checked.error().message(),
               "ping: cannot reach the container engine at unix://" + sock + ": no such socket"))
      << checked.error().message();
}

TEST_F(DockerEngine, StreamDeliversTheBodyInPieces) {
  std::string sock = path("stream.sock");
  server_.route_chunks("/v1.41/containers/x/logs", {"one ", "two ", "three"},
                       std::chrono::milliseconds(5));
  ASSERT_TRUE(server_.start(sock));
  runners::docker::Engine engine(*http_, sock);
  long status = 0;
  std::string body;
  std::optional<agent::Status> end;
  engine.stream(
      "/containers/x/logs", [&](const Response& head) { status = head.status; },
      [&](std::string_view chunk) { body += chunk; }, [&](agent::Status st) { end = st; });
  ASSERT_TRUE(run_until([&] { return end.has_value(); }));
  EXPECT_TRUE(end->ok()) << end->error().describe();
  EXPECT_EQ(status, 200);
  EXPECT_EQ(body, "one two three");
}

}  // namespace
