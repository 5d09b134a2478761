#include "agent/server/streams.h"

#include <algorithm>

#include "agent/logstream/log_file.h"
#include "agent/uv/work.h"
#include "proto/encode.h"

namespace agent::server {

namespace {
constexpr size_t kReadBatchBytes = 1u << 20;  // log text per file read and per event
}

void Streams::watch(Connection& conn, std::string id_json, Execution* exec) {
  if (exec == nullptr) {
    watches_.push_back({conn.id(), std::move(id_json), {}});
    return;
  }
  // Start with where things stand, so a client never misses the end.
  conn.send(proto::state_event_line(id_json, *exec, nullptr));
  for (const auto& run : exec->task_runs) conn.send(proto::state_event_line(id_json, *exec, run.get()));
  if (is_final(exec->state)) {
    conn.send(proto::end_event_line(id_json, exec->state));
    return;
  }
  watches_.push_back({conn.id(), std::move(id_json), exec->id});
}

bool Streams::unwatch(Connection& conn, std::string_view stream_id_json) {
  auto it = std::find_if(watches_.begin(), watches_.end(), [&](const Watch& w) {
    return w.conn == conn.id() && w.id_json == stream_id_json;
  });
  if (it == watches_.end()) return false;
  conn.send("{\"id\":" + it->id_json + ",\"event\":\"end\",\"reason\":\"unwatch\"}\n");
  watches_.erase(it);
  return true;
}

bool Streams::has_streams(uint64_t conn) const {
  for (const Watch& w : watches_) {
    if (w.conn == conn) return true;
  }
  for (const auto& [key, f] : followers_) {
    if (f->conn == conn) return true;
  }
  return false;
}

void Streams::on_state(Execution& exec, TaskRun* run) {
  bool exec_final = run == nullptr && is_final(exec.state);
  std::string line;  // the event with a placeholder id is built per watch
  for (size_t i = 0; i < watches_.size();) {
    Watch& w = watches_[i];
    if (!w.exec_id.empty() && w.exec_id != exec.id) {
      i++;
      continue;
    }
    Connection* conn = server_ != nullptr ? server_->find(w.conn) : nullptr;
    if (conn == nullptr) {
      watches_.erase(watches_.begin() + static_cast<long>(i));
      continue;
    }
    conn->send(proto::state_event_line(w.id_json, exec, run));
    if (exec_final && !w.exec_id.empty()) {
      conn->send(proto::end_event_line(w.id_json, exec.state));
      watches_.erase(watches_.begin() + static_cast<long>(i));
      continue;
    }
    i++;
  }
  auto range = followers_by_exec_.equal_range(exec.id);
  std::vector<uint64_t> keys;
  for (auto it = range.first; it != range.second; ++it) keys.push_back(it->second);
  for (uint64_t k : keys) advance(k);
}

void Streams::on_log_committed(Execution& exec, TaskRun&) {
  auto range = followers_by_exec_.equal_range(exec.id);
  std::vector<uint64_t> keys;
  for (auto it = range.first; it != range.second; ++it) keys.push_back(it->second);
  for (uint64_t k : keys) advance(k);
}

void Streams::on_drain(Connection& conn) {
  std::vector<uint64_t> keys;
  for (auto& [key, f] : followers_) {
    if (f->conn == conn.id()) keys.push_back(key);
  }
  for (uint64_t k : keys) advance(k);
}

void Streams::on_closed(Connection& conn) {
  watches_.erase(std::remove_if(watches_.begin(), watches_.end(),
                                [&](const Watch& w) { return w.conn == conn.id(); }),
                 watches_.end());
  for (auto it = followers_.begin(); it != followers_.end();) {
    if (it->second->conn == conn.id()) {
      Follower& f = *it->second;
      auto range = followers_by_exec_.equal_range(f.exec->id);
      for (auto j = range.first; j != range.second; ++j) {
        if (j->second == f.key) {
          followers_by_exec_.erase(j);
          break;
        }
      }
      it = followers_.erase(it);  // a read in flight finds it gone and drops its result
    } else {
      ++it;
    }
  }
}

void Streams::logs(Connection& conn, std::string id_json, Execution& exec, TaskRun* run,
                   uint64_t from, bool follow) {
  auto f = std::make_unique<Follower>();
  f->key = next_key_++;
  f->conn = conn.id();
  f->id_json = std::move(id_json);
  f->exec = &exec;
  f->follow = follow;
  if (run != nullptr) {
    f->only_run = run->id;
    for (size_t i = 0; i < exec.task_runs.size(); i++) {
      if (exec.task_runs[i].get() == run) f->run_index = i;
    }
    f->next_seq = from;
  }
  uint64_t key = f->key;
  followers_by_exec_.emplace(exec.id, key);
  followers_.emplace(key, std::move(f));
  advance(key);
}

void Streams::finish(Follower& f, State state) {
  if (Connection* conn = server_ != nullptr ? server_->find(f.conn) : nullptr) {
    conn->send(proto::end_event_line(f.id_json, state));
  }
  auto range = followers_by_exec_.equal_range(f.exec->id);
  for (auto j = range.first; j != range.second; ++j) {
    if (j->second == f.key) {
      followers_by_exec_.erase(j);
      break;
    }
  }
  followers_.erase(f.key);
}

void Streams::advance(uint64_t key) {
  while (true) {
    auto it = followers_.find(key);
    if (it == followers_.end()) return;
    Follower& f = *it->second;
    if (f.reading) return;
    Connection* conn = server_ != nullptr ? server_->find(f.conn) : nullptr;
    if (conn == nullptr) return;  // on_closed removes it
    if (conn->backlogged()) return;  // on_drain resumes
    Execution& exec = *f.exec;
    if (f.run_index >= exec.task_runs.size()) {
      if (!f.follow || is_final(exec.state)) finish(f, exec.state);
      return;  // a next task run may come: on_state resumes
    }
    TaskRun& run = *exec.task_runs[f.run_index];
    if (f.next_seq < run.committed_lines) {
      f.reading = true;
      struct Read {
        Result<logstream::ReadResult> result = Error(Errc::kInternal, "not read");
      };
      auto read = std::make_shared<Read>();
      std::string path = supervisor_.log_path(run);
      uint64_t from = f.next_seq;
      uint64_t hint = f.offset_hint;
      TaskRun* run_ptr = &run;
      uv::queue_work(
          loop_,
          [read, path, from, hint] {
            read->result = logstream::read_log(path, from, kReadBatchBytes, hint);
          },
          [this, key, read, run_ptr] {
            auto it2 = followers_.find(key);
            if (it2 == followers_.end()) return;
            Follower& f2 = *it2->second;
            f2.reading = false;
            if (!read->result.ok() || read->result->lines.empty()) {
              // Unreadable or missing lines: skip what the file cannot give
              // rather than spin on it.
              f2.next_seq = run_ptr->committed_lines;
            } else {
              logstream::ReadResult& r = *read->result;
              if (Connection* c = server_ != nullptr ? server_->find(f2.conn) : nullptr) {
                c->send(proto::logs_event_line(f2.id_json, *run_ptr, r.lines));
              }
              f2.next_seq = r.next_seq;
              f2.offset_hint = r.next_offset;
            }
            advance(key);
          });
      return;
    }
    bool run_done = is_final(run.state) && !run.log_open;
    if (!run_done && f.follow) return;  // on_log_committed / on_state resumes
    if (!f.only_run.empty()) {
      finish(f, run.state);
      return;
    }
    f.run_index++;
    f.next_seq = 0;
    f.offset_hint = 0;
  }
}

}  // namespace agent::server
