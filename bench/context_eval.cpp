// context_eval — file-localisation quality of the Context Engine on a SWE-bench-style set.
//
//   strata_context_eval --dataset ../shared/eval/sympy-dev.json --repo /tmp/sympy-wt
//                       [--index /tmp/strata-eval.db] [--limit N] [--verbose] [--no-history]
//
// --repo is a git work tree of the dataset's repository that this program may check out
// (it runs `git checkout -f <base_commit>` and `git clean -fdq` there; never point it at a
// tree with work you care about). For each instance, in commit-time order, it checks out the
// base commit, ingests the tree and the history up to that commit incrementally, asks strata
// for the issue text and records the rank of the first file the real fix touched. In the same
// run it ranks the same files with plain BM25 (SQLite FTS5, default tokenizer, whole files,
// the issue text as an OR query) as the baseline. Prints Acc@1/5/10 and MRR for both.
//
// The gold files are used only to score the ranking, never to produce it.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include <strata/context/code_tree.h>
#include <strata/context/engine.h>
#include <strata/context/git_history.h>

namespace sc = strata::context;

namespace {

struct Instance {
  std::string id, commit, problem;
  std::vector<std::string> gold;
  long long time = 0;
};

bool is_hex(const std::string& s) {
  if (s.size() < 7 || s.size() > 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[65536];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// Plain BM25 baseline: FTS5 with its default tokenizer over whole files.
class PlainBm25 {
 public:
  explicit PlainBm25() {
    sqlite3_open(":memory:", &db_);
    exec("CREATE VIRTUAL TABLE plain USING fts5(body)");
    exec("CREATE VIRTUAL TABLE plain_vocab USING fts5vocab(plain, 'row')");
  }
  ~PlainBm25() { sqlite3_close(db_); }

  // Brings the table to the files of `root` (git ls-files), re-reading only changed ones.
  void sync(const std::string& root) {
    const std::string list = capture("git -C " + shell_quote(root) + " ls-files -z");
    std::set<std::string> now;
    std::size_t start = 0;
    exec("BEGIN");
    while (start < list.size()) {
      std::size_t end = list.find('\0', start);
      if (end == std::string::npos) end = list.size();
      std::string path = list.substr(start, end - start);
      start = end + 1;
      std::ifstream in(root + "/" + path, std::ios::binary);
      if (!in) continue;
      std::stringstream ss;
      ss << in.rdbuf();
      std::string body = ss.str();
      if (body.size() > (1 << 20) || body.find('\0') != std::string::npos) continue;
      now.insert(path);
      auto it = files_.find(path);
      const std::size_t h = std::hash<std::string>{}(body);
      if (it != files_.end() && it->second.second == h) continue;
      if (it != files_.end()) erase(it->second.first);
      sqlite3_stmt* st = nullptr;
      sqlite3_prepare_v2(db_, "INSERT INTO plain(body) VALUES(?1)", -1, &st, nullptr);
      sqlite3_bind_text(st, 1, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
      sqlite3_step(st);
      sqlite3_finalize(st);
      const long long id = sqlite3_last_insert_rowid(db_);
      files_[path] = {id, h};
      by_id_[id] = path;
    }
    for (auto it = files_.begin(); it != files_.end();) {
      if (!now.count(it->first)) {
        erase(it->second.first);
        it = files_.erase(it);
      } else {
        ++it;
      }
    }
    exec("COMMIT");
  }

  std::vector<std::string> rank(const std::string& text, std::size_t k) {
    // Every distinct word of the issue (FTS5's own tokenizer rules: alphanumerics).
    std::set<std::string> words;
    std::string cur;
    for (char c : text + " ") {
      const auto u = static_cast<unsigned char>(c);
      if (std::isalnum(u) || u >= 0x80) {
        cur.push_back(static_cast<char>(std::tolower(u)));
      } else {
        if (!cur.empty() && cur.size() < 64) words.insert(cur);
        cur.clear();
      }
    }
    std::string q;
    for (const auto& w : words) {
      if (!q.empty()) q += " OR ";
      q += "\"" + w + "\"";
    }
    std::vector<std::string> out;
    if (q.empty()) return out;
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db_, "SELECT rowid FROM plain WHERE plain MATCH ?1 ORDER BY bm25(plain) LIMIT ?2", -1, &st, nullptr);
    sqlite3_bind_text(st, 1, q.data(), static_cast<int>(q.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, static_cast<long long>(k));
    while (sqlite3_step(st) == SQLITE_ROW) out.push_back(by_id_[sqlite3_column_int64(st, 0)]);
    sqlite3_finalize(st);
    return out;
  }

 private:
  void exec(const char* sql) { sqlite3_exec(db_, sql, nullptr, nullptr, nullptr); }
  void erase(long long id) {
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db_, "DELETE FROM plain WHERE rowid = ?1", -1, &st, nullptr);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_step(st);
    sqlite3_finalize(st);
    by_id_.erase(id);
  }
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, std::pair<long long, std::size_t>> files_;
  std::unordered_map<long long, std::string> by_id_;
};

struct Metrics {
  int n = 0, at1 = 0, at5 = 0, at10 = 0;
  double rr = 0;
  void add(int rank) {  // 1-based, 0 = not found in the list
    ++n;
    if (rank == 1) ++at1;
    if (rank >= 1 && rank <= 5) ++at5;
    if (rank >= 1 && rank <= 10) ++at10;
    if (rank >= 1) rr += 1.0 / rank;
  }
  void print(const char* name) const {
    std::printf("%-14s n=%-4d Acc@1 %5.1f%%  Acc@5 %5.1f%%  Acc@10 %5.1f%%  MRR %.3f\n", name, n,
                100.0 * at1 / std::max(1, n), 100.0 * at5 / std::max(1, n),
                100.0 * at10 / std::max(1, n), rr / std::max(1, n));
  }
};

int first_gold_rank(const std::vector<std::string>& ranked, const std::vector<std::string>& gold) {
  for (std::size_t i = 0; i < ranked.size(); ++i) {
    if (std::find(gold.begin(), gold.end(), ranked[i]) != gold.end()) return static_cast<int>(i + 1);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dataset, repo, index = "/tmp/strata-eval.db";
  std::size_t limit = 0;
  bool verbose = false, history = true, fresh = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--dataset") dataset = next();
    else if (a == "--repo") repo = next();
    else if (a == "--index") index = next();
    else if (a == "--limit") limit = static_cast<std::size_t>(std::atol(next().c_str()));
    else if (a == "--verbose") verbose = true;
    else if (a == "--no-history") history = false;
    else if (a == "--fresh") fresh = true;
    else {
      std::fprintf(stderr, "usage: strata_context_eval --dataset <json> --repo <work tree> [--index <file>] "
                           "[--limit N] [--verbose] [--no-history] [--fresh]\n");
      return 2;
    }
  }
  if (dataset.empty() || repo.empty()) {
    std::fprintf(stderr, "--dataset and --repo are required\n");
    return 2;
  }
  std::ifstream in(dataset);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", dataset.c_str());
    return 1;
  }
  nlohmann::json data = nlohmann::json::parse(in, nullptr, false);
  if (!data.is_array()) {
    std::fprintf(stderr, "%s is not a JSON array\n", dataset.c_str());
    return 1;
  }
  std::vector<Instance> instances;
  for (const auto& j : data) {
    Instance x;
    x.id = j.value("instance_id", "");
    x.commit = j.value("base_commit", "");
    x.problem = j.value("problem_statement", "");
    for (const auto& g : j.value("gold_files", nlohmann::json::array())) x.gold.push_back(g.get<std::string>());
    if (!is_hex(x.commit)) {
      std::fprintf(stderr, "skipping %s: bad base_commit\n", x.id.c_str());
      continue;
    }
    x.time = std::atoll(capture("git -C " + shell_quote(repo) + " show -s --format=%ct " + x.commit).c_str());
    instances.push_back(std::move(x));
  }
  std::stable_sort(instances.begin(), instances.end(),
                   [](const Instance& a, const Instance& b) { return a.time < b.time; });
  if (limit > 0 && instances.size() > limit) instances.resize(limit);
  if (fresh) std::remove(index.c_str());

  auto engine = sc::ContextEngine::open({.index_path = index});
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.status().to_string().c_str());
    return 1;
  }
  PlainBm25 plain;
  Metrics strata_m, bm25_m;
  double ingest_ms = 0, query_ms = 0;
  for (const auto& x : instances) {
    const int rc = std::system(("git -C " + shell_quote(repo) + " checkout -q -f " + x.commit +
                                " && git -C " + shell_quote(repo) + " clean -fdqx").c_str());
    if (rc != 0) {
      std::fprintf(stderr, "checkout of %s failed\n", x.commit.c_str());
      return 1;
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto code = sc::make_code_tree_connector({.root = repo, .commit = x.commit});
    auto r1 = (*engine)->ingest(*code);
    if (!r1.ok()) {
      std::fprintf(stderr, "ingest: %s\n", r1.status().to_string().c_str());
      return 1;
    }
    if (history) {
      auto git = sc::make_git_history_connector({.repository = repo, .rev = x.commit});
      auto r2 = (*engine)->ingest(*git);
      if (!r2.ok()) {
        std::fprintf(stderr, "history: %s\n", r2.status().to_string().c_str());
        return 1;
      }
    }
    const auto t1 = std::chrono::steady_clock::now();
    auto res = (*engine)->retrieve({.text = x.problem, .max_files = 100, .max_spans = 5});
    const auto t2 = std::chrono::steady_clock::now();
    ingest_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
    query_ms += std::chrono::duration<double, std::milli>(t2 - t1).count();
    if (!res.ok()) {
      std::fprintf(stderr, "retrieve: %s\n", res.status().to_string().c_str());
      return 1;
    }
    std::vector<std::string> ranked;
    for (const auto& f : res->files) ranked.push_back(f.path);
    const int sr = first_gold_rank(ranked, x.gold);
    plain.sync(repo);
    const int br = first_gold_rank(plain.rank(x.problem, 100), x.gold);
    strata_m.add(sr);
    bm25_m.add(br);
    if (verbose) {
      std::printf("%-22s strata %3d  bm25 %3d  top: %s  gold: %s\n", x.id.c_str(), sr, br,
                  ranked.empty() ? "-" : ranked[0].c_str(), x.gold[0].c_str());
      if (sr != 1 && !res->files.empty()) {
        for (const auto& w : res->files[0].why) std::printf("      top1 %-12s %.3f %s\n", w.name.c_str(), w.score, w.detail.c_str());
        std::printf("      top1 score %.3f\n", res->files[0].score);
        if (sr > 1) {
          const auto& g = res->files[static_cast<std::size_t>(sr - 1)];
          for (const auto& w : g.why) std::printf("      gold %-12s %.3f %s\n", w.name.c_str(), w.score, w.detail.c_str());
          std::printf("      gold score %.3f\n", g.score);
        }
      }
      std::fflush(stdout);
    }
  }
  std::printf("\n%zu instances from %s (file-level: a hit is any file the fix touched)\n",
              instances.size(), dataset.c_str());
  strata_m.print("strata");
  bm25_m.print("plain BM25");
  std::printf("Acc@1 ratio strata / BM25: %.2fx (goal: >= 2x and Acc@1 >= 60%%)\n",
              bm25_m.at1 > 0 ? static_cast<double>(strata_m.at1) / bm25_m.at1 : 0.0);
  std::printf("mean incremental ingest %.0f ms, mean query %.1f ms\n",
              ingest_ms / std::max<std::size_t>(1, instances.size()),
              query_ms / std::max<std::size_t>(1, instances.size()));
  return 0;
}
