// The SQLite store: one file, WAL, group commit, a writer and a reader connection.
//
// Ownership: the process that opens the file holds an flock on it for the store's lifetime,
// so the writer's in-memory caches (session heads, producer states) are always the truth.
#include <strata/session/sqlite_store.h>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <unordered_map>

#include "producer_rules.h"

namespace strata::session {
namespace {

constexpr int kApplicationId = 0x53545241;  // "STRA"
constexpr int kSchemaVersion = 1;

Status sqlite_status(sqlite3* db, int rc, std::string_view what, const std::string& path) {
  const int primary = rc & 0xff;
  std::string message = "sqlite store " + path + ": " + std::string(what) + ": " +
                        (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (primary) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return data_loss_error(message + " (the file is damaged or not a strata database)");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return unavailable_error(message);
    case SQLITE_NOMEM:
      return resource_exhausted_error(message);
    default:
      return internal_error(message);
  }
}

// A prepared statement that resets itself when the guard goes out of scope.
class Statement {
 public:
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }
  int prepare(sqlite3* db, const char* sql) {
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

class Use {
 public:
  explicit Use(const Statement& s) : stmt_(s.get()) {}
  ~Use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  // Text is bound without a copy (SQLITE_STATIC): it must outlive step(). Temporaries would
  // not, so they do not compile.
  Use& bind(int i, std::string&& text) = delete;
  Use& bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    return *this;
  }
  Use& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Use& bind(int i, std::uint64_t v) { return bind(i, static_cast<std::int64_t>(v)); }
  Use& bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  int step() { return sqlite3_step(stmt_); }
  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p == nullptr ? std::string() : std::string(p, sqlite3_column_bytes(stmt_, col));
  }

 private:
  sqlite3_stmt* stmt_;
};

std::string encode_retention(const RetentionPolicy& p) {
  return std::to_string(p.ttl.count()) + "," + std::to_string(p.max_events) + "," +
         std::to_string(p.max_bytes) + "," + (p.compact_completed_messages ? "1" : "0");
}

RetentionPolicy decode_retention(const std::string& text) {
  RetentionPolicy p;
  long long ttl = 0;
  unsigned long long max_events = 0, max_bytes = 0;
  int compact = 1;
  if (std::sscanf(text.c_str(), "%lld,%llu,%llu,%d", &ttl, &max_events, &max_bytes, &compact) ==
      4) {
    p.ttl = std::chrono::milliseconds(ttl);
    p.max_events = max_events;
    p.max_bytes = max_bytes;
    p.compact_completed_messages = compact != 0;
  }
  return p;
}

struct SessionMeta {
  std::int64_t sid = 0;
  SessionInfo info;
};

class SqliteStore final : public SessionStore {
 public:
  SqliteStore(std::string path, int lock_fd) : path_(std::move(path)), lock_fd_(lock_fd) {}

  ~SqliteStore() override {
    writer_stmts_.clear();
    reader_stmts_.clear();
    if (writer_ != nullptr) sqlite3_close_v2(writer_);
    if (reader_ != nullptr) sqlite3_close_v2(reader_);
    if (lock_fd_ >= 0) ::close(lock_fd_);  // after SQLite let go of the file
  }

  Status open(const SqliteStoreOptions& options) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path_.c_str(), &writer_, flags, nullptr);
    if (rc != SQLITE_OK) return sqlite_status(writer_, rc, "open", path_);
    sqlite3_extended_result_codes(writer_, 1);

    // Identify the file before touching it, so a foreign or damaged file is left as it is.
    auto app = query_int(writer_, "PRAGMA application_id");
    if (!app.ok()) return app.status();
    auto tables = query_int(writer_, "SELECT count(*) FROM sqlite_master");
    if (!tables.ok()) return tables.status();
    if (*app != kApplicationId && *tables != 0) {
      return data_loss_error("sqlite store " + path_ +
                             ": the file is an SQLite database but not a strata store");
    }
    std::string pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=";
    pragmas += options.durability == SqliteStoreOptions::Durability::kFull ? "FULL" : "NORMAL";
    pragmas += "; PRAGMA cache_size=-" + std::to_string(options.cache_kib) +
               "; PRAGMA wal_autocheckpoint=4000; PRAGMA foreign_keys=OFF;";
    STRATA_RETURN_IF_ERROR(exec(writer_, pragmas));
    if (options.verify_on_open) {
      auto result = query_text(writer_, "PRAGMA quick_check");
      if (!result.ok()) return result.status();
      if (*result != "ok") {
        return data_loss_error("sqlite store " + path_ + ": integrity check failed: " + *result);
      }
    }
    if (*tables == 0) {
      STRATA_RETURN_IF_ERROR(exec(writer_, R"sql(
        BEGIN;
        CREATE TABLE sessions(
          sid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, epoch TEXT NOT NULL,
          head INTEGER NOT NULL, trimmed_through INTEGER NOT NULL,
          event_count INTEGER NOT NULL, bytes INTEGER NOT NULL,
          created_ms INTEGER NOT NULL, retention TEXT NOT NULL);
        CREATE TABLE events(
          sid INTEGER NOT NULL, off INTEGER NOT NULL, type TEXT NOT NULL,
          producer TEXT NOT NULL, run_id TEXT NOT NULL, parent_run_id TEXT NOT NULL,
          message_id TEXT NOT NULL, payload TEXT NOT NULL, ts INTEGER NOT NULL,
          pepoch INTEGER NOT NULL, pseq INTEGER,
          PRIMARY KEY(sid, off)) WITHOUT ROWID;
        CREATE TABLE producers(
          sid INTEGER NOT NULL, producer TEXT NOT NULL, epoch INTEGER NOT NULL,
          last_seq INTEGER, last_first INTEGER NOT NULL, last_last INTEGER NOT NULL,
          PRIMARY KEY(sid, producer)) WITHOUT ROWID;
        CREATE TABLE leased(
          sid INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
          expires_ms INTEGER NOT NULL, PRIMARY KEY(sid, kind, key)) WITHOUT ROWID;
        COMMIT;)sql"));
      STRATA_RETURN_IF_ERROR(exec(writer_, "PRAGMA user_version=" + std::to_string(kSchemaVersion) +
                                               "; PRAGMA application_id=" +
                                               std::to_string(kApplicationId)));
    } else {
      auto version = query_int(writer_, "PRAGMA user_version");
      if (!version.ok()) return version.status();
      if (*version != kSchemaVersion) {
        return failed_precondition_error("sqlite store " + path_ + ": schema version " +
                                         std::to_string(*version) + " is not supported (want " +
                                         std::to_string(kSchemaVersion) + ")");
      }
    }
    rc = sqlite3_open_v2(path_.c_str(), &reader_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                         nullptr);
    if (rc != SQLITE_OK) return sqlite_status(reader_, rc, "open reader", path_);
    STRATA_RETURN_IF_ERROR(exec(reader_, "PRAGMA cache_size=-" + std::to_string(options.cache_kib)));
    return prepare_statements();
  }

  std::string_view name() const noexcept override { return "sqlite"; }

  Result<SessionInfo> create(std::string_view session, std::int64_t now_ms) override {
    std::lock_guard lock(write_mu_);
    auto meta = load_meta(session);
    if (!meta.ok()) return meta.status();
    if (*meta != nullptr) return (*meta)->info;
    STRATA_RETURN_IF_ERROR(exec(writer_, "BEGIN IMMEDIATE"));
    auto created = insert_session(session, now_ms);
    if (!created.ok()) {
      rollback();
      return created.status();
    }
    if (auto s = exec(writer_, "COMMIT"); !s.ok()) {
      rollback();
      return s;
    }
    auto& slot = cache_[std::string(session)];
    slot = *created;
    return slot.info;
  }

  void append(std::span<StoreAppend> batch) override {
    std::lock_guard lock(write_mu_);
    if (auto s = exec(writer_, "BEGIN IMMEDIATE"); !s.ok()) {
      for (auto& r : batch) r.status = s;
      return;
    }
    // Working copies: the caches change only once the group has committed.
    std::unordered_map<std::string, SessionMeta> touched;
    std::unordered_map<std::string, detail::ProducerState> producers;  // key: sid '\0' producer
    Status failure;
    for (auto& request : batch) {
      failure = append_one(request, touched, producers);
      if (!failure.ok()) break;
    }
    if (failure.ok()) failure = flush_group(touched, producers);
    if (failure.ok()) failure = exec(writer_, "COMMIT");
    if (!failure.ok()) {
      rollback();
      for (auto& r : batch) {
        r.status = failure;
        r.duplicate = false;
        r.first_offset = r.last_offset = 0;
      }
      return;
    }
    for (auto& [id, meta] : touched) cache_[id] = std::move(meta);
    for (auto& [key, state] : producers) producer_cache_[key] = state;
  }

  Result<ReadResult> read(std::string_view session, Offset after, std::size_t max_events,
                          std::size_t max_bytes) override {
    std::lock_guard lock(read_mu_);
    STRATA_RETURN_IF_ERROR(exec(reader_, "BEGIN"));
    auto result = read_locked(session, after, max_events, max_bytes);
    (void)exec(reader_, "COMMIT");
    return result;
  }

  Result<SessionInfo> info(std::string_view session) override {
    std::lock_guard lock(write_mu_);
    auto meta = load_meta(session);
    if (!meta.ok()) return meta.status();
    if (*meta == nullptr) return not_found_error("session not found");
    return (*meta)->info;
  }

  Result<std::vector<std::string>> list_sessions() override {
    std::lock_guard lock(read_mu_);
    std::vector<std::string> out;
    Use q(reader_stmt(kListSessions));
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) out.push_back(q.text(0));
    if (rc != SQLITE_DONE) return sqlite_status(reader_, rc, "list sessions", path_);
    return out;
  }

  Status set_retention(std::string_view session, const RetentionPolicy& policy) override {
    std::lock_guard lock(write_mu_);
    auto meta = load_meta(session);
    if (!meta.ok()) return meta.status();
    if (*meta == nullptr) return not_found_error("session not found");
    const std::string encoded = encode_retention(policy);
    Use q(writer_stmt(kSetRetention));
    q.bind(1, encoded).bind(2, (*meta)->sid);
    if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_status(writer_, rc, "set retention", path_);
    (*meta)->info.retention = policy;
    return {};
  }

  Result<std::uint64_t> compact_messages(std::string_view session,
                                         std::span<const MessageSpan> messages) override {
    std::lock_guard lock(write_mu_);
    return remove_events(session, [&](std::int64_t sid, std::uint64_t& removed,
                                      std::uint64_t& bytes) -> Status {
      for (const auto& m : messages) {
        Use q(writer_stmt(kDeltaSizes));
        q.bind(1, sid).bind(2, m.message_id).bind(3, m.first).bind(4, m.last);
        int rc;
        while ((rc = q.step()) == SQLITE_ROW) {
          ++removed;
          bytes += static_cast<std::uint64_t>(q.int64(0));
        }
        if (rc != SQLITE_DONE) return sqlite_status(writer_, rc, "compact", path_);
        Use d(writer_stmt(kDeleteDeltas));
        d.bind(1, sid).bind(2, m.message_id).bind(3, m.first).bind(4, m.last);
        if (rc = d.step(); rc != SQLITE_DONE) return sqlite_status(writer_, rc, "compact", path_);
      }
      return {};
    });
  }

  Result<std::uint64_t> trim(std::string_view session, Offset through) override {
    std::lock_guard lock(write_mu_);
    auto meta = load_meta(session);
    if (!meta.ok()) return meta.status();
    if (*meta == nullptr) return not_found_error("session not found");
    through = std::min(through, (*meta)->info.head);
    auto removed = remove_events(session, [&](std::int64_t sid, std::uint64_t& count,
                                              std::uint64_t& bytes) -> Status {
      Use q(writer_stmt(kTrimSizes));
      q.bind(1, sid).bind(2, through);
      int rc = q.step();
      if (rc != SQLITE_ROW) return sqlite_status(writer_, rc, "trim", path_);
      count = static_cast<std::uint64_t>(q.int64(0));
      bytes = static_cast<std::uint64_t>(q.int64(1));
      Use d(writer_stmt(kTrim));
      d.bind(1, sid).bind(2, through);
      if (rc = d.step(); rc != SQLITE_DONE) return sqlite_status(writer_, rc, "trim", path_);
      Use t(writer_stmt(kSetTrimmed));
      t.bind(1, std::max(through, (*meta)->info.trimmed_through)).bind(2, sid);
      if (rc = t.step(); rc != SQLITE_DONE) return sqlite_status(writer_, rc, "trim", path_);
      return {};
    });
    if (removed.ok()) (*meta)->info.trimmed_through = std::max(through, (*meta)->info.trimmed_through);
    return removed;
  }

  Status remove(std::string_view session) override {
    std::lock_guard lock(write_mu_);
    auto meta = load_meta(session);
    if (!meta.ok()) return meta.status();
    if (*meta == nullptr) return not_found_error("session not found");
    const std::int64_t sid = (*meta)->sid;
    STRATA_RETURN_IF_ERROR(exec(writer_, "BEGIN IMMEDIATE"));
    for (int which : {kRemoveEvents, kRemoveProducers, kRemoveLeased, kRemoveSession}) {
      Use q(writer_stmt(which));
      q.bind(1, sid);
      if (int rc = q.step(); rc != SQLITE_DONE) {
        auto s = sqlite_status(writer_, rc, "remove session", path_);
        rollback();
        return s;
      }
    }
    if (auto s = exec(writer_, "COMMIT"); !s.ok()) {
      rollback();
      return s;
    }
    cache_.erase(std::string(session));
    const std::string prefix = std::to_string(sid) + '\0';
    std::erase_if(producer_cache_, [&](const auto& kv) { return kv.first.starts_with(prefix); });
    return {};
  }

  Status put_leased(std::string_view session, std::string_view kind,
                    const LeasedEntry& entry) override {
    std::lock_guard lock(write_mu_);
    auto meta = load_meta(session);
    if (!meta.ok()) return meta.status();
    if (*meta == nullptr) return not_found_error("session not found");
    Use q(writer_stmt(kPutLeased));
    q.bind(1, (*meta)->sid).bind(2, kind).bind(3, entry.key).bind(4, entry.value).bind(5, entry.expires_ms);
    if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_status(writer_, rc, "put leased", path_);
    return {};
  }

  Result<bool> remove_leased(std::string_view session, std::string_view kind,
                             std::string_view key) override {
    std::lock_guard lock(write_mu_);
    auto meta = load_meta(session);
    if (!meta.ok()) return meta.status();
    if (*meta == nullptr) return not_found_error("session not found");
    Use q(writer_stmt(kRemoveLeasedEntry));
    q.bind(1, (*meta)->sid).bind(2, kind).bind(3, key);
    if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_status(writer_, rc, "remove leased", path_);
    return sqlite3_changes(writer_) > 0;
  }

  Result<std::vector<LeasedEntry>> list_leased(std::string_view session,
                                               std::string_view kind) override {
    std::lock_guard lock(write_mu_);
    auto meta = load_meta(session);
    if (!meta.ok()) return meta.status();
    if (*meta == nullptr) return not_found_error("session not found");
    Use q(writer_stmt(kListLeased));
    q.bind(1, (*meta)->sid).bind(2, kind);
    std::vector<LeasedEntry> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) out.push_back({q.text(0), q.text(1), q.int64(2)});
    if (rc != SQLITE_DONE) return sqlite_status(writer_, rc, "list leased", path_);
    return out;
  }

 private:
  enum StatementId {
    kFindSession, kInsertSession, kUpdateSession, kInsertEvent, kFindProducer, kUpsertProducer,
    kFindOlderDuplicate, kSetRetention, kDeltaSizes, kDeleteDeltas, kTrimSizes, kTrim,
    kSetTrimmed, kSetCounts, kRemoveEvents, kRemoveProducers, kRemoveLeased, kRemoveSession,
    kPutLeased, kRemoveLeasedEntry, kListLeased, kWriterCount,
  };
  enum ReaderStatementId { kReadSession, kReadEvents, kListSessions, kReaderCount };

  Status prepare_statements() {
    static const char* const kWriterSql[kWriterCount] = {
        "SELECT sid, epoch, head, trimmed_through, event_count, bytes, created_ms, retention "
        "FROM sessions WHERE id=?1",
        "INSERT INTO sessions(id, epoch, head, trimmed_through, event_count, bytes, created_ms, "
        "retention) VALUES(?1, ?2, 0, 0, 0, 0, ?3, ?4)",
        "UPDATE sessions SET head=?1, event_count=?2, bytes=?3 WHERE sid=?4",
        "INSERT INTO events(sid, off, type, producer, run_id, parent_run_id, message_id, "
        "payload, ts, pepoch, pseq) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
        "SELECT epoch, last_seq, last_first, last_last FROM producers WHERE sid=?1 AND "
        "producer=?2",
        "INSERT INTO producers(sid, producer, epoch, last_seq, last_first, last_last) "
        "VALUES(?1,?2,?3,?4,?5,?6) ON CONFLICT(sid, producer) DO UPDATE SET "
        "epoch=excluded.epoch, last_seq=excluded.last_seq, last_first=excluded.last_first, "
        "last_last=excluded.last_last",
        "SELECT min(off), max(off) FROM events WHERE sid=?1 AND producer=?2 AND pepoch=?3 AND "
        "pseq=?4",
        "UPDATE sessions SET retention=?1 WHERE sid=?2",
        "SELECT 48 + length(CAST(type AS BLOB)) + length(CAST(producer AS BLOB)) + "
        "length(CAST(run_id AS BLOB)) + length(CAST(parent_run_id AS BLOB)) + "
        "length(CAST(message_id AS BLOB)) + length(CAST(payload AS BLOB)) FROM events "
        "WHERE sid=?1 AND off BETWEEN ?3 AND ?4 AND type='message.delta' AND message_id=?2",
        "DELETE FROM events WHERE sid=?1 AND off BETWEEN ?3 AND ?4 AND type='message.delta' "
        "AND message_id=?2",
        "SELECT count(*), coalesce(sum(48 + length(CAST(type AS BLOB)) + "
        "length(CAST(producer AS BLOB)) + length(CAST(run_id AS BLOB)) + "
        "length(CAST(parent_run_id AS BLOB)) + length(CAST(message_id AS BLOB)) + "
        "length(CAST(payload AS BLOB))), 0) FROM events WHERE sid=?1 AND off<=?2",
        "DELETE FROM events WHERE sid=?1 AND off<=?2",
        "UPDATE sessions SET trimmed_through=?1 WHERE sid=?2",
        "UPDATE sessions SET event_count=?1, bytes=?2 WHERE sid=?3",
        "DELETE FROM events WHERE sid=?1",
        "DELETE FROM producers WHERE sid=?1",
        "DELETE FROM leased WHERE sid=?1",
        "DELETE FROM sessions WHERE sid=?1",
        "INSERT INTO leased(sid, kind, key, value, expires_ms) VALUES(?1,?2,?3,?4,?5) "
        "ON CONFLICT(sid, kind, key) DO UPDATE SET value=excluded.value, "
        "expires_ms=excluded.expires_ms",
        "DELETE FROM leased WHERE sid=?1 AND kind=?2 AND key=?3",
        "SELECT key, value, expires_ms FROM leased WHERE sid=?1 AND kind=?2 ORDER BY key",
    };
    static const char* const kReaderSql[kReaderCount] = {
        "SELECT sid, head, trimmed_through FROM sessions WHERE id=?1",
        ("SELECT off, type, producer, run_id, parent_run_id, message_id, payload, ts FROM events "
         "WHERE sid=?1 AND off>?2 ORDER BY off LIMIT ?3"),
        "SELECT id FROM sessions ORDER BY id",
    };
    writer_stmts_.resize(kWriterCount);
    for (int i = 0; i < kWriterCount; ++i) {
      writer_stmts_[i] = std::make_unique<Statement>();
      if (int rc = writer_stmts_[i]->prepare(writer_, kWriterSql[i]); rc != SQLITE_OK) {
        return sqlite_status(writer_, rc, "prepare", path_);
      }
    }
    reader_stmts_.resize(kReaderCount);
    for (int i = 0; i < kReaderCount; ++i) {
      reader_stmts_[i] = std::make_unique<Statement>();
      if (int rc = reader_stmts_[i]->prepare(reader_, kReaderSql[i]); rc != SQLITE_OK) {
        return sqlite_status(reader_, rc, "prepare", path_);
      }
    }
    return {};
  }

  const Statement& writer_stmt(int id) const { return *writer_stmts_[id]; }
  const Statement& reader_stmt(int id) const { return *reader_stmts_[id]; }

  Status exec(sqlite3* db, const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    if (rc == SQLITE_OK) return {};
    std::string message = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    auto s = sqlite_status(db, rc, "exec", path_);
    return Status(s.code(), s.message().empty() ? message : s.message());
  }

  // The first column of the first row of a one-off query ("" / 0 if there is no row).
  Result<std::string> query_text(sqlite3* db, const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return sqlite_status(db, rc, "open", path_);
    }
    rc = sqlite3_step(stmt);
    std::string value;
    if (rc == SQLITE_ROW) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      value = p == nullptr ? "" : p;
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite_status(db, rc, "open", path_);
    return value;
  }

  Result<std::int64_t> query_int(sqlite3* db, const char* sql) {
    auto text = query_text(db, sql);
    if (!text.ok()) return text.status();
    return text->empty() ? 0 : std::stoll(*text);
  }

  void rollback() { (void)exec(writer_, "ROLLBACK"); }

  // The cached metadata of a session (nullptr if it does not exist). REQUIRES: write_mu_.
  Result<SessionMeta*> load_meta(std::string_view session) {
    auto it = cache_.find(std::string(session));
    if (it != cache_.end()) return &it->second;
    Use q(writer_stmt(kFindSession));
    q.bind(1, session);
    const int rc = q.step();
    if (rc == SQLITE_DONE) return static_cast<SessionMeta*>(nullptr);
    if (rc != SQLITE_ROW) return sqlite_status(writer_, rc, "load session", path_);
    SessionMeta meta;
    meta.sid = q.int64(0);
    meta.info.id = std::string(session);
    meta.info.epoch = q.text(1);
    meta.info.head = static_cast<Offset>(q.int64(2));
    meta.info.trimmed_through = static_cast<Offset>(q.int64(3));
    meta.info.event_count = static_cast<std::uint64_t>(q.int64(4));
    meta.info.bytes = static_cast<std::uint64_t>(q.int64(5));
    meta.info.created_ms = q.int64(6);
    meta.info.retention = decode_retention(q.text(7));
    return &(cache_[std::string(session)] = std::move(meta));
  }

  // REQUIRES: write_mu_ and an open transaction.
  Result<SessionMeta> insert_session(std::string_view session, std::int64_t now_ms) {
    SessionMeta meta;
    meta.info.id = std::string(session);
    meta.info.epoch = detail::new_epoch();
    meta.info.created_ms = now_ms;
    const std::string retention = encode_retention({});
    Use q(writer_stmt(kInsertSession));
    q.bind(1, session).bind(2, meta.info.epoch).bind(3, now_ms).bind(4, retention);
    if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_status(writer_, rc, "create session", path_);
    meta.sid = sqlite3_last_insert_rowid(writer_);
    return meta;
  }

  static std::string producer_key(std::int64_t sid, const std::string& producer) {
    std::string key = std::to_string(sid);
    key += '\0';
    key += producer;
    return key;
  }

  // Returns a non-OK status only for failures that must abort the whole group.
  Status append_one(StoreAppend& request, std::unordered_map<std::string, SessionMeta>& touched,
                    std::unordered_map<std::string, detail::ProducerState>& producers) {
    if (request.events.empty()) {
      request.status = invalid_argument_error("append of no events");
      return {};
    }
    SessionMeta* meta = nullptr;
    if (auto it = touched.find(request.session); it != touched.end()) {
      meta = &it->second;
    } else {
      auto cached = load_meta(request.session);
      if (!cached.ok()) return cached.status();
      if (*cached != nullptr) {
        meta = &(touched[request.session] = **cached);
      } else {
        auto created = insert_session(request.session, request.now_ms);
        if (!created.ok()) return created.status();
        meta = &(touched[request.session] = std::move(*created));
      }
    }
    request.epoch = meta->info.epoch;

    const std::string key = producer_key(meta->sid, request.producer);
    detail::ProducerState* state = nullptr;
    if (auto it = producers.find(key); it != producers.end()) {
      state = &it->second;
    } else if (auto cit = producer_cache_.find(key); cit != producer_cache_.end()) {
      state = &(producers[key] = cit->second);
    } else {
      Use q(writer_stmt(kFindProducer));
      q.bind(1, meta->sid).bind(2, request.producer);
      const int rc = q.step();
      if (rc == SQLITE_ROW) {
        detail::ProducerState loaded;
        loaded.epoch = static_cast<std::uint64_t>(q.int64(0));
        if (!q.is_null(1)) loaded.last_seq = static_cast<std::uint64_t>(q.int64(1));
        loaded.last_first = static_cast<Offset>(q.int64(2));
        loaded.last_last = static_cast<Offset>(q.int64(3));
        state = &(producers[key] = loaded);
      } else if (rc != SQLITE_DONE) {
        return sqlite_status(writer_, rc, "load producer", path_);
      }
    }
    const auto decision =
        detail::decide(state, request.producer, request.producer_epoch, request.producer_seq);
    switch (decision.verdict) {
      case detail::ProducerVerdict::kReject:
        request.status = decision.error;
        return {};
      case detail::ProducerVerdict::kDuplicateLast:
        request.duplicate = true;
        request.first_offset = state->last_first;
        request.last_offset = state->last_last;
        return {};
      case detail::ProducerVerdict::kDuplicateOlder: {
        request.duplicate = true;
        Use q(writer_stmt(kFindOlderDuplicate));
        q.bind(1, meta->sid).bind(2, request.producer).bind(3, request.producer_epoch)
            .bind(4, *request.producer_seq);
        const int rc = q.step();
        if (rc != SQLITE_ROW) return sqlite_status(writer_, rc, "find duplicate", path_);
        if (q.is_null(0)) {
          request.status = detail::duplicate_removed_error(request.producer, *request.producer_seq);
        } else {
          request.first_offset = static_cast<Offset>(q.int64(0));
          request.last_offset = static_cast<Offset>(q.int64(1));
        }
        return {};
      }
      case detail::ProducerVerdict::kWrite:
        break;
    }
    request.first_offset = meta->info.head + 1;
    for (auto& event : request.events) {
      event.producer = request.producer;
      event.offset = meta->info.head + 1;
      Use q(writer_stmt(kInsertEvent));
      q.bind(1, meta->sid).bind(2, event.offset).bind(3, event.type).bind(4, event.producer)
          .bind(5, event.run_id).bind(6, event.parent_run_id).bind(7, event.message_id)
          .bind(8, event.payload).bind(9, event.timestamp_ms).bind(10, request.producer_epoch);
      if (request.producer_seq) {
        q.bind(11, *request.producer_seq);
      } else {
        q.bind_null(11);
      }
      if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_status(writer_, rc, "append", path_);
      ++meta->info.head;
      ++meta->info.event_count;
      meta->info.bytes += event.byte_size();
    }
    request.last_offset = meta->info.head;
    if (state == nullptr) state = &producers[key];
    detail::record(*state, request.producer_epoch, request.producer_seq, request.first_offset,
                   request.last_offset);
    return {};
  }

  Status flush_group(const std::unordered_map<std::string, SessionMeta>& touched,
                     const std::unordered_map<std::string, detail::ProducerState>& producers) {
    for (const auto& [id, meta] : touched) {
      Use q(writer_stmt(kUpdateSession));
      q.bind(1, meta.info.head).bind(2, meta.info.event_count).bind(3, meta.info.bytes)
          .bind(4, meta.sid);
      if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_status(writer_, rc, "append", path_);
    }
    for (const auto& [key, state] : producers) {
      const auto split = key.find('\0');
      Use q(writer_stmt(kUpsertProducer));
      q.bind(1, static_cast<std::int64_t>(std::stoll(key.substr(0, split))))
          .bind(2, std::string_view(key).substr(split + 1))
          .bind(3, state.epoch);
      if (state.last_seq) {
        q.bind(4, *state.last_seq);
      } else {
        q.bind_null(4);
      }
      q.bind(5, state.last_first).bind(6, state.last_last);
      if (int rc = q.step(); rc != SQLITE_DONE) return sqlite_status(writer_, rc, "append", path_);
    }
    return {};
  }

  // Runs `remove` (which deletes rows and reports how many and their bytes) in a transaction
  // and keeps the session's counters right. REQUIRES: write_mu_.
  template <typename Remove>
  Result<std::uint64_t> remove_events(std::string_view session, Remove remove) {
    auto meta = load_meta(session);
    if (!meta.ok()) return meta.status();
    if (*meta == nullptr) return not_found_error("session not found");
    SessionMeta& m = **meta;
    STRATA_RETURN_IF_ERROR(exec(writer_, "BEGIN IMMEDIATE"));
    std::uint64_t removed = 0, bytes = 0;
    Status s = remove(m.sid, removed, bytes);
    const std::uint64_t count = m.info.event_count >= removed ? m.info.event_count - removed : 0;
    const std::uint64_t total = m.info.bytes >= bytes ? m.info.bytes - bytes : 0;
    if (s.ok()) {
      Use q(writer_stmt(kSetCounts));
      q.bind(1, count).bind(2, total).bind(3, m.sid);
      if (int rc = q.step(); rc != SQLITE_DONE) s = sqlite_status(writer_, rc, "update counts", path_);
    }
    if (s.ok()) s = exec(writer_, "COMMIT");
    if (!s.ok()) {
      rollback();
      return s;
    }
    m.info.event_count = count;
    m.info.bytes = total;
    return removed;
  }

  Result<ReadResult> read_locked(std::string_view session, Offset after, std::size_t max_events,
                                 std::size_t max_bytes) {
    ReadResult out;
    std::int64_t sid = 0;
    {
      Use q(reader_stmt(kReadSession));
      q.bind(1, session);
      const int rc = q.step();
      if (rc == SQLITE_DONE) return not_found_error("session not found");
      if (rc != SQLITE_ROW) return sqlite_status(reader_, rc, "read", path_);
      sid = q.int64(0);
      out.head = static_cast<Offset>(q.int64(1));
      out.trimmed_through = static_cast<Offset>(q.int64(2));
    }
    Use q(reader_stmt(kReadEvents));
    q.bind(1, sid).bind(2, after).bind(3, static_cast<std::int64_t>(max_events));
    std::size_t bytes = 0;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      Event e;
      e.offset = static_cast<Offset>(q.int64(0));
      e.type = q.text(1);
      e.producer = q.text(2);
      e.run_id = q.text(3);
      e.parent_run_id = q.text(4);
      e.message_id = q.text(5);
      e.payload = q.text(6);
      e.timestamp_ms = q.int64(7);
      bytes += e.byte_size();
      out.events.push_back(std::move(e));
      if (bytes >= max_bytes) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite_status(reader_, rc, "read", path_);
    return out;
  }

  const std::string path_;
  int lock_fd_;
  sqlite3* writer_ = nullptr;
  sqlite3* reader_ = nullptr;
  std::vector<std::unique_ptr<Statement>> writer_stmts_;
  std::vector<std::unique_ptr<Statement>> reader_stmts_;
  std::mutex write_mu_;  // writer_, cache_, producer_cache_
  std::mutex read_mu_;   // reader_
  std::unordered_map<std::string, SessionMeta> cache_;
  std::unordered_map<std::string, detail::ProducerState> producer_cache_;
};

}  // namespace

Result<std::shared_ptr<SessionStore>> open_sqlite_store(const std::string& path,
                                                        const SqliteStoreOptions& options) {
  if (path.empty()) return invalid_argument_error("sqlite store path is empty");
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return unavailable_error("sqlite store " + path + ": cannot open: " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return unavailable_error("sqlite store " + path + " is already open in another store");
    }
    return unavailable_error("sqlite store " + path + ": cannot lock: " + std::strerror(err));
  }
  auto store = std::make_shared<SqliteStore>(path, fd);
  if (auto s = store->open(options); !s.ok()) return s;
  return std::shared_ptr<SessionStore>(std::move(store));
}

}  // namespace strata::session
