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

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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
  // Deletes the edges of `doc` (pending ones are written first).
  Status remove(std::string_view source, std::string_view doc);
  // Deletes the written edges of `doc` and leaves the pending ones pending (they are a newer
  // version's: see hold()). Ends bulk mode without writing what is pending.
  Status remove_written(std::string_view source, std::string_view doc);

  // Edges are inserted kBatch at a time, by one multi-row INSERT: a statement's fixed cost
  // (its program started and halted, a cursor opened and closed) is paid once per batch
  // instead of once per edge (docs/benchmarks.md, thirteenth pass). flush() writes the
  // pending edges; remove(), begin_bulk() and end_bulk() flush first, and the owner must
  // flush before it commits (pending edges are lost with the writer otherwise).
  static constexpr std::size_t kBatch = 32;
  Status flush();
  // While held, add() never writes: the edges wait for flush() however many there are (the
  // owner holds them until the documents they belong to are written, so that a document
  // replacing an earlier one can delete the earlier edges first: remove_written()).
  void hold(bool held) noexcept { held_ = held; }
  // Edges added and not yet written.
  [[nodiscard]] std::size_t pending() const noexcept { return pending_.size(); }

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
  // A pending edge: its strings are ranges of arena_ (stable views once the batch is full).
  struct Pending {
    std::uint32_t begin[6];  // source, doc, relation, account, target, access
    std::uint32_t size[6];
    std::int64_t time;
    std::int64_t ord;
  };
  sqlite3* db_;
  Status build_indexes();  // bulk mode's end, without a flush
  Stmt insert_[kBatch];    // by row count - 1
  Stmt delete_;
  std::string arena_;
  std::vector<Pending> pending_;
  bool bulk_ = false;
  bool held_ = false;
};

}  // namespace strata::context::detail
