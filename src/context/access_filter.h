// The principal filter applied inside the index queries (docs/connectors.md, "Permissions").
//
// Access lists are stored '\n'-joined with a leading and a trailing '\n'. A query binds the
// principal's names (kEveryone, its id, its groups) as a JSON array and every candidate query
// carries kAccessClause, so FTS candidates, BM25 ranks, LIMITs, document frequencies and
// counts only ever see documents the principal may read: nothing is filtered after a top-k.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <strata/context/engine.h>
#include <strata/status.h>

#include "context/index.h"

namespace strata::context::detail {

// A SQL condition true when the row's `access` column (qualified by `table`, e.g. "f") holds
// one of the names in the JSON array bound to parameter `param`.
std::string access_clause(std::string_view table, int param);

// The names a principal reads as, as a JSON array: ["*", id, groups...] (empty names left out).
std::string principal_names_json(const Principal& principal);

// How many catalog files `principal` may read, and their full-text tokens in all.
struct VisibleFiles {
  std::size_t count = 0;
  std::uint64_t tokens = 0;
  // Whether the principal may read each of the catalog's access lists (by index): a file's
  // visibility is one look-up, and may_read runs once a list, not once a file.
  std::vector<char> lists;
  [[nodiscard]] bool may_read_file(const Catalog::File& f) const noexcept { return lists[f.access] != 0; }
};
VisibleFiles visible_files(const Catalog& catalog, const Principal& principal);

// Which full-text index a document frequency is counted in.
enum class Corpus { kFiles, kCommits };

// Number of files (or commits) the principal whose names are `names_json` may read whose
// indexed terms contain `term` (an FTS5 query of one quoted term). -1 on an SQL error.
double visible_document_frequency(sqlite3* db, std::string_view term, const std::string& names_json,
                                  Corpus corpus = Corpus::kFiles);

// Reports `result` to options.audit and options.audit_log_path (audit.cpp); returns it, or
// kUnavailable (and nothing) when the audit line cannot be written.
Result<RetrieveResult> audited(const EngineOptions& options, const Query& query, RetrieveResult result);

// Records one query (its AuditRecord: now, `operation`, the principal, the first 1,000 bytes
// of `query`, what was `served`) as one JSON line appended to `log_path` (when set), then
// through `callback` (when set); nothing when neither is set. kUnavailable when the line
// cannot be written (the callback is then not called), kInternal when the callback throws.
Status audit_query(const std::function<void(const AuditRecord&)>& callback, const std::string& log_path,
                   const char* operation, const Principal& principal, std::string_view query,
                   std::vector<std::string> served);

}  // namespace strata::context::detail
