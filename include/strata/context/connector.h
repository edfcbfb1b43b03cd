// strata/context/connector.h — the plug-in interface that feeds the Context Engine.
//
// A Connector reads one system of record and reports what changed since its last cursor to an
// IngestSink the engine provides. The engine keeps each connector's cursor in the index, so an
// ingest after a small change touches only what changed.
//
// Thread safety: ContextEngine calls a connector from one thread at a time. IngestSink
// objects are only valid during the scan() call that received them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <strata/context/document.h>
#include <strata/status.h>

namespace strata::context {

enum class SkipReason : std::uint8_t {
  kBinary = 0,      // NUL bytes or mostly non-text
  kTooLarge = 1,    // over the connector's size limit
  kGenerated = 2,   // a generated-file marker or a minified/lock file
  kUnreadable = 3,  // open/read failed (permissions, vanished, ...)
  kSymlink = 4,     // a symlink leaving the tree, dangling, or in a loop
  kLongLines = 5,   // a line longer than the connector's limit (minified, data)
  kMalformed = 6,   // a record that does not parse (truncated JSON, wrong types, bad UTF-8)
  kMissing = 7,     // a file an export names or needs is absent
};
std::string_view to_string(SkipReason reason) noexcept;

// What stat(2) says about a file. A connector over a file system passes it to the sink so a
// re-ingest can skip reading files whose stamp has not changed since the last ingest (as git's
// index does); the content hash stays the truth whenever the stamp cannot be trusted.
struct FileStamp {
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;  // modification time, ns since the epoch
  std::int64_t ctime_ns = 0;  // status change time, ns since the epoch (0 = not compared)
  std::uint64_t inode = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

// Where a connector reports what it found. Implemented by the engine (and by test fakes).
class IngestSink {
 public:
  virtual ~IngestSink() = default;
  // True when the index already holds `path` from this connector with `hash`, the
  // connector's key for the document: content_hash() of its bytes when nothing but the bytes
  // can change (a file in a tree), document_key() when metadata such as the access list can
  // change alone (systems of record). The connector then need not put() it. Either way the
  // path counts as still present for this scan. The engine stores, with the document put()
  // next for the same path, the key asked about here (content_hash() of the content when
  // unchanged() was not asked).
  virtual bool unchanged(std::string_view path, std::string_view hash) = 0;
  // Fast path before reading a file: true when the index holds `path` from this connector
  // with exactly `stamp`, recorded at least 2 s after the stamp's mtime (a stamp recorded
  // sooner is "racy": a same-size rewrite within the file system's timestamp granularity
  // could leave it unchanged, so the file must be read and hashed). When true the path
  // counts as unchanged and the connector need not read it. Default: false (always read).
  virtual bool unchanged_stamp(std::string_view /*path*/, const FileStamp& /*stamp*/) { return false; }
  // Records the stamp of `path`, which the connector just reported with unchanged() (true)
  // or put(); the stamp was taken before the contents were read. Default: ignored.
  virtual void record_stamp(std::string_view /*path*/, const FileStamp& /*stamp*/) {}
  // Counts one file whose contents the connector read (IngestReport::files_read).
  // Default: ignored.
  virtual void note_read(std::string_view /*path*/) {}
  // Adds or replaces the document at document.path. Errors end the scan.
  virtual Status put(Document document) = 0;
  // Removes the document at `path` (no-op when absent).
  virtual Status remove(std::string_view path) = 0;
  // Counts a file the connector chose not to index, with a short reason.
  virtual void skipped(std::string_view path, SkipReason reason, std::string_view detail) = 0;
  // True once the host asked to stop; a connector checks it between documents and returns
  // kCancelled.
  [[nodiscard]] virtual bool cancelled() const = 0;
};

struct ScanResult {
  // The connector's new cursor (opaque to the engine; passed back on the next scan).
  std::string cursor{};
  // The commit the source now reflects ("" when not a git source).
  std::string commit{};
  // True when the scan enumerated every document the source holds (a code tree walk): the
  // engine then removes this connector's documents that were neither put() nor unchanged().
  bool complete = false;
};

class Connector {
 public:
  virtual ~Connector() = default;
  // A stable identifier of this source, e.g. "code" or "git"; documents and cursors are kept
  // per id, so two connectors with the same id share (and replace) each other's documents.
  [[nodiscard]] virtual std::string id() const = 0;
  // Reports to `sink` what changed since `cursor` ("" = first scan). On error the engine
  // rolls the ingest back and keeps the old cursor.
  virtual Result<ScanResult> scan(std::string_view cursor, IngestSink& sink) = 0;
};

}  // namespace strata::context
