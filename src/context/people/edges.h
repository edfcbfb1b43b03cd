// The social graph's storage: an `edges` table in the context index, written by the engine's
// ingest from every document (docs/connectors.md, "People"). Private to src/context.
//
//   edges(source, doc, relation, account, target, time, ord, access)
//     authored          account wrote doc (target = doc)
//     commit            git account changed a path (target = path; doc = the commit)
//     pr_file           account = a pull request's path, target = a path it changed
//     reviewed, approved, requested_changes   account reviewed the pull request `target`
//     commented         account commented on `target` (an issue, a pull request, a line)
//     discussed         account wrote in the chat thread `target`
//     merged, assigned, reacted               from Document::participants
//     owns              CODEOWNERS: account owns pattern `target`; ord = the rule's line
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

#include <strata/context/document.h>
#include <strata/status.h>

#include "context/sqlite_util.h"

namespace strata::context::detail {

// Creates the edges table and its indexes when missing (an index made before it had them).
Status ensure_edges_schema(sqlite3* db);

// "Name <Email>" -> "git:email" (lowercase); "" when there is no email.
std::string git_account(std::string_view author);
// A CODEOWNERS owner as an account: "@alice" -> "github:alice", "@org/team" ->
// "github-team:org/team", "a@b.c" -> "git:a@b.c".
std::string owner_account(std::string_view owner);

// Writes a document's edges (replacing the ones it had); `access` is the stored form.
class EdgeWriter {
 public:
  explicit EdgeWriter(sqlite3* db) : db_(db) {}
  // `is_new`: the caller knows the document was not in the index (so it has no edges to
  // delete: the delete's index probe is skipped).
  Status replace(std::string_view source, const Document& doc, std::string_view access, bool is_new = false);
  Status remove(std::string_view source, std::string_view doc);

  // Bulk mode, for a large first ingest inside one write transaction: drops the three
  // secondary indexes so each edge costs one table insert, and end_bulk() builds them again
  // in one sorted pass (CREATE INDEX) before the transaction commits. remove() ends bulk
  // mode first (it needs edges_doc). A rolled-back transaction restores the indexes.
  Status begin_bulk();
  Status end_bulk();
  // In bulk mode: the secondary indexes are dropped until end_bulk().
  [[nodiscard]] bool bulk() const noexcept { return bulk_; }

 private:
  Status add(std::string_view source, std::string_view doc, std::string_view relation, std::string_view account,
             std::string_view target, std::int64_t time, std::int64_t ord, std::string_view access);
  sqlite3* db_;
  Stmt insert_;
  Stmt delete_;
  bool bulk_ = false;
};

}  // namespace strata::context::detail
