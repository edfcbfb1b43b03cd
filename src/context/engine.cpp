#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <system_error>
#include <thread>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include "context/bm25.h"
#include "context/engine_impl.h"
#include "context/ingest_pipeline.h"
#include "context/people/edges.h"
#include "context/sqlite_util.h"
#include "context/text.h"

namespace strata::context {

Result<std::unique_ptr<ContextEngine>> ContextEngine::open(EngineOptions options) {
  using namespace detail;
  if (options.index_path.empty()) return invalid_argument_error("EngineOptions.index_path is empty");
  auto writer = open_index_db(options.index_path, true);
  if (!writer.ok()) return writer.status();
  // One process per index file (the file exists now).
  const int fd = ::open(options.index_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unavailable_error("cannot open " + options.index_path + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return failed_precondition_error("index " + options.index_path + " is open in another process");
  }
  if (Status s = upgrade_index(writer->get()); !s.ok()) {  // a version 1 index (index.h)
    ::close(fd);
    return s;
  }
  if (Status s = ensure_edges_schema(writer->get()); !s.ok()) {  // the social graph (people.h)
    ::close(fd);
    return s;
  }
  if (options.substring_index) {
    if (Status s = ensure_substring_index(writer->get()); !s.ok()) {
      ::close(fd);
      return s;
    }
  }
  // The writer validated the file (under the lock): the other connections need not.
  auto reader = open_index_db(options.index_path, false, /*validate=*/false);
  if (!reader.ok()) {
    ::close(fd);
    return reader.status();
  }
  if (Status s = register_bm25(reader->get()); !s.ok()) {  // per-principal scoring (bm25.h)
    ::close(fd);
    return s;
  }
  auto catalog = load_catalog(reader->get());
  if (!catalog.ok()) {
    ::close(fd);
    return catalog.status();
  }
  // Checkpoints run on their own thread and connection (EngineImpl::request_checkpoint);
  // without that connection the writer's commits checkpoint as usual.
  DbPtr checkpointer;
  if (auto c = open_index_db(options.index_path, false, /*validate=*/false); c.ok() &&
      exec(writer->get(), "PRAGMA wal_autocheckpoint=0").ok()) {
    checkpointer = std::move(*c);
  }
  return std::unique_ptr<ContextEngine>(new EngineImpl(std::move(options), std::move(*writer), std::move(*reader),
                                                       std::move(checkpointer), fd, std::move(*catalog)));
}

namespace detail {

bool may_read(std::string_view access, const Principal& principal) {
  // `access` is '\n'-joined with a leading and a trailing '\n'.
  auto has = [&](std::string_view who) {
    if (who.empty()) return false;
    for (std::size_t pos = access.find(who); pos != std::string_view::npos; pos = access.find(who, pos + 1)) {
      const std::size_t end = pos + who.size();
      if (pos > 0 && access[pos - 1] == '\n' && end < access.size() && access[end] == '\n') return true;
    }
    return false;
  };
  if (has(kEveryone) || has(principal.id)) return true;
  for (const auto& g : principal.groups) {
    if (has(g)) return true;
  }
  return false;
}

EngineImpl::EngineImpl(EngineOptions options, DbPtr writer, DbPtr reader, DbPtr checkpointer, int lock_fd,
                       std::shared_ptr<const Catalog> catalog)
    : options_(std::move(options)), writer_(std::move(writer)), reader_(std::move(reader)),
      lock_fd_(lock_fd), catalog_(std::move(catalog)),
      substring_index_(detail::has_substring_index(reader_.get())), checkpoint_db_(std::move(checkpointer)) {
  if (checkpoint_db_) {
    try {
      checkpoint_thread_ = std::thread([this] { checkpoint_loop(); });
    } catch (const std::system_error&) {
      (void)exec(writer_.get(), "PRAGMA wal_autocheckpoint=1000");  // no thread: commits checkpoint
      checkpoint_db_.reset();
    }
  }
}

EngineImpl::~EngineImpl() {
  if (checkpoint_thread_.joinable()) {
    {
      std::lock_guard lock(checkpoint_mu_);
      checkpoint_stop_ = true;
    }
    checkpoint_cv_.notify_one();
    checkpoint_thread_.join();
  }
  // The last connection to close checkpoints what is left and removes the log.
  checkpoint_db_.reset();
  reader_.reset();
  writer_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void EngineImpl::request_checkpoint() {
  if (!checkpoint_thread_.joinable()) return;
  {
    std::lock_guard lock(checkpoint_mu_);
    checkpoint_wanted_ = true;
  }
  checkpoint_cv_.notify_one();
}

void EngineImpl::checkpoint_loop() {
  // Background work: below the ingesting and querying threads for the CPU (Linux: a nice
  // value per thread). Failing that only costs priority.
  (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
  std::unique_lock lock(checkpoint_mu_);
  while (true) {
    checkpoint_cv_.wait(lock, [&] { return checkpoint_wanted_ || checkpoint_stop_; });
    if (checkpoint_stop_) return;
    checkpoint_wanted_ = false;
    // PASSIVE: copies what no reader still needs, never waits for one. What it leaves (a
    // reader's older snapshot, SQLITE_BUSY while another connection checkpoints, an I/O
    // error) is tried again a few times, 50 ms apart, then left to the next request (or to
    // the engine's close): nothing is lost, the log only grows meanwhile.
    for (int attempt = 0; attempt < 20 && !checkpoint_stop_; ++attempt) {
      lock.unlock();
      int log = 0, copied = 0;
      const int rc = sqlite3_wal_checkpoint_v2(checkpoint_db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
      lock.lock();
      if (rc == SQLITE_OK && copied >= log) {
        ++checkpoints_;
        break;
      }
      checkpoint_cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return checkpoint_stop_; });
    }
  }
}

namespace {

class IndexSink final : public PreparedSink {
 public:
  IndexSink(sqlite3* db, std::string source, IngestReport& report, const IngestOptions& options,
            bool redact, bool substring_index)
      : db_(db), source_(std::move(source)), report_(report), options_(options),
        progress_(options.progress), redact_(redact), substring_index_(substring_index) {}

  // Whether the index held rows of this connector when the scan began (prepare()).
  [[nodiscard]] bool has_rows() const { return has_rows_; }
  [[nodiscard]] bool redacts() const override { return redact_; }
  void set_progress(ProgressCallback progress) override { progress_ = std::move(progress); }

  Status prepare() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    scan_start_ns_ = static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
    // The connector's rows are looked up one path at a time (lookup()), not loaded whole: a
    // day of new chat on a million-message index reads what it touches. A connector with
    // no rows yet (a first ingest) looks nothing up.
    Stmt any(db_, "SELECT EXISTS(SELECT 1 FROM files WHERE source = ?1) OR"
                  " EXISTS(SELECT 1 FROM commits WHERE source = ?1)");
    if (!any.ok()) return sqlite_error(db_, "read files");
    any.bind(1, source_);
    const int rc = any.step();
    if (rc != SQLITE_ROW) return sqlite_error(db_, "read files");
    has_rows_ = any.int64(0) != 0;
    if (!has_rows_) {
      // A first ingest may be a bulk import: see maybe_bulk(). max(rowid) sizes the edges
      // table without counting it.
      Stmt edges(db_, "SELECT coalesce(max(rowid), 0) FROM edges");
      if (!edges.ok() || edges.step() != SQLITE_ROW) return sqlite_error(db_, "read edges");
      edges_before_ = edges.int64(0);
    }
    return ok_status();
  }

  bool unchanged(std::string_view path, std::string_view hash) override {
    asked_path_.assign(path);  // put() of the same path stores this key
    asked_hash_.assign(hash);
    const Existing* e = lookup(path);
    const bool same = e != nullptr && e->hash == hash;
    see(path);
    if (same) {
      ++report_.unchanged;
      tick(path);
    }
    return same;
  }

  bool unchanged_stamp(std::string_view path, const FileStamp& stamp) override {
    const Existing* e = lookup(path);
    if (e == nullptr || e->commit || e->stamp_seen == 0 || stamp.size < 0) return false;
    // Racy-git rule: a stamp recorded less than kRacyNs after the file's mtime cannot tell a
    // same-size rewrite within the timestamp granularity from no change: hash it instead.
    if (!(e->stamp == stamp) || stamp.mtime_ns > e->stamp_seen - kRacyNs) return false;
    see(path);
    ++report_.unchanged;
    ++report_.unchanged_by_stamp;
    tick(path);
    return true;
  }

  void record_stamp(std::string_view path, const FileStamp& stamp) override {
    Existing* e = lookup(path);
    if (e == nullptr || e->commit) return;
    if (e->stamp == stamp && e->stamp_seen == scan_start_ns_) return;
    Stmt& up = stmt(12, "INSERT OR REPLACE INTO file_stamps(file_id, size, mtime, ctime, ino, seen)"
                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    up.bind(1, e->id).bind(2, stamp.size).bind(3, stamp.mtime_ns).bind(4, stamp.ctime_ns)
        .bind(5, static_cast<std::int64_t>(stamp.inode)).bind(6, scan_start_ns_);
    // A stamp that cannot be written only costs a read next time.
    if (step_done(up, "record stamp").ok()) {
      e->stamp = stamp;
      e->stamp_seen = scan_start_ns_;
    }
  }

  void note_read(std::string_view /*path*/) override { ++report_.files_read; }

  Status put(Document doc) override {
    if (doc.path.empty()) return invalid_argument_error("document without a path");
    // The key unchanged() was asked about for this path (content_hash() or document_key()
    // of the document as read), else the hash of the bytes as read; then redaction.
    std::string hash = asked_path_ == doc.path ? asked_hash_ : content_hash(doc.content);
    return put_prepared(prepare_document(std::move(doc), std::move(hash), redact_));
  }

  Status put_prepared(const PreparedDocument& p) override {
    const Document& doc = p.doc;
    if (doc.path.empty()) return invalid_argument_error("document without a path");
    if (asked_path_ != doc.path) see(doc.path);
    asked_path_.clear();
    const bool existed = lookup(doc.path) != nullptr;
    replaced_ = false;
    report_.redacted += p.redacted;
    for (const auto& [kind, n] : p.redacted_by_kind) report_.redacted_by_kind[kind] += n;
    Status s = doc.kind == DocumentKind::kCommit ? put_commit(p) : put_file(p);
    // A document new to the index has no edges to replace.
    if (s.ok()) s = edges_.replace(source_, doc, p.access, !existed && !replaced_);
    if (!s.ok()) return s;
    report_.bytes += doc.content.size();
    if (++written_ == kBulkAfter) STRATA_RETURN_IF_ERROR(maybe_bulk());
    tick(doc.path);
    return ok_status();
  }

  Status remove(std::string_view path) override {
    STRATA_RETURN_IF_ERROR(flush_files());  // the lookup below reads files
    // A first ingest keeps no record of the records it wrote (see tracked()): ask the index.
    if (lookup(path, /*ask_index=*/!has_rows_) == nullptr) return ok_status();
    auto it = existing_.find(path);
    STRATA_RETURN_IF_ERROR(it->second.commit ? delete_commit(it->second.id) : delete_file(it->second.id));
    STRATA_RETURN_IF_ERROR(edges_.remove(source_, path));
    existing_.erase(it);
    ++report_.removed;
    return ok_status();
  }

  void skipped(std::string_view path, SkipReason reason, std::string_view detail) override {
    ++report_.skipped[std::string(to_string(reason))];
    ++skipped_;
    if (report_.skipped_examples.size() < 20) {
      std::string line = std::string(path) + ": " + std::string(to_string(reason));
      if (!detail.empty()) line += " (" + std::string(detail) + ")";
      report_.skipped_examples.push_back(std::move(line));
    }
  }

  bool cancelled() const override { return options_.cancelled && options_.cancelled(); }

  // Removes what a complete scan did not mention.
  Status remove_unseen() {
    // A first ingest wrote every row of its connector and removed what it was told to.
    if (!has_rows_) return ok_status();
    std::vector<std::string> gone;
    Stmt rows(db_, "SELECT path FROM files WHERE source = ?1"  // UNIQUE(source, path) covers it
                   " UNION ALL SELECT hash FROM commits WHERE source = ?1");
    if (!rows.ok()) return sqlite_error(db_, "read files");
    rows.bind(1, source_);
    int rc;
    while ((rc = rows.step()) == SQLITE_ROW) {
      std::string path = rows.text(0);
      if (!seen_.count(path)) gone.push_back(std::move(path));
    }
    if (rc != SQLITE_DONE) return sqlite_error(db_, "read files");
    rows = Stmt();
    for (const auto& p : gone) STRATA_RETURN_IF_ERROR(remove(p));
    return ok_status();
  }

  // The edge indexes dropped for a bulk import are built (ingest() does it after the
  // documents commit, in a transaction of its own).
  Status finish() {
    STRATA_RETURN_IF_ERROR(flush_files());
    return edges_.end_bulk();
  }
  // Writes the file rows and edges still batched (kFileBatch, EdgeWriter::kBatch): before
  // anything else reads files after the scan, and before the documents commit.
  Status flush() {
    STRATA_RETURN_IF_ERROR(flush_files());
    return edges_.flush();
  }
  // Whether this scan dropped the edge indexes (a bulk import): finish() builds them.
  [[nodiscard]] bool edges_in_bulk() const { return edges_.bulk(); }

  void final_progress() {
    if (progress_) progress_(progress(""));
  }

  // The file rows this scan deleted and inserted (for the catalog update).
  const CatalogDelta& delta() const { return delta_; }

 private:
  // A stamp is trusted only when recorded at least this long after the file's mtime: more
  // than any file system's timestamp granularity (FAT: 2 s) and the kernel's coarse clock.
  static constexpr std::int64_t kRacyNs = 2'000'000'000;

  // A first ingest that has written this many documents is taken for a bulk import: when
  // the edges table held fewer than twice as many rows before it began, its secondary
  // indexes are dropped for the rest of the scan and built again in one sorted pass at the
  // end (EdgeWriter::begin_bulk), which costs less than inserting every edge into three
  // B-trees. A larger table would cost more to re-index than the rest of the scan saves.
  static constexpr std::size_t kBulkAfter = 20'000;

  Status maybe_bulk() {
    if (has_rows_ || edges_before_ > static_cast<std::int64_t>(2 * kBulkAfter)) return ok_status();
    STRATA_RETURN_IF_ERROR(flush_files());  // begin_bulk writes the pending edges
    return edges_.begin_bulk();
  }

  struct Existing {
    std::int64_t id = 0;
    std::string hash;
    bool commit = false;
    FileStamp stamp{};
    std::int64_t stamp_seen = 0;  // CLOCK_REALTIME ns when the stamp was recorded; 0 = none
  };
  // Heterogeneous lookup: find(std::string_view) without building a std::string.
  using PathMap = std::unordered_map<std::string, Existing, StringHash, std::equal_to<>>;
  using PathSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;

  // The connector's row at `path` (a file or a commit), from the cache of rows this scan
  // looked up or wrote, else from the index; null when absent. Errors read as absent (the
  // write that follows reports them).
  // `ask_index`: also when the connector had no rows when the scan began (a first ingest
  // does not cache the records it writes).
  Existing* lookup(std::string_view path, bool ask_index = false) {
    if (auto it = existing_.find(path); it != existing_.end()) return &it->second;
    if ((!has_rows_ && !ask_index) || path == last_miss_) return nullptr;
    // A source file from the covering index files_code_key (its row is not read); a record
    // (kFlagRecord: no entry there) from UNIQUE(source, path) and its row.
    static constexpr const char* kFileLookups[2] = {
        "SELECT f.id, f.hash, coalesce(s.size, -1), s.mtime, s.ctime, s.ino, coalesce(s.seen, 0)"
        " FROM files f INDEXED BY files_code_key LEFT JOIN file_stamps s ON s.file_id = f.id"
        " WHERE f.source = ?1 AND f.path = ?2 AND f.flags & 4 = 0",
        "SELECT f.id, f.hash, coalesce(s.size, -1), s.mtime, s.ctime, s.ino, coalesce(s.seen, 0)"
        " FROM files f LEFT JOIN file_stamps s ON s.file_id = f.id"
        " WHERE f.source = ?1 AND f.path = ?2 AND f.flags & 4 != 0"};
    static_assert(kFlagRecord == 4, "files_code_key's condition and the lookups name the record flag's value");
    for (int i = 0; i < 2; ++i) {
      Stmt& f = stmt(i == 0 ? 14 : 26, kFileLookups[i]);
      if (!f.ok()) continue;
      f.bind(1, source_).bind(2, path);
      if (f.step() == SQLITE_ROW) {
        Existing e{f.int64(0), f.text(1), false};
        e.stamp = {f.int64(2), f.int64(3), f.int64(4), static_cast<std::uint64_t>(f.int64(5))};
        e.stamp_seen = f.int64(6);
        f.reset();
        return &existing_.insert_or_assign(std::string(path), std::move(e)).first->second;
      }
      f.reset();
    }
    Stmt& c = stmt(15, "SELECT id, key_hash FROM commits WHERE source = ?1 AND hash = ?2");
    if (c.ok()) {
      c.bind(1, source_).bind(2, path);
      if (c.step() == SQLITE_ROW) {
        Existing e{c.int64(0), c.text(1), true};
        c.reset();
        return &existing_.insert_or_assign(std::string(path), std::move(e)).first->second;
      }
      c.reset();
    }
    last_miss_.assign(path);  // put() asks again right after unchanged() did
    return nullptr;
  }

  void remember(const std::string& path, Existing e) {
    if (path == last_miss_) last_miss_.clear();
    existing_.insert_or_assign(path, std::move(e));
  }

  // Whether this scan caches the row it writes for `kind` (and the paths it sees). A first
  // ingest (no rows of the connector when it began) caches only source files, whose stamps
  // are recorded after the put: a bulk import of a million records keeps no million-entry
  // maps. A record put twice in it hits UNIQUE(source, path) and replaces its first row
  // (insert_replacing()); remove() asks the index; remove_unseen() has nothing to do.
  bool tracked(DocumentKind kind) const { return has_rows_ || kind == DocumentKind::kFile; }

  void see(std::string_view path) {
    ++seen_count_;
    if (has_rows_) seen_.emplace(path);
  }

  // Runs `insert` (of the row of `path`; `commit`: into commits). When it breaks
  // UNIQUE(source, path) in a first ingest (a record the scan put twice), the earlier row is
  // deleted and `insert` runs again.
  template <typename Insert>
  Status insert_replacing(Insert&& insert, std::string_view path, bool commit) {
    Status st = insert();
    if (st.ok() || has_rows_ || sqlite3_errcode(db_) != SQLITE_CONSTRAINT) return st;
    const Existing* prev = lookup(path, /*ask_index=*/true);
    if (prev == nullptr || prev->commit != commit) return st;
    const std::int64_t id = prev->id;
    existing_.erase(existing_.find(path));
    STRATA_RETURN_IF_ERROR(commit ? delete_commit(id) : delete_file(id));
    --report_.added;
    ++report_.updated;
    replaced_ = true;
    return insert();
  }

  IngestProgress progress(std::string_view current) const {
    IngestProgress p;
    p.connector = source_;
    p.seen = has_rows_ ? seen_.size() : seen_count_;
    p.written = written_;
    p.removed = report_.removed;
    p.skipped = skipped_;
    p.current = std::string(current);
    return p;
  }

  void tick(std::string_view path) {
    if (!progress_) return;
    const std::size_t every = options_.progress_every == 0 ? 1 : options_.progress_every;
    if (++ticks_ % every == 0) progress_(progress(path));
  }

  Status step_done(Stmt& st, std::string_view what) {
    if (!st.ok()) return sqlite_error(db_, what);
    const int rc = st.step();
    st.reset();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return sqlite_error(db_, what);
    return ok_status();
  }

  Stmt& stmt(int slot, const char* sql) {
    auto& s = stmts_[slot];
    if (!s.ok()) s = Stmt(db_, sql);
    return s;
  }

  Status delete_file(std::int64_t id) {
    if (substring_index_) {
      // FTS5 external content: the row's trigrams are removed with its text, read before the
      // row goes.
      STRATA_RETURN_IF_ERROR(step_done(stmt(16, "INSERT INTO files_substr(files_substr, rowid, content)"
                                                " SELECT 'delete', id, content FROM files_text WHERE id = ?1")
                                           .bind(1, id),
                                       "delete file substrings"));
    }
    // files_fts is contentless: its row goes by giving its terms back, re-derived from the
    // file's row and chunk names before they go.
    Stmt& row = stmt(1, "SELECT path, content FROM files WHERE id = ?1");
    if (!row.ok()) return sqlite_error(db_, "read file");
    row.bind(1, id);
    const int found = row.step();
    if (found == SQLITE_ROW) {
      Status derived = derive_file_terms(id, row.text_view(0), row.text_view(1), stmt(20, kChunkNamesSql), terms_);
      row.reset();
      STRATA_RETURN_IF_ERROR(derived);
      Stmt& fts = stmt(21, "INSERT INTO files_fts(files_fts, rowid, path, symbols, body) VALUES('delete', ?1, ?2, ?3, ?4)");
      fts.bind(1, id).bind_terminated_ref(2, terms_.path).bind_terminated_ref(3, terms_.symbols).bind_terminated_ref(4, terms_.body);
      STRATA_RETURN_IF_ERROR(step_done(fts, "delete file terms"));
    } else {
      row.reset();
      if (found != SQLITE_DONE) return sqlite_error(db_, "read file");
    }
    STRATA_RETURN_IF_ERROR(step_done(stmt(0, "DELETE FROM files WHERE id = ?1").bind(1, id), "delete file"));
    delta_.removed_files.push_back(id);
    STRATA_RETURN_IF_ERROR(step_done(stmt(2, "DELETE FROM chunks WHERE file_id = ?1").bind(1, id), "delete chunks"));
    return step_done(stmt(13, "DELETE FROM file_stamps WHERE file_id = ?1").bind(1, id), "delete stamp");
  }

  Status delete_commit(std::int64_t id) {
    STRATA_RETURN_IF_ERROR(step_done(stmt(3, "DELETE FROM commits WHERE id = ?1").bind(1, id), "delete commit"));
    STRATA_RETURN_IF_ERROR(step_done(stmt(4, "DELETE FROM commits_fts WHERE rowid = ?1").bind(1, id), "delete commit terms"));
    return step_done(stmt(5, "DELETE FROM commit_files WHERE commit_id = ?1").bind(1, id), "delete commit files");
  }

  // A first ingest keeps no map of the records it wrote, so a path put as a file and as a
  // commit is looked for in the other table, only once the scan has written both kinds (a
  // chat export or a git history never pays for it).
  Status check_other_kind(std::string_view path, bool commit) {
    if (has_rows_ || !(commit ? wrote_files_ : wrote_commits_)) return ok_status();
    if (commit) STRATA_RETURN_IF_ERROR(flush_files());
    Stmt& q = commit ? stmt(18, "SELECT 1 FROM files WHERE source = ?1 AND path = ?2")
                     : stmt(19, "SELECT 1 FROM commits WHERE source = ?1 AND hash = ?2");
    if (!q.ok()) return sqlite_error(db_, "look up path");
    q.bind(1, source_).bind(2, path);
    const int rc = q.step();
    q.reset();
    if (rc == SQLITE_ROW) {
      return invalid_argument_error(std::string(commit ? "path names a file: " : "path names a commit: ") +
                                    std::string(path));
    }
    return rc == SQLITE_DONE ? ok_status() : sqlite_error(db_, "look up path");
  }

  Status put_file(const PreparedDocument& p) {
    const Document& doc = p.doc;
    const std::string& hash = p.hash;
    STRATA_RETURN_IF_ERROR(check_other_kind(doc.path, /*commit=*/false));
    wrote_files_ = true;
    const Existing* e = lookup(doc.path);
    // A record of a first ingest that no row of this scan is known to hold: its files row
    // waits in the batch (kFileBatch). Anything else, and a record too large for the batch's
    // buffer, is written now, after the batch.
    const bool batched = e == nullptr && !tracked(doc.kind) && doc.content.size() < kFileBatchBytes;
    if (!batched) STRATA_RETURN_IF_ERROR(flush_files());
    if (e != nullptr) {
      if (e->commit) return invalid_argument_error("path names a commit: " + doc.path);
      STRATA_RETURN_IF_ERROR(delete_file(e->id));
      ++report_.updated;
      // An untracked row is not remembered below: the deleted one is not either.
      if (!tracked(doc.kind)) existing_.erase(existing_.find(doc.path));
    } else {
      ++report_.added;
    }
    const std::string_view language = language_for_path(doc.path);
    const auto& chunks = p.chunks;
    const int lines = p.lines;
    std::uint8_t flags = 0;
    if (is_test_path(doc.path)) flags |= kFlagTest;
    if (is_vendored_path(doc.path)) flags |= kFlagVendored;
    if (doc.kind != DocumentKind::kFile && doc.kind != DocumentKind::kDoc && doc.kind != DocumentKind::kOwnership) {
      flags |= kFlagRecord;
    }
    Stmt& ins = stmt(6,
        "INSERT INTO files(source, path, hash, commit_hash, language, bytes, lines, flags, access, content)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    // Bound by reference: every string outlives the step (step_done resets the statement,
    // which clears the bindings).
    auto insert = [&] {
      ins.bind_ref(1, source_).bind_ref(2, doc.path).bind_ref(3, hash).bind_ref(4, doc.commit)
          .bind_ref(5, language).bind(6, static_cast<std::int64_t>(doc.content.size()))
          .bind(7, static_cast<std::int64_t>(lines)).bind(8, static_cast<std::int64_t>(flags))
          .bind_ref(9, p.access).bind_blob_ref(10, doc.content);
      return step_done(ins, "insert file");
    };
    std::int64_t id = 0;
    if (batched) {
      Result<std::int64_t> queued = queue_file(p, language, lines, flags);
      if (!queued.ok()) return queued.status();
      id = *queued;
    } else {
      STRATA_RETURN_IF_ERROR(insert_replacing(insert, doc.path, /*commit=*/false));
      id = sqlite3_last_insert_rowid(db_);
      next_file_id_ = 0;  // the batch's next id is read again (max(id) + 1)
    }
    if (tracked(doc.kind)) remember(doc.path, {id, hash, false});
    delta_.added_files.push_back(id);
    if (substring_index_) {
      Stmt& sub = stmt(17, "INSERT INTO files_substr(rowid, content) VALUES(?1, ?2)");
      sub.bind(1, id).bind_ref(2, doc.content);
      STRATA_RETURN_IF_ERROR(step_done(sub, "insert file substrings"));
    }

    Stmt& chunk_ins = stmt(7,
        "INSERT INTO chunks(file_id, kind, name, qualified, start_line, end_line, sig_end)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    // A document whose only chunk is the whole of it (chat, text) gets no chunk row:
    // retrieve() makes that chunk from the content (one row and one index entry fewer per
    // message of a bulk ingest).
    const bool whole_only = chunks.size() == 1 && chunks.front().kind == ChunkKind::kFile &&
                            chunks.front().name.empty() && chunks.front().qualified_name.empty() &&
                            chunks.front().start_line == 1 && chunks.front().end_line == lines &&
                            chunks.front().signature_end_line == 1;
    for (const Chunk& c : whole_only ? std::span<const Chunk>() : std::span<const Chunk>(chunks)) {
      chunk_ins.bind(1, id).bind(2, static_cast<std::int64_t>(c.kind)).bind(3, c.name)
          .bind(4, c.qualified_name).bind(5, static_cast<std::int64_t>(c.start_line))
          .bind(6, static_cast<std::int64_t>(c.end_line))
          .bind(7, static_cast<std::int64_t>(c.signature_end_line));
      STRATA_RETURN_IF_ERROR(step_done(chunk_ins, "insert chunk"));
    }
    report_.chunks += chunks.size();
    Stmt& fts = stmt(8, kFullTextInsertSql);
    fts.bind(1, id).bind_terminated_ref(2, p.terms.path).bind_terminated_ref(3, p.terms.symbols).bind_terminated_ref(4, p.terms.body);
    return step_done(fts, "insert file terms");
  }

  // The files rows of a first ingest's records go in kFileBatch at a time, by one multi-row
  // INSERT: a statement's fixed cost (its program started and halted, the table's and its
  // indexes' cursors opened and positioned) is paid once per batch instead of once per row,
  // less than half the cost of a row (docs/benchmarks.md, fourteenth pass). A queued row
  // takes its id at once (the batch's first id is max(id) + 1: this connection is the only
  // writer), so the document's full-text row, chunks and edges are written with it before
  // its files row is. The edges wait with the rows (EdgeWriter::hold): a record that turns
  // out to replace an earlier one of the scan deletes the earlier edges first.
  static constexpr std::size_t kFileBatch = 32;
  static constexpr std::size_t kFileBatchBytes = std::size_t{1} << 20;
  struct PendingFile {
    std::int64_t id;
    std::uint32_t begin[6];  // path, hash, commit, language, access, content in file_arena_
    std::uint32_t size[6];
    std::int64_t bytes, lines, flags;
  };

  Result<std::int64_t> queue_file(const PreparedDocument& p, std::string_view language, int lines, std::uint8_t flags) {
    const Document& doc = p.doc;
    // The same path twice in one batch: the first goes in first, the second then replaces it.
    for (const PendingFile& f : pending_files_) {
      if (std::string_view(file_arena_).substr(f.begin[0], f.size[0]) == doc.path) {
        STRATA_RETURN_IF_ERROR(flush_files());
        break;
      }
    }
    if (next_file_id_ == 0) {
      Stmt& next = stmt(22, "SELECT coalesce(max(id), 0) + 1 FROM files");
      if (!next.ok() || next.step() != SQLITE_ROW) {
        if (next.ok()) next.reset();
        return sqlite_error(db_, "read file ids");
      }
      next_file_id_ = next.int64(0);
      next.reset();
    }
    PendingFile f{};
    f.id = next_file_id_++;
    const std::string_view fields[6] = {doc.path, p.hash, doc.commit, language, p.access, doc.content};
    for (int i = 0; i < 6; ++i) {
      f.begin[i] = static_cast<std::uint32_t>(file_arena_.size());
      f.size[i] = static_cast<std::uint32_t>(fields[i].size());
      file_arena_.append(fields[i]);
    }
    f.bytes = static_cast<std::int64_t>(doc.content.size());
    f.lines = lines;
    f.flags = flags;
    pending_files_.push_back(f);
    edges_.hold(true);
    if (pending_files_.size() >= kFileBatch || file_arena_.size() >= kFileBatchBytes) {
      STRATA_RETURN_IF_ERROR(flush_files());
    }
    return f.id;
  }

  // Writes the queued files rows, then the edges held with them.
  Status flush_files() {
    if (pending_files_.empty()) return ok_status();
    // Written or not, the batch is done with: after an error the ingest rolls back.
    struct Clear {
      IndexSink& s;
      ~Clear() {
        s.pending_files_.clear();
        s.file_arena_.clear();
        s.edges_.hold(false);
      }
    } clear{*this};
    const std::string_view arena(file_arena_);
    auto field = [&](const PendingFile& f, int i) { return arena.substr(f.begin[i], f.size[i]); };
    auto bind_row = [&](Stmt& st, int k, const PendingFile& f) {
      st.bind(k, f.id).bind_ref(k + 1, source_).bind_ref(k + 2, field(f, 0)).bind_ref(k + 3, field(f, 1))
          .bind_ref(k + 4, field(f, 2)).bind_ref(k + 5, field(f, 3)).bind(k + 6, f.bytes).bind(k + 7, f.lines)
          .bind(k + 8, f.flags).bind_ref(k + 9, field(f, 4)).bind_blob_ref(k + 10, field(f, 5));
    };
    constexpr const char* kColumns =
        " INTO files(id, source, path, hash, commit_hash, language, bytes, lines, flags, access, content) VALUES";
    constexpr const char* kRow = "(?,?,?,?,?,?,?,?,?,?,?)";
    const std::size_t rows = pending_files_.size();
    Stmt& insert = file_batch_[rows - 1];
    if (!insert.ok()) {
      // OR IGNORE: a multi-row INSERT that may abort halfway runs in a statement savepoint,
      // which makes FTS5 flush its pending terms to a new segment, once per batch (see
      // EdgeWriter::flush). A row ignored here broke UNIQUE(source, path): handled below.
      std::string sql = std::string("INSERT OR IGNORE") + kColumns;
      for (std::size_t r = 0; r < rows; ++r) (sql += r == 0 ? "" : ",") += kRow;
      insert = Stmt(db_, sql);
      if (!insert.ok()) return sqlite_error(db_, "prepare file insert");
    }
    for (std::size_t r = 0; r < rows; ++r) bind_row(insert, static_cast<int>(11 * r + 1), pending_files_[r]);
    STRATA_RETURN_IF_ERROR(step_done(insert, "insert files"));
    if (static_cast<std::size_t>(sqlite3_changes(db_)) != rows) {
      // A record the scan put twice, its earlier row written before this batch (the same
      // path twice in one batch is flushed in between, queue_file): the earlier row and its
      // edges go, and this one takes its place (what insert_replacing does row by row).
      Stmt& has = stmt(23, "SELECT 1 FROM files WHERE id = ?1");
      for (const PendingFile& f : pending_files_) {
        has.bind(1, f.id);
        const int rc = has.step();
        has.reset();
        if (rc == SQLITE_ROW) continue;
        if (rc != SQLITE_DONE) return sqlite_error(db_, "read file");
        const std::string_view path = field(f, 0);
        Stmt& prev = stmt(25, "SELECT id FROM files WHERE source = ?1 AND path = ?2");
        prev.bind(1, source_).bind(2, path);
        const int found = prev.step();
        const std::int64_t prev_id = found == SQLITE_ROW ? prev.int64(0) : 0;
        prev.reset();
        if (found != SQLITE_ROW) return found == SQLITE_DONE ? internal_error("file row not written: " + std::string(path))
                                                             : sqlite_error(db_, "look up path");
        STRATA_RETURN_IF_ERROR(delete_file(prev_id));
        STRATA_RETURN_IF_ERROR(edges_.remove_written(source_, path));
        --report_.added;
        ++report_.updated;
        Stmt& one = stmt(24, (std::string("INSERT") + kColumns + kRow).c_str());
        bind_row(one, 1, f);
        STRATA_RETURN_IF_ERROR(step_done(one, "insert file"));
      }
    }
    return edges_.flush();  // Clear ends the hold
  }

  Status put_commit(const PreparedDocument& p) {
    const Document& doc = p.doc;
    const std::string& key = p.hash;
    STRATA_RETURN_IF_ERROR(flush_files());
    STRATA_RETURN_IF_ERROR(check_other_kind(doc.path, /*commit=*/true));
    wrote_commits_ = true;
    if (const Existing* e = lookup(doc.path)) {
      if (!e->commit) return invalid_argument_error("path names a file: " + doc.path);
      STRATA_RETURN_IF_ERROR(delete_commit(e->id));
      ++report_.updated;
      if (!tracked(doc.kind)) existing_.erase(existing_.find(doc.path));
    } else {
      ++report_.added;
    }
    Stmt& ins = stmt(9,
        "INSERT INTO commits(source, hash, key_hash, author, time, title, message, access)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    auto insert = [&] {
      ins.bind(1, source_).bind(2, doc.path).bind(3, key)
          .bind(4, doc.authors.empty() ? std::string() : doc.authors.front())
          .bind(5, doc.timestamp).bind_ref(6, doc.title).bind_ref(7, doc.content)
          .bind_ref(8, p.access);
      return step_done(ins, "insert commit");
    };
    STRATA_RETURN_IF_ERROR(insert_replacing(insert, doc.path, /*commit=*/true));
    const std::int64_t id = sqlite3_last_insert_rowid(db_);
    if (tracked(doc.kind)) remember(doc.path, {id, key, true});
    Stmt& cf = stmt(10, "INSERT INTO commit_files(commit_id, path) VALUES(?1, ?2)");
    for (const auto& changed : doc.changed_paths) {
      cf.bind(1, id).bind_ref(2, changed);
      STRATA_RETURN_IF_ERROR(step_done(cf, "insert commit file"));
    }
    Stmt& fts = stmt(11, "INSERT INTO commits_fts(rowid, message, paths) VALUES(?1, ?2, ?3)");
    fts.bind(1, id).bind_terminated_ref(2, p.terms.body).bind_terminated_ref(3, p.paths);
    return step_done(fts, "insert commit terms");
  }

  sqlite3* db_;
  std::string source_;
  IngestReport& report_;
  const IngestOptions& options_;
  ProgressCallback progress_;  // options_.progress, or the pipeline's post_progress
  bool redact_ = true;
  bool substring_index_ = false;  // the index has files_substr (kept up to date)
  EdgeWriter edges_{db_};
  bool has_rows_ = false;  // the index held rows of this connector when the scan began
  std::int64_t edges_before_ = 0;  // the edges table's largest rowid then (a first ingest)
  PathMap existing_;      // rows looked up or written by this scan
  std::string last_miss_;
  std::string asked_path_, asked_hash_;  // the last unchanged() question
  PathSet seen_;  // paths the scan saw (not kept in a first ingest: seen_count_ counts them)
  std::size_t seen_count_ = 0;
  bool replaced_ = false;  // the put being applied replaced a row of this scan
  std::size_t written_ = 0;
  std::size_t skipped_ = 0;
  std::size_t ticks_ = 0;
  std::int64_t scan_start_ns_ = 0;
  bool wrote_files_ = false, wrote_commits_ = false;  // this scan put a file / a commit
  Stmt stmts_[27];
  std::vector<PendingFile> pending_files_;  // files rows queued (queue_file)
  std::string file_arena_;                  // their strings
  std::int64_t next_file_id_ = 0;           // the id of the next queued row; 0: read max(id) + 1
  Stmt file_batch_[kFileBatch];             // INSERT of n queued rows, by n - 1
  FileTerms terms_;  // delete_file's re-derived terms (buffers kept between rows)
  CatalogDelta delta_;
};

}  // namespace

Result<IngestReport> EngineImpl::ingest(Connector& connector, const IngestOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::lock_guard lock(write_mu_);
  sqlite3* db = writer_.get();
  IngestReport report;
  std::string id;
  try {
    id = connector.id();
  } catch (const std::exception& e) {
    return internal_error(std::string("connector threw: ") + e.what());
  }
  if (id.empty()) return invalid_argument_error("connector id is empty");
  report.connector = id;
  std::string previous_commit;
  bool had_cursor = false;
  {
    Stmt cur(db, "SELECT cursor, commit_hash FROM cursors WHERE connector = ?1");
    if (!cur.ok()) return sqlite_error(db, "read cursor");
    cur.bind(1, id);
    if (cur.step() == SQLITE_ROW) {
      report.previous_cursor = cur.text(0);
      previous_commit = cur.text(1);
      had_cursor = true;
    }
  }
  std::int64_t catalog_last_id = 0;
  {
    auto cat = catalog();
    if (!cat->files.empty()) catalog_last_id = cat->files.back().id;
  }
  int old_rows_restamped = 0;
  if (edge_indexes_missing_) {  // a bulk import's failed index build: this ingest needs them
    STRATA_RETURN_IF_ERROR(ensure_edges_schema(db));
    edge_indexes_missing_ = false;
  }
  STRATA_RETURN_IF_ERROR(exec(db, "BEGIN IMMEDIATE"));
  auto fail = [&](Status s) {
    (void)exec(db, "ROLLBACK");
    return s;
  };
  IndexSink sink(db, id, report, options, options_.redact_secrets, substring_index_);
  Status s = sink.prepare();
  if (!s.ok()) return fail(s);
  // A connector's first ingest (no rows of it yet) is pipelined: the connector parses and
  // prepares documents on this thread while a writer thread applies them
  // (ingest_pipeline.h). The writer is stopped before anything else touches the database.
  std::optional<PipelinedSink> pipe;
  if (options.pipeline && !sink.has_rows()) {
    try {
      pipe.emplace(sink, PipelineOptions{.cancelled = options.cancelled, .progress = options.progress});
      if (options.progress) sink.set_progress([p = &*pipe](const IngestProgress& pr) { p->post_progress(pr); });
    } catch (const std::system_error&) {
      pipe.reset();  // no thread to be had: this thread does both
    }
  }
  auto stop_writer = [&]() -> Status {
    if (!pipe) return ok_status();
    Status ws = pipe->finish();
    pipe.reset();
    sink.set_progress(options.progress);
    return ws;
  };
  Result<ScanResult> scanned = internal_error("connector did not run");
  try {
    scanned = connector.scan(report.previous_cursor, pipe ? static_cast<IngestSink&>(*pipe) : sink);
  } catch (const std::exception& e) {
    (void)stop_writer();
    return fail(internal_error(std::string("connector threw: ") + e.what()));
  } catch (...) {
    (void)stop_writer();
    return fail(internal_error("connector threw"));
  }
  // A write error is the cause of whatever the connector returned after it.
  if (Status ws = stop_writer(); !ws.ok()) return fail(ws);
  if (!scanned.ok()) return fail(scanned.status());
  if (sink.cancelled()) return fail(cancelled_error("ingest cancelled"));
  s = sink.flush();  // the rows still batched, before anything reads files
  if (!s.ok()) return fail(s);
  if (scanned->complete) {
    s = sink.remove_unseen();
    if (!s.ok()) return fail(s);
    // Unchanged files now reflect the new commit too: '' stands for the connector's commit
    // (saved with its cursor below), so only rows written by this scan are touched.
    // Rows written before this scan are counted apart: their catalog entries change.
    Stmt stamp(db, "UPDATE files SET commit_hash = '' WHERE source = ?1 AND commit_hash != '' AND id > ?2");
    stamp.bind(1, id).bind(2, catalog_last_id);
    if (!stamp.ok() || stamp.step() != SQLITE_DONE) return fail(sqlite_error(db, "stamp commit"));
    Stmt stamp_old(db, "UPDATE files SET commit_hash = '' WHERE source = ?1 AND commit_hash != '' AND id <= ?2");
    stamp_old.bind(1, id).bind(2, catalog_last_id);
    if (!stamp_old.ok() || stamp_old.step() != SQLITE_DONE) return fail(sqlite_error(db, "stamp commit"));
    old_rows_restamped = sqlite3_changes(db);
  }
  // A bulk import's edge indexes are built after its documents commit, in a second
  // transaction, while another thread extends the catalog with the new rows through a
  // connection of its own: the two are the serial tail of a large import (~1.6 s and ~1.3 s
  // for a million chat messages), and each needs one core. Until the second commit the edges
  // table has no secondary index (social-graph queries scan it); an engine opened after a
  // crash in between builds them (ensure_edges_schema), as does the next ingest after a
  // failed build.
  s = sink.flush();
  if (!s.ok()) return fail(s);
  const bool deferred_edges = sink.edges_in_bulk();
  if (!deferred_edges) {
    s = sink.finish();
    if (!s.ok()) return fail(s);
  }
  Stmt save(db, "INSERT INTO cursors(connector, cursor, commit_hash) VALUES(?1, ?2, ?3)"
                " ON CONFLICT(connector) DO UPDATE SET cursor = ?2, commit_hash = ?3");
  save.bind(1, id).bind(2, scanned->cursor).bind(3, scanned->commit);
  if (!save.ok() || save.step() != SQLITE_DONE) return fail(sqlite_error(db, "save cursor"));
  s = exec(db, "COMMIT");
  if (!s.ok()) return fail(s);
  report.cursor = scanned->cursor;
  report.commit = scanned->commit;
  // The catalog mirrors files, chunks, commits and the cursors' commits: rebuild it only
  // when one of them changed (a no-op re-ingest of a large tree stays cheap).
  const bool changed = report.added + report.updated + report.removed > 0 || !had_cursor ||
                       previous_commit != scanned->commit || catalog_stale_;
  // An ingest that only added documents (no file row replaced or removed, no old row's
  // commit changed) extends the catalog with the rows above its last id instead of
  // reloading every document: a day of chat on a million-message index costs the day.
  // A few replaced or removed files update the catalog in place (a one-file edit costs
  // that file); a large change reloads it whole.
  const bool commits_changed = old_rows_restamped > 0 || (had_cursor && previous_commit != scanned->commit);
  const bool append_only = report.updated == 0 && report.removed == 0 && !commits_changed;
  Status cs;
  bool catalog_done = !changed;
  Status edges_built;
  if (deferred_edges) {
    std::thread extender;
    if (changed && !catalog_stale_ && append_only) {
      try {
        extender = std::thread([&] {
          try {
            auto own = open_index_db(options_.index_path, false, /*validate=*/false);
            cs = own.ok() ? extend_catalog(own->get()) : own.status();
          } catch (const std::exception& e) {  // out of memory: reported, not std::terminate
            cs = internal_error(std::string("catalog update: ") + e.what());
          }
        });
        catalog_done = true;
      } catch (const std::system_error&) {
        // no thread to be had: the catalog is extended below, after the indexes
      }
    }
    edges_built = edge_index_fault_ ? edge_index_fault_() : exec(db, "BEGIN IMMEDIATE");
    if (edges_built.ok()) edges_built = sink.finish();
    if (edges_built.ok()) edges_built = exec(db, "COMMIT");
    if (!edges_built.ok()) {
      (void)exec(db, "ROLLBACK");
      edge_indexes_missing_ = true;
    }
    if (extender.joinable()) extender.join();
  }
  request_checkpoint();
  sink.final_progress();
  if (!catalog_done) {
    if (catalog_stale_) {
      cs = reload_catalog(db);
    } else if (append_only) {
      cs = extend_catalog(db);
    } else {
      CatalogDelta delta = sink.delta();
      delta.commits_changed = commits_changed;
      cs = update_catalog(delta);
    }
  }
  if (!cs.ok()) {
    catalog_stale_ = true;  // the next ingest reloads it whole
    return Status(cs.code(), "the documents were committed; updating the catalog failed (the next ingest"
                             " reloads it): " + cs.message());
  }
  if (!edges_built.ok()) {
    return Status(edges_built.code(), "the documents were committed; building the social graph's indexes failed"
                                      " (the next ingest builds them): " + edges_built.message());
  }
  report.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return report;
}

Status EngineImpl::reload_catalog(sqlite3* db) {
  auto catalog = load_catalog(db);
  if (!catalog.ok()) return catalog.status();
  ++catalog_reloads_;
  std::lock_guard cat_lock(catalog_mu_);
  catalog_ = std::move(*catalog);
  catalog_stale_ = false;
  return ok_status();
}

Status EngineImpl::change_catalog(sqlite3* db, const std::function<Status(Catalog&)>& change,
                                  std::atomic<std::size_t>* applied) {
  std::shared_ptr<Catalog> next;
  {
    std::unique_lock cat_lock(catalog_mu_);
    if (catalog_.use_count() == 1) {
      // No reader holds it (readers copy the pointer under catalog_mu_): change it in place,
      // holding the lock so no reader sees it half-changed. load_catalog made it non-const.
      if (!change(*std::const_pointer_cast<Catalog>(catalog_)).ok()) {
        cat_lock.unlock();
        return reload_catalog(db);  // half-changed: start over
      }
      if (applied) ++*applied;
      return ok_status();
    }
    next = std::make_shared<Catalog>(*catalog_);  // a reader holds it: change a copy
  }
  if (!change(*next).ok()) return reload_catalog(db);
  if (applied) ++*applied;
  std::lock_guard cat_lock(catalog_mu_);
  catalog_ = std::move(next);
  return ok_status();
}

Status EngineImpl::update_catalog(const CatalogDelta& delta) {
  const std::size_t files = catalog()->files.size();
  const std::size_t touched = delta.removed_files.size() + delta.added_files.size();
  // A large change: a full load is cheaper than renumbering.
  sqlite3* db = writer_.get();
  if (files == 0 || touched > files / 2) return reload_catalog(db);
  return change_catalog(db, [&](Catalog& cat) { return apply_catalog_delta(db, cat, delta); }, &catalog_updates_);
}

Status EngineImpl::extend_catalog(sqlite3* db) {
  return change_catalog(
      db,
      [&](Catalog& cat) {
        STRATA_RETURN_IF_ERROR(load_catalog_rows(db, cat, cat.files.empty() ? 0 : cat.files.back().id));
        load_catalog_totals(db, cat);
        return ok_status();
      },
      nullptr);
}

Result<IndexStats> EngineImpl::stats() const {
  IndexStats st;
  auto cat = catalog();
  st.files = cat->files.size();
  st.chunks = cat->chunks;
  st.commits = cat->commits;
  st.commit = cat->index_commit;
  std::lock_guard lock(read_mu_);
  Stmt cur(reader_.get(), "SELECT connector, cursor FROM cursors ORDER BY connector");
  if (!cur.ok()) return sqlite_error(reader_.get(), "read cursors");
  while (cur.step() == SQLITE_ROW) st.cursors[cur.text(0)] = cur.text(1);
  return st;
}

}  // namespace detail
}  // namespace strata::context
