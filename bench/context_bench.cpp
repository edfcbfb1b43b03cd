// context_bench — Context Engine throughput and latency, printed next to the targets.
//
//   strata_context_bench [--quick] [--repo <tree>] [--files N] [--dir <scratch>]
//
// Without --repo it generates a synthetic repository (default 10,000 files of Python, C++,
// TypeScript, Go and Rust, ~3 KB each) in a scratch directory and measures:
//   ingest        first full ingest of the tree (files/s, MB/s)       target: 10k files < 60 s
//   re-ingest     after one file changes                              target: < 1 s
//   no-op ingest  nothing changed
//   query         p50/p99 over 200 tasks that name generated symbols  target: p99 < 100 ms
//   pack          p50/p99 of an 8,000-token packet (estimate tokenizer)
//   substrings    building the trigram index onto the index, Query::substrings p50/p99 next
//                 to a LIKE scan of every file (baseline), one-file re-ingest with it
// --quick generates 1,000 files and 50 queries (CI smoke run: fails only on errors).
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <sqlite3.h>

#include <strata/context/code_tree.h>
#include <strata/context/engine.h>

namespace sc = strata::context;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const char* const kWords[] = {"parse", "token", "buffer", "cache", "index", "query", "render", "matrix",
                              "vector", "stream", "socket", "handle", "commit", "merge", "split", "score",
                              "budget", "packet", "session", "event", "symbol", "table", "graph", "node",
                              "edge", "route", "frame", "layer", "model", "batch", "queue", "lease"};

std::string word(std::mt19937& rng) { return kWords[rng() % (sizeof kWords / sizeof *kWords)]; }

std::string ident(std::mt19937& rng, int i) {
  return word(rng) + "_" + word(rng) + "_" + std::to_string(i);
}

std::string make_file(std::mt19937& rng, int i, int lang, std::vector<std::string>& symbols) {
  std::string out;
  for (int f = 0; f < 6; ++f) {
    const std::string name = ident(rng, i * 10 + f);
    symbols.push_back(name);
    const std::string a = word(rng), b = word(rng);
    switch (lang) {
      case 0:
        out += "def " + name + "(" + a + ", " + b + "):\n    \"\"\"Compute the " + a + " of the " + b + ".\"\"\"\n";
        for (int l = 0; l < 8; ++l) out += "    " + a + " = " + a + " + " + b + " * " + std::to_string(rng() % 100) + "\n";
        out += "    return " + a + "\n\n";
        break;
      case 1:
        out += "int " + name + "(int " + a + ", int " + b + ") {\n";
        for (int l = 0; l < 8; ++l) out += "  " + a + " += " + b + " * " + std::to_string(rng() % 100) + ";\n";
        out += "  return " + a + ";\n}\n\n";
        break;
      case 2:
        out += "export function " + name + "(" + a + ": number, " + b + ": number): number {\n";
        for (int l = 0; l < 8; ++l) out += "  " + a + " += " + b + " * " + std::to_string(rng() % 100) + ";\n";
        out += "  return " + a + ";\n}\n\n";
        break;
      case 3:
        out += "func " + name + "(" + a + " int, " + b + " int) int {\n";
        for (int l = 0; l < 8; ++l) out += "\t" + a + " += " + b + " * " + std::to_string(rng() % 100) + "\n";
        out += "\treturn " + a + "\n}\n\n";
        break;
      default:
        out += "pub fn " + name + "(" + a + ": i64, " + b + ": i64) -> i64 {\n";
        for (int l = 0; l < 8; ++l) out += "    let " + a + " = " + a + " + " + b + " * " + std::to_string(rng() % 100) + ";\n";
        out += "    " + a + "\n}\n\n";
        break;
    }
  }
  return out;
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// CPU time of this process (the engine is single-threaded per call), in ms: on a machine
// shared with other work, wall time measures the queue for the CPU as much as strata.
double cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double load_average() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : 0;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string repo;
  std::string dir = (fs::temp_directory_path() / "strata-context-bench").string();
  int files = 10000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--quick") quick = true;
    else if (a == "--repo" && i + 1 < argc) repo = argv[++i];
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--files" && i + 1 < argc) files = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: strata_context_bench [--quick] [--repo <tree>] [--files N] [--dir <scratch>]\n");
      return 2;
    }
  }
  if (quick) files = 1000;
  const int queries = quick ? 50 : 200;
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  std::mt19937 rng(12345);
  std::vector<std::string> symbols;
  std::string tree = repo;
  std::string changed_file;
  if (tree.empty()) {
    tree = dir + "/repo";
    const char* ext[] = {".py", ".cc", ".ts", ".go", ".rs"};
    for (int i = 0; i < files; ++i) {
      const int lang = i % 5;
      const std::string rel = "pkg" + std::to_string(i % 50) + "/mod" + std::to_string(i / 50) + "/" +
                              word(rng) + "_" + std::to_string(i) + ext[lang];
      fs::create_directories(fs::path(tree + "/" + rel).parent_path());
      std::ofstream(tree + "/" + rel) << make_file(rng, i, lang, symbols);
      if (i == files / 2) changed_file = tree + "/" + rel;
    }
  }

  auto engine = sc::ContextEngine::open({.index_path = dir + "/index.db"});
  if (!engine.ok()) {
    std::fprintf(stderr, "open: %s\n", engine.status().to_string().c_str());
    return 1;
  }
  auto code = sc::make_code_tree_connector({.root = tree});
  auto t0 = Clock::now();
  double c0 = cpu_ms();
  auto first = (*engine)->ingest(*code);
  const double ingest_ms = ms_since(t0);
  const double ingest_cpu = cpu_ms() - c0;
  if (!first.ok()) {
    std::fprintf(stderr, "ingest: %s\n", first.status().to_string().c_str());
    return 1;
  }
  const double n_files = static_cast<double>(first->added);
  std::printf("strata context bench (%s)%s, load average %.1f on %ld CPUs; wall (cpu) times\n",
              repo.empty() ? "synthetic repository" : repo.c_str(), quick ? " --quick" : "", load_average(),
              sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("%-28s %8.0f files  %7.1f MB  %8.0f ms (cpu %.0f)  %7.0f files/s  %5.1f MB/s   target: 10k files < 60 s (%s)\n",
              "ingest (first)", n_files, static_cast<double>(first->bytes) / 1e6, ingest_ms, ingest_cpu,
              n_files / (ingest_ms / 1000.0), static_cast<double>(first->bytes) / 1e6 / (ingest_ms / 1000.0),
              n_files >= 10000 ? (ingest_ms < 60000 * n_files / 10000 ? "met" : "MISSED") : "scaled");

  t0 = Clock::now();
  c0 = cpu_ms();
  auto noop = (*engine)->ingest(*code);
  const double noop_ms = ms_since(t0);
  const double noop_cpu = cpu_ms() - c0;
  if (!noop.ok() || noop->added + noop->updated + noop->removed != 0) {
    std::fprintf(stderr, "no-op ingest changed something\n");
    return 1;
  }
  std::printf("%-28s %8.0f ms (cpu %.0f)   %zu files read, %zu unchanged by stat stamp\n",
              "ingest (nothing changed)", noop_ms, noop_cpu, noop->files_read, noop->unchanged_by_stamp);

  if (changed_file.empty()) {
    // An existing tree: change a copy? Never modify the user's tree; append to a scratch file.
    changed_file = tree + "/.strata-bench-probe.txt";
  }
  {
    std::ofstream(changed_file, std::ios::app) << "\n// touched by the benchmark\n";
  }
  t0 = Clock::now();
  c0 = cpu_ms();
  auto one = (*engine)->ingest(*code);
  const double one_ms = ms_since(t0);
  const double one_cpu = cpu_ms() - c0;
  if (!one.ok() || one->updated + one->added != 1) {
    std::fprintf(stderr, "one-file re-ingest: %s\n", one.ok() ? "did not see exactly one change" : one.status().to_string().c_str());
    return 1;
  }
  if (!repo.empty()) fs::remove(changed_file, ec);
  std::printf("%-28s %8.0f ms (cpu %.0f)   %zu files read   target: < 1000 ms (%s)\n",
              "re-ingest (one file changed)", one_ms, one_cpu, one->files_read, one_ms < 1000 ? "met" : "MISSED");

  // Queries that name symbols and words, like an issue would.
  std::vector<std::string> tasks;
  for (int q = 0; q < queries; ++q) {
    std::string task;
    if (!symbols.empty()) {
      task = "Calling " + symbols[rng() % symbols.size()] + "() with an empty " + word(rng) +
             " returns the wrong " + word(rng) + "; see also " + symbols[rng() % symbols.size()];
    } else {
      task = "The " + word(rng) + " " + word(rng) + " fails when the " + word(rng) + " is empty";
    }
    tasks.push_back(task);
  }
  std::vector<double> qt, qc;
  int found = 0;
  for (const auto& task : tasks) {
    t0 = Clock::now();
    c0 = cpu_ms();
    auto r = (*engine)->retrieve({.text = task});
    qt.push_back(ms_since(t0));
    qc.push_back(cpu_ms() - c0);
    if (!r.ok()) {
      std::fprintf(stderr, "retrieve: %s\n", r.status().to_string().c_str());
      return 1;
    }
    found += !r->files.empty();
  }
  const double p99 = percentile(qt, 0.99);
  std::printf("%-28s p50 %6.1f ms  p99 %6.1f ms  (cpu p50 %.1f, p99 %.1f; %d queries, %d with results)   target: p99 < 100 ms (%s)\n",
              "query (retrieve)", percentile(qt, 0.5), p99, percentile(qc, 0.5), percentile(qc, 0.99), queries, found,
              p99 < 100 ? "met" : "MISSED");

  std::vector<double> pt;
  std::size_t items = 0;
  for (int q = 0; q < std::min(queries, 50); ++q) {
    t0 = Clock::now();
    auto p = (*engine)->pack({.text = tasks[static_cast<std::size_t>(q)]}, {.budget = 8000});
    pt.push_back(ms_since(t0));
    if (!p.ok()) {
      std::fprintf(stderr, "pack: %s\n", p.status().to_string().c_str());
      return 1;
    }
    items += p->items.size();
  }
  std::printf("%-28s p50 %6.1f ms  p99 %6.1f ms  (8000-token budget, estimate tokenizer, %.1f items/packet)\n",
              "pack (retrieve + pack)", percentile(pt, 0.5), percentile(pt, 0.99),
              static_cast<double>(items) / static_cast<double>(pt.size()));

  // Substring search: the trigram index built onto the existing index, queries that require a
  // fragment no full-text token holds (the middle of an identifier), and the same fragments
  // found by a plain LIKE scan of every file's content in the same run (the baseline).
  engine->reset();
  const std::string index = dir + "/index.db";
  auto index_bytes = [&] {
    std::error_code e1, e2;
    const auto main_size = fs::file_size(index, e1);
    const auto wal_size = fs::file_size(index + "-wal", e2);
    return static_cast<double>((e1 ? 0 : main_size) + (e2 ? 0 : wal_size)) / 1e6;
  };
  const double mb_before = index_bytes();
  t0 = Clock::now();
  c0 = cpu_ms();
  auto sub = sc::ContextEngine::open({.index_path = index, .substring_index = true});
  const double build_ms = ms_since(t0), build_cpu = cpu_ms() - c0;
  if (!sub.ok()) {
    std::fprintf(stderr, "open with the substring index: %s\n", sub.status().to_string().c_str());
    return 1;
  }
  std::printf("%-28s %8.0f ms (cpu %.0f)   index %.1f MB -> %.1f MB\n", "substring index (build)", build_ms,
              build_cpu, mb_before, index_bytes());
  std::vector<std::string> fragments;
  for (int q = 0; q < queries; ++q) {
    if (symbols.empty()) {
      fragments.push_back("= " + word(rng));
    } else {
      const std::string& sym = symbols[rng() % symbols.size()];
      // Alternately the end of an identifier (one file) and its middle (many files).
      fragments.push_back(q % 2 ? sym.substr(sym.size() - 8) : sym.substr(sym.size() / 3, 8));
    }
  }
  std::vector<double> st, bt;
  for (const auto& frag : fragments) {
    t0 = Clock::now();
    auto r = (*sub)->retrieve({.text = frag, .substrings = {frag}});
    st.push_back(ms_since(t0));
    if (!r.ok() || (!symbols.empty() && r->files.empty())) {
      std::fprintf(stderr, "substring query '%s': %s\n", frag.c_str(),
                   r.ok() ? "no file found" : r.status().to_string().c_str());
      return 1;
    }
  }
  // The lookup alone: every file holding the fragment, through the trigram index and by a
  // LIKE over every file's content (what a query without the index would have to do).
  std::vector<double> lt;
  {
    sqlite3* db = nullptr;
    sqlite3_stmt* scan = nullptr;
    sqlite3_stmt* tri = nullptr;
    if (sqlite3_open_v2(index.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT count(*) FROM files WHERE CAST(content AS TEXT) LIKE ?1", -1, &scan,
                           nullptr) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT count(*) FROM files_substr WHERE content LIKE ?1", -1, &tri, nullptr) !=
            SQLITE_OK) {
      std::fprintf(stderr, "baseline: %s\n", sqlite3_errmsg(db));
      sqlite3_close(db);
      return 1;
    }
    auto count = [](sqlite3_stmt* stmt, const std::string& pattern) {
      sqlite3_reset(stmt);
      sqlite3_bind_text(stmt, 1, pattern.c_str(), -1, SQLITE_TRANSIENT);
      return sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
    };
    for (const auto& frag : fragments) {
      const std::string pattern = "%" + frag + "%";
      t0 = Clock::now();
      const auto a = count(tri, pattern);
      lt.push_back(ms_since(t0));
      t0 = Clock::now();
      const auto b = count(scan, pattern);
      bt.push_back(ms_since(t0));
      if (a != b || a < 0) {
        std::fprintf(stderr, "substring lookup '%s': %lld files by the index, %lld by the scan\n", frag.c_str(),
                     static_cast<long long>(a), static_cast<long long>(b));
        return 1;
      }
    }
    sqlite3_finalize(scan);
    sqlite3_finalize(tri);
    sqlite3_close(db);
  }
  std::printf("%-28s p50 %6.1f ms  p99 %6.1f ms   (retrieve with Query::substrings)   target: p99 < 100 ms (%s)\n",
              "query (substrings)", percentile(st, 0.5), percentile(st, 0.99),
              percentile(st, 0.99) < 100 ? "met" : "MISSED");
  std::printf("%-28s p50 %6.2f ms  p99 %6.2f ms   baseline (LIKE over every file): p50 %.1f ms, p99 %.1f ms"
              "   %.0fx faster at p50 (%s)\n",
              "substring lookup", percentile(lt, 0.5), percentile(lt, 0.99), percentile(bt, 0.5),
              percentile(bt, 0.99), percentile(bt, 0.5) / std::max(0.001, percentile(lt, 0.5)),
              percentile(lt, 0.5) < percentile(bt, 0.5) ? "beats it" : "DOES NOT beat it");
  {
    std::ofstream(changed_file, std::ios::app) << "\n// touched again by the benchmark\n";
  }
  t0 = Clock::now();
  c0 = cpu_ms();
  auto again = (*sub)->ingest(*code);
  const double again_ms = ms_since(t0), again_cpu = cpu_ms() - c0;
  if (!again.ok() || again->updated + again->added != 1) {
    std::fprintf(stderr, "one-file re-ingest with the substring index: %s\n",
                 again.ok() ? "did not see exactly one change" : again.status().to_string().c_str());
    return 1;
  }
  if (!repo.empty()) fs::remove(changed_file, ec);
  std::printf("%-28s %8.0f ms (cpu %.0f)   with the substring index   target: < 1000 ms (%s)\n",
              "re-ingest (one file changed)", again_ms, again_cpu, again_ms < 1000 ? "met" : "MISSED");
  sub->reset();
  fs::remove_all(dir, ec);
  return 0;
}
