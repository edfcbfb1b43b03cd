// Reading an index file with plain SQLite in context tests.
#pragma once

#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <string>
#include <vector>

namespace strata::test {

// Runs `sql` on the index file (read-write: a test may also change it) and returns the last
// column of every row as text ("" for NULL).
inline std::vector<std::string> sql_column(const std::string& index, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(index.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const auto* text = sqlite3_column_text(st, sqlite3_column_count(st) - 1);
    out.emplace_back(text ? reinterpret_cast<const char*>(text) : "");
  }
  CHECK(rc == SQLITE_DONE);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

}  // namespace strata::test
