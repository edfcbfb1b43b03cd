#include "context/index.h"

#include <sys/stat.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "context/sqlite_util.h"

namespace strata::context::detail {

namespace {

constexpr const char* kFormat = "strata-context-index";
// 2: files_fts is contentless (version 1 kept a copy of every term stream in it). Version 1
// indexes are still read; a writer opening one rebuilds files_fts (upgrade_index). Raise it
// when the terms a file yields change (FileTerms, index_terms), and accept the version it
// replaces in open_index_db: upgrade_index rebuilds files_fts of any older version.
constexpr const char* kVersion = "2";
constexpr const char* kFirstVersion = "1";

const char* const kSchema = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cursors(connector TEXT PRIMARY KEY, cursor TEXT NOT NULL, commit_hash TEXT NOT NULL);
CREATE TABLE files(
  id INTEGER PRIMARY KEY, source TEXT NOT NULL, path TEXT NOT NULL, hash TEXT NOT NULL,
  commit_hash TEXT NOT NULL, language TEXT NOT NULL, bytes INTEGER NOT NULL,
  lines INTEGER NOT NULL, flags INTEGER NOT NULL, access TEXT NOT NULL, content BLOB NOT NULL,
  UNIQUE(source, path));
CREATE TABLE chunks(
  id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, kind INTEGER NOT NULL, name TEXT NOT NULL,
  qualified TEXT NOT NULL, start_line INTEGER NOT NULL, end_line INTEGER NOT NULL,
  sig_end INTEGER NOT NULL);
CREATE INDEX chunks_file ON chunks(file_id);
CREATE TABLE commits(
  id INTEGER PRIMARY KEY, source TEXT NOT NULL, hash TEXT NOT NULL, key_hash TEXT NOT NULL,
  author TEXT NOT NULL, time INTEGER NOT NULL, title TEXT NOT NULL, message TEXT NOT NULL,
  access TEXT NOT NULL, UNIQUE(source, hash));
CREATE VIRTUAL TABLE commits_fts USING fts5(message, paths,
  tokenize="unicode61 remove_diacritics 0 tokenchars '_'");
CREATE TABLE commit_files(commit_id INTEGER NOT NULL, path TEXT NOT NULL);
CREATE INDEX commit_files_commit ON commit_files(commit_id);
CREATE INDEX commit_files_path ON commit_files(path);
)sql";

// The full-text table of files, and its vocabulary. Contentless (content=''): it keeps the
// inverted index and each row's length in tokens, not the term streams themselves, which are
// re-derived from the files and chunks rows to delete a row (FileTerms). That halves what a
// bulk ingest writes into FTS5 (docs/benchmarks.md, tenth pass). No query reads its columns:
// MATCH, bm25() and the docsize table work on a contentless table as on any other.
const char* const kFullTextSchema = R"sql(
CREATE VIRTUAL TABLE files_fts USING fts5(path, symbols, body, content='',
  tokenize="unicode61 remove_diacritics 0 tokenchars '_'");
INSERT INTO files_fts(files_fts, rank) VALUES('hashsize', 16777216);
CREATE VIRTUAL TABLE files_vocab USING fts5vocab(files_fts, 'row');
)sql";

// Added after version 1 first shipped; created when missing, so older indexes gain them on
// open (their files have no stamps yet: each is read once more, then stamped).
//   file_stamps  stat stamp of each file when it was last read (the re-ingest fast path);
//                kept apart from files so reading stamps never walks content overflow pages
//   files_code_key  covering index: a re-ingest loads (path, hash) of a source file
//                without touching its row. Partial: records of systems of record (chat,
//                pull requests: kFlagRecord) have no entry, which saves a bulk import of a
//                million messages an index entry per row (docs/benchmarks.md, fourteenth
//                pass); their lookups go through UNIQUE(source, path) and the row. It
//                replaces the full index files_key of indexes made before it (dropped when
//                the index is opened). `flags` is in it so that the lookup's condition on it
//                is answered from the index too (SQLite 3.40 reads the row for a column the
//                query names otherwise, even one only the index's own condition uses).
//   files_commit_set  finds the rows whose commit must be re-stamped without a table scan;
//                partial: only rows with a commit of their own (documents of systems of
//                record have none, and a complete scan leaves '' behind), so a bulk ingest
//                of chat writes no entry. It replaces the full index files_commit of
//                indexes made before it (dropped when the index is opened).
//   commits_access  the catalog counts commits by access list after every ingest: read from
//                this index, without a sort or the commit rows (as cheap as count(*))
const char* const kSchemaAdditions = R"sql(
CREATE TABLE IF NOT EXISTS file_stamps(
  file_id INTEGER PRIMARY KEY, size INTEGER NOT NULL, mtime INTEGER NOT NULL,
  ctime INTEGER NOT NULL, ino INTEGER NOT NULL, seen INTEGER NOT NULL);
DROP INDEX IF EXISTS files_key;
CREATE INDEX IF NOT EXISTS files_code_key ON files(source, path, hash, flags) WHERE flags & 4 = 0;
DROP INDEX IF EXISTS files_commit;
CREATE INDEX IF NOT EXISTS files_commit_set ON files(source, commit_hash) WHERE commit_hash != '';
CREATE INDEX IF NOT EXISTS commits_access ON commits(access);
)sql";

// Replaces files_fts (and files_vocab) with an empty table of kFullTextSchema and indexes
// every files row again, from what the files and chunks rows keep; then stamps kVersion. In
// the caller's transaction.
Status rebuild_full_text(sqlite3* db) {
  STRATA_RETURN_IF_ERROR(exec(db, "DROP TABLE IF EXISTS files_vocab; DROP TABLE IF EXISTS files_fts;"));
  STRATA_RETURN_IF_ERROR(exec(db, kFullTextSchema));
  Stmt files(db, "SELECT id, path, content FROM files ORDER BY id");
  Stmt names(db, kChunkNamesSql);
  Stmt insert(db, kFullTextInsertSql);
  if (!files.ok() || !names.ok() || !insert.ok()) return sqlite_error(db, "rebuild the full-text index");
  FileTerms terms;
  int rc = SQLITE_ROW;
  while ((rc = files.step()) == SQLITE_ROW) {
    const std::int64_t id = files.int64(0);
    STRATA_RETURN_IF_ERROR(derive_file_terms(id, files.text_view(1), files.text_view(2), names, terms));
    insert.bind(1, id).bind_terminated_ref(2, terms.path).bind_terminated_ref(3, terms.symbols).bind_terminated_ref(4, terms.body);
    const int step = insert.step();
    insert.reset();
    if (step != SQLITE_DONE) return sqlite_error(db, "rebuild the full-text index");
  }
  if (rc != SQLITE_DONE) return sqlite_error(db, "rebuild the full-text index");
  Stmt stamp(db, "UPDATE meta SET value = ?1 WHERE key = 'version'");
  stamp.bind(1, std::string_view(kVersion));
  if (!stamp.ok() || stamp.step() != SQLITE_DONE) return sqlite_error(db, "write meta");
  return ok_status();
}

}  // namespace

Status upgrade_index(sqlite3* db) {
  Stmt version(db, "SELECT value FROM meta WHERE key = 'version'");
  if (!version.ok()) return sqlite_error(db, "read meta");
  // Any older version open_index_db accepted: the full-text table is rebuilt with the
  // current derivation of terms.
  const bool older = version.step() == SQLITE_ROW && version.text(0) != kVersion;
  version.reset();  // a statement left on a row would keep tables from being dropped
  if (!older) return ok_status();
  STRATA_RETURN_IF_ERROR(exec(db, "BEGIN IMMEDIATE"));
  Status s = rebuild_full_text(db);
  if (!s.ok()) {
    (void)exec(db, "ROLLBACK");
    return s;
  }
  return exec(db, "COMMIT");
}

Status derive_file_terms(std::int64_t id, std::string_view path, std::string_view content, Stmt& chunk_names,
                         FileTerms& out) {
  out.path.clear();
  out.symbols.clear();
  out.body.clear();
  out.add_path(path);
  chunk_names.bind(1, id);
  int rc = SQLITE_ROW;
  while ((rc = chunk_names.step()) == SQLITE_ROW) out.add_symbol(chunk_names.text_view(0));
  chunk_names.reset();
  if (rc != SQLITE_DONE) return internal_error("read the chunks of file " + std::to_string(id));
  out.add_body(content);
  return ok_status();
}

std::string module_of(std::string_view path) {
  const auto dot = path.rfind('.');
  const auto slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return "";
  std::string_view stem = path.substr(0, dot);
  std::string out;
  out.reserve(stem.size());
  for (char c : stem) {
    out.push_back(c == '/' ? '.' : (c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c));
  }
  constexpr std::string_view init = ".__init__";
  if (out.size() > init.size() && out.compare(out.size() - init.size(), init.size(), init) == 0) {
    out.resize(out.size() - init.size());
  }
  return out;
}

Result<DbPtr> open_index_db(const std::string& path, bool create_schema, bool validate) {
  if (path.empty()) return invalid_argument_error("index path is empty");
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  const bool fresh = !exists || st.st_size == 0;
  if (exists && !S_ISREG(st.st_mode)) return invalid_argument_error("index path is not a file: " + path);
  if (fresh && !create_schema) return not_found_error("no index at " + path);
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (fresh ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) {
    return unavailable_error("cannot open index " + path + ": " +
                             (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  sqlite3_extended_result_codes(db.get(), 0);
  if (!fresh && validate) {
    // Validate before any write: a damaged or foreign file must stay untouched.
    Stmt check(db.get(), "SELECT value FROM meta WHERE key = 'format'");
    if (!check.ok()) {
      const int code = sqlite3_errcode(db.get());
      if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
        return data_loss_error("index " + path + " is damaged or not an SQLite file: " + check.error());
      }
      return data_loss_error("index " + path + " is not a strata context index (" + check.error() + ")");
    }
    const int step = check.step();
    if (step != SQLITE_ROW || check.text(0) != kFormat) {
      return data_loss_error("index " + path + " is not a strata context index");
    }
    Stmt version(db.get(), "SELECT value FROM meta WHERE key = 'version'");
    if (!version.ok() || version.step() != SQLITE_ROW ||
        (version.text(0) != kVersion && version.text(0) != kFirstVersion)) {
      return data_loss_error("index " + path + " has an unsupported schema version");
    }
    Stmt quick(db.get(), "PRAGMA quick_check(1)");
    if (!quick.ok() || quick.step() != SQLITE_ROW || quick.text(0) != "ok") {
      return data_loss_error("index " + path + " is damaged (quick_check failed)");
    }
  }
  // 16 KiB pages for a new index (SQLite's default is 4 KiB): a quarter of the page writes,
  // WAL frames and B-tree levels for the same rows; a bulk ingest of chat and pull requests
  // runs ~15% faster (docs/benchmarks.md). Only an empty file takes a page size.
  if (fresh) STRATA_RETURN_IF_ERROR(exec(db.get(), "PRAGMA page_size=16384"));
  STRATA_RETURN_IF_ERROR(exec(db.get(), "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                        " PRAGMA foreign_keys=OFF; PRAGMA cache_size=-32000;"
                                        " PRAGMA journal_size_limit=67108864;"));
  if (!fresh && create_schema) {
    // Every index added, none of the ones they replace.
    Stmt probe(db.get(), "SELECT (SELECT count(*) FROM sqlite_schema WHERE name IN ('files_commit_set', 'files_code_key')) = 2"
                         " AND NOT EXISTS(SELECT 1 FROM sqlite_schema WHERE name IN ('files_commit', 'files_key'))");
    if (!probe.ok()) return sqlite_error(db.get(), "read schema");
    const bool has_additions = probe.step() == SQLITE_ROW && probe.int64(0) == 1;
    probe.reset();  // a statement left on a row would keep tables from being dropped
    if (!has_additions) {
      STRATA_RETURN_IF_ERROR(exec(db.get(), "BEGIN"));
      Status s = exec(db.get(), kSchemaAdditions);
      if (!s.ok()) {
        (void)exec(db.get(), "ROLLBACK");
        return s;
      }
      STRATA_RETURN_IF_ERROR(exec(db.get(), "COMMIT"));
    }
  }
  if (fresh) {
    STRATA_RETURN_IF_ERROR(exec(db.get(), "BEGIN"));
    Status s = exec(db.get(), kSchema);
    if (s.ok()) s = exec(db.get(), kFullTextSchema);
    if (s.ok()) s = exec(db.get(), kSchemaAdditions);
    if (s.ok()) {
      Stmt meta(db.get(), "INSERT INTO meta(key, value) VALUES('format', ?1), ('version', ?2)");
      meta.bind(1, std::string_view(kFormat)).bind(2, std::string_view(kVersion));
      if (meta.step() != SQLITE_DONE) s = sqlite_error(db.get(), "write meta");
    }
    if (!s.ok()) {
      (void)exec(db.get(), "ROLLBACK");
      return s;
    }
    STRATA_RETURN_IF_ERROR(exec(db.get(), "COMMIT"));
  }
  return db;
}

namespace {

// The columns add_file reads. commit_hash '' = the commit of the file's connector (complete
// scans store it once, in cursors, instead of re-stamping every row on each new commit).
constexpr const char* kFileColumns =
    "SELECT f.id, f.path, CASE WHEN f.commit_hash = '' THEN coalesce(c.commit_hash, '')"
    " ELSE f.commit_hash END, f.access, f.flags, f.bytes, d.sz"
    " FROM files f LEFT JOIN cursors c ON c.connector = f.source"
    " LEFT JOIN files_fts_docsize d ON d.id = f.id";

}  // namespace

std::uint32_t docsize_tokens(const unsigned char* p, int n) {
  std::uint64_t total = 0;
  int i = 0;
  while (i < n) {
    std::uint64_t v = 0;
    int k = 0;
    for (; k < 8 && i < n; ++k) {
      const unsigned char b = p[i++];
      v = (v << 7) | (b & 0x7f);
      if (!(b & 0x80)) break;
      if (k == 7 && i < n) {
        v = (v << 8) | p[i++];
        break;
      }
    }
    total += v;
  }
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(total, 0xffffffffu));
}

namespace {

std::string lower_ascii(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
  return s;
}

static_assert(sizeof(Catalog::File) <= 72, "a catalog entry is written for every document: keep it small");

// Appends the file row `files` is on (kFileColumns) to the catalog and its lookup tables.
void add_file(Catalog& cat, Stmt& files) {
  const auto index = static_cast<std::uint32_t>(cat.files.size());
  // Rows come in runs of one commit and one access list (a tree, a channel): compared with
  // the previous row's before they are hashed and looked up.
  const std::string_view commit = files.text_view(2), access = files.text_view(3);
  std::uint32_t commit_at = 0, access_at = 0;
  if (index > 0 && cat.commit_of(cat.files.back()) == commit) {
    commit_at = cat.files.back().commit;
  } else {
    commit_at = cat.intern_commit(commit);
  }
  if (index > 0 && cat.access_of(cat.files.back()) == access) {
    access_at = cat.files.back().access;
  } else {
    access_at = cat.intern_access(access);
  }
  Catalog::File& f = cat.files.emplace_back();
  f.id = files.int64(0);
  f.path = files.text_view(1);
  f.commit = commit_at;
  f.access = access_at;
  f.flags = static_cast<std::uint8_t>(files.int64(4));
  f.bytes = static_cast<std::size_t>(files.int64(5));
  f.tokens = docsize_tokens(files.blob(6), files.bytes(6));
  cat.index_path(index);
  if (f.flags & kFlagRecord) return;  // an identifier, not a file name: no stem, no module
  const auto slash = f.path.rfind('/');
  std::string name = f.path.substr(slash == std::string::npos ? 0 : slash + 1);
  const auto dot = name.rfind('.');
  f.names = static_cast<std::uint32_t>(cat.names.size());
  Catalog::Names& names = cat.names.emplace_back();
  names.stem = lower_ascii(name.substr(0, dot == std::string::npos || dot == 0 ? name.size() : dot));
  names.module = module_of(f.path);
  cat.by_stem[names.stem].push_back(index);
  if (!names.module.empty()) {
    // Every dotted suffix with at least two parts ("printing.ccode").
    std::string_view m = names.module;
    cat.by_module[std::string(m)].push_back(index);
    std::size_t dot_pos = m.find('.');
    while (dot_pos != std::string_view::npos) {
      m.remove_prefix(dot_pos + 1);
      if (m.find('.') == std::string_view::npos) break;
      cat.by_module[std::string(m)].push_back(index);
      dot_pos = m.find('.');
    }
  }
}

// Adds the named chunk `chunks` is on (file_id, kind, name, start_line) to the symbol table.
void add_definition(Catalog& cat, Stmt& chunks) {
  const std::int64_t at = cat.index_of(chunks.int64(0));
  if (at < 0) return;
  cat.definitions[lower_ascii(chunks.text(2))].push_back(
      {static_cast<std::uint32_t>(at), static_cast<ChunkKind>(chunks.int64(1)), static_cast<int>(chunks.int64(3))});
  ++cat.chunks;
}

constexpr std::uint32_t kGone = 0xffffffffu;

// Drops the entries of removed files (remap[i] == kGone) from a lookup table and renumbers
// the rest, keeping their order; keys left without entries are erased. Returns how many
// entries were dropped.
template <typename Map, typename IndexOf>
std::size_t remap_table(Map& table, const std::vector<std::uint32_t>& remap, IndexOf&& index_of) {
  std::size_t dropped = 0;
  for (auto it = table.begin(); it != table.end();) {
    auto& v = it->second;
    std::size_t out = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::uint32_t to = remap[index_of(v[i])];
      if (to == kGone) continue;
      if (out != i) v[out] = v[i];
      index_of(v[out]) = to;
      ++out;
    }
    dropped += v.size() - out;
    v.resize(out);
    it = v.empty() ? table.erase(it) : std::next(it);
  }
  return dropped;
}

}  // namespace

Status load_catalog_rows(sqlite3* db, Catalog& catalog, std::int64_t after_id) {
  // Room for the rows to come, at once: a million-row load rehashes and moves nothing on the
  // way. When they do not fit, twice what is needed is reserved, as growing would: the next
  // ingest (another large source, or a day of chat) then moves nothing. Capacity no entry
  // uses yet costs address space, not memory. The rows are counted in FTS5's docsize table
  // (one small row per file row, the same ids).
  Stmt count(db, "SELECT count(*) FROM files_fts_docsize WHERE id > ?1");
  if (!count.ok()) return sqlite_error(db, "load files");
  count.bind(1, after_id);
  if (count.step() != SQLITE_ROW) return sqlite_error(db, "load files");
  if (const std::int64_t more = count.int64(0); more > 0) {
    const std::size_t need = catalog.files.size() + static_cast<std::size_t>(more);
    if (catalog.files.capacity() < need) catalog.files.reserve(2 * need);
    catalog.reserve_paths(need);
  }
  Stmt files(db, (std::string(kFileColumns) + " WHERE f.id > ?1 ORDER BY f.id").c_str());
  if (!files.ok()) return sqlite_error(db, "load files");
  files.bind(1, after_id);
  int rc;
  while ((rc = files.step()) == SQLITE_ROW) add_file(catalog, files);
  if (rc != SQLITE_DONE) return sqlite_error(db, "load files");
  // Named chunks only (a chat message's or a text file's whole-file chunk has no name).
  Stmt chunks(db, after_id == 0 ? "SELECT file_id, kind, name, start_line FROM chunks WHERE name != ''"
                                : "SELECT file_id, kind, name, start_line FROM chunks WHERE name != ''"
                                  " AND file_id > ?1 ORDER BY id");
  if (!chunks.ok()) return sqlite_error(db, "load chunks");
  if (after_id != 0) chunks.bind(1, after_id);
  while ((rc = chunks.step()) == SQLITE_ROW) add_definition(catalog, chunks);
  if (rc != SQLITE_DONE) return sqlite_error(db, "load chunks");
  return ok_status();
}

Status apply_catalog_delta(sqlite3* db, Catalog& cat, const CatalogDelta& delta) {
  // Removed rows: compact the file list (order kept) and renumber every lookup table.
  std::vector<std::uint32_t> remap;
  for (const std::int64_t id : delta.removed_files) {
    const std::int64_t at = cat.index_of(id);
    if (at < 0) continue;  // inserted and deleted again by the same ingest
    if (remap.empty()) remap.assign(cat.files.size(), 0);
    remap[static_cast<std::size_t>(at)] = kGone;
  }
  if (!remap.empty()) {
    std::size_t kept = 0, kept_names = 0;
    for (std::size_t i = 0; i < cat.files.size(); ++i) {
      if (remap[i] == kGone) {
        continue;
      }
      remap[i] = static_cast<std::uint32_t>(kept);
      Catalog::File& f = cat.files[i];
      if (f.names != Catalog::kNoNames) {  // names stay in file order
        if (kept_names != f.names) cat.names[kept_names] = std::move(cat.names[f.names]);
        f.names = static_cast<std::uint32_t>(kept_names++);
      }
      if (kept != i) cat.files[kept] = std::move(f);
      ++kept;
    }
    cat.files.resize(kept);
    cat.names.resize(kept_names);
    cat.reindex_paths();
    auto self = [](std::uint32_t& i) -> std::uint32_t& { return i; };
    remap_table(cat.by_stem, remap, self);
    remap_table(cat.by_module, remap, self);
    cat.chunks -= remap_table(cat.definitions, remap,
                              [](Catalog::Definition& d) -> std::uint32_t& { return d.file; });
  }
  // Added rows in id order, as a full load reads them (new rows have the largest ids).
  std::vector<std::int64_t> added = delta.added_files;
  std::sort(added.begin(), added.end());
  added.erase(std::unique(added.begin(), added.end()), added.end());
  if (!added.empty()) {
    Stmt files(db, (std::string(kFileColumns) + " WHERE f.id = ?1").c_str());
    Stmt chunks(db, "SELECT file_id, kind, name, start_line FROM chunks WHERE file_id = ?1"
                    " AND name != '' ORDER BY id");
    if (!files.ok() || !chunks.ok()) return sqlite_error(db, "load changed files");
    for (const std::int64_t id : added) {
      if (cat.index_of(id) >= 0) continue;
      files.reset().bind(1, id);
      const int rc = files.step();
      if (rc == SQLITE_DONE) continue;  // inserted and deleted again by the same ingest
      if (rc != SQLITE_ROW) return sqlite_error(db, "load changed files");
      add_file(cat, files);
    }
    // Chunks after all files: a full load reads chunks in id order, and a later-inserted
    // file's chunks have larger ids.
    for (const std::int64_t id : added) {
      chunks.reset().bind(1, id);
      int rc;
      while ((rc = chunks.step()) == SQLITE_ROW) add_definition(cat, chunks);
      if (rc != SQLITE_DONE) return sqlite_error(db, "load changed chunks");
    }
  }
  // A cursor's new commit (or re-stamped rows) moves the commit of files that follow it.
  if (delta.commits_changed) {
    Stmt commits(db, "SELECT f.id, CASE WHEN f.commit_hash = '' THEN coalesce(c.commit_hash, '')"
                     " ELSE f.commit_hash END FROM files f LEFT JOIN cursors c ON c.connector = f.source");
    if (!commits.ok()) return sqlite_error(db, "load commits of files");
    int rc;
    while ((rc = commits.step()) == SQLITE_ROW) {
      const std::int64_t at = cat.index_of(commits.int64(0));
      if (at < 0) continue;
      cat.files[static_cast<std::size_t>(at)].commit = cat.intern_commit(commits.text_view(1));
    }
    if (rc != SQLITE_DONE) return sqlite_error(db, "load commits of files");
  }
  load_catalog_totals(db, cat);
  return ok_status();
}

std::int64_t Catalog::index_of(std::int64_t id) const noexcept {
  const auto it = std::lower_bound(files.begin(), files.end(), id,
                                   [](const File& f, std::int64_t v) { return f.id < v; });
  return it != files.end() && it->id == id ? it - files.begin() : -1;
}

namespace {

// The index of `value` in `list` (its strings, each once), added when new.
std::uint32_t intern(std::vector<std::string>& list,
                     std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>>& index,
                     std::string_view value) {
  if (const auto it = index.find(value); it != index.end()) return it->second;
  const auto at = static_cast<std::uint32_t>(list.size());
  list.emplace_back(value);
  index.emplace(list.back(), at);
  return at;
}

// 32 bits of a path's hash: a slot's tag and, masked, its home in the table.
std::uint64_t path_tag(std::string_view path) noexcept { return std::hash<std::string_view>{}(path) >> 32; }

}  // namespace

std::uint32_t Catalog::intern_access(std::string_view access) { return intern(access_lists, access_index, access); }

std::uint32_t Catalog::intern_commit(std::string_view commit) { return intern(commit_list, commit_index, commit); }

std::int64_t Catalog::find_path(std::string_view path) const noexcept {
  if (path_slots_.empty()) return -1;
  const std::uint64_t tag = path_tag(path);
  const std::size_t mask = path_slots_.size() - 1;
  for (std::size_t i = tag & mask;; i = (i + 1) & mask) {
    const std::uint64_t slot = path_slots_[i];
    if (slot == 0) return -1;
    const std::uint32_t index = static_cast<std::uint32_t>(slot) - 1;
    if ((slot >> 32) == tag && files[index].path == path) return index;
  }
}

void Catalog::index_path(std::uint32_t index) {
  if ((path_count_ + 1) * 2 > path_slots_.size()) grow_paths(std::max<std::size_t>(64, path_slots_.size() * 2));
  const std::string& path = files[index].path;
  const std::uint64_t tag = path_tag(path);
  const std::size_t mask = path_slots_.size() - 1;
  for (std::size_t i = tag & mask;; i = (i + 1) & mask) {
    std::uint64_t& slot = path_slots_[i];
    if (slot == 0) {
      slot = (tag << 32) | (static_cast<std::uint64_t>(index) + 1);
      ++path_count_;
      return;
    }
    const std::uint32_t other = static_cast<std::uint32_t>(slot) - 1;
    if ((slot >> 32) == tag && files[other].path == path) {
      slot = (tag << 32) | (static_cast<std::uint64_t>(index) + 1);  // the later file wins
      return;
    }
  }
}

void Catalog::grow_paths(std::size_t capacity) {
  std::size_t n = 64;
  while (n < capacity) n *= 2;
  std::vector<std::uint64_t> old;
  old.swap(path_slots_);
  path_slots_.assign(n, 0);
  const std::size_t mask = n - 1;
  for (const std::uint64_t slot : old) {
    if (slot == 0) continue;
    for (std::size_t i = (slot >> 32) & mask;; i = (i + 1) & mask) {
      if (path_slots_[i] == 0) {
        path_slots_[i] = slot;
        break;
      }
    }
  }
}

void Catalog::reserve_paths(std::size_t n) {
  if (n * 2 > path_slots_.size()) grow_paths(n * 2);
}

void Catalog::reindex_paths() {
  path_slots_.clear();
  path_count_ = 0;
  reserve_paths(files.size());
  for (std::size_t i = 0; i < files.size(); ++i) index_path(static_cast<std::uint32_t>(i));
}

void load_catalog_totals(sqlite3* db, Catalog& cat) {
  Stmt commits(db, "SELECT access, count(*) FROM commits GROUP BY access");  // reads commits_access
  cat.commits = 0;
  cat.commit_access.clear();
  while (commits.ok() && commits.step() == SQLITE_ROW) {
    const auto n = static_cast<std::size_t>(commits.int64(1));
    cat.commit_access.emplace_back(commits.text(0), n);
    cat.commits += n;
  }
  Stmt head(db, "SELECT commit_hash FROM cursors WHERE commit_hash != '' ORDER BY "
                "(connector = 'code') DESC, rowid LIMIT 1");
  cat.index_commit = head.ok() && head.step() == SQLITE_ROW ? head.text(0) : std::string();
}

bool has_substring_index(sqlite3* db) {
  Stmt probe(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'files_substr'");
  return probe.ok() && probe.step() == SQLITE_ROW;
}

Status ensure_substring_index(sqlite3* db) {
  if (has_substring_index(db)) return ok_status();
  // The contents are BLOBs (any bytes); the view hands them to FTS5 as text, the same bytes
  // on insert, on delete and when a LIKE re-checks a candidate.
  STRATA_RETURN_IF_ERROR(exec(db, "BEGIN IMMEDIATE"));
  Status s = exec(db,
                  "CREATE VIEW IF NOT EXISTS files_text(id, content) AS"
                  " SELECT id, CAST(content AS TEXT) FROM files;"
                  "CREATE VIRTUAL TABLE files_substr USING fts5(content, content='files_text',"
                  " content_rowid='id', tokenize='trigram', detail='none');"
                  "INSERT INTO files_substr(files_substr) VALUES('rebuild');");
  if (!s.ok()) {
    (void)exec(db, "ROLLBACK");
    return s;
  }
  return exec(db, "COMMIT");
}

Result<std::shared_ptr<const Catalog>> load_catalog(sqlite3* db) {
  auto cat = std::make_shared<Catalog>();
  STRATA_RETURN_IF_ERROR(load_catalog_rows(db, *cat, 0));
  load_catalog_totals(db, *cat);
  return std::shared_ptr<const Catalog>(std::move(cat));
}

}  // namespace strata::context::detail
