// Thin RAII over the SQLite C API for the context index (private to src/context).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <strata/status.h>

namespace strata::context::detail {

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, std::string_view sql) {
    rc_ = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                             SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc_ != SQLITE_OK) error_ = sqlite3_errmsg(db);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(Stmt&& o) noexcept : stmt_(o.stmt_), rc_(o.rc_), error_(std::move(o.error_)) { o.stmt_ = nullptr; }
  Stmt& operator=(Stmt&& o) noexcept {
    if (this != &o) {
      sqlite3_finalize(stmt_);
      stmt_ = o.stmt_;
      rc_ = o.rc_;
      error_ = std::move(o.error_);
      o.stmt_ = nullptr;
    }
    return *this;
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  [[nodiscard]] bool ok() const { return stmt_ != nullptr; }
  [[nodiscard]] const std::string& error() const { return error_; }
  sqlite3_stmt* get() const { return stmt_; }

  Stmt& reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    return *this;
  }
  // SQLITE_TRANSIENT: the statement copies the bytes (no lifetime hazards).
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // SQLITE_STATIC: the bytes must stay valid until the statement is reset (the ingest's
  // hot path binds strings that outlive the step, saving a copy of each).
  Stmt& bind_ref(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  // As bind_ref, for text that a virtual table reads as a C string (FTS5 asks for every
  // column with sqlite3_value_text()): a std::string without embedded NULs is bound as
  // NUL-terminated (length -1), so SQLite need not copy it to append the terminator, which
  // it does for text bound with a length (2.9 % of the writer's time in a chat import,
  // docs/benchmarks.md, thirteenth pass).
  Stmt& bind_terminated_ref(int i, const std::string& v) {
    if (std::memchr(v.data(), '\0', v.size()) != nullptr) return bind_ref(i, v);
    sqlite3_bind_text(stmt_, i, v.c_str(), -1, SQLITE_STATIC);
    return *this;
  }
  Stmt& bind_blob_ref(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  Stmt& bind_blob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& bind(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_); }
  std::int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  // A BLOB column's bytes (null when NULL or empty) and their count; valid until the next
  // step or reset.
  const unsigned char* blob(int col) const {
    return static_cast<const unsigned char*>(sqlite3_column_blob(stmt_, col));
  }
  int bytes(int col) const { return sqlite3_column_bytes(stmt_, col); }
  std::string text(int col) const { return std::string(text_view(col)); }
  // Valid until the next step or reset.
  std::string_view text_view(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    const int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string_view();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
  std::string error_;
};

inline Status sqlite_error(sqlite3* db, std::string_view what) {
  const int code = sqlite3_errcode(db);
  std::string msg = std::string(what) + ": " + sqlite3_errmsg(db);
  if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) {
    return data_loss_error(msg + " (the index file is damaged or not a strata index)");
  }
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) return unavailable_error(msg);
  if (code == SQLITE_FULL || code == SQLITE_IOERR) return unavailable_error(msg);
  return internal_error(msg);
}

inline Status exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "unknown";
    sqlite3_free(err);
    Status s = sqlite_error(db, "sql");
    return Status(s.code(), m + " [" + s.message() + "]");
  }
  return ok_status();
}

}  // namespace strata::context::detail
