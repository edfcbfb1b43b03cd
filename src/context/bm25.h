// BM25 over FTS5 with statistics supplied by the caller: the principal's own document count,
// average length and document frequencies, so that documents the principal may not read
// leave no trace in the scores (FTS5's built-in bm25() reads index-wide statistics).
#pragma once

#include <sqlite3.h>

#include <strata/status.h>

namespace strata::context::detail {

// Registers the FTS5 auxiliary function
//   strata_bm25(<fts table>, <weight of column 0>, ..., <weight of column n-1>, <avgdl>,
//               <idf of phrase 0>, ..., <idf of phrase m-1>)
// on `db`: the same formula and constants as FTS5's bm25() (k1 = 1.2, b = 0.75; a row's
// length is its token count over all columns; each instance of a phrase counts its column's
// weight), returned negated like bm25() (smaller is better), but with the caller's average
// row length and per-phrase idf. Missing arguments count as weight 1 / idf 0; `avgdl` <= 0
// reads as 1.
Status register_bm25(sqlite3* db);

// The idf FTS5's bm25() gives a phrase found in `df` of `n` rows.
double bm25_idf(double n, double df);

}  // namespace strata::context::detail
