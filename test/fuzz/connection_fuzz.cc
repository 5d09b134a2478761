// The control socket's framing (agent/server/connection.h): newline-delimited
// requests with a bound on a line, read by libuv in whatever pieces the
// socket gives. A real client socket writes the input in random pieces, one
// loop iteration after each, so that reads see partial lines and several
// lines at once. Whatever the pieces, the connection must report exactly what
// a direct split of the bytes gives: each line, in order, as a request, or as
// oversize when longer than the bound (once per line), and a last line
// without '\n' as a request when the client shuts its side down.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "agent/server/connection.h"
#include "test/fuzz/fuzz_util.h"

namespace {

using agent::server::Connection;

struct Recorder final : agent::server::ConnectionHandler {
  std::vector<std::string> events;
  bool closed = false;
  void on_request(Connection&, std::string_view line) override { events.push_back("R" + std::string(line)); }
  void on_oversize(Connection&, size_t) override { events.push_back("O"); }
  void on_drain(Connection&) override {}
  void on_closed(Connection&) override { closed = true; }
  bool has_streams(const Connection&) const override { return false; }
};

struct World {
  uv_loop_t loop{};
  uv_pipe_t listener{};
  std::string path;
  Recorder recorder;
  size_t max_request = 0;
  std::unique_ptr<Connection> conn;
};

World& world() {
  static World* w = [] {
    auto* w = new World;
    char dir[] = "/tmp/runnerd-fuzz-XXXXXX";
    if (mkdtemp(dir) == nullptr || uv_loop_init(&w->loop) != 0) std::abort();
    w->path = std::string(dir) + "/s";
    uv_pipe_init(&w->loop, &w->listener, 0);
    w->listener.data = w;
    if (uv_pipe_bind(&w->listener, w->path.c_str()) != 0) std::abort();
    int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&w->listener), 16, [](uv_stream_t* s, int status) {
      auto* w = static_cast<World*>(s->data);
      if (status != 0) std::abort();
      w->conn = std::make_unique<Connection>(1, w->recorder, w->max_request, 1u << 20);
      if (w->conn->accept(s, agent::server::AccessPolicy{}) != 0) std::abort();
    });
    if (rc != 0) std::abort();
    return w;
  }();
  return *w;
}

std::vector<std::string> reference(std::string_view bytes, size_t max) {
  std::vector<std::string> out;
  while (!bytes.empty()) {
    size_t nl = bytes.find('\n');
    std::string_view line = bytes.substr(0, nl);
    out.push_back(line.size() > max ? "O" : "R" + std::string(line));
    if (nl == std::string_view::npos) break;
    bytes.remove_prefix(nl + 1);
  }
  return out;
}

void send_all(int fd, std::string_view piece) {
  while (!piece.empty()) {
    ssize_t n = ::send(fd, piece.data(), piece.size(), MSG_NOSIGNAL);
    if (n <= 0) std::abort();
    piece.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  fuzz::Input in(data, size);
  w.max_request = 1 + in.byte();
  std::vector<size_t> cuts = in.cuts(16);
  std::string_view bytes = in.rest();
  w.recorder = Recorder{};

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  w.path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) std::abort();
  while (!w.conn) uv_run(&w.loop, UV_RUN_ONCE);

  fuzz::feed_in_pieces(bytes, cuts, [&](std::string_view piece) {
    send_all(fd, piece);
    uv_run(&w.loop, UV_RUN_NOWAIT);
  });
  ::shutdown(fd, SHUT_WR);
  while (!w.recorder.closed) uv_run(&w.loop, UV_RUN_ONCE);
  agent::uv::close(w.conn);
  uv_run(&w.loop, UV_RUN_NOWAIT);
  ::close(fd);

  if (w.recorder.events != reference(bytes, w.max_request)) {
    fuzz::fail("the connection's requests differ from the lines sent");
  }
  return 0;
}
