// Ranking files and spans for a coding task. Signals (see docs/context.md, "Ranking"):
//   bm25        FTS5 BM25 over path, symbols and body terms (per-field weights)
//   definition  the file defines an identifier the task names (weighted by how few files do)
//   path        a path, file name or dotted module named in the task
//   stack_trace a file in a traceback the task quotes (deeper frames count more)
//   history     past commit messages that match the task, credited to the files they changed
//   co_change   files that changed together with the strongest candidates
//   chunk       the best single function or method of a top candidate: query terms it holds
//   test/vendored penalty unless the task is about tests
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "context/access_filter.h"
#include "context/bm25.h"
#include "context/chunker.h"
#include "context/engine_impl.h"
#include "context/query.h"
#include "context/sqlite_util.h"
#include "context/text.h"

namespace strata::context::detail {

namespace {

// Weights of the signals in the final score (each signal is normalised to about [0, 1]).
constexpr double kW_bm25 = 1.0;
constexpr double kW_definition = 1.2;
constexpr double kW_path = 1.5;
constexpr double kW_trace = 1.5;
constexpr double kW_history = 0.6;
constexpr double kW_cochange = 0.2;
constexpr double kTestPenalty = 0.35;
constexpr double kVendoredPenalty = 0.5;
constexpr double kProsePenalty = 0.6;
constexpr double kW_embedding = 0.5;
constexpr double kW_chunk = 0.6;
constexpr double kW_member = 1.2;
// Chunk evidence: how many of the best candidates are read, and how strongly a long
// function's coverage is discounted ((lines / 8) ^ exponent).
constexpr std::size_t kChunkCandidates = 15;
constexpr double kChunkLengthExponent = 0.5;
constexpr std::size_t kEmbedCandidates = 30;
constexpr std::size_t kEmbedBytes = 2048;
// Per-field BM25 weights (path, symbols, body).
constexpr double kFieldPath = 3.0;
constexpr double kFieldSymbols = 4.0;
constexpr double kFieldBody = 1.0;
constexpr std::size_t kMaxQueryTerms = 48;
constexpr std::size_t kBm25Candidates = 400;
constexpr std::size_t kHistoryCommits = 100;
constexpr std::size_t kSpanFiles = 10;
// Query::substrings: limits, the credit of a file that contains them (the same for every
// returned file: it only makes files found by nothing else rank at all) and of a span.
constexpr std::size_t kMaxSubstrings = 16;
constexpr std::size_t kMaxSubstringBytes = 1024;
constexpr double kW_substring = 0.2;
constexpr double kSubstringSpanBonus = 3.0;

struct Scores {
  double bm25 = 0, definition = 0, path = 0, trace = 0, history = 0, co_change = 0;
  double member = 0, substring = 0;
  std::vector<std::string> def_names, path_why, trace_why, history_why, member_why;
};

std::string fts_query(const std::vector<std::string>& terms) {
  std::string q;
  for (const auto& t : terms) {
    if (!q.empty()) q += " OR ";
    q += '"';
    for (char c : t) {
      if (c == '"') q += '"';
      q += c;
    }
    q += '"';
  }
  return q;
}

// True when `path` ends with `suffix_lower` (already lowercase), ignoring ASCII case, at a
// path-component boundary. No allocation: it runs once per file and written path suffix.
bool ends_with_component(std::string_view path, std::string_view suffix_lower) {
  if (path.size() < suffix_lower.size()) return false;
  const std::size_t off = path.size() - suffix_lower.size();
  if (off > 0 && path[off - 1] != '/') return false;
  for (std::size_t i = 0; i < suffix_lower.size(); ++i) {
    char c = path[off + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != suffix_lower[i]) return false;
  }
  return true;
}

// ASCII letters folded to lower case (what SQLite's LIKE folds), every other byte as is.
char fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool contains_folded(std::string_view hay, std::string_view needle) {
  if (needle.empty()) return true;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    std::size_t k = 0;
    while (k < needle.size() && fold(hay[i + k]) == fold(needle[k])) ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

Status check_substrings(const std::vector<std::string>& subs) {
  if (subs.size() > kMaxSubstrings) {
    return invalid_argument_error("at most " + std::to_string(kMaxSubstrings) + " substrings per query");
  }
  for (const auto& s : subs) {
    std::size_t chars = 0;
    for (char c : s) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    if (s.size() > kMaxSubstringBytes || chars < 3 || s.find('\0') != std::string::npos) {
      return invalid_argument_error("a substring must be 3 to " + std::to_string(kMaxSubstringBytes) +
                                    " bytes of at least 3 characters without NUL");
    }
  }
  return ok_status();
}

// The catalog indexes of the files the principal may read that contain every substring,
// found through the trigram index (the access filter is inside the query). LIKE treats `%`
// and `_` as wildcards: both become `_` (any one character, so the trigrams of the rest still
// select the candidates), and such candidates are checked against the exact text.
Result<std::unordered_set<std::uint32_t>> substring_files(sqlite3* db, const Catalog& cat,
                                                          const std::vector<std::string>& subs,
                                                          const std::string& reader_names) {
  Stmt like(db, ("SELECT s.rowid FROM files_substr s JOIN files f ON f.id = s.rowid"
                 " WHERE s.content LIKE ?1 AND " + access_clause("f", 2)).c_str());
  Stmt text(db, "SELECT content FROM files WHERE id = ?1");
  if (!like.ok() || !text.ok()) return sqlite_error(db, "search substrings");
  std::unordered_set<std::uint32_t> out;
  bool first = true;
  for (const auto& sub : subs) {
    std::string pattern = "%";
    bool wild = false;
    for (char c : sub) {
      wild |= c == '%' || c == '_';
      pattern.push_back(c == '%' ? '_' : c);
    }
    pattern.push_back('%');
    like.reset().bind(1, pattern).bind(2, reader_names);
    std::unordered_set<std::uint32_t> found;
    int rc;
    while ((rc = like.step()) == SQLITE_ROW) {
      const std::int64_t at = cat.index_of(like.int64(0));
      if (at < 0 || (!first && !out.count(static_cast<std::uint32_t>(at)))) continue;
      if (wild) {
        text.reset().bind(1, like.int64(0));
        if (text.step() != SQLITE_ROW || !contains_folded(text.text(0), sub)) continue;
      }
      found.insert(static_cast<std::uint32_t>(at));
    }
    if (rc != SQLITE_DONE) return sqlite_error(db, "search substrings");
    out = std::move(found);
    first = false;
    if (out.empty()) break;
  }
  return out;
}

std::string join(const std::vector<std::string>& v, std::size_t max) {
  std::string out;
  for (std::size_t i = 0; i < v.size() && i < max; ++i) {
    if (i) out += ", ";
    out += v[i];
  }
  if (v.size() > max) out += ", ...";
  return out;
}

// The ranking expression over `table` with column `weights` ("1.0, 0.5"): FTS5's bm25(), or,
// for a principal scored with the statistics of what it may read (bm25.h), strata_bm25()
// with their average length and one idf per term, bound as ?3, ?4, ...
std::string rank_expression(const char* table, std::string_view weights, bool own_statistics, double avgdl,
                            std::size_t terms) {
  if (!own_statistics) return "bm25(" + std::string(table) + ", " + std::string(weights) + ")";
  char length[48];
  std::snprintf(length, sizeof length, "%.17g", avgdl);
  std::string rank = "strata_bm25(" + std::string(table) + ", " + std::string(weights) + ", " + length;
  for (std::size_t i = 0; i < terms; ++i) rank += ", ?" + std::to_string(3 + i);
  return rank + ")";
}

}  // namespace

Result<RetrieveResult> EngineImpl::retrieve(const Query& query) const {
  if (query.text.find_first_not_of(" \t\r\n") == std::string::npos) {
    return invalid_argument_error("query text is empty");
  }
  STRATA_RETURN_IF_ERROR(check_substrings(query.substrings));
  if (!query.substrings.empty() && !substring_index_) {
    return failed_precondition_error(
        "Query::substrings needs an index with the substring index (open it once with "
        "EngineOptions::substring_index = true)");
  }
  RetrieveResult result;
  const auto cat = catalog();
  result.index_commit = cat->index_commit;
  if (cat->files.empty()) return result;
  const TaskAnalysis task = analyze_task(query.text);
  const bool tests_ok = query.include_tests || task.about_tests;
  // Permissions (access_filter.h): counts, term frequencies and FTS candidates cover only
  // documents the principal may read; the filter is inside every candidate query.
  const std::string reader_names = principal_names_json(query.principal);
  const VisibleFiles readable = visible_files(*cat, query.principal);
  const std::size_t readable_files = readable.count;
  if (readable_files == 0) return audited(options_, query, std::move(result));
  const bool all_readable = readable_files == cat->files.size();
  const double n_files = static_cast<double>(readable_files);

  std::lock_guard lock(read_mu_);
  sqlite3* db = reader_.get();

  // Document frequencies of the candidate terms: drop unknown and near-universal ones.
  std::unordered_map<std::string, double> idf, doc_freq;
  {
    Stmt vocab(db, "SELECT doc FROM files_vocab WHERE term = ?1");
    if (!vocab.ok()) return sqlite_error(db, "read vocabulary");
    for (const auto& t : task.terms) {
      double df = 0;
      if (all_readable) {
        vocab.reset().bind(1, t.term);
        if (vocab.step() == SQLITE_ROW) df = static_cast<double>(vocab.int64(0));
      } else if ((df = visible_document_frequency(db, t.term, reader_names)) < 0) {
        return sqlite_error(db, "read document frequencies");
      }
      if (df <= 0) continue;
      doc_freq[t.term] = df;
      idf[t.term] = std::log(1.0 + (n_files - df + 0.5) / (df + 0.5));
    }
  }
  std::vector<std::pair<double, std::string>> ranked_terms;
  for (const auto& t : task.terms) {
    auto it = idf.find(t.term);
    // Near-universal terms say nothing (only judged on corpora large enough to tell).
    if (it == idf.end() || (n_files >= 20 && it->second < 0.15)) continue;
    ranked_terms.emplace_back(t.weight * it->second, t.term);
  }
  std::stable_sort(ranked_terms.begin(), ranked_terms.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  if (ranked_terms.size() > kMaxQueryTerms) ranked_terms.resize(kMaxQueryTerms);
  std::vector<std::string> terms;
  for (auto& [w, t] : ranked_terms) terms.push_back(t);
  result.terms = terms;

  std::unordered_map<std::uint32_t, Scores> scores;
  auto visible = [&](std::uint32_t f) { return readable.may_read_file(cat->files[f]); };

  // Exact substrings: only files holding all of them are returned, and each is a candidate.
  const bool by_substring = !query.substrings.empty();
  std::unordered_set<std::uint32_t> with_substrings;
  if (by_substring) {
    auto found = substring_files(db, *cat, query.substrings, reader_names);
    if (!found.ok()) return found.status();
    with_substrings = std::move(*found);
    for (const std::uint32_t f : with_substrings) {
      if (visible(f)) scores[f].substring = 1;
    }
  }

  // bm25 over the fields. A principal who cannot read everything is scored with the
  // statistics of what it can read (bm25.h): documents it may not read change neither which
  // files are found nor their scores.
  if (!terms.empty()) {
    char weights[96];
    std::snprintf(weights, sizeof weights, "%.2f, %.2f, %.2f", kFieldPath, kFieldSymbols, kFieldBody);
    const std::string rank =
        rank_expression("files_fts", weights, !all_readable,
                        all_readable ? 0.0 : static_cast<double>(readable.tokens) / static_cast<double>(readable_files),
                        terms.size());
    const std::string sql = "SELECT files_fts.rowid, " + rank + " AS s FROM files_fts"
                            " JOIN files f ON f.id = files_fts.rowid WHERE files_fts MATCH ?1 AND " +
                            access_clause("f", 2) + " ORDER BY s LIMIT " + std::to_string(kBm25Candidates);
    Stmt fts(db, sql.c_str());
    if (!fts.ok()) return sqlite_error(db, "search files");
    fts.bind(1, fts_query(terms)).bind(2, reader_names);
    if (!all_readable) {
      for (std::size_t i = 0; i < terms.size(); ++i) {
        fts.bind(static_cast<int>(3 + i), bm25_idf(n_files, doc_freq[terms[i]]));
      }
    }
    double best = 0;
    int rc;
    while ((rc = fts.step()) == SQLITE_ROW) {
      const std::int64_t at = cat->index_of(fts.int64(0));
      if (at < 0 || !visible(static_cast<std::uint32_t>(at))) continue;
      const double s = -fts.real(1);
      best = std::max(best, s);
      scores[static_cast<std::uint32_t>(at)].bm25 = s;
    }
    if (rc != SQLITE_DONE) return sqlite_error(db, "search files");
    if (best > 0) {
      for (auto& [f, s] : scores) s.bm25 /= best;
    }
  }

  // Definitions of named identifiers.
  double ident_total = 0;
  for (const auto& id : task.identifiers) ident_total += id.weight;
  if (ident_total > 0) {
    for (const auto& id : task.identifiers) {
      auto it = cat->definitions.find(id.term);
      if (it == cat->definitions.end()) continue;
      std::unordered_set<std::uint32_t> files;  // readable ones: others leave no trace
      for (const auto& d : it->second) {
        if (visible(d.file)) files.insert(d.file);
      }
      if (files.empty()) continue;
      const double specificity = 1.0 / std::sqrt(static_cast<double>(files.size()));
      for (const auto& d : it->second) {
        if (!visible(d.file)) continue;
        const double kind = d.kind == ChunkKind::kMethod ? 0.6 : 1.0;
        Scores& s = scores[d.file];
        const double add = id.weight / ident_total * specificity * kind;
        if (std::find(s.def_names.begin(), s.def_names.end(), id.term) == s.def_names.end()) {
          s.definition += add;
          s.def_names.push_back(id.term);
        }
      }
    }
  }

  // Paths, file names and dotted modules named in the task.
  auto credit_path = [&](std::uint32_t f, double v, const std::string& why) {
    if (!visible(f)) return;
    Scores& s = scores[f];
    if (v > s.path) s.path = v;
    if (s.path_why.size() < 3) s.path_why.push_back(why);
  };
  for (const auto& p : task.paths) {
    std::string lp = lower(p);
    // Longest suffix of the written path that is a path in the index.
    bool found = false;
    std::string_view v = lp;
    while (!v.empty() && !found) {
      for (std::uint32_t f = 0; f < cat->files.size(); ++f) {
        if (ends_with_component(cat->files[f].path, v)) {
          credit_path(f, v.find('/') != std::string_view::npos ? 1.0 : 0.6, "names " + p);
          found = true;
        }
      }
      const auto slash = v.find('/');
      if (slash == std::string_view::npos) break;
      v.remove_prefix(slash + 1);
    }
  }
  for (const auto& d : task.dotted) {
    // Longest dotted prefix that is a module (or module suffix): "sympy.printing.latex.foo".
    std::string_view v = d;
    while (!v.empty()) {
      auto it = cat->by_module.find(std::string(v));
      // A module the task's code imports is where the reproduction starts (an entry point),
      // less often where the fault is: half the credit of a module named otherwise.
      const bool imported = std::binary_search(task.imported_modules.begin(), task.imported_modules.end(), std::string(v));
      // A one-part module ("sympy") says nothing about where in the package to look.
      if (it != cat->by_module.end() && v.find('.') != std::string_view::npos) {
        const auto shown = static_cast<std::size_t>(std::count_if(it->second.begin(), it->second.end(), visible));
        const double strength = shown <= 1 ? 1.0 : 1.0 / std::sqrt(static_cast<double>(shown));
        for (auto f : it->second) {
          // A package's __init__ stands for the whole package, not for the code in question.
          const bool init = cat->stem_of(cat->files[f]) == "__init__";
          credit_path(f, (init ? 0.35 : 0.9) * strength * (imported ? 0.5 : 1.0), "module " + std::string(v));
        }
        break;
      }
      const auto dot = v.rfind('.');
      if (dot == std::string_view::npos) break;
      v = v.substr(0, dot);
    }
  }
  for (const auto& id : task.identifiers) {
    auto it = cat->by_stem.find(id.term);
    if (it == cat->by_stem.end()) continue;
    const auto shown = static_cast<std::size_t>(std::count_if(it->second.begin(), it->second.end(), visible));
    if (shown == 0 || shown > 8) continue;
    const double strength = 0.7 / std::sqrt(static_cast<double>(shown)) * std::min(1.0, id.weight / 2.0);
    for (auto f : it->second) credit_path(f, strength, "file name " + id.term);
  }

  // Members named with their class ("Contains.as_set", "Point.vel()"): the file that defines
  // both the class and the member.
  for (const auto& d : task.dotted) {
    const auto dot = d.rfind('.');
    if (dot == std::string::npos || dot == 0) continue;
    const auto before = d.rfind('.', dot - 1);
    const std::size_t cls_start = before == std::string::npos ? 0 : before + 1;
    auto ci = cat->definitions.find(d.substr(cls_start, dot - cls_start));
    auto mi = cat->definitions.find(d.substr(dot + 1));
    if (ci == cat->definitions.end() || mi == cat->definitions.end()) continue;
    std::unordered_set<std::uint32_t> classes, both;
    for (const auto& c : ci->second) {
      if (c.kind == ChunkKind::kClass && visible(c.file)) classes.insert(c.file);
    }
    for (const auto& m : mi->second) {
      if (m.kind == ChunkKind::kMethod && classes.count(m.file)) both.insert(m.file);
    }
    if (both.empty() || both.size() > 8) continue;
    const double v = 1.0 / std::sqrt(static_cast<double>(both.size()));
    for (auto f : both) {
      if (!visible(f)) continue;
      Scores& s = scores[f];
      s.member = std::max(s.member, v);
      if (s.member_why.size() < 2) s.member_why.push_back(d);
    }
  }
  // Classes the task names in prose ("the Pow class", "'Contains' object") or in its first
  // line ("Intersection should remove duplicates"): the file that defines the class.
  std::vector<std::string> class_names = task.class_words;
  class_names.insert(class_names.end(), task.title_caps.begin(), task.title_caps.end());
  for (const auto& name : class_names) {
    auto ci = cat->definitions.find(name);
    if (ci == cat->definitions.end()) continue;
    std::unordered_set<std::uint32_t> files;
    for (const auto& c : ci->second) {
      if (c.kind == ChunkKind::kClass && visible(c.file)) files.insert(c.file);
    }
    if (files.empty() || files.size() > 8) continue;
    const double v = 0.7 / std::sqrt(static_cast<double>(files.size()));
    for (auto f : files) {
      if (!visible(f)) continue;
      Scores& s = scores[f];
      s.member = std::max(s.member, v);
      if (s.member_why.size() < 2) s.member_why.push_back("class " + name);
    }
  }
  // Names imported from a package ("from a.b import C"): the file under a/b that defines C
  // (a package's __init__ re-exports; the definition is the code in question).
  for (const auto& [mod, name] : task.imported_names) {
    auto di = cat->definitions.find(name);
    if (di == cat->definitions.end()) continue;
    std::unordered_set<std::uint32_t> files;
    for (const auto& d : di->second) {
      if (d.kind == ChunkKind::kMethod || !visible(d.file)) continue;
      const std::string_view m = cat->module_of(cat->files[d.file]);
      if (m == mod || (m.size() > mod.size() && m.compare(0, mod.size(), mod) == 0 && m[mod.size()] == '.')) {
        files.insert(d.file);
      }
    }
    if (files.empty() || files.size() > 4) continue;
    const double v = 0.8 / std::sqrt(static_cast<double>(files.size()));
    for (auto f : files) credit_path(f, v, "imports " + name + " from " + mod);
  }

  // Stack traces: deeper frames count more; frames outside the index are ignored.
  for (std::size_t k = 0; k < task.frames.size(); ++k) {
    const auto& fr = task.frames[k];
    std::string_view v = fr.path;
    const double depth = static_cast<double>(k + 1) / static_cast<double>(task.frames.size());
    while (!v.empty()) {
      if (const std::int64_t at = cat->find_path(v); at >= 0) {
        const auto file = static_cast<std::uint32_t>(at);
        if (visible(file)) {
          Scores& s = scores[file];
          s.trace = std::max(s.trace, 0.4 + 0.6 * depth);
          if (s.trace_why.size() < 2) {
            s.trace_why.push_back(std::string(v) + ":" + std::to_string(fr.line) +
                                  (fr.function.empty() ? "" : " in " + fr.function));
          }
        }
        break;
      }
      const auto slash = v.find('/');
      if (slash == std::string_view::npos) break;
      v.remove_prefix(slash + 1);
    }
  }

  // History: commit messages that match, credited to the files they changed. As for files,
  // a principal who may not read every commit is scored with the statistics of the commits
  // it can read (their number, average length and document frequencies): commits it may
  // not read change neither which commits count nor how much.
  std::size_t readable_commits = 0;
  for (const auto& [list, n] : cat->commit_access) {
    if (may_read(list, query.principal)) readable_commits += n;
  }
  if (!terms.empty() && readable_commits > 0) {
    const bool own_statistics = readable_commits < cat->commits;
    std::vector<double> commit_idf;
    std::uint64_t tokens = 0;
    if (own_statistics) {
      Stmt own(db, ("SELECT d.sz FROM commits c JOIN commits_fts_docsize d ON d.id = c.id WHERE " +
                    access_clause("c", 1)).c_str());
      if (!own.ok()) return sqlite_error(db, "read commit statistics");
      own.bind(1, reader_names);
      int rc;
      while ((rc = own.step()) == SQLITE_ROW) tokens += docsize_tokens(own.blob(0), own.bytes(0));
      if (rc != SQLITE_DONE) return sqlite_error(db, "read commit statistics");
      for (const auto& term : terms) {
        const double df = visible_document_frequency(db, term, reader_names, Corpus::kCommits);
        if (df < 0) return sqlite_error(db, "read commit statistics");
        commit_idf.push_back(bm25_idf(static_cast<double>(readable_commits), df));
      }
    }
    const std::string rank =
        rank_expression("commits_fts", "1.0, 0.5", own_statistics,
                        static_cast<double>(tokens) / static_cast<double>(readable_commits), terms.size());
    const std::string sql = "SELECT c.id, " + rank + " AS s, c.title, c.access FROM commits_fts"
                            " JOIN commits c ON c.id = commits_fts.rowid WHERE commits_fts MATCH ?1 AND " +
                            access_clause("c", 2) + " ORDER BY s LIMIT " + std::to_string(kHistoryCommits);
    Stmt hist(db, sql.c_str());
    Stmt files(db, "SELECT path FROM commit_files WHERE commit_id = ?1");
    if (!hist.ok() || !files.ok()) return sqlite_error(db, "search history");
    hist.bind(1, fts_query(terms)).bind(2, reader_names);
    for (std::size_t i = 0; i < commit_idf.size(); ++i) hist.bind(static_cast<int>(3 + i), commit_idf[i]);
    struct Hit {
      std::int64_t id;
      double s;
      std::string title;
    };
    std::vector<Hit> hits;
    double best = 0;
    while (hist.step() == SQLITE_ROW) {
      if (!may_read(hist.text(3), query.principal)) continue;
      hits.push_back({hist.int64(0), -hist.real(1), hist.text(2)});
      best = std::max(best, -hist.real(1));
    }
    std::unordered_map<std::uint32_t, double> credit;
    for (const auto& h : hits) {
      files.reset().bind(1, h.id);
      std::vector<std::uint32_t> touched;
      while (files.step() == SQLITE_ROW) {
        const std::int64_t at = cat->find_path(files.text_view(0));
        if (at >= 0) touched.push_back(static_cast<std::uint32_t>(at));
      }
      if (touched.empty() || touched.size() > 50) continue;
      const double share = (best > 0 ? h.s / best : 0) / std::sqrt(static_cast<double>(touched.size()));
      for (auto f : touched) {
        if (!visible(f)) continue;
        credit[f] += share;
        auto& why = scores[f].history_why;
        if (why.size() < 2) why.push_back(h.title.substr(0, 80));
      }
    }
    double top = 0;
    for (auto& [f, c] : credit) top = std::max(top, c);
    for (auto& [f, c] : credit) scores[f].history = top > 0 ? c / top : 0;
  }

  // Combine.
  struct Ranked {
    std::uint32_t file;
    double score;
  };
  std::vector<Ranked> ranked;
  ranked.reserve(scores.size());
  auto combine = [&](std::uint32_t f, const Scores& s) {
    double v = kW_bm25 * s.bm25 + kW_definition * std::min(1.0, s.definition * 2.0) +
               kW_path * s.path + kW_trace * s.trace + kW_history * s.history +
               kW_cochange * s.co_change + kW_member * s.member + kW_substring * s.substring;
    // Prose files (README, templates, docs) rank below code for a task that names code.
    if (!task.identifiers.empty() && language_for_path(cat->files[f].path).empty()) v *= kProsePenalty;
    const auto flags = cat->files[f].flags;
    if ((flags & kFlagTest) && !tests_ok) v *= kTestPenalty;
    if (flags & kFlagVendored) v *= kVendoredPenalty;
    return v;
  };
  for (auto& [f, s] : scores) {
    if (by_substring && !with_substrings.count(f)) continue;
    ranked.push_back({f, combine(f, s)});
  }
  auto order = [&](const Ranked& a, const Ranked& b) {
    if (a.score != b.score) return a.score > b.score;
    return cat->files[a.file].path < cat->files[b.file].path;
  };
  std::sort(ranked.begin(), ranked.end(), order);

  // Co-change: files that changed with the top candidates (a small nudge, second pass).
  if (cat->commits > 0 && !ranked.empty()) {
    Stmt co(db,
            "SELECT cf2.path, count(*) FROM commit_files cf1 JOIN commit_files cf2"
            " ON cf1.commit_id = cf2.commit_id AND cf2.path != cf1.path"
            " WHERE cf1.path = ?1 AND cf1.commit_id IN (SELECT commit_id FROM commit_files"
            " WHERE path = ?1 ORDER BY commit_id DESC LIMIT 200)"
            " GROUP BY cf2.path ORDER BY 2 DESC LIMIT 20");
    if (co.ok()) {
      for (std::size_t k = 0; k < std::min<std::size_t>(3, ranked.size()); ++k) {
        co.reset().bind(1, cat->files[ranked[k].file].path);
        double top = 0;
        while (co.step() == SQLITE_ROW) {
          const std::int64_t at = cat->find_path(co.text_view(0));
          const double c = static_cast<double>(co.int64(1));
          if (at < 0 || !visible(static_cast<std::uint32_t>(at))) continue;
          top = std::max(top, c);
          auto sit = scores.find(static_cast<std::uint32_t>(at));
          if (sit == scores.end()) continue;  // only nudges files with another signal
          sit->second.co_change = std::max(sit->second.co_change, top > 0 ? c / top : 0);
        }
      }
      for (auto& r : ranked) r.score = combine(r.file, scores[r.file]);
      std::sort(ranked.begin(), ranked.end(), order);
    }
  }

  // Chunk evidence: a file whose single function or method holds many of the task's terms is
  // more likely the place than one whose matches are scattered over a large file (file-level
  // BM25 favours long files that mention everything). Scored for the best candidates only.
  std::unordered_map<std::uint32_t, double> chunk_score;
  if (!ranked.empty() && !ranked_terms.empty()) {
    std::unordered_map<std::string, double> tw;
    for (const auto& [w, t] : ranked_terms) tw[t] = w;
    Stmt body_st(db, "SELECT content FROM files WHERE id = ?1");
    Stmt chunk_st(db, "SELECT start_line, end_line FROM chunks WHERE file_id = ?1 AND kind IN (?2, ?3)");
    if (!body_st.ok() || !chunk_st.ok()) return sqlite_error(db, "read chunks");
    const std::size_t n = std::min(ranked.size(), kChunkCandidates);
    double best = 0;
    for (std::size_t k = 0; k < n; ++k) {
      const auto& f = cat->files[ranked[k].file];
      body_st.reset().bind(1, f.id);
      if (body_st.step() != SQLITE_ROW) continue;
      const std::string body = body_st.text(0);
      std::vector<std::size_t> starts{0};
      for (std::size_t i = 0; i < body.size(); ++i) {
        if (body[i] == '\n' && i + 1 < body.size()) starts.push_back(i + 1);
      }
      chunk_st.reset().bind(1, f.id).bind(2, static_cast<std::int64_t>(ChunkKind::kFunction))
          .bind(3, static_cast<std::int64_t>(ChunkKind::kMethod));
      double top = 0;
      while (chunk_st.step() == SQLITE_ROW) {
        const auto sl = static_cast<std::size_t>(std::max<std::int64_t>(1, chunk_st.int64(0)));
        const auto el = static_cast<std::size_t>(std::max<std::int64_t>(1, chunk_st.int64(1)));
        const std::size_t b = starts[std::min(starts.size() - 1, sl - 1)];
        const std::size_t e = el < starts.size() ? starts[el] : body.size();
        if (e <= b) continue;
        const std::string terms_in = index_terms(std::string_view(body).substr(b, e - b));
        std::unordered_set<std::string_view> present;
        std::string_view rest = terms_in;
        while (!rest.empty()) {
          const auto sp = rest.find(' ');
          present.insert(rest.substr(0, sp));
          if (sp == std::string_view::npos) break;
          rest.remove_prefix(sp + 1);
        }
        double sc = 0;
        for (const auto& [t, w] : tw) {
          if (present.count(t)) sc += w;
        }
        const double lines = static_cast<double>(el - sl + 1);
        sc /= std::pow(std::max(8.0, lines) / 8.0, kChunkLengthExponent);
        top = std::max(top, sc);
      }
      chunk_score[ranked[k].file] = top;
      best = std::max(best, top);
    }
    if (best > 0) {
      for (auto& r : ranked) {
        auto it = chunk_score.find(r.file);
        if (it == chunk_score.end()) continue;
        it->second /= best;
        r.score += kW_chunk * it->second;
      }
      std::sort(ranked.begin(), ranked.end(), order);
    }
  }

  // Optional dense rerank of the best lexical candidates.
  std::unordered_map<std::uint32_t, double> embedding_score;
  if (options_.embedder && !ranked.empty()) {
    auto cosine = [](const std::vector<float>& a, const std::vector<float>& b) {
      if (a.size() != b.size() || a.empty()) return 0.0;
      double dot = 0, na = 0, nb = 0;
      for (std::size_t i = 0; i < a.size(); ++i) {
        dot += static_cast<double>(a[i]) * b[i];
        na += static_cast<double>(a[i]) * a[i];
        nb += static_cast<double>(b[i]) * b[i];
      }
      return na > 0 && nb > 0 ? dot / std::sqrt(na * nb) : 0.0;
    };
    Result<std::vector<float>> qv = internal_error("embedder not run");
    try {
      qv = options_.embedder->embed(std::string_view(query.text).substr(0, kEmbedBytes));
    } catch (...) {
      qv = internal_error("embedder threw");
    }
    Stmt head(db, "SELECT substr(content, 1, ?2) FROM files WHERE id = ?1");
    if (qv.ok() && head.ok()) {
      for (std::size_t k = 0; k < ranked.size() && k < kEmbedCandidates; ++k) {
        head.reset().bind(1, cat->files[ranked[k].file].id).bind(2, static_cast<std::int64_t>(kEmbedBytes));
        if (head.step() != SQLITE_ROW) continue;
        Result<std::vector<float>> fv = internal_error("embedder not run");
        try {
          fv = options_.embedder->embed(cat->files[ranked[k].file].path + "\n" + head.text(0));
        } catch (...) {
          continue;
        }
        if (!fv.ok()) continue;
        const double c = std::max(0.0, cosine(*qv, *fv));
        embedding_score[ranked[k].file] = c;
        ranked[k].score += kW_embedding * c;
      }
      std::sort(ranked.begin(), ranked.end(), order);
    }
  }

  const std::size_t max_files = std::min(query.max_files, ranked.size());
  for (std::size_t k = 0; k < max_files; ++k) {
    const auto& r = ranked[k];
    const auto& f = cat->files[r.file];
    const Scores& s = scores[r.file];
    FileHit hit;
    hit.path = f.path;
    hit.commit = cat->commit_of(f);
    hit.score = r.score;
    hit.test = (f.flags & kFlagTest) != 0;
    hit.bytes = f.bytes;
    if (s.bm25 > 0) hit.why.push_back({"bm25", kW_bm25 * s.bm25, "terms match path/symbols/body"});
    if (s.definition > 0) {
      hit.why.push_back({"definition", kW_definition * std::min(1.0, s.definition * 2.0),
                         "defines " + join(s.def_names, 5)});
    }
    if (s.path > 0) hit.why.push_back({"path", kW_path * s.path, join(s.path_why, 3)});
    if (s.trace > 0) hit.why.push_back({"stack_trace", kW_trace * s.trace, join(s.trace_why, 2)});
    if (s.history > 0) {
      hit.why.push_back({"history", kW_history * s.history, "commits: " + join(s.history_why, 2)});
    }
    if (s.co_change > 0) hit.why.push_back({"co_change", kW_cochange * s.co_change, "changed with top files"});
    if (s.member > 0) hit.why.push_back({"member", kW_member * s.member, "defines " + join(s.member_why, 2)});
    if (s.substring > 0) {
      hit.why.push_back({"substring", kW_substring * s.substring, "contains " + join(query.substrings, 3)});
    }
    if (auto c = chunk_score.find(r.file); c != chunk_score.end() && c->second > 0) {
      hit.why.push_back({"chunk", kW_chunk * c->second, "a function or method holds the task's terms"});
    }
    if (auto e = embedding_score.find(r.file); e != embedding_score.end() && e->second > 0) {
      hit.why.push_back({"embedding", kW_embedding * e->second, options_.embedder->name()});
    }
    if ((f.flags & kFlagTest) && !tests_ok) hit.why.push_back({"test_penalty", kTestPenalty, "test file"});
    if (f.flags & kFlagVendored) hit.why.push_back({"vendored_penalty", kVendoredPenalty, "vendored"});
    result.files.push_back(std::move(hit));
  }

  // Spans of the ranked files: chunks scored by the query terms they hold and the
  // identifiers they define.
  std::unordered_set<std::string> ident_set;
  for (const auto& id : task.identifiers) ident_set.insert(id.term);
  std::unordered_map<std::string, double> term_w;
  for (const auto& [w, t] : ranked_terms) term_w[t] = w;
  Stmt chunks(db, "SELECT kind, name, qualified, start_line, end_line, sig_end FROM chunks"
                  " WHERE file_id = ?1 ORDER BY start_line");
  Stmt content(db, "SELECT content FROM files WHERE id = ?1");
  if (!chunks.ok() || !content.ok()) return sqlite_error(db, "read chunks");
  std::vector<SpanHit> spans;
  // Spans come from the best files only (a query for 100 files does not chunk-score 100).
  for (std::size_t k = 0; k < result.files.size() && k < kSpanFiles; ++k) {
    const auto& hit = result.files[k];
    const std::int64_t at = cat->find_path(hit.path);
    if (at < 0) continue;  // cannot happen: every hit comes from this catalog
    const auto& f = cat->files[static_cast<std::size_t>(at)];
    content.reset().bind(1, f.id);
    if (content.step() != SQLITE_ROW) continue;
    const std::string body = content.text(0);
    std::vector<std::size_t> starts{0};
    for (std::size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '\n' && i + 1 < body.size()) starts.push_back(i + 1);
    }
    chunks.reset().bind(1, f.id);
    std::vector<SpanHit> file_spans;
    double best = 0;
    // A document whose only chunk is the whole of it has no chunk row (the ingest leaves it
    // out): that chunk is made here as the chunker makes it, after the rows (there are none).
    bool more = true;
    std::size_t rows = 0;
    while (more) {
      SpanHit sp;
      sp.path = hit.path;
      sp.commit = hit.commit;
      std::string name;
      if (chunks.step() == SQLITE_ROW) {
        ++rows;
        sp.kind = static_cast<ChunkKind>(chunks.int64(0));
        name = chunks.text(1);
        sp.symbol = chunks.text(2);
        sp.start_line = static_cast<int>(chunks.int64(3));
        sp.end_line = static_cast<int>(chunks.int64(4));
        sp.signature_end_line = static_cast<int>(chunks.int64(5));
      } else {
        more = false;
        const int whole = rows == 0 ? count_lines(body) : 0;
        if (whole == 0) break;
        sp.kind = ChunkKind::kFile;
        sp.start_line = 1;
        sp.end_line = whole;
        sp.signature_end_line = 1;
      }
      const std::size_t b = starts[std::min<std::size_t>(starts.size() - 1, static_cast<std::size_t>(sp.start_line - 1))];
      const std::size_t e = static_cast<std::size_t>(sp.end_line) < starts.size()
                                ? starts[static_cast<std::size_t>(sp.end_line)]
                                : body.size();
      const std::string terms_in = index_terms(std::string_view(body).substr(b, e - b));
      std::unordered_set<std::string> present;
      std::size_t s = 0;
      while (s < terms_in.size()) {
        std::size_t t = terms_in.find(' ', s);
        if (t == std::string::npos) t = terms_in.size();
        present.insert(terms_in.substr(s, t - s));
        s = t + 1;
      }
      double score = 0;
      std::vector<std::string> matched;
      for (const auto& [t, w] : term_w) {
        if (present.count(t)) {
          score += w;
          if (matched.size() < 6) matched.push_back(t);
        }
      }
      const double lines = static_cast<double>(sp.end_line - sp.start_line + 1);
      score /= std::sqrt(std::max(8.0, lines)) / std::sqrt(8.0);
      if (!name.empty() && ident_set.count(lower(name))) {
        // A named definition; more when the task names it qualified (Matrix.is_upper).
        const std::string qual = lower(sp.symbol);
        bool qualified = false;
        for (const auto& d : task.dotted) {
          if (d.size() >= qual.size() && d.compare(d.size() - qual.size(), qual.size(), qual) == 0 &&
              qual.find('.') != std::string::npos) {
            qualified = true;
          }
        }
        const double bonus = qualified ? 8.0 : 5.0;
        score += bonus;
        sp.why.push_back({"definition", bonus, "defines " + name});
      }
      if (by_substring) {
        const std::string_view text = std::string_view(body).substr(b, e - b);
        std::vector<std::string> held;
        for (const auto& sub : query.substrings) {
          if (contains_folded(text, sub)) held.push_back(sub);
        }
        if (!held.empty()) {
          score += kSubstringSpanBonus;
          sp.why.push_back({"substring", kSubstringSpanBonus, "contains " + join(held, 3)});
        }
      }
      if (score <= 0) continue;
      if (!matched.empty()) sp.why.push_back({"terms", score, join(matched, 6)});
      sp.score = score;
      best = std::max(best, score);
      file_spans.push_back(std::move(sp));
    }
    // A class whose named member matched yields to that member (the tighter span).
    for (auto& outer : file_spans) {
      if (outer.kind != ChunkKind::kClass) continue;
      for (const auto& inner : file_spans) {
        if (&inner == &outer || inner.start_line < outer.start_line || inner.end_line > outer.end_line) continue;
        bool named = false;
        for (const auto& w : inner.why) named |= w.name == "definition";
        if (named) {
          outer.score *= 0.5;
          break;
        }
      }
    }
    for (auto& sp : file_spans) {
      sp.score = hit.score * (0.3 + 0.7 * (best > 0 ? sp.score / best : 0));
      spans.push_back(std::move(sp));
    }
  }
  std::stable_sort(spans.begin(), spans.end(), [](const SpanHit& a, const SpanHit& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.end_line - a.start_line < b.end_line - b.start_line;  // the tighter span first
  });
  if (spans.size() > query.max_spans) spans.resize(query.max_spans);
  result.spans = std::move(spans);
  return audited(options_, query, std::move(result));
}

}  // namespace strata::context::detail
