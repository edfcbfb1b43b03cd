// The context index: one SQLite file (schema in docs/context.md, "Index format").
//
//   meta(key, value)                 format marker, schema version
//   cursors(connector, cursor, commit_hash)
//   files(id, source, path, hash, commit_hash, language, bytes, lines, flags, access, content)
//   files_fts  FTS5(path, symbols, body)     rowid = files.id; identifier-split term streams;
//              contentless: the streams are re-derived (FileTerms, derive_file_terms)
//   chunks(id, file_id, kind, name, qualified, start_line, end_line, sig_end)
//   commits(id, source, hash, key_hash, author, time, title, message, access)
//   commits_fts FTS5(message, paths)         rowid = commits.id
//   commit_files(commit_id, path)
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <strata/context/document.h>
#include <strata/status.h>

#include "context/text.h"

namespace strata::context::detail {

class Stmt;  // context/sqlite_util.h

inline constexpr std::uint8_t kFlagTest = 1;
inline constexpr std::uint8_t kFlagVendored = 2;
// A record of a system of record (pull request, review, comment, issue, chat message): its
// path is an identifier, not a file name, so the catalog gives it no stem or module.
inline constexpr std::uint8_t kFlagRecord = 4;

// Read-mostly view of the index kept in memory for ranking (paths, modules, symbol table).
struct Catalog {
  static constexpr std::uint32_t kNoNames = 0xffffffffu;  // File::names of a record
  // One entry per file row, kept small (72 bytes): a million chat messages are a million
  // entries, written once each when the catalog is built and moved when it grows. What
  // many files share (access lists, commits) is stored once and referred to by index; the
  // names of a source file (records have none) are kept apart.
  struct File {
    std::int64_t id = 0;
    std::string path;
    std::size_t bytes = 0;
    std::uint32_t access = 0;  // index into access_lists (Catalog::access_of)
    std::uint32_t commit = 0;  // index into commit_list (Catalog::commit_of; 0 is "")
    std::uint32_t names = kNoNames;  // index into names (Catalog::stem_of, module_of)
    std::uint32_t tokens = 0;  // its full-text row's length in tokens, all columns
    std::uint8_t flags = 0;
  };
  struct Names {
    std::string stem;    // lowercase file name without extension
    std::string module;  // lowercase dotted module path ("sympy.printing.ccode"), or ""
  };
  struct Definition {
    std::uint32_t file = 0;  // index into files
    ChunkKind kind = ChunkKind::kFunction;
    int line = 1;
  };
  std::vector<File> files;  // in id order (a new row's id is above every remaining one)
  // The distinct access lists ('\n'-joined principals) of the files: a million chat
  // messages share a few hundred channels' lists. Never shrinks (an unused list costs a string).
  std::vector<std::string> access_lists;
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> access_index;  // list -> index
  // The distinct commits of the files ("" first): a tree indexed at one commit shares one.
  // Never shrinks.
  std::vector<std::string> commit_list{std::string()};
  std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> commit_index{{std::string(), 0}};
  // The names of the files that have them, in file order (File::names).
  std::vector<Names> names;
  std::unordered_map<std::string, std::vector<std::uint32_t>> by_stem;
  std::unordered_map<std::string, std::vector<std::uint32_t>> by_module;  // also module suffixes
  std::unordered_map<std::string, std::vector<Definition>> definitions;  // lowercase name
  std::size_t chunks = 0;
  std::size_t commits = 0;
  // The commits' distinct access lists and how many commits have each (they add up to
  // `commits`): whether a principal may read every commit, without reading them.
  std::vector<std::pair<std::string, std::size_t>> commit_access;
  std::string index_commit;

  // The index in `files` of the row with `id`, or -1 (a binary search: files are in id order).
  [[nodiscard]] std::int64_t index_of(std::int64_t id) const noexcept;
  [[nodiscard]] std::string_view access_of(const File& f) const noexcept { return access_lists[f.access]; }
  [[nodiscard]] const std::string& commit_of(const File& f) const noexcept { return commit_list[f.commit]; }
  // A file's lowercase stem and module path; "" for a record.
  [[nodiscard]] std::string_view stem_of(const File& f) const noexcept {
    return f.names == kNoNames ? std::string_view() : std::string_view(names[f.names].stem);
  }
  [[nodiscard]] std::string_view module_of(const File& f) const noexcept {
    return f.names == kNoNames ? std::string_view() : std::string_view(names[f.names].module);
  }
  // The index of `access` in access_lists, added when new.
  std::uint32_t intern_access(std::string_view access);
  // The index of `commit` in commit_list, added when new.
  std::uint32_t intern_commit(std::string_view commit);

  // The index in `files` of the file with `path` (of the last such file when two sources
  // hold the same path), or -1.
  [[nodiscard]] std::int64_t find_path(std::string_view path) const noexcept;
  // Adds files[index] to the path lookup (it replaces an earlier file with the same path).
  void index_path(std::uint32_t index);
  // Rebuilds the path lookup from `files` (after files were removed and renumbered).
  void reindex_paths();
  // Room in the path lookup for `n` files.
  void reserve_paths(std::size_t n);

 private:
  // The path lookup: open addressing over the files' own path strings (no copy of a path,
  // no allocation per file). A slot holds the index + 1 (0: empty) and 32 bits of the
  // path's hash, which also choose its place: growing the table reads no path. At most
  // half the slots are used.
  std::vector<std::uint64_t> path_slots_;
  std::size_t path_count_ = 0;
  void grow_paths(std::size_t capacity);
};

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

// Opens or creates the index: validates an existing file before touching it.
// `validate`: check an existing file first (format, version, PRAGMA quick_check, which reads
// all of it); false for a further connection to an index this process has just validated.
Result<DbPtr> open_index_db(const std::string& path, bool create_schema, bool validate = true);
// Brings an index of an older version that open_index_db accepted up to the current one:
// its files_fts is rebuilt, contentless, with the current terms (one transaction; on failure
// the file is as it was). For the writer, once it holds the index's lock (another process may still use
// an older index); a no-op on a current index.
Status upgrade_index(sqlite3* db);
// Adds a file's row to files_fts: ?1 its id, ?2..?4 its FileTerms (path, symbols, body). The
// one statement for ingest and for the rebuild of an older index.
inline constexpr const char* kFullTextInsertSql =
    "INSERT INTO files_fts(rowid, path, symbols, body) VALUES(?1, ?2, ?3, ?4)";
// The chunk names derive_file_terms reads: bind ?1 to the file's id.
inline constexpr const char* kChunkNamesSql = "SELECT name FROM chunks WHERE file_id = ?1 ORDER BY id";
// Re-derives the files_fts values of file `id` from its stored path and content and its
// chunks' names (`chunk_names`: a statement of kChunkNamesSql, left reset): what ingest put
// in files_fts for it, so the contentless table can delete the row.
Status derive_file_terms(std::int64_t id, std::string_view path, std::string_view content, Stmt& chunk_names,
                         FileTerms& out);
// Builds the catalog from the database.
Result<std::shared_ptr<const Catalog>> load_catalog(sqlite3* db);
// Appends to `catalog` the files with an id above `after_id` (and their named chunks), in id
// order: after an ingest that only added documents, `after_id` = the catalog's last id gives
// the same catalog as load_catalog. On error `catalog` may hold part of the rows.
Status load_catalog_rows(sqlite3* db, Catalog& catalog, std::int64_t after_id);
// The sum of FTS5's per-column token counts (SQLite varints) in a docsize blob: the row's
// length in tokens.
std::uint32_t docsize_tokens(const unsigned char* blob, int bytes);
// Sets the catalog's commit count (and counts by access list) and index commit from the
// database.
void load_catalog_totals(sqlite3* db, Catalog& catalog);

// What one ingest changed in the rows the catalog mirrors.
struct CatalogDelta {
  std::vector<std::int64_t> removed_files;  // ids of deleted file rows (an update is both)
  std::vector<std::int64_t> added_files;    // ids of inserted file rows
  bool commits_changed = false;             // a cursor's commit or a row's commit changed
};
// Brings `catalog` up to date with `delta`, reading only the added rows (and, when commits
// changed, every row's commit) from `db`: the result equals load_catalog(db) provided
// `catalog` mirrored the database before the change and `delta` lists every file row deleted
// or inserted since. Work is proportional to the changed files plus one renumbering pass over
// the lookup tables when rows were removed (no copy, no re-parsing of paths). On error
// `catalog` may be half-updated: reload it.
Status apply_catalog_delta(sqlite3* db, Catalog& catalog, const CatalogDelta& delta);

// The optional substring index (EngineOptions::substring_index): an FTS5 trigram table over
// the files' contents, `files_substr`, whose text is read from the view `files_text` (no
// second copy of the contents). True when the index has it.
bool has_substring_index(sqlite3* db);
// Creates the substring index and fills it from the files already indexed (one transaction;
// a no-op when it exists).
Status ensure_substring_index(sqlite3* db);

// Module path of a file: "a/b/c.py" -> "a.b.c", "a/b/__init__.py" -> "a.b"; "" for others.
std::string module_of(std::string_view path);

// The FTS5 tokenizer spec shared by the tables and the queries.
inline constexpr const char* kFtsTokenizer = "unicode61 remove_diacritics 0 tokenchars '_'";

}  // namespace strata::context::detail
