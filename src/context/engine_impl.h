// The ContextEngine implementation shared by engine.cpp (open, ingest), retrieve.cpp and
// packer.cpp.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <memory>
#include <string>
#include <thread>

#include <strata/context/engine.h>

#include "context/index.h"

namespace strata::context::detail {

class EngineImpl final : public ContextEngine {
 public:
  // `checkpointer`: a third connection for the checkpoint thread (null: the writer's commits
  // checkpoint, as SQLite does by default).
  EngineImpl(EngineOptions options, DbPtr writer, DbPtr reader, DbPtr checkpointer, int lock_fd,
             std::shared_ptr<const Catalog> catalog);
  ~EngineImpl() override;

  Result<IngestReport> ingest(Connector& connector, const IngestOptions& options) override;
  Result<RetrieveResult> retrieve(const Query& query) const override;
  Result<Packet> pack(const Query& query, const PackOptions& options) const override;
  Result<IndexStats> stats() const override;

  std::shared_ptr<const Catalog> catalog() const {
    std::lock_guard lock(catalog_mu_);
    return catalog_;
  }
  // Reader connection; callers hold read_mu().
  sqlite3* reader() const { return reader_.get(); }
  std::mutex& read_mu() const { return read_mu_; }
  const EngineOptions& options() const { return options_; }
  bool has_substring_index() const { return substring_index_; }
  // How many ingests refreshed the catalog by an update in place or of a copy
  // (update_catalog) and by a full reload since open; for tests and diagnostics.
  std::size_t catalog_updates() const { return catalog_updates_.load(); }
  std::size_t catalog_reloads() const { return catalog_reloads_.load(); }
  // How many checkpoints the checkpoint thread completed (the whole log copied into the
  // database file) since open; for tests and diagnostics.
  std::size_t checkpoints() const { return checkpoints_.load(); }
  // Tests: called in place of building a bulk import's edge indexes after its documents
  // committed; an error stands for a failed build (set before ingesting, under no load).
  void set_edge_index_fault_for_test(std::function<Status()> fault) { edge_index_fault_ = std::move(fault); }

 private:
  // After a committed ingest (write_mu_ held): the catalog rebuilt from the database,
  // extended with the rows added since its last id, or updated with the rows one ingest
  // deleted and inserted (a full reload when that fails or the change is large). `db` is the
  // connection read: the writer's, or (extend_catalog while the writer builds a bulk
  // import's edge indexes) one of the calling thread's own.
  Status reload_catalog(sqlite3* db);
  Status extend_catalog(sqlite3* db);
  Status update_catalog(const CatalogDelta& delta);
  // Applies `change` to the catalog: in place when no reader holds it (under catalog_mu_, so
  // no reader sees it half-changed), else to a copy that then replaces it; a change that
  // fails part way reloads the catalog whole from `db`. `applied` (optional) counts the
  // changes made.
  Status change_catalog(sqlite3* db, const std::function<Status(Catalog&)>& change,
                        std::atomic<std::size_t>* applied);
  // Asks the checkpoint thread to copy the write-ahead log into the database file. The
  // writer's commits do not (wal_autocheckpoint=0): a bulk ingest returns once its
  // transaction is in the log, and the copy of its pages runs beside what follows (the
  // catalog update, the next ingest, queries). Readers are never blocked by it.
  void request_checkpoint();
  void checkpoint_loop();

  EngineOptions options_;
  std::mutex write_mu_;
  DbPtr writer_;
  mutable std::mutex read_mu_;
  DbPtr reader_;
  int lock_fd_ = -1;
  mutable std::mutex catalog_mu_;
  std::shared_ptr<const Catalog> catalog_;
  bool catalog_stale_ = false;  // a catalog update failed after a commit (write_mu_)
  // A bulk import's edge indexes could not be built after its commit (write_mu_): the next
  // ingest builds them first.
  bool edge_indexes_missing_ = false;
  std::function<Status()> edge_index_fault_;
  const bool substring_index_;  // the index has files_substr (created only by open)
  std::atomic<std::size_t> catalog_updates_{0};
  std::atomic<std::size_t> catalog_reloads_{0};
  // The checkpoint thread and its connection (checkpoint_loop).
  DbPtr checkpoint_db_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;  // checkpoint_mu_
  bool checkpoint_stop_ = false;    // checkpoint_mu_
  std::atomic<std::size_t> checkpoints_{0};
  std::thread checkpoint_thread_;
};

// True when a document with `access` ('\n'-joined) may be read by `principal`.
bool may_read(std::string_view access, const Principal& principal);

}  // namespace strata::context::detail
