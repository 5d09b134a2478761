// Streams of events a client asked for: `watch` (state changes) and `logs`
// (stored lines, then new ones while following). Log lines are always read
// from the stored file on the thread pool, from a per-stream cursor, so a slow
// client only delays itself: when its connection is backlogged the stream
// waits for the drain and resumes from the file.
// Threading: loop thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <uv.h>

#include "agent/server/server.h"
#include "agent/supervisor/supervisor.h"

namespace agent::server {

class Streams {
 public:
  Streams(uv_loop_t* loop, Supervisor& supervisor) : loop_(loop), supervisor_(supervisor) {}
  void set_server(Server* server) { server_ = server; }

  // `exec` null: every execution, never ends.
  void watch(Connection& conn, std::string id_json, Execution* exec);
  bool unwatch(Connection& conn, std::string_view stream_id_json);
  // `run` null: every task run of the execution in order.
  void logs(Connection& conn, std::string id_json, Execution& exec, TaskRun* run,
            uint64_t from, bool follow);

  void on_state(Execution& exec, TaskRun* run);
  void on_log_committed(Execution& exec, TaskRun& run);
  void on_drain(Connection& conn);
  void on_closed(Connection& conn);

  bool has_streams(uint64_t conn) const;
  size_t watch_count() const { return watches_.size(); }
  size_t follower_count() const { return followers_.size(); }

 private:
  struct Watch {
    uint64_t conn;
    std::string id_json;
    std::string exec_id;  // empty: all executions
  };
  struct Follower {
    uint64_t key;
    uint64_t conn;
    std::string id_json;
    Execution* exec;
    std::string only_run;  // a task run id, or empty for all
    size_t run_index = 0;
    uint64_t next_seq = 0;
    uint64_t offset_hint = 0;  // byte offset in the file where next_seq's frame starts
    bool follow = false;
    bool reading = false;
  };

  void advance(uint64_t key);
  void finish(Follower& f, State state);

  uv_loop_t* loop_;
  Supervisor& supervisor_;
  Server* server_ = nullptr;
  std::vector<Watch> watches_;
  std::unordered_map<uint64_t, std::unique_ptr<Follower>> followers_;
  std::unordered_multimap<std::string, uint64_t> followers_by_exec_;
  uint64_t next_key_ = 1;
};

}  // namespace agent::server
