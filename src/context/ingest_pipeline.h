// Pipelined ingest (docs/architecture.md, "Context Engine ingest threads"): the connector
// parses on the ingesting thread while a writer thread applies its documents to the index,
// through a bounded queue. Private to src/context.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <strata/context/connector.h>
#include <strata/context/engine.h>
#include <strata/status.h>

namespace strata::context::detail {

// The writer side: an IngestSink that also takes a document with its content_hash()
// already computed (the pipeline hashes on the connector's thread).
class HashedSink : public IngestSink {
 public:
  // put() of `document`, whose content_hash(document.content) is `hash`.
  virtual Status put_hashed(Document document, std::string hash) = 0;
};

struct PipelineOptions {
  // Operations handed to the writer at once. Default: 64.
  std::size_t batch = 64;
  // A batch is handed over early once its documents hold this many content bytes.
  // Default: 1 MiB.
  std::size_t batch_bytes = 1 << 20;
  // Batches queued for the writer before the connector's thread waits. Default: 8.
  std::size_t max_batches = 8;
  // The host's cancel check, called on the connector's thread. Default: none.
  std::function<bool()> cancelled{};
  // The host's progress callback, called on the connector's thread with the latest
  // progress the writer posted (post_progress). Default: none.
  ProgressCallback progress{};
};

// An IngestSink for the connector's thread that forwards everything, in call order, to
// `inner` on a writer thread it starts. Valid only when `inner` holds no documents of the
// connector except those put through this sink (a connector's first ingest): unchanged()
// is then answered here, from the hashes of the documents put so far, without waiting for
// the writer; the writer checks each answer against `inner` (a difference fails the
// ingest), except a "no" directly followed by the put of that path (the put marks the path
// seen as the question would; `inner` cannot say "yes" for a path it never got).
// unchanged_stamp() for a path put in this scan waits for the writer.
//
// Errors: the first error of an operation on the writer is sticky — later operations are
// dropped, put()/remove() return it from then on (the connector stops) and finish()
// returns it; the caller then rolls back. An exception from `inner` becomes kInternal.
//
// Thread safety: the IngestSink methods and finish() are called from one thread (the
// connector's); `inner` is used only by the writer thread until finish() returns, then
// again by the caller. post_progress() is for `inner` on the writer thread.
class PipelinedSink final : public IngestSink {
 public:
  PipelinedSink(HashedSink& inner, PipelineOptions options);
  ~PipelinedSink() override;  // finish()es if the caller did not
  PipelinedSink(const PipelinedSink&) = delete;
  PipelinedSink& operator=(const PipelinedSink&) = delete;

  bool unchanged(std::string_view path, std::string_view hash) override;
  bool unchanged_stamp(std::string_view path, const FileStamp& stamp) override;
  void record_stamp(std::string_view path, const FileStamp& stamp) override;
  void note_read(std::string_view path) override;
  Status put(Document document) override;
  Status remove(std::string_view path) override;
  void skipped(std::string_view path, SkipReason reason, std::string_view detail) override;
  [[nodiscard]] bool cancelled() const override;

  // Hands over what is pending, waits until the writer applied everything and stops it.
  // Returns the first write error (OK when none). Idempotent.
  Status finish();

  // For `inner` on the writer thread: progress to be passed to options.progress on the
  // connector's thread at its next call (only the latest is kept).
  void post_progress(IngestProgress progress);

 private:
  enum class OpKind { kPut, kRemove, kUnchanged, kRecordStamp, kNoteRead, kSkipped, kCall };
  struct Op {
    OpKind kind = OpKind::kPut;
    Document doc{};     // kPut
    std::string path{};  // all but kPut and kCall
    std::string hash{};  // kPut, kUnchanged
    std::string detail{};
    FileStamp stamp{};
    SkipReason reason{};
    bool expected = false;                 // kUnchanged: the answer given to the connector
    std::function<void()> call{};          // kCall
  };
  using Batch = std::vector<Op>;

  void push(Op op, std::size_t bytes = 0);
  void flush_no();   // pushes the held-back "no" answer, if any
  void hand_over();  // pending_ -> queue_ (waits while the queue is full)
  void call_sync(std::function<void()> fn);
  void run();        // the writer thread
  void apply(Op& op);
  void fail(Status s);
  [[nodiscard]] Status error() const;
  void deliver_progress() const;

  HashedSink& inner_;
  PipelineOptions options_;
  // Connector's thread only.
  std::unordered_map<std::string, std::string> put_hash_;  // path -> hash put in this scan
  Batch pending_;
  Op no_{};              // an unchanged() answered "no", held back (has_no_)
  bool has_no_ = false;
  std::size_t pending_bytes_ = 0;
  bool finished_ = false;
  Status final_{};
  // Shared, under mu_.
  mutable std::mutex mu_;
  std::condition_variable ready_;  // writer waits: a batch or closed_
  std::condition_variable room_;   // connector waits: room in the queue, a call done
  std::deque<Batch> queue_;
  bool closed_ = false;
  Status error_{};
  std::atomic<bool> failed_{false};
  mutable IngestProgress progress_{};
  mutable std::atomic<bool> progress_posted_{false};
  std::thread writer_;
};

}  // namespace strata::context::detail
