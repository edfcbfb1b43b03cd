#include "context/ingest_pipeline.h"

#include <exception>
#include <utility>

#include "context/chunker.h"
#include "context/redact.h"
#include "context/text.h"

namespace strata::context::detail {

namespace {

std::string join_access(const std::vector<std::string>& access) {
  std::string out = "\n";
  for (const auto& a : access) {
    if (a.empty() || a.find('\n') != std::string::npos) continue;
    out += a;
    out += '\n';
  }
  return out;
}

}  // namespace

PreparedDocument prepare_document(Document doc, std::string hash, bool redact) {
  PreparedDocument p;
  if (redact) {
    p.redacted = redact_secrets(doc.content, &p.redacted_by_kind) + redact_secrets(doc.title, &p.redacted_by_kind);
  }
  p.access = join_access(doc.access);
  if (doc.kind == DocumentKind::kCommit) {
    for (const auto& changed : doc.changed_paths) append_index_terms(changed, p.paths);
  } else {
    p.chunks = chunk_source(doc.content, language_for_path(doc.path));
    p.lines = count_lines(doc.content);
    for (const Chunk& c : p.chunks) p.terms.add_symbol(c.name);
    p.terms.add_path(doc.path);
  }
  p.terms.add_body(doc.content);
  p.doc = std::move(doc);
  p.hash = std::move(hash);
  return p;
}

PipelinedSink::PipelinedSink(PreparedSink& inner, PipelineOptions options)
    : inner_(inner), options_(std::move(options)), redact_(inner.redacts()) {
  if (options_.batch == 0) options_.batch = 1;
  if (options_.max_batches == 0) options_.max_batches = 1;
  pending_.reserve(options_.batch);
  writer_ = std::thread([this] { run(); });
}

PipelinedSink::~PipelinedSink() { (void)finish(); }

bool PipelinedSink::unchanged(std::string_view path, std::string_view hash) {
  deliver_progress();
  flush_no();
  asked_path_.assign(path);
  asked_hash_.assign(hash);
  // Only source files put in this scan can be unchanged (see the class comment). A scan of
  // records has none: no lookup (and no hashing of the path) per record.
  const auto it = file_key_.empty() ? file_key_.end() : file_key_.find(path);
  const bool same = it != file_key_.end() && it->second == hash;
  if (same) {
    Op op;
    op.kind = OpKind::kUnchanged;
    op.path.assign(path);
    op.hash.assign(hash);
    op.expected = true;
    push(std::move(op));
  } else {
    // Usually the put of this path comes next and makes the question moot (a "no" only
    // marks the path seen, which the put does too): held back until the next call, in
    // no_'s own strings (their buffers are reused from one record to the next).
    no_.kind = OpKind::kUnchanged;
    no_.path.assign(path);
    no_.hash.assign(hash);
    no_.expected = false;
    has_no_ = true;
  }
  return same;
}

void PipelinedSink::flush_no() {
  if (!has_no_) return;
  has_no_ = false;
  push(std::move(no_));
}

bool PipelinedSink::unchanged_stamp(std::string_view path, const FileStamp& stamp) {
  deliver_progress();
  flush_no();
  // A path not put in this scan is unknown to `inner`: false, without side effects.
  if (!file_key_.contains(path)) return false;
  bool answer = false;
  std::string p(path);
  call_sync([&] { answer = inner_.unchanged_stamp(p, stamp); });
  return answer;
}

void PipelinedSink::record_stamp(std::string_view path, const FileStamp& stamp) {
  flush_no();
  if (!file_key_.contains(path)) return;  // unknown to `inner`: a no-op there
  Op op;
  op.kind = OpKind::kRecordStamp;
  op.path.assign(path);
  op.stamp = stamp;
  push(std::move(op));
}

void PipelinedSink::note_read(std::string_view path) {
  flush_no();
  Op op;
  op.kind = OpKind::kNoteRead;
  op.path.assign(path);
  push(std::move(op));
}

Status PipelinedSink::put(Document document) {
  deliver_progress();
  if (failed_.load(std::memory_order_acquire)) return error();
  if (document.path.empty()) return invalid_argument_error("document without a path");
  if (has_no_ && no_.path == document.path) {
    has_no_ = false;
  } else {
    flush_no();
  }
  // The key unchanged() was last asked about for this path, else the hash of the bytes as
  // read: what IndexSink::put() stores.
  std::string hash = asked_path_ == document.path ? std::move(asked_hash_) : content_hash(document.content);
  asked_path_.clear();
  if (document.kind == DocumentKind::kFile) {
    file_key_.insert_or_assign(document.path, hash);
  } else if (!file_key_.empty()) {
    file_key_.erase(document.path);  // a record replacing a file of this scan
  }
  Op op;
  op.kind = OpKind::kPut;
  // The thread with less to do prepares: this one while the writer is busy (a connector
  // that parses faster than SQLite inserts), else the writer, which is waiting for work (a
  // connector that parses slowly, as JSON-heavy API responses do).
  const std::size_t bytes = document.content.size();
  if (!writer_idle_.load(std::memory_order_relaxed)) {
    op.prepared = prepare_document(std::move(document), std::move(hash), redact_);
    op.ready = true;
  } else {
    op.prepared.doc = std::move(document);
    op.prepared.hash = std::move(hash);
  }
  push(std::move(op), bytes);
  return ok_status();
}

Status PipelinedSink::remove(std::string_view path) {
  deliver_progress();
  if (failed_.load(std::memory_order_acquire)) return error();
  flush_no();
  if (const auto it = file_key_.find(path); it != file_key_.end()) file_key_.erase(it);
  Op op;
  op.kind = OpKind::kRemove;
  op.path.assign(path);
  push(std::move(op));
  return ok_status();
}

void PipelinedSink::skipped(std::string_view path, SkipReason reason, std::string_view detail) {
  flush_no();
  Op op;
  op.kind = OpKind::kSkipped;
  op.path.assign(path);
  op.reason = reason;
  op.detail.assign(detail);
  push(std::move(op));
}

bool PipelinedSink::cancelled() const {
  deliver_progress();
  return options_.cancelled && options_.cancelled();
}

Status PipelinedSink::finish() {
  if (finished_) return final_;
  flush_no();
  hand_over();
  finished_ = true;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  ready_.notify_all();
  if (writer_.joinable()) writer_.join();
  deliver_progress();
  final_ = error();
  return final_;
}

void PipelinedSink::post_progress(const IngestProgress& progress) {
  std::lock_guard lock(mu_);
  progress_ = progress;
  progress_posted_.store(true, std::memory_order_release);
}

void PipelinedSink::deliver_progress() const {
  if (!options_.progress || !progress_posted_.load(std::memory_order_acquire)) return;
  IngestProgress p;
  {
    std::lock_guard lock(mu_);
    p = std::move(progress_);
    progress_posted_.store(false, std::memory_order_relaxed);
  }
  options_.progress(p);
}

void PipelinedSink::push(Op op, std::size_t bytes) {
  if (finished_) return;
  pending_.push_back(std::move(op));
  pending_bytes_ += bytes;
  if (pending_.size() >= options_.batch || pending_bytes_ >= options_.batch_bytes) hand_over();
}

void PipelinedSink::hand_over() {
  if (pending_.empty()) return;
  Batch batch;
  batch.reserve(options_.batch);
  batch.swap(pending_);
  pending_bytes_ = 0;
  std::vector<Batch> applied;
  {
    std::unique_lock lock(mu_);
    // After a failure the writer discards whatever arrives; never wait on it then.
    auto room = [&] { return queue_.size() < options_.max_batches || !error_.ok(); };
    if (!room()) {
      ++room_waits_;
      room_.wait(lock, room);
    }
    queue_.push_back(std::move(batch));
    applied.swap(applied_);
  }
  ready_.notify_one();
  applied.clear();  // freed here, outside the lock
}

void PipelinedSink::call_sync(std::function<void()> fn) {
  if (finished_) return;  // no writer any more (a call after finish() is a caller's error)
  bool done = false;
  Op op;
  op.kind = OpKind::kCall;
  op.call = [&, fn = std::move(fn)] {
    auto set_done = [&] {
      std::lock_guard lock(mu_);
      done = true;
    };
    try {
      fn();
    } catch (...) {
      set_done();  // the connector's thread must not wait forever
      throw;
    }
    set_done();
  };
  pending_.push_back(std::move(op));
  hand_over();
  std::unique_lock lock(mu_);
  // A writer that failed still runs calls (it only drops writes), so `done` comes.
  room_.wait(lock, [&] { return done; });
}

void PipelinedSink::run() {
  while (true) {
    Batch batch;
    bool wake = false;
    {
      std::unique_lock lock(mu_);
      if (queue_.empty() && !closed_) {
        writer_idle_.store(true, std::memory_order_relaxed);
        ready_.wait(lock, [&] { return !queue_.empty() || closed_; });
        writer_idle_.store(false, std::memory_order_relaxed);
      }
      if (queue_.empty()) return;  // closed and drained
      batch = std::move(queue_.front());
      queue_.pop_front();
      // A connector waiting for room is woken once the queue is down to half, not for every
      // batch: it then hands over several batches per wake-up (a wake-up costs tens of
      // microseconds on a virtual machine; one per batch was about 5 % of its time).
      wake = queue_.size() <= options_.max_batches / 2;
    }
    if (wake) room_.notify_all();
    for (Op& op : batch) {
      const bool failed = failed_.load(std::memory_order_relaxed);
      if (failed && op.kind != OpKind::kCall) continue;
      try {
        apply(op);
      } catch (const std::exception& e) {
        fail(internal_error(std::string("ingest writer threw: ") + e.what()));
      } catch (...) {
        fail(internal_error("ingest writer threw"));
      }
      if (op.kind == OpKind::kCall) room_.notify_all();
    }
    std::lock_guard lock(mu_);
    applied_.push_back(std::move(batch));
  }
}

void PipelinedSink::apply(Op& op) {
  switch (op.kind) {
    case OpKind::kPut: {
      if (!op.ready) {
        op.prepared = prepare_document(std::move(op.prepared.doc), std::move(op.prepared.hash), redact_);
      }
      Status s = inner_.put_prepared(op.prepared);
      if (!s.ok()) fail(std::move(s));
      return;
    }
    case OpKind::kRemove: {
      Status s = inner_.remove(op.path);
      if (!s.ok()) fail(std::move(s));
      return;
    }
    case OpKind::kUnchanged:
      if (inner_.unchanged(op.path, op.hash) != op.expected) {
        fail(internal_error("pipelined ingest: unchanged() answered differently for " + op.path));
      }
      return;
    case OpKind::kRecordStamp:
      inner_.record_stamp(op.path, op.stamp);
      return;
    case OpKind::kNoteRead:
      inner_.note_read(op.path);
      return;
    case OpKind::kSkipped:
      inner_.skipped(op.path, op.reason, op.detail);
      return;
    case OpKind::kCall:
      op.call();
      return;
  }
}

void PipelinedSink::fail(Status s) {
  {
    std::lock_guard lock(mu_);
    if (error_.ok()) error_ = std::move(s);
  }
  failed_.store(true, std::memory_order_release);
  room_.notify_all();
}

Status PipelinedSink::error() const {
  std::lock_guard lock(mu_);
  return error_;
}

}  // namespace strata::context::detail
