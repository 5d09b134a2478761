#include "agent/logstream/log_file.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

namespace agent::logstream {

namespace {

constexpr uint32_t kSkippableMagic = 0x184D2A50;
constexpr uint32_t kIndexPayloadSize = 16;
constexpr size_t kIndexFrameSize = 8 + kIndexPayloadSize;
// A log's compressed output is written once it reaches this size, or at the
// end of the worker's batch, whichever comes first.
constexpr size_t kFlushBytes = 1u << 20;
// Output buffers larger than this are released after a write, so that a
// burst in one log does not pin memory for its lifetime.
constexpr size_t kKeepBufferBytes = 256u << 10;
// Refuse to allocate more than this for one decompressed frame (a corrupt
// header could claim anything).
constexpr uint64_t kMaxFrameContent = 1ull << 30;

void put_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint32_t get_u32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

// Writes all of `data`; returns 0 or an errno value.
int write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
}

// Reads up to `size` bytes at `offset`, stopping early only at end of file.
Result<size_t> pread_full(int fd, void* buf, size_t size, uint64_t offset,
                          const std::string& path) {
  size_t done = 0;
  auto* p = static_cast<char*>(buf);
  while (done < size) {
    ssize_t n = ::pread(fd, p + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno(errno, "reading log file '" + path + "'");
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Error write_error(int err, const std::string& path) {
  Error e = Error::from_errno(err, "writing log file '" + path + "'");
  if (err == ENOSPC) return std::move(e).context("disk full");
  return e;
}

struct DctxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

ZSTD_DCtx* thread_dctx() {
  static thread_local std::unique_ptr<ZSTD_DCtx, DctxDeleter> dctx(ZSTD_createDCtx());
  return dctx.get();
}

// Decompresses one frame into `out`; returns a zstd error name or nullptr.
const char* decompress_frame(const std::string& src, std::string& out) {
  ZSTD_DCtx* dctx = thread_dctx();
  if (dctx == nullptr) return "cannot allocate a zstd decompression context";
  unsigned long long size = ZSTD_getFrameContentSize(src.data(), src.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) return "not a zstd frame";
  if (size != ZSTD_CONTENTSIZE_UNKNOWN) {
    if (size > kMaxFrameContent) return "frame content too large";
    // Each block of a frame takes at least a 3-byte header and yields at
    // most ZSTD_BLOCKSIZE_MAX: a damaged header claiming more is not
    // believed (nor allocated and zeroed, as it was, up to 1 GiB per read).
    if (size > (src.size() / 3) * uint64_t{ZSTD_BLOCKSIZE_MAX}) {
      return "frame content size too large for the frame";
    }
    out.resize(static_cast<size_t>(size));
    size_t n = ZSTD_decompressDCtx(dctx, out.data(), out.size(), src.data(), src.size());
    if (ZSTD_isError(n)) return ZSTD_getErrorName(n);
    if (n != size) return "frame content size mismatch";
    return nullptr;
  }
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
  out.clear();
  ZSTD_inBuffer in{src.data(), src.size(), 0};
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  while (true) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    size_t rc = ZSTD_decompressStream(dctx, &o, &in);
    if (ZSTD_isError(rc)) return ZSTD_getErrorName(rc);
    out.append(buf.data(), o.pos);
    if (out.size() > kMaxFrameContent) return "frame content too large";
    if (rc == 0) return nullptr;  // frame complete
    if (in.pos == in.size && o.pos < o.size) return "truncated frame";
  }
}

class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() { ::close(fd_); }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;

 private:
  int fd_;
};

// Walks the pairs of an existing file and returns the end of the last whole,
// decodable pair: a torn tail left by a crash must be cut before appending,
// or readers would stop at it and never see the new pairs.
Result<uint64_t> valid_end(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::from_errno(errno, "reading log file '" + path + "'");
  FdGuard guard(fd);
  uint64_t offset = 0;
  uint64_t last_pair = 0;
  uint64_t last_size = 0;
  uint64_t next_seq = 0;
  while (size - offset >= kIndexFrameSize) {
    unsigned char header[kIndexFrameSize];
    AGENT_ASSIGN_OR_RETURN(size_t got, pread_full(fd, header, sizeof header, offset, path));
    if (got < sizeof header || get_u32(header) != kSkippableMagic ||
        get_u32(header + 4) != kIndexPayloadSize) {
      break;
    }
    // The writer numbers lines from 0 without a gap: a pair that breaks the
    // run has a damaged index and ends the valid part, as in read_log.
    if (get_u64(header + 8) != next_seq) break;
    uint64_t end = offset + kIndexFrameSize + get_u32(header + 20);
    if (end > size) break;
    last_pair = offset;
    last_size = get_u32(header + 20);
    next_seq += get_u32(header + 16);
    offset = end;
  }
  if (offset == 0) {
    // Nothing whole: cut it only if it starts like a log file (a crash during
    // the first write), never a file of something else.
    unsigned char magic[4];
    put_u32(magic, kSkippableMagic);
    unsigned char head[4];
    size_t want = size < 4 ? static_cast<size_t>(size) : 4;
    AGENT_ASSIGN_OR_RETURN(size_t got, pread_full(fd, head, want, 0, path));
    return got == want && std::memcmp(head, magic, want) == 0 ? 0 : size;
  }
  {
    // The last pair's data may be zeroed blocks from a crash: check it decodes.
    std::string compressed(last_size, '\0');
    std::string plain;
    AGENT_ASSIGN_OR_RETURN(size_t got, pread_full(fd, compressed.data(), compressed.size(),
                                                  last_pair + kIndexFrameSize, path));
    if (got < compressed.size() || decompress_frame(compressed, plain) != nullptr) {
      offset = last_pair;
    }
  }
  return offset;
}

struct Job {
  enum Kind : uint8_t { kOpen, kAppend, kClose, kStop };
  explicit Job(Kind k, uint64_t key = 0, std::string p = {}, ChunkPtr c = nullptr)
      : kind(k), log_key(key), path(std::move(p)), chunk(std::move(c)) {}
  Kind kind;
  uint64_t log_key = 0;
  std::string path;  // kOpen
  ChunkPtr chunk;    // kAppend
};

struct Done {
  enum Kind : uint8_t { kCommitted, kFailed, kClosed, kStopped };
  static Done chunk_done(Kind k, ChunkPtr c, uint64_t stored = 0) {
    Done d{k};
    d.chunk = std::move(c);
    d.stored = stored;
    return d;
  }
  static Done closed(uint64_t key, Status status) {
    Done d{kClosed};
    d.log_key = key;
    d.status = std::move(status);
    return d;
  }
  explicit Done(Kind k) : kind(k) {}
  Kind kind;
  ChunkPtr chunk;        // kCommitted, kFailed
  uint64_t stored = 0;   // kCommitted: bytes written for the chunk
  uint64_t log_key = 0;  // kClosed
  Status status;         // kClosed
};

// Worker-side state of one log.
struct OpenLog {
  std::string path;
  int fd = -1;
  uint64_t size = 0;  // file size after the last successful write
  std::optional<Error> error;
  std::string out;                                       // index + data frames not yet written
  std::vector<std::pair<ChunkPtr, uint64_t>> unwritten;  // chunks in `out`, stored size
  // The filesystem was full (ENOSPC, EDQUOT): `out` is kept and written again
  // later. The agent's back-pressure stops reading task output meanwhile, so
  // nothing is dropped and memory stays bounded.
  bool stalled = false;
  bool close_requested = false;  // closed once it is no longer stalled
};

bool is_space_error(int err) { return err == ENOSPC || err == EDQUOT; }

// How often a full filesystem is tried again.
constexpr auto kStalledRetry = std::chrono::milliseconds(250);

}  // namespace

struct LogWriter::Impl {
  Impl(uv_loop_t* l, int lvl, Callbacks cbs) : loop(l), level(lvl), callbacks(std::move(cbs)) {}
  ~Impl();

  // ---- loop thread ----
  void push(Job job);
  static void on_async(uv_async_t* handle) noexcept;
  static void on_async_closed(uv_handle_t* handle) noexcept;
  void drain_done();

  // ---- worker thread ----
  void run();
  void process(Job& job);
  void append(Job& job);
  bool ensure_open(OpenLog& log);
  void flush(OpenLog& log);
  void finish(OpenLog& log, uint64_t key, bool report);
  void post(std::vector<Done>& items);

  uv_loop_t* loop;
  int level;
  Callbacks callbacks;
  uv_async_t async{};
  bool async_open = false;
  bool closing = false;
  std::function<void()> on_done;
  std::thread thread;

  // Loop-thread counters.
  size_t pending = 0;
  bool above = false;
  uint64_t in_total = 0;
  uint64_t stored_total = 0;

  std::mutex jobs_mu;
  std::condition_variable jobs_cv;
  std::vector<Job> jobs;  // guarded by jobs_mu

  std::mutex done_mu;
  std::vector<Done> done;  // guarded by done_mu

  // Worker-only.
  ZSTD_CCtx* cctx = nullptr;
  std::unordered_map<uint64_t, OpenLog> logs;
  std::string scratch;
  std::vector<Done> outbox;
  Status cctx_status;
};

LogWriter::Impl::~Impl() {
  // The async handle's memory is ours: freeing it before its close callback
  // would corrupt the loop. close() must have completed (it also joined the
  // worker).
  AGENT_CHECK(!async_open);
  AGENT_CHECK(!thread.joinable());
}

void LogWriter::Impl::push(Job job) {
  {
    std::lock_guard<std::mutex> lock(jobs_mu);
    jobs.push_back(std::move(job));
  }
  jobs_cv.notify_one();
}

void LogWriter::Impl::on_async(uv_async_t* handle) noexcept {
  static_cast<Impl*>(handle->data)->drain_done();
}

void LogWriter::Impl::on_async_closed(uv_handle_t* handle) noexcept {
  auto* self = static_cast<Impl*>(handle->data);
  self->async_open = false;
  std::function<void()> cb = std::move(self->on_done);
  self->on_done = nullptr;
  if (cb) cb();  // may destroy the writer: nothing after this
}

void LogWriter::Impl::drain_done() {
  std::vector<Done> items;
  {
    std::lock_guard<std::mutex> lock(done_mu);
    items.swap(done);
  }
  bool stopped = false;
  for (Done& item : items) {
    switch (item.kind) {
      case Done::kCommitted:
        pending -= item.chunk->data.size();
        in_total += item.chunk->data.size();
        stored_total += item.stored;
        if (callbacks.committed) callbacks.committed(item.chunk);
        break;
      case Done::kFailed:
        pending -= item.chunk->data.size();
        break;
      case Done::kClosed:
        if (callbacks.closed) callbacks.closed(item.log_key, std::move(item.status));
        break;
      case Done::kStopped:
        stopped = true;
        break;
    }
  }
  if (above && pending < kLowWater) {
    above = false;
    if (callbacks.drained) callbacks.drained();
  }
  if (stopped) {
    // The worker posted kStopped as its last act; joining waits only for it
    // to return from uv_async_send.
    thread.join();
    uv_close(reinterpret_cast<uv_handle_t*>(&async), on_async_closed);
  }
}

void LogWriter::Impl::run() {
  cctx = ZSTD_createCCtx();
  if (cctx == nullptr) {
    cctx_status = Error(Errc::kResourceExhausted, "cannot allocate a zstd compression context");
  } else {
    size_t rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
    if (ZSTD_isError(rc)) {
      cctx_status = Error(Errc::kInvalidArgument,
                          std::string("zstd compression level: ") + ZSTD_getErrorName(rc));
    }
  }
  std::vector<Job> batch;
  bool stop = false;
  bool stalled = false;
  while (!stop) {
    {
      std::unique_lock<std::mutex> lock(jobs_mu);
      if (stalled) {
        jobs_cv.wait_for(lock, kStalledRetry, [this] { return !jobs.empty(); });
      } else {
        jobs_cv.wait(lock, [this] { return !jobs.empty(); });
      }
      batch.swap(jobs);
    }
    for (Job& job : batch) {
      if (job.kind == Job::kStop) {
        stop = true;
        continue;
      }
      process(job);
    }
    batch.clear();
    stalled = false;
    for (auto it = logs.begin(); it != logs.end();) {
      OpenLog& log = it->second;
      flush(log);
      if (log.close_requested && !log.stalled) {
        finish(log, it->first, true);
        it = logs.erase(it);
        continue;
      }
      stalled = stalled || log.stalled;
      ++it;
    }
    post(outbox);
  }
  // Logs never closed by close_log: write what is left, close without a report
  // (one whose close waited for room reports it).
  for (auto& [key, log] : logs) finish(log, key, log.close_requested);
  logs.clear();
  ZSTD_freeCCtx(cctx);
  cctx = nullptr;
  outbox.push_back(Done(Done::kStopped));
  post(outbox);
}

void LogWriter::Impl::post(std::vector<Done>& items) {
  if (items.empty()) return;
  {
    std::lock_guard<std::mutex> lock(done_mu);
    if (done.empty()) {
      done.swap(items);
    } else {
      for (Done& item : items) done.push_back(std::move(item));
    }
  }
  items.clear();
  uv_async_send(&async);
}

void LogWriter::Impl::process(Job& job) {
  switch (job.kind) {
    case Job::kOpen: {
      auto [it, inserted] = logs.try_emplace(job.log_key);
      if (inserted || it->second.fd < 0) it->second.path = std::move(job.path);
      break;
    }
    case Job::kAppend:
      append(job);
      break;
    case Job::kClose: {
      auto it = logs.find(job.log_key);
      if (it == logs.end()) {
        outbox.push_back(
            Done::closed(job.log_key, Error(Errc::kNotFound, "close of a log that is not open")));
        break;
      }
      flush(it->second);
      if (it->second.stalled) {
        // A log waiting for room is closed once written: its task's end waits.
        it->second.close_requested = true;
        break;
      }
      finish(it->second, job.log_key, true);
      logs.erase(it);
      break;
    }
    case Job::kStop:
      break;
  }
}

bool LogWriter::Impl::ensure_open(OpenLog& log) {
  if (log.fd >= 0) return true;
  int fd = ::open(log.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    if (is_space_error(errno)) {
      log.stalled = true;
      return false;
    }
    log.error = Error::from_errno(errno, "opening log file '" + log.path + "'");
    return false;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    log.error = Error::from_errno(errno, "opening log file '" + log.path + "'");
    ::close(fd);
    return false;
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > 0) {
    Result<uint64_t> end = valid_end(log.path, size);
    if (end.ok() && *end < size && ::ftruncate(fd, static_cast<off_t>(*end)) == 0) size = *end;
    // A file that cannot be checked is appended to as it is: losing new
    // lines would be worse than a reader stopping early.
  }
  log.fd = fd;
  log.size = size;
  return true;
}

void LogWriter::Impl::append(Job& job) {
  auto it = logs.find(job.chunk->log_key);
  if (it == logs.end()) {
    outbox.push_back(Done::chunk_done(Done::kFailed, std::move(job.chunk)));
    return;
  }
  OpenLog& log = it->second;
  const Chunk& chunk = *job.chunk;
  if (!log.error && !cctx_status.ok()) log.error = cctx_status.error();
  if (!log.error && chunk.data.size() > UINT32_MAX) {
    log.error = Error(Errc::kInvalidArgument, "log chunk larger than 4 GiB");
  }
  if (log.error) {
    outbox.push_back(Done::chunk_done(Done::kFailed, std::move(job.chunk)));
    return;
  }
  size_t bound = ZSTD_compressBound(chunk.data.size());
  if (scratch.size() < bound) scratch.resize(bound);
  size_t n =
      ZSTD_compress2(cctx, scratch.data(), scratch.size(), chunk.data.data(), chunk.data.size());
  if (ZSTD_isError(n) || n > UINT32_MAX) {
    log.error = Error(Errc::kInternal,
                      "compressing log chunk for '" + log.path + "': " + ZSTD_getErrorName(n));
    outbox.push_back(Done::chunk_done(Done::kFailed, std::move(job.chunk)));
    return;
  }
  unsigned char header[kIndexFrameSize];
  put_u32(header, kSkippableMagic);
  put_u32(header + 4, kIndexPayloadSize);
  put_u64(header + 8, chunk.first_seq);
  put_u32(header + 16, chunk.line_count);
  put_u32(header + 20, static_cast<uint32_t>(n));
  log.out.append(reinterpret_cast<const char*>(header), sizeof header);
  log.out.append(scratch.data(), n);
  log.unwritten.emplace_back(std::move(job.chunk), kIndexFrameSize + n);
  if (log.out.size() >= kFlushBytes && !log.stalled) flush(log);
}

void LogWriter::Impl::flush(OpenLog& log) {
  if (log.unwritten.empty()) return;
  if (!ensure_open(log)) {
    if (log.stalled) return;  // tried again later
    for (auto& [chunk, stored] : log.unwritten) {
      outbox.push_back(Done::chunk_done(Done::kFailed, std::move(chunk)));
    }
    log.unwritten.clear();
    log.out.clear();
    post(outbox);
    return;
  }
  int err = write_all(log.fd, log.out.data(), log.out.size());
  // Drop a partial pair so the file stays a clean prefix (best effort; a
  // reader ignores a torn tail anyway).
  if (err != 0 && ::ftruncate(log.fd, static_cast<off_t>(log.size)) != 0) {
    // Nothing more to do: the error is reported below.
  }
  if (err != 0 && is_space_error(err)) {
    log.stalled = true;  // kept, written again once there is room
    return;
  }
  log.stalled = false;
  if (err == 0) {
    log.size += log.out.size();
    for (auto& [chunk, stored] : log.unwritten) {
      outbox.push_back(Done::chunk_done(Done::kCommitted, std::move(chunk), stored));
    }
  } else {
    log.error = write_error(err, log.path);  // later chunks of this log are dropped
    for (auto& [chunk, stored] : log.unwritten) {
      outbox.push_back(Done::chunk_done(Done::kFailed, std::move(chunk)));
    }
  }
  log.unwritten.clear();
  log.out.clear();
  if (log.out.capacity() > kKeepBufferBytes) std::string().swap(log.out);
  post(outbox);  // report progress as it happens, not at the end of a long batch
}

void LogWriter::Impl::finish(OpenLog& log, uint64_t key, bool report) {
  flush(log);
  if (log.stalled) {  // only at stop: the filesystem is still full
    // The agent stops while the filesystem is still full: the rest is lost.
    log.error = write_error(ENOSPC, log.path);
    for (auto& [chunk, stored] : log.unwritten) {
      outbox.push_back(Done::chunk_done(Done::kFailed, std::move(chunk)));
    }
    log.unwritten.clear();
    log.out.clear();
  }
  if (log.fd >= 0) {
    // No fdatasync: a log is as durable as the state database that points at
    // it (WAL, synchronous=NORMAL), which survives the agent's death but may
    // lose its last commits to a power loss. A sync per task was one disk
    // flush per task on the log thread, which set the agent's dispatch rate.
    if (::close(log.fd) != 0 && !log.error) {
      log.error = write_error(errno, log.path);
    }
    log.fd = -1;
  }
  if (report) {
    Status status = log.error ? Status(std::move(*log.error)) : Status::ok_status();
    outbox.push_back(Done::closed(key, std::move(status)));
  }
}

// ---- LogWriter ----

LogWriter::LogWriter(uv_loop_t* loop, int level, Callbacks callbacks)
    : impl_(std::make_unique<Impl>(loop, level, std::move(callbacks))) {}

LogWriter::~LogWriter() = default;

Status LogWriter::start() {
  Impl& impl = *impl_;
  if (impl.async_open || impl.thread.joinable()) {
    return Error(Errc::kInternal, "log writer already started");
  }
  int rc = uv_async_init(impl.loop, &impl.async, Impl::on_async);
  if (rc != 0) return Error::from_uv(rc, "starting the log writer");
  impl.async.data = &impl;
  impl.async_open = true;
  impl.thread = std::thread([&impl] {
    pthread_setname_np(pthread_self(), "runnerd-log");  // for top -H, perf, /proc
    impl.run();
  });
  return Status::ok_status();
}

void LogWriter::open_log(uint64_t log_key, std::string path) {
  if (impl_->closing) return;
  impl_->push(Job(Job::kOpen, log_key, std::move(path)));
}

void LogWriter::append(ChunkPtr chunk) {
  Impl& impl = *impl_;
  if (impl.closing || chunk == nullptr) return;
  impl.pending += chunk->data.size();
  if (impl.pending > kHighWater) impl.above = true;
  uint64_t key = chunk->log_key;
  impl.push(Job(Job::kAppend, key, {}, std::move(chunk)));
}

void LogWriter::close_log(uint64_t log_key) {
  if (impl_->closing) return;
  impl_->push(Job(Job::kClose, log_key));
}

size_t LogWriter::pending_bytes() const { return impl_->pending; }
bool LogWriter::above_high_water() const { return impl_->pending > kHighWater; }
uint64_t LogWriter::bytes_in() const { return impl_->in_total; }
uint64_t LogWriter::bytes_stored() const { return impl_->stored_total; }

void LogWriter::close(std::function<void()> done) {
  Impl& impl = *impl_;
  if (impl.closing) return;
  impl.closing = true;
  if (!impl.async_open) {  // never started: nothing runs, nothing to wait for
    if (done) done();
    return;
  }
  impl.on_done = std::move(done);
  impl.push(Job(Job::kStop));
}

// ---- reading ----

Result<ReadResult> read_log(const std::string& path, uint64_t from_seq, size_t max_bytes,
                            uint64_t offset_hint) {
  ReadResult result;
  result.next_seq = from_seq;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      result.at_end = true;
      return result;
    }
    return Error::from_errno(errno, "opening log file '" + path + "'");
  }
  FdGuard guard(fd);
  // Frames appended after this are for the next call: a reader never waits
  // for, nor allocates for, bytes that are not there yet.
  struct stat st;
  if (::fstat(fd, &st) != 0) return Error::from_errno(errno, "reading log file '" + path + "'");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (offset_hint > file_size) offset_hint = 0;  // not this file's hint: rescan
  uint64_t offset = offset_hint;
  size_t total = 0;
  bool full = false;
  std::string compressed;
  std::string plain;
  std::optional<uint64_t> expected_seq;  // of the next pair, once known
  while (!full) {
    const uint64_t pair_offset = offset;
    result.next_offset = pair_offset;
    unsigned char header[kIndexFrameSize];
    size_t got = 0;
    if (file_size - offset >= sizeof header) {
      AGENT_ASSIGN_OR_RETURN(got, pread_full(fd, header, sizeof header, offset, path));
    }
    bool valid = got == sizeof header && get_u32(header) == kSkippableMagic &&
                 get_u32(header + 4) == kIndexPayloadSize;
    if (offset_hint != 0 && pair_offset == offset_hint && got == sizeof header &&
        (!valid || get_u64(header + 8) > from_seq)) {
      // The hint must name a pair boundary at or before from_seq. One that
      // does not (another file, or a bug) costs a rescan, never a wrong answer.
      offset = 0;
      offset_hint = 0;
      continue;
    }
    if (!valid) {
      result.at_end = true;  // end of file, or a torn index frame
      break;
    }
    uint64_t first_seq = get_u64(header + 8);
    uint32_t line_count = get_u32(header + 16);
    uint32_t frame_size = get_u32(header + 20);
    // Lines are numbered from 0 without a gap (see valid_end): a pair that
    // breaks the run has a damaged index and ends the log like a torn tail.
    // A hinted start is checked against from_seq above instead.
    if (pair_offset == 0) expected_seq = 0;
    if (expected_seq && first_seq != *expected_seq) {
      result.at_end = true;
      break;
    }
    expected_seq = first_seq + line_count;
    uint64_t frame_offset = offset + sizeof header;
    offset = frame_offset + frame_size;
    if (offset > file_size) {
      result.at_end = true;  // torn data frame
      break;
    }
    if (first_seq + line_count <= from_seq) continue;  // skipped unread
    compressed.resize(frame_size);
    AGENT_ASSIGN_OR_RETURN(got, pread_full(fd, compressed.data(), frame_size, frame_offset, path));
    if (got < frame_size) {
      result.at_end = true;  // the file shrank under us: as torn
      break;
    }
    if (const char* why = decompress_frame(compressed, plain)) {
      // A frame that ends the file may be a crash's leftovers (e.g. zeroed
      // blocks): treat it as a torn tail. Anywhere else it is corruption.
      if (offset == file_size) {
        result.at_end = true;
        break;
      }
      return Error(Errc::kInternal, "log file '" + path + "': corrupt frame at offset " +
                                        std::to_string(frame_offset) + ": " + why);
    }
    uint32_t parsed = 0;
    bool ok = parse_records(plain, first_seq, [&](const Line& line) {
      parsed++;
      if (full || line.seq < from_seq) return;
      if (!result.lines.empty() && total + line.text.size() > max_bytes) {
        full = true;  // next_offset stays at this pair: it holds next_seq
        return;
      }
      total += line.text.size();
      result.lines.push_back(line);
      result.next_seq = line.seq + 1;
    });
    if (!ok || parsed != line_count) {
      return Error(Errc::kInternal, "log file '" + path +
                                        "': malformed records in frame at offset " +
                                        std::to_string(frame_offset));
    }
  }
  return result;
}

namespace {

struct PairHeader {
  uint64_t offset = 0;  // of the index frame
  uint64_t first_seq = 0;
  uint32_t line_count = 0;
  uint32_t frame_size = 0;
};

// The whole pairs of a file, in order; stops at a torn or foreign tail.
Result<std::vector<PairHeader>> list_pairs(int fd, const std::string& path, uint64_t size) {
  std::vector<PairHeader> pairs;
  uint64_t offset = 0;
  while (size - offset >= kIndexFrameSize) {
    unsigned char header[kIndexFrameSize];
    AGENT_ASSIGN_OR_RETURN(size_t got, pread_full(fd, header, sizeof header, offset, path));
    if (got < sizeof header || get_u32(header) != kSkippableMagic ||
        get_u32(header + 4) != kIndexPayloadSize) {
      break;
    }
    PairHeader p{offset, get_u64(header + 8), get_u32(header + 16), get_u32(header + 20)};
    if (offset + kIndexFrameSize + p.frame_size > size) break;
    pairs.push_back(p);
    offset += kIndexFrameSize + p.frame_size;
  }
  return pairs;
}

}  // namespace

Result<uint64_t> count_lines(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return uint64_t{0};
    return Error::from_errno(errno, "reading log file '" + path + "'");
  }
  FdGuard guard(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return Error::from_errno(errno, "reading log file '" + path + "'");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  AGENT_ASSIGN_OR_RETURN(uint64_t end, valid_end(path, size));
  AGENT_ASSIGN_OR_RETURN(std::vector<PairHeader> pairs, list_pairs(fd, path, end));
  if (pairs.empty()) return uint64_t{0};
  return pairs.back().first_seq + pairs.back().line_count;
}

Result<uint64_t> cut_log(const std::string& path, int64_t before_ms) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return uint64_t{0};
    return Error::from_errno(errno, "opening log file '" + path + "'");
  }
  FdGuard guard(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) return Error::from_errno(errno, "reading log file '" + path + "'");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  AGENT_ASSIGN_OR_RETURN(uint64_t end, valid_end(path, size));
  AGENT_ASSIGN_OR_RETURN(std::vector<PairHeader> pairs, list_pairs(fd, path, end));
  std::string compressed, plain;
  for (const PairHeader& p : pairs) {
    compressed.resize(p.frame_size);
    AGENT_ASSIGN_OR_RETURN(size_t got, pread_full(fd, compressed.data(), p.frame_size,
                                                   p.offset + kIndexFrameSize, path));
    if (got < p.frame_size || decompress_frame(compressed, plain) != nullptr) break;
    // The records of this pair stamped before the cut, as text.
    size_t keep_bytes = 0;
    uint32_t keep_lines = 0;
    bool cut = false;
    std::string_view rest = plain;
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      if (nl == std::string_view::npos) break;
      Line line;
      if (parse_record(rest.substr(0, nl), line) && line.ts_ms >= before_ms) {
        cut = true;
        break;
      }
      keep_bytes += nl + 1;
      keep_lines++;
      rest.remove_prefix(nl + 1);
    }
    if (!cut) continue;
    // Cut at this pair, then store again the lines of it that stay.
    std::string out;
    if (keep_lines > 0) {
      std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
      if (!cctx) return Error(Errc::kResourceExhausted, "cannot allocate a zstd context");
      std::string frame(ZSTD_compressBound(keep_bytes), '\0');
      size_t n = ZSTD_compressCCtx(cctx.get(), frame.data(), frame.size(), plain.data(),
                                   keep_bytes, 1);
      if (ZSTD_isError(n)) return Error(Errc::kInternal, ZSTD_getErrorName(n));
      unsigned char header[kIndexFrameSize];
      put_u32(header, kSkippableMagic);
      put_u32(header + 4, kIndexPayloadSize);
      put_u64(header + 8, p.first_seq);
      put_u32(header + 16, keep_lines);
      put_u32(header + 20, static_cast<uint32_t>(n));
      out.append(reinterpret_cast<const char*>(header), sizeof header);
      out.append(frame.data(), n);
    }
    if (::ftruncate(fd, static_cast<off_t>(p.offset)) != 0 ||
        (!out.empty() && ::pwrite(fd, out.data(), out.size(), static_cast<off_t>(p.offset)) !=
                             static_cast<ssize_t>(out.size())) ||
        ::fdatasync(fd) != 0) {
      return write_error(errno, path);
    }
    return p.first_seq + keep_lines;
  }
  if (end < size && ::ftruncate(fd, static_cast<off_t>(end)) != 0) return write_error(errno, path);
  return pairs.empty() ? 0 : pairs.back().first_seq + pairs.back().line_count;
}

}  // namespace agent::logstream
