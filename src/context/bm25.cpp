#include "context/bm25.h"

#include <cmath>
#include <vector>

namespace strata::context::detail {

namespace {

constexpr double kK1 = 1.2;
constexpr double kB = 0.75;

void strata_bm25(const Fts5ExtensionApi* api, Fts5Context* fts, sqlite3_context* out, int argc,
                 sqlite3_value** argv) {
  const int columns = api->xColumnCount(fts);
  const int phrases = api->xPhraseCount(fts);
  auto arg = [&](int i, double fallback) {
    return i < argc ? sqlite3_value_double(argv[i]) : fallback;
  };
  std::vector<double> weight(static_cast<std::size_t>(columns));
  for (int c = 0; c < columns; ++c) weight[static_cast<std::size_t>(c)] = arg(c, 1.0);
  double avgdl = arg(columns, 1.0);
  if (!(avgdl > 0)) avgdl = 1.0;
  // Weighted frequency of each phrase in this row.
  std::vector<double> freq(static_cast<std::size_t>(phrases), 0.0);
  int instances = 0;
  int rc = api->xInstCount(fts, &instances);
  for (int i = 0; rc == SQLITE_OK && i < instances; ++i) {
    int phrase = 0, column = 0, offset = 0;
    rc = api->xInst(fts, i, &phrase, &column, &offset);
    if (rc == SQLITE_OK && phrase >= 0 && phrase < phrases && column >= 0 && column < columns) {
      freq[static_cast<std::size_t>(phrase)] += weight[static_cast<std::size_t>(column)];
    }
  }
  int length = 0;
  if (rc == SQLITE_OK) rc = api->xColumnSize(fts, -1, &length);
  if (rc != SQLITE_OK) {
    sqlite3_result_error_code(out, rc);
    return;
  }
  const double norm = kK1 * (1 - kB + kB * static_cast<double>(length) / avgdl);
  double score = 0;
  for (int p = 0; p < phrases; ++p) {
    const double f = freq[static_cast<std::size_t>(p)];
    score += arg(columns + 1 + p, 0.0) * (f * (kK1 + 1)) / (f + norm);
  }
  sqlite3_result_double(out, -score);
}

fts5_api* fts5_of(sqlite3* db) {
  fts5_api* api = nullptr;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, nullptr) != SQLITE_OK) return nullptr;
  sqlite3_bind_pointer(st, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
  (void)sqlite3_step(st);
  sqlite3_finalize(st);
  return api;
}

}  // namespace

double bm25_idf(double n, double df) {
  const double idf = std::log((n - df + 0.5) / (df + 0.5));
  return idf <= 0 ? 1e-6 : idf;
}

Status register_bm25(sqlite3* db) {
  fts5_api* api = fts5_of(db);
  if (api == nullptr || api->iVersion < 2) return unavailable_error("SQLite has no FTS5 extension API");
  if (api->xCreateFunction(api, "strata_bm25", nullptr, &strata_bm25, nullptr) != SQLITE_OK) {
    return unavailable_error("cannot register strata_bm25");
  }
  return ok_status();
}

}  // namespace strata::context::detail
