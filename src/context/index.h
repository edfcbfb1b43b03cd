// The context index: one SQLite file (schema in docs/context.md, "Index format").
//
//   meta(key, value)                 format marker, schema version
//   cursors(connector, cursor, commit_hash)
//   files(id, source, path, hash, commit_hash, language, bytes, lines, flags, access, content)
//   files_fts  FTS5(path, symbols, body)     rowid = files.id; identifier-split term streams
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
#include <vector>

#include <strata/context/document.h>
#include <strata/status.h>

namespace strata::context::detail {

inline constexpr std::uint8_t kFlagTest = 1;
inline constexpr std::uint8_t kFlagVendored = 2;

// Read-mostly view of the index kept in memory for ranking (paths, modules, symbol table).
struct Catalog {
  struct File {
    std::int64_t id = 0;
    std::string path;
    std::string commit;
    std::string access;  // '\n'-joined principals
    std::uint8_t flags = 0;
    std::size_t bytes = 0;
    std::string stem;    // lowercase file name without extension
    std::string module;  // lowercase dotted module path ("sympy.printing.ccode")
  };
  struct Definition {
    std::uint32_t file = 0;  // index into files
    ChunkKind kind = ChunkKind::kFunction;
    int line = 1;
  };
  std::vector<File> files;
  std::unordered_map<std::int64_t, std::uint32_t> by_id;
  std::unordered_map<std::string, std::uint32_t> by_path;
  std::unordered_map<std::string, std::vector<std::uint32_t>> by_stem;
  std::unordered_map<std::string, std::vector<std::uint32_t>> by_module;  // also module suffixes
  std::unordered_map<std::string, std::vector<Definition>> definitions;  // lowercase name
  std::size_t chunks = 0;
  std::size_t commits = 0;
  std::string index_commit;
};

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;

// Opens or creates the index: validates an existing file before touching it.
Result<DbPtr> open_index_db(const std::string& path, bool create_schema);
// Builds the catalog from the database.
Result<std::shared_ptr<const Catalog>> load_catalog(sqlite3* db);

// What one ingest changed in the rows the catalog mirrors.
struct CatalogDelta {
  std::vector<std::int64_t> removed_files;  // ids of deleted file rows (an update is both)
  std::vector<std::int64_t> added_files;    // ids of inserted file rows
  bool commits_changed = false;             // a cursor's commit changed (files' commits may have)
};
// `old` brought up to date with `delta`, reading only the added rows from `db`: equal to what
// load_catalog(db) returns, provided `old` mirrored the database before the change and
// `delta` lists every file row deleted or inserted since. Costs a copy of `old` plus work
// proportional to the changed files (and one pass over the files' commits when they moved).
Result<std::shared_ptr<const Catalog>> update_catalog(const Catalog& old, sqlite3* db,
                                                      const CatalogDelta& delta);

// Module path of a file: "a/b/c.py" -> "a.b.c", "a/b/__init__.py" -> "a.b"; "" for others.
std::string module_of(std::string_view path);

// The FTS5 tokenizer spec shared by the tables and the queries.
inline constexpr const char* kFtsTokenizer = "unicode61 remove_diacritics 0 tokenchars '_'";

}  // namespace strata::context::detail
