// Pipelined ingest (docs/architecture.md, "Context Engine ingest threads"): during a
// connector's first ingest the connector parses, hashes, redacts, chunks and prepares each
// document's index terms on the ingesting thread, while a writer thread applies the prepared
// documents to SQLite, through a bounded queue. Private to src/context.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <strata/context/connector.h>
#include <strata/context/engine.h>
#include <strata/status.h>

#include "context/text.h"

namespace strata::context::detail {

// A document with everything computed that needs no database: what the writer binds.
struct PreparedDocument {
  Document doc;             // redacted
  std::string hash;         // the key unchanged() was asked about, else content_hash() as read
  std::string access;       // doc.access '\n'-joined, with a leading and a trailing '\n'
  std::vector<Chunk> chunks;  // files: chunk_source() of the content
  int lines = 0;              // files: count_lines() of the content
  FileTerms terms;            // files: all three; commits: body (of the message) only
  std::string paths;          // commits: of the changed paths
  std::size_t redacted = 0;   // secrets redacted from content and title
  std::map<std::string, std::size_t> redacted_by_kind{};
};

// Prepares `doc` (its key or hash `hash`): redaction when `redact`, the access list,
// chunking and the index terms. Uses no shared state: callable on any thread.
PreparedDocument prepare_document(Document doc, std::string hash, bool redact);

// The writer side: an IngestSink that also takes a prepared document.
class PreparedSink : public IngestSink {
 public:
  // The put() of a document, prepared by prepare_document(.., redacts()). The caller keeps
  // `document` (the pipeline frees it on the connector's thread, where it was allocated).
  virtual Status put_prepared(const PreparedDocument& document) = 0;
  // Whether this sink's documents are redacted (the argument for prepare_document).
  [[nodiscard]] virtual bool redacts() const = 0;
  // Where progress goes from now on (the writer thread posts it to the pipeline).
  virtual void set_progress(ProgressCallback progress) = 0;
};

struct PipelineOptions {
  // Operations handed to the writer at once. Default: 128.
  std::size_t batch = 128;
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
// `inner` on a writer thread it starts. Each document is prepared (prepare_document) on the
// connector's thread while the writer is busy, else (the writer waits for work) on the
// writer's. Applied batches come back to the connector's thread to be freed there: memory is
// freed by the thread that allocated it (no contention on the allocator's locks).
//
// Valid only for a connector's first ingest into `inner` (it held no rows of the connector
// when the scan began): `inner` then answers unchanged() "yes" only for a source file
// (DocumentKind::kFile) put earlier in the scan with the same key, and knows stamps only of
// such files. This sink answers those questions itself from the keys of the files put so far,
// without waiting for the writer; the writer asks `inner` again and fails the ingest when the
// answers differ. A "no" directly followed by the put of that path is not forwarded (the put
// marks the path seen, as the question would). unchanged_stamp() of a file put in this scan
// waits for the writer.
//
// Errors: the first error of an operation on the writer is sticky: later operations are
// dropped, put()/remove() return it from then on (the connector stops) and finish() returns
// it; the caller then rolls back. An exception from `inner` becomes kInternal.
//
// Thread safety: the IngestSink methods and finish() are called from one thread (the
// connector's); `inner` is used only by the writer thread until finish() returns, then
// again by the caller. post_progress() is for `inner` on the writer thread.
class PipelinedSink final : public IngestSink {
 public:
  // Throws std::system_error when no thread can be started.
  PipelinedSink(PreparedSink& inner, PipelineOptions options);
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
  void post_progress(const IngestProgress& progress);

  // How many times the connector's thread waited for room in the queue: once the queue is
  // full, the writer wakes it when the queue is down to half (max_batches / 2), so each wait
  // is followed by several hand-overs.
  [[nodiscard]] std::size_t waits_for_room() const noexcept { return room_waits_; }

 private:
  enum class OpKind { kPut, kRemove, kUnchanged, kRecordStamp, kNoteRead, kSkipped, kCall };
  struct Op {
    OpKind kind = OpKind::kPut;
    PreparedDocument prepared{};  // kPut: prepared when `ready`, else only doc and hash set
    bool ready = false;
    std::string path{};           // all but kPut and kCall
    std::string hash{};           // kUnchanged
    std::string detail{};
    FileStamp stamp{};
    SkipReason reason{};
    bool expected = false;         // kUnchanged: the answer given to the connector
    std::function<void()> call{};  // kCall
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

  PreparedSink& inner_;
  PipelineOptions options_;
  const bool redact_;
  // Connector's thread only.
  std::unordered_map<std::string, std::string, StringHash, std::equal_to<>> file_key_;  // file path -> key put
  Batch pending_;
  std::string asked_path_, asked_hash_;  // the last unchanged() question
  Op no_{};              // an unchanged() answered "no", held back (has_no_)
  bool has_no_ = false;
  std::size_t pending_bytes_ = 0;
  std::size_t room_waits_ = 0;
  bool finished_ = false;
  Status final_{};
  // Shared, under mu_.
  mutable std::mutex mu_;
  std::condition_variable ready_;  // writer waits: a batch or closed_
  std::condition_variable room_;   // connector waits: room in the queue, a call done
  std::deque<Batch> queue_;
  std::vector<Batch> applied_;  // batches the writer is done with, freed by the connector
  std::atomic<bool> writer_idle_{false};  // the writer waits for a batch (a hint, no mu_)
  bool closed_ = false;
  Status error_{};
  std::atomic<bool> failed_{false};
  mutable IngestProgress progress_{};
  mutable std::atomic<bool> progress_posted_{false};
  std::thread writer_;
};

}  // namespace strata::context::detail
