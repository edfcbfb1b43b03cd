// strata/context/engine.h — the Context Engine: ingest, retrieve, pack.
//
//   auto engine = ContextEngine::open({.index_path = "ctx.db"}).value();
//   auto code = make_code_tree_connector({.root = "."});
//   engine->ingest(*code);                         // incremental: only what changed
//   auto hits = engine->retrieve({.text = "ccode(sinc(x)) doesn't work"}).value();
//   auto packet = engine->pack({.text = "..."}, {.budget = 8000}).value();
//
// The index is one SQLite file (FTS5 with BM25 and per-field weights; see docs/context.md).
// Everything is deterministic and offline; an Embedder is an optional plug-in.
//
// Thread safety: a ContextEngine may be shared by threads; ingest() calls are serialised
// (one at a time), retrieve() and pack() may run concurrently with each other and with an
// ingest (they see the index as of the last committed ingest). Only one process may open an
// index file at a time (kFailedPrecondition otherwise).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <strata/context/connector.h>
#include <strata/context/document.h>
#include <strata/context/embedder.h>
#include <strata/context/packet.h>
#include <strata/context/tokenizer.h>
#include <strata/status.h>

namespace strata::context {

// What one query served to whom: the audit log's record. Written for every retrieve() (so
// every pack()) and every People query (strata/context/people.h).
struct AuditRecord {
  std::int64_t time = 0;                // seconds since the epoch
  std::string operation{};              // "retrieve", or the People query: "owners_of_path",
                                        // "experts_on", "reviewers_for", "collaboration"
  std::string principal{};              // Principal::id
  std::vector<std::string> groups{};    // Principal::groups
  std::string query{};                  // the task text, path, topic, changed paths ('\n'
                                        // between them) or the two people ("a\nb"); its
                                        // first 1,000 bytes
  std::vector<std::string> served{};    // document paths returned (retrieve) or the people
                                        // returned (People queries), best first
};

struct EngineOptions {
  // The index file. Required; created when missing. A file that is not a strata index (or a
  // damaged one) is refused with kDataLoss and left untouched.
  std::string index_path{};
  // Optional dense-vector rerank. Default: none.
  std::shared_ptr<const Embedder> embedder{};
  // Called after every retrieve() (so every pack()) with what was served to which principal,
  // on the querying thread; it must not throw. Default: none.
  std::function<void(const AuditRecord&)> audit{};
  // When set, every retrieve() also appends its AuditRecord as one JSON line to this file; a
  // line that cannot be written fails the query with kUnavailable and serves nothing (fail
  // closed). Default: "" (no file).
  std::string audit_log_path{};
  // Replace secrets (private keys, API keys and tokens; docs/connectors.md) in documents at
  // ingest with "[REDACTED:<kind>]" and count them in IngestReport. Default: true.
  bool redact_secrets = true;
  // Keep a trigram index of the files' contents so queries can require exact substrings
  // (Query::substrings): code fragments, error messages, partial identifiers. Built from the
  // indexed files when first turned on (one pass over their contents) and kept up to date by
  // every ingest from then on, also when the index is later opened without this option. It
  // adds about the size of the contents again to the index file and slows ingest; see
  // docs/context.md, "Substring search". Default: false.
  bool substring_index = false;
};

// Who a query acts for. Documents whose access list holds neither kEveryone, the principal's
// id nor one of its groups are invisible to the query (filtered before ranking).
struct Principal {
  std::string id{};                   // Default: "" (anonymous: public documents only)
  std::vector<std::string> groups{};  // Default: none
};

struct Query {
  // The task in words (an issue, a stack trace, a question).
  std::string text{};
  // How many files and spans to return. Default: 10 files, 20 spans.
  std::size_t max_files = 10;
  std::size_t max_spans = 20;
  // Who the query acts for. Default: anonymous.
  Principal principal{};
  // Rank test files like any other (normally they are down-weighted unless the task is
  // about tests). Default: false.
  bool include_tests = false;
  // Exact substrings every returned file must contain (ASCII letters compared
  // case-insensitively, every other byte exactly; `%` and `_` are plain characters). Files
  // that contain them are candidates even when no other signal finds them, and spans holding
  // one rank first. At most 16, each 3 to 1,024 bytes of at least 3 characters, no NUL
  // (else kInvalidArgument); needs an index with the substring index
  // (EngineOptions::substring_index), else kFailedPrecondition. Default: none.
  std::vector<std::string> substrings{};
};

// One reason an item was chosen: the signal's name ("bm25", "definition", "path",
// "history", "stack_trace", "co_change", "embedding", "test_penalty", ...), its contribution
// to the score and what matched ("defines `ccode`").
struct Signal {
  std::string name{};
  double score = 0;
  std::string detail{};
};

struct SpanHit {
  std::string path{};
  std::string commit{};
  ChunkKind kind = ChunkKind::kBlock;
  std::string symbol{};
  int start_line = 1;
  int end_line = 1;
  int signature_end_line = 1;
  double score = 0;
  std::vector<Signal> why{};
};

struct FileHit {
  std::string path{};
  std::string commit{};
  double score = 0;
  std::vector<Signal> why{};
  bool test = false;    // a test file
  std::size_t bytes = 0;
};

struct RetrieveResult {
  std::vector<FileHit> files{};   // best first
  std::vector<SpanHit> spans{};   // best first, from the ranked files
  std::string index_commit{};     // the commit the index reflects ("" outside git)
  std::vector<std::string> terms{};  // the query terms the task was turned into (for "why")
};

struct PackOptions {
  // Hard limit on the tokens of the rendering. Default: 8000.
  std::size_t budget = 8000;
  // Measures tokens. Default: estimate_tokenizer() (the packet then says counts are estimates).
  std::shared_ptr<const Tokenizer> tokenizer{};
  PacketFormat format = PacketFormat::kMarkdown;
  // Files considered. Default: 10.
  std::size_t max_files = 10;
};

struct IngestProgress {
  std::string connector{};
  std::size_t seen = 0;       // documents offered (put + unchanged)
  std::size_t written = 0;    // documents added or replaced
  std::size_t removed = 0;
  std::size_t skipped = 0;
  std::string current{};        // the path just processed
};
using ProgressCallback = std::function<void(const IngestProgress&)>;

struct IngestReport {
  std::string connector{};
  std::string previous_cursor{};
  std::string cursor{};
  std::string commit{};
  std::size_t added = 0;
  std::size_t updated = 0;
  std::size_t unchanged = 0;
  std::size_t unchanged_by_stamp = 0;  // of `unchanged`: skipped by their stat stamp, not read
  std::size_t files_read = 0;          // files whose contents the connector read
  std::size_t removed = 0;
  std::size_t chunks = 0;           // chunks of the documents written (a whole-document chunk has no row)
  std::size_t bytes = 0;            // bytes of documents written
  std::map<std::string, std::size_t> skipped{};  // by reason (to_string(SkipReason))
  std::vector<std::string> skipped_examples{};   // up to 20 "path: reason (detail)"
  std::chrono::milliseconds elapsed{0};
  std::size_t redacted = 0;                              // secrets redacted at ingest
  std::map<std::string, std::size_t> redacted_by_kind{};  // "private_key", "github_token", ...
};

struct IngestOptions {
  // Called every ~`progress_every` documents and once at the end; on the ingesting thread.
  ProgressCallback progress{};
  std::size_t progress_every = 500;
  // When it returns true the ingest stops with kCancelled and nothing is committed.
  // Called on the ingesting thread.
  std::function<bool()> cancelled{};
  // A connector's first ingest into this index (no documents of it yet, as in a bulk
  // import) runs on two threads: the connector reads, parses, redacts, chunks and prepares
  // index terms on the ingesting thread while a writer thread inserts into SQLite. Later
  // ingests, and all of them when false, run on the ingesting thread alone. The result is
  // the same either way; callbacks still run on the ingesting thread. Default: true.
  bool pipeline = true;
};

struct IndexStats {
  std::size_t files = 0;
  std::size_t chunks = 0;
  std::size_t commits = 0;
  std::string commit{};
  std::map<std::string, std::string> cursors{};  // connector id -> cursor
};

class ContextEngine {
 public:
  // Opens (or creates) the index at options.index_path.
  // Errors: kInvalidArgument (no path), kDataLoss (not a strata index / damaged; the file is
  // not modified), kFailedPrecondition (another process holds it), kUnavailable (I/O).
  static Result<std::unique_ptr<ContextEngine>> open(EngineOptions options);
  virtual ~ContextEngine() = default;

  // Runs `connector` from its stored cursor and applies what it reports in one transaction.
  // On any error (the connector's, I/O, cancellation) nothing changes, with two exceptions
  // after the commit, whose messages say the documents were committed: the in-memory catalog
  // could not be updated (the next ingest reloads it), or a bulk import's social-graph
  // indexes, built in a second transaction, could not be built (the next ingest builds them).
  virtual Result<IngestReport> ingest(Connector& connector, const IngestOptions& options) = 0;
  Result<IngestReport> ingest(Connector& connector) { return ingest(connector, {}); }

  // Ranks files and spans for a task. kInvalidArgument for an empty task; an index with
  // nothing in it gives an empty result.
  virtual Result<RetrieveResult> retrieve(const Query& query) const = 0;

  // Retrieves for `query` and packs the result into options.budget tokens (never more,
  // measured on the rendering in options.format; a budget too small for anything gives an
  // empty packet that renders as "").
  virtual Result<Packet> pack(const Query& query, const PackOptions& options) const = 0;

  virtual Result<IndexStats> stats() const = 0;
};

}  // namespace strata::context
