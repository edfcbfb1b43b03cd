// strata/session/sqlite_store.h — the embedded default store: one SQLite file.
//
// Layout: WAL journal; one row per event keyed by (session, offset); producers, sessions and
// leased entries in their own tables. Appends from the hub arrive as groups and are written
// in one transaction each (group commit).
//
// Durability: with Durability::kFull (the default) an append that returned survives a crash
// of the process, of the OS and a power loss (fsync of the WAL on every commit). With
// kProcessCrash it survives the process being killed (kill -9) but the last commits may be
// lost if the machine itself goes down; commits are several times cheaper.
//
// The file is opened in exclusive locking mode: one process at a time owns it (a second
// open fails with kUnavailable). A file that is not a strata database, or is corrupted,
// is refused with kDataLoss and left untouched.
#pragma once

#include <memory>
#include <string>

#include <strata/session/store.h>

namespace strata::session {

struct SqliteStoreOptions {
  enum class Durability { kFull, kProcessCrash };
  // Default: kFull.
  Durability durability = Durability::kFull;
  // Page cache per connection in KiB. Default: 16 MiB.
  int cache_kib = 16 * 1024;
  // Verify every page of the file on open (PRAGMA quick_check). Slow for large files.
  // Default: false (the header and schema are always checked).
  bool verify_on_open = false;
};

// Opens or creates the store at `path`.
Result<std::shared_ptr<SessionStore>> open_sqlite_store(const std::string& path,
                                                        const SqliteStoreOptions& options = {});

}  // namespace strata::session
