#include <fcntl.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "context/chunker.h"
#include "context/engine_impl.h"
#include "context/people/edges.h"
#include "context/redact.h"
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
  if (Status s = ensure_edges_schema(writer->get()); !s.ok()) {  // the social graph (people.h)
    ::close(fd);
    return s;
  }
  auto reader = open_index_db(options.index_path, false);
  if (!reader.ok()) {
    ::close(fd);
    return reader.status();
  }
  auto catalog = load_catalog(reader->get());
  if (!catalog.ok()) {
    ::close(fd);
    return catalog.status();
  }
  return std::unique_ptr<ContextEngine>(new EngineImpl(std::move(options), std::move(*writer),
                                                       std::move(*reader), fd, std::move(*catalog)));
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

EngineImpl::EngineImpl(EngineOptions options, DbPtr writer, DbPtr reader, int lock_fd,
                       std::shared_ptr<const Catalog> catalog)
    : options_(std::move(options)), writer_(std::move(writer)), reader_(std::move(reader)),
      lock_fd_(lock_fd), catalog_(std::move(catalog)) {}

EngineImpl::~EngineImpl() {
  reader_.reset();
  writer_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

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

class IndexSink final : public IngestSink {
 public:
  IndexSink(sqlite3* db, std::string source, IngestReport& report, const IngestOptions& options,
            bool redact = true)
      : db_(db), source_(std::move(source)), report_(report), options_(options), redact_(redact) {}

  Status prepare() {
    timespec now{};
    ::clock_gettime(CLOCK_REALTIME, &now);
    scan_start_ns_ = static_cast<std::int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
    Stmt files(db_, "SELECT f.id, f.path, f.hash, coalesce(s.size, -1), s.mtime, s.ctime, s.ino,"
                    " coalesce(s.seen, 0)"
                    " FROM files f INDEXED BY files_key LEFT JOIN file_stamps s ON s.file_id = f.id"
                    " WHERE f.source = ?1");
    if (!files.ok()) return sqlite_error(db_, "read files");
    files.bind(1, source_);
    while (files.step() == SQLITE_ROW) {
      Existing e{files.int64(0), files.text(2), false};
      e.stamp = {files.int64(3), files.int64(4), files.int64(5), static_cast<std::uint64_t>(files.int64(6))};
      e.stamp_seen = files.int64(7);
      existing_[files.text(1)] = std::move(e);
    }
    Stmt commits(db_, "SELECT id, hash, key_hash FROM commits WHERE source = ?1");
    if (!commits.ok()) return sqlite_error(db_, "read commits");
    commits.bind(1, source_);
    while (commits.step() == SQLITE_ROW) existing_[commits.text(1)] = {commits.int64(0), commits.text(2), true};
    return ok_status();
  }

  bool unchanged(std::string_view path, std::string_view hash) override {
    auto it = existing_.find(std::string(path));
    const bool same = it != existing_.end() && it->second.hash == hash;
    seen_.insert(std::string(path));
    if (same) {
      ++report_.unchanged;
      tick(path);
    }
    return same;
  }

  bool unchanged_stamp(std::string_view path, const FileStamp& stamp) override {
    auto it = existing_.find(std::string(path));
    if (it == existing_.end() || it->second.commit || it->second.stamp_seen == 0 || stamp.size < 0) return false;
    // Racy-git rule: a stamp recorded less than kRacyNs after the file's mtime cannot tell a
    // same-size rewrite within the timestamp granularity from no change: hash it instead.
    if (!(it->second.stamp == stamp) || stamp.mtime_ns > it->second.stamp_seen - kRacyNs) return false;
    seen_.insert(it->first);
    ++report_.unchanged;
    ++report_.unchanged_by_stamp;
    tick(path);
    return true;
  }

  void record_stamp(std::string_view path, const FileStamp& stamp) override {
    auto it = existing_.find(std::string(path));
    if (it == existing_.end() || it->second.commit) return;
    if (it->second.stamp == stamp && it->second.stamp_seen == scan_start_ns_) return;
    Stmt& up = stmt(12, "INSERT OR REPLACE INTO file_stamps(file_id, size, mtime, ctime, ino, seen)"
                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    up.bind(1, it->second.id).bind(2, stamp.size).bind(3, stamp.mtime_ns).bind(4, stamp.ctime_ns)
        .bind(5, static_cast<std::int64_t>(stamp.inode)).bind(6, scan_start_ns_);
    // A stamp that cannot be written only costs a read next time.
    if (step_done(up, "record stamp").ok()) {
      it->second.stamp = stamp;
      it->second.stamp_seen = scan_start_ns_;
    }
  }

  void note_read(std::string_view /*path*/) override { ++report_.files_read; }

  Status put(Document doc) override {
    if (doc.path.empty()) return invalid_argument_error("document without a path");
    seen_.insert(doc.path);
    // The hash of the bytes as read (what unchanged() is asked about), then redaction.
    const std::string hash = content_hash(doc.content);
    if (redact_) {
      report_.redacted += redact_secrets(doc.content, &report_.redacted_by_kind) +
                          redact_secrets(doc.title, &report_.redacted_by_kind);
    }
    Status s = doc.kind == DocumentKind::kCommit ? put_commit(doc, hash) : put_file(doc, hash);
    if (s.ok()) s = edges_.replace(source_, doc, join_access(doc.access));
    if (!s.ok()) return s;
    report_.bytes += doc.content.size();
    ++written_;
    tick(doc.path);
    return ok_status();
  }

  Status remove(std::string_view path) override {
    auto it = existing_.find(std::string(path));
    if (it == existing_.end()) return ok_status();
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
    std::vector<std::string> gone;
    for (const auto& [path, e] : existing_) {
      if (!seen_.count(path)) gone.push_back(path);
    }
    for (const auto& p : gone) STRATA_RETURN_IF_ERROR(remove(p));
    return ok_status();
  }

  // The file rows this ingest deleted and inserted (for the catalog update).
  const CatalogDelta& delta() const { return delta_; }

  void final_progress() {
    if (options_.progress) options_.progress(progress(""));
  }

 private:
  // A stamp is trusted only when recorded at least this long after the file's mtime: more
  // than any file system's timestamp granularity (FAT: 2 s) and the kernel's coarse clock.
  static constexpr std::int64_t kRacyNs = 2'000'000'000;

  struct Existing {
    std::int64_t id = 0;
    std::string hash;
    bool commit = false;
    FileStamp stamp{};
    std::int64_t stamp_seen = 0;  // CLOCK_REALTIME ns when the stamp was recorded; 0 = none
  };

  IngestProgress progress(std::string_view current) const {
    IngestProgress p;
    p.connector = source_;
    p.seen = seen_.size();
    p.written = written_;
    p.removed = report_.removed;
    p.skipped = skipped_;
    p.current = std::string(current);
    return p;
  }

  void tick(std::string_view path) {
    if (!options_.progress) return;
    const std::size_t every = options_.progress_every == 0 ? 1 : options_.progress_every;
    if (++ticks_ % every == 0) options_.progress(progress(path));
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
    STRATA_RETURN_IF_ERROR(step_done(stmt(0, "DELETE FROM files WHERE id = ?1").bind(1, id), "delete file"));
    delta_.removed_files.push_back(id);
    STRATA_RETURN_IF_ERROR(step_done(stmt(1, "DELETE FROM files_fts WHERE rowid = ?1").bind(1, id), "delete file terms"));
    STRATA_RETURN_IF_ERROR(step_done(stmt(2, "DELETE FROM chunks WHERE file_id = ?1").bind(1, id), "delete chunks"));
    return step_done(stmt(13, "DELETE FROM file_stamps WHERE file_id = ?1").bind(1, id), "delete stamp");
  }

  Status delete_commit(std::int64_t id) {
    STRATA_RETURN_IF_ERROR(step_done(stmt(3, "DELETE FROM commits WHERE id = ?1").bind(1, id), "delete commit"));
    STRATA_RETURN_IF_ERROR(step_done(stmt(4, "DELETE FROM commits_fts WHERE rowid = ?1").bind(1, id), "delete commit terms"));
    return step_done(stmt(5, "DELETE FROM commit_files WHERE commit_id = ?1").bind(1, id), "delete commit files");
  }

  Status put_file(const Document& doc, const std::string& hash) {
    auto it = existing_.find(doc.path);
    if (it != existing_.end()) {
      if (it->second.commit) return invalid_argument_error("path names a commit: " + doc.path);
      STRATA_RETURN_IF_ERROR(delete_file(it->second.id));
      ++report_.updated;
    } else {
      ++report_.added;
    }
    const std::string_view language = language_for_path(doc.path);
    const auto chunks = chunk_source(doc.content, language);
    std::uint8_t flags = 0;
    if (is_test_path(doc.path)) flags |= kFlagTest;
    if (is_vendored_path(doc.path)) flags |= kFlagVendored;
    Stmt& ins = stmt(6,
        "INSERT INTO files(source, path, hash, commit_hash, language, bytes, lines, flags, access, content)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    ins.bind(1, source_).bind(2, doc.path).bind(3, hash).bind(4, doc.commit).bind(5, language)
        .bind(6, static_cast<std::int64_t>(doc.content.size()))
        .bind(7, static_cast<std::int64_t>(count_lines(doc.content)))
        .bind(8, static_cast<std::int64_t>(flags)).bind(9, join_access(doc.access))
        .bind_blob(10, doc.content);
    STRATA_RETURN_IF_ERROR(step_done(ins, "insert file"));
    const std::int64_t id = sqlite3_last_insert_rowid(db_);
    existing_[doc.path] = {id, hash, false};
    delta_.added_files.push_back(id);

    std::string symbols;
    Stmt& chunk_ins = stmt(7,
        "INSERT INTO chunks(file_id, kind, name, qualified, start_line, end_line, sig_end)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    for (const Chunk& c : chunks) {
      chunk_ins.bind(1, id).bind(2, static_cast<std::int64_t>(c.kind)).bind(3, c.name)
          .bind(4, c.qualified_name).bind(5, static_cast<std::int64_t>(c.start_line))
          .bind(6, static_cast<std::int64_t>(c.end_line))
          .bind(7, static_cast<std::int64_t>(c.signature_end_line));
      STRATA_RETURN_IF_ERROR(step_done(chunk_ins, "insert chunk"));
      if (!c.name.empty()) {
        append_index_terms(c.name, symbols);
      }
    }
    report_.chunks += chunks.size();
    Stmt& fts = stmt(8, "INSERT INTO files_fts(rowid, path, symbols, body) VALUES(?1, ?2, ?3, ?4)");
    fts.bind(1, id).bind(2, index_terms(doc.path)).bind(3, symbols).bind(4, index_terms(doc.content));
    return step_done(fts, "insert file terms");
  }

  Status put_commit(const Document& doc, const std::string& key) {
    auto it = existing_.find(doc.path);
    if (it != existing_.end()) {
      if (!it->second.commit) return invalid_argument_error("path names a file: " + doc.path);
      STRATA_RETURN_IF_ERROR(delete_commit(it->second.id));
      ++report_.updated;
    } else {
      ++report_.added;
    }
    Stmt& ins = stmt(9,
        "INSERT INTO commits(source, hash, key_hash, author, time, title, message, access)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    ins.bind(1, source_).bind(2, doc.path).bind(3, key)
        .bind(4, doc.authors.empty() ? std::string() : doc.authors.front())
        .bind(5, doc.timestamp).bind(6, doc.title).bind(7, doc.content)
        .bind(8, join_access(doc.access));
    STRATA_RETURN_IF_ERROR(step_done(ins, "insert commit"));
    const std::int64_t id = sqlite3_last_insert_rowid(db_);
    existing_[doc.path] = {id, key, true};
    std::string paths;
    Stmt& cf = stmt(10, "INSERT INTO commit_files(commit_id, path) VALUES(?1, ?2)");
    for (const auto& p : doc.changed_paths) {
      cf.bind(1, id).bind(2, p);
      STRATA_RETURN_IF_ERROR(step_done(cf, "insert commit file"));
      append_index_terms(p, paths);
    }
    Stmt& fts = stmt(11, "INSERT INTO commits_fts(rowid, message, paths) VALUES(?1, ?2, ?3)");
    fts.bind(1, id).bind(2, index_terms(doc.content)).bind(3, paths);
    return step_done(fts, "insert commit terms");
  }

  sqlite3* db_;
  std::string source_;
  IngestReport& report_;
  const IngestOptions& options_;
  bool redact_ = true;
  EdgeWriter edges_{db_};
  std::unordered_map<std::string, Existing> existing_;
  std::unordered_set<std::string> seen_;
  std::size_t written_ = 0;
  std::size_t skipped_ = 0;
  std::size_t ticks_ = 0;
  std::int64_t scan_start_ns_ = 0;
  Stmt stmts_[14];
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
  STRATA_RETURN_IF_ERROR(exec(db, "BEGIN IMMEDIATE"));
  auto fail = [&](Status s) {
    (void)exec(db, "ROLLBACK");
    return s;
  };
  IndexSink sink(db, id, report, options, options_.redact_secrets);
  Status s = sink.prepare();
  if (!s.ok()) return fail(s);
  Result<ScanResult> scanned = internal_error("connector did not run");
  try {
    scanned = connector.scan(report.previous_cursor, sink);
  } catch (const std::exception& e) {
    return fail(internal_error(std::string("connector threw: ") + e.what()));
  } catch (...) {
    return fail(internal_error("connector threw"));
  }
  if (!scanned.ok()) return fail(scanned.status());
  if (sink.cancelled()) return fail(cancelled_error("ingest cancelled"));
  if (scanned->complete) {
    s = sink.remove_unseen();
    if (!s.ok()) return fail(s);
    // Unchanged files now reflect the new commit too: '' stands for the connector's commit
    // (saved with its cursor below), so only rows written by this scan are touched.
    Stmt stamp(db, "UPDATE files SET commit_hash = '' WHERE source = ?1 AND commit_hash != ''");
    stamp.bind(1, id);
    if (!stamp.ok() || stamp.step() != SQLITE_DONE) return fail(sqlite_error(db, "stamp commit"));
  }
  Stmt save(db, "INSERT INTO cursors(connector, cursor, commit_hash) VALUES(?1, ?2, ?3)"
                " ON CONFLICT(connector) DO UPDATE SET cursor = ?2, commit_hash = ?3");
  save.bind(1, id).bind(2, scanned->cursor).bind(3, scanned->commit);
  if (!save.ok() || save.step() != SQLITE_DONE) return fail(sqlite_error(db, "save cursor"));
  s = exec(db, "COMMIT");
  if (!s.ok()) return fail(s);
  report.cursor = scanned->cursor;
  report.commit = scanned->commit;
  sink.final_progress();
  // The catalog mirrors files, chunks, commits and the cursors' commits: rebuild it only
  // when one of them changed (a no-op re-ingest of a large tree stays cheap).
  const bool changed = report.added + report.updated + report.removed > 0 || !had_cursor ||
                       previous_commit != scanned->commit || catalog_stale_;
  if (changed) {
    // A few changed files update a copy of the catalog; a large change reloads it whole.
    CatalogDelta delta = sink.delta();
    delta.commits_changed = !had_cursor || previous_commit != scanned->commit;
    const auto old = catalog();
    const std::size_t touched = delta.removed_files.size() + delta.added_files.size();
    std::lock_guard read_lock(read_mu_);
    Result<std::shared_ptr<const Catalog>> catalog = internal_error("catalog not loaded");
    if (!catalog_stale_ && old && !old->files.empty() && touched <= old->files.size() / 2) {
      catalog = update_catalog(*old, reader_.get(), delta);
      if (catalog.ok()) ++catalog_updates_;
    }
    if (!catalog.ok()) {
      catalog = load_catalog(reader_.get());
      if (catalog.ok()) ++catalog_reloads_;
    }
    // Until a load succeeds the catalog lags the index: the next change reloads it whole.
    catalog_stale_ = !catalog.ok();
    if (!catalog.ok()) return catalog.status();
    std::lock_guard cat_lock(catalog_mu_);
    catalog_ = std::move(*catalog);
  }
  report.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return report;
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
