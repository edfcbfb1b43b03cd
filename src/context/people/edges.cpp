#include "context/people/edges.h"

#include <algorithm>
#include <string>
#include <thread>

#include <strata/context/connectors.h>

namespace strata::context::detail {

namespace {
constexpr const char* kEdgeIndexes =
    "CREATE INDEX IF NOT EXISTS edges_doc ON edges(source, doc);"
    "CREATE INDEX IF NOT EXISTS edges_target ON edges(target, relation);"
    "CREATE INDEX IF NOT EXISTS edges_account ON edges(account, relation);";
}  // namespace

Status ensure_edges_schema(sqlite3* db) {
  STRATA_RETURN_IF_ERROR(exec(db,
                              "CREATE TABLE IF NOT EXISTS edges(source TEXT NOT NULL, doc TEXT NOT NULL,"
                              " relation TEXT NOT NULL, account TEXT NOT NULL, target TEXT NOT NULL,"
                              " time INTEGER NOT NULL, ord INTEGER NOT NULL, access TEXT NOT NULL);"));
  return exec(db, kEdgeIndexes);
}

Status EdgeWriter::begin_bulk() {
  if (bulk_) return ok_status();
  STRATA_RETURN_IF_ERROR(flush());
  STRATA_RETURN_IF_ERROR(
      exec(db_, "DROP INDEX IF EXISTS edges_doc; DROP INDEX IF EXISTS edges_target; DROP INDEX IF EXISTS edges_account;"));
  bulk_ = true;
  return ok_status();
}

Status EdgeWriter::end_bulk() {
  STRATA_RETURN_IF_ERROR(flush());
  return build_indexes();
}

Status EdgeWriter::build_indexes() {
  if (!bulk_) return ok_status();
  // CREATE INDEX feeds SQLite's external sorter, which sorts runs as large as the page cache
  // (32 MB here) on the calling thread. Runs of 4 MB sorted by helper threads (PRAGMA
  // threads) while the table is read, then merged, build the three indexes of a million
  // edges in ~1.6 s instead of ~2.3 s (docs/benchmarks.md); the cache is restored after.
  std::int64_t cache = 0;
  {
    Stmt get(db_, "PRAGMA cache_size");
    if (!get.ok() || get.step() != SQLITE_ROW) return sqlite_error(db_, "read cache size");
    cache = get.int64(0);
  }
  const unsigned helpers = std::clamp(std::thread::hardware_concurrency(), 1U, 4U);
  STRATA_RETURN_IF_ERROR(
      exec(db_, ("PRAGMA threads=" + std::to_string(helpers) + "; PRAGMA cache_size=-4000;").c_str()));
  const Status built = exec(db_, kEdgeIndexes);
  const Status restored = exec(db_, ("PRAGMA threads=0; PRAGMA cache_size=" + std::to_string(cache) + ";").c_str());
  STRATA_RETURN_IF_ERROR(built);
  STRATA_RETURN_IF_ERROR(restored);
  bulk_ = false;
  return ok_status();
}

std::string git_account(std::string_view author) {
  const auto lt = author.rfind('<');
  const auto gt = author.rfind('>');
  if (lt == std::string_view::npos || gt == std::string_view::npos || gt <= lt + 1) return "";
  std::string email(author.substr(lt + 1, gt - lt - 1));
  for (char& c : email) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
  if (email.find('@') == std::string::npos) return "";
  return "git:" + email;
}

std::string owner_account(std::string_view owner) {
  if (owner.size() > 1 && owner[0] == '@') {
    const std::string_view name = owner.substr(1);
    return (name.find('/') != std::string_view::npos ? "github-team:" : "github:") + std::string(name);
  }
  std::string email(owner);
  for (char& c : email) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
  return "git:" + email;
}

Status EdgeWriter::add(std::string_view source, std::string_view doc, std::string_view relation,
                       std::string_view account, std::string_view target, std::int64_t time, std::int64_t ord,
                       std::string_view access) {
  if (account.empty() || target.empty()) return ok_status();
  Pending e{};
  const std::string_view fields[6] = {source, doc, relation, account, target, access};
  for (int i = 0; i < 6; ++i) {
    e.begin[i] = static_cast<std::uint32_t>(arena_.size());
    e.size[i] = static_cast<std::uint32_t>(fields[i].size());
    arena_.append(fields[i]);
  }
  e.time = time;
  e.ord = ord;
  pending_.push_back(e);
  return !held_ && pending_.size() >= kBatch ? flush() : ok_status();
}

Status EdgeWriter::flush() {
  if (pending_.empty()) return ok_status();
  // Written or not, the batch is done with: after an error the caller rolls back.
  struct Clear {
    EdgeWriter& w;
    ~Clear() {
      w.pending_.clear();
      w.arena_.clear();
    }
  } clear{*this};
  // The arena no longer grows until it is cleared: views into it are bound without copies.
  auto bind_row = [this](Stmt& st, int first, const Pending& e) {
    for (int i = 0; i < 5; ++i) st.bind_ref(first + i, std::string_view(arena_).substr(e.begin[i], e.size[i]));
    st.bind(first + 5, e.time).bind(first + 6, e.ord).bind_ref(first + 7, std::string_view(arena_).substr(e.begin[5], e.size[5]));
  };
  // OR IGNORE: a multi-row INSERT that may abort halfway (here: a NOT NULL column) runs in a
  // statement savepoint, and opening one makes every FTS5 table of the transaction flush its
  // pending terms to a new segment, per batch. No edge is ever NULL, so nothing is ignored.
  constexpr const char* kColumns = "INSERT OR IGNORE INTO edges(source, doc, relation, account, target, time, ord, access) VALUES";
  // Full batches, then the rest by one statement of its size (each size prepared once).
  for (std::size_t done = 0; done < pending_.size();) {
    const std::size_t rows = std::min(kBatch, pending_.size() - done);
    Stmt& insert = insert_[rows - 1];
    if (!insert.ok()) {
      std::string sql = kColumns;
      for (std::size_t r = 0; r < rows; ++r) sql += r == 0 ? "(?,?,?,?,?,?,?,?)" : ",(?,?,?,?,?,?,?,?)";
      insert = Stmt(db_, sql);
      if (!insert.ok()) return sqlite_error(db_, "prepare edge insert");
    }
    for (std::size_t r = 0; r < rows; ++r) bind_row(insert, static_cast<int>(8 * r + 1), pending_[done + r]);
    const int rc = insert.step();
    insert.reset();
    if (rc != SQLITE_DONE) return sqlite_error(db_, "insert edges");
    done += rows;
  }
  return ok_status();
}

Status EdgeWriter::remove(std::string_view source, std::string_view doc) {
  STRATA_RETURN_IF_ERROR(flush());
  return remove_written(source, doc);
}

Status EdgeWriter::remove_written(std::string_view source, std::string_view doc) {
  STRATA_RETURN_IF_ERROR(build_indexes());  // the delete needs edges_doc
  if (!delete_.ok()) {
    delete_ = Stmt(db_, "DELETE FROM edges WHERE source = ?1 AND doc = ?2");
    if (!delete_.ok()) return sqlite_error(db_, "prepare edge delete");
  }
  delete_.reset().bind(1, source).bind(2, doc);
  if (delete_.step() != SQLITE_DONE) return sqlite_error(db_, "delete edges");
  return ok_status();
}

Status EdgeWriter::replace(std::string_view source, const Document& d, std::string_view access, bool is_new) {
  if (d.kind == DocumentKind::kFile) return ok_status();  // source files have no people (commits do)
  if (!is_new) STRATA_RETURN_IF_ERROR(remove(source, d.path));
  const std::int64_t t = d.timestamp;
  auto edge = [&](std::string_view relation, std::string_view account, std::string_view target, std::int64_t ord = 0) {
    return add(source, d.path, relation, account, target, t, ord, access);
  };
  const std::string author = d.authors.empty() ? std::string() : d.authors.front();
  switch (d.kind) {
    case DocumentKind::kFile:
    case DocumentKind::kDoc:
      break;
    case DocumentKind::kCommit: {
      const std::string acct = git_account(author);
      for (const auto& p : d.changed_paths) STRATA_RETURN_IF_ERROR(edge("commit", acct, p));
      break;
    }
    case DocumentKind::kPullRequest:
      STRATA_RETURN_IF_ERROR(edge("authored", author, d.path));
      for (const auto& p : d.changed_paths) STRATA_RETURN_IF_ERROR(edge("pr_file", d.path, p));
      break;
    case DocumentKind::kReview: {
      const std::string_view rel = d.status == "approved"            ? "approved"
                                   : d.status == "changes_requested" ? "requested_changes"
                                                                     : "reviewed";
      STRATA_RETURN_IF_ERROR(edge(rel, author, d.parent));
      break;
    }
    case DocumentKind::kReviewComment:
    case DocumentKind::kComment:
      STRATA_RETURN_IF_ERROR(edge("commented", author, d.parent.empty() ? d.path : d.parent));
      break;
    case DocumentKind::kIssue:
      STRATA_RETURN_IF_ERROR(edge("authored", author, d.path));
      break;
    case DocumentKind::kChatMessage:
      STRATA_RETURN_IF_ERROR(edge("discussed", author, d.parent.empty() ? d.path : d.parent));
      break;
    case DocumentKind::kOwnership:
      for (const auto& rule : parse_codeowners(d.content)) {
        for (const auto& o : rule.owners) STRATA_RETURN_IF_ERROR(edge("owns", owner_account(o), rule.pattern, rule.line));
      }
      return ok_status();
  }
  for (const auto& p : d.participants) {
    const auto colon = p.find(':');
    if (colon == std::string::npos || colon == 0) continue;
    const std::string rel = p.substr(0, colon);
    if (rel == "owns") continue;
    STRATA_RETURN_IF_ERROR(edge(rel, std::string_view(p).substr(colon + 1), d.path));
  }
  return ok_status();
}

}  // namespace strata::context::detail
