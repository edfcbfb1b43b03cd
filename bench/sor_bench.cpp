// strata_sor_bench — ingest rate of the systems-of-record connectors on a synthetic export
// of 1,000,000 Slack messages and 100,000 pull requests with 2 reviews each (1.3 M records).
//
//   strata_sor_bench [--quick] [--dir <scratch>] [--keep] [--messages N] [--pulls N]
//                    [--vocabulary N] [--no-pipeline] [--ingest-only] [--reuse-export]
//                    [--only slack|github]
//
// Prints, for the Slack and GitHub connectors: the parse rate (connector -> a counting sink)
// and the ingest rate (connector -> ContextEngine: SQLite FTS5 index, edges, redaction),
// next to the target of 50,000 records/s. --quick uses 20,000 messages and 2,000 pull
// requests (CI smoke run: fails only on errors or a wrong record count). --no-pipeline
// ingests on one thread (IngestOptions::pipeline = false); --ingest-only skips the parse and
// baseline phases and --reuse-export ingests the export a --keep run left in --dir (of the
// same size) instead of writing it again, without the incremental phase (both for comparing
// two builds or settings). --vocabulary N writes text drawn from N words by Zipf's law
// instead of 32 words drawn uniformly (sor_export.h, Words): an index closer to real chat.
// A machine probe (the same fixed CPU work in every run, timed) is printed at the start and
// the end (not with --quick): on a shared machine it tells a slow moment from a slow build.
#include <unistd.h>

#include <time.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <sqlite3.h>

#include <strata/context/connectors.h>
#include <strata/context/engine.h>

#include "sor_export.h"

using namespace strata;
using namespace strata::context;

namespace {

class CountingSink final : public IngestSink {
 public:
  bool unchanged(std::string_view, std::string_view) override { return false; }
  Status put(Document d) override {
    ++puts;
    bytes += d.content.size();
    return ok_status();
  }
  Status remove(std::string_view) override { return ok_status(); }
  void skipped(std::string_view, SkipReason, std::string_view) override { ++skips; }
  bool cancelled() const override { return false; }
  std::size_t puts = 0, skips = 0, bytes = 0;
};

// The baseline: the connector into one bare SQLite FTS5 table (the document's text only, one
// transaction, one prepared statement): what any FTS5-backed index pays at least.
class Fts5Sink final : public IngestSink {
 public:
  explicit Fts5Sink(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) return;
    sqlite3_exec(db_,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                 " CREATE VIRTUAL TABLE IF NOT EXISTS t USING fts5(body,"
                 " tokenize=\"unicode61 remove_diacritics 0 tokenchars '_'\"); BEGIN",
                 nullptr, nullptr, nullptr);
    sqlite3_prepare_v2(db_, "INSERT INTO t(body) VALUES(?1)", -1, &ins_, nullptr);
  }
  ~Fts5Sink() override {
    sqlite3_finalize(ins_);
    sqlite3_close(db_);
  }
  bool commit() { return sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK; }
  bool unchanged(std::string_view, std::string_view) override { return false; }
  Status put(Document d) override {
    if (!ins_) return internal_error("baseline database did not open");
    sqlite3_bind_text(ins_, 1, d.content.data(), static_cast<int>(d.content.size()), SQLITE_STATIC);
    const int rc = sqlite3_step(ins_);
    sqlite3_reset(ins_);
    if (rc != SQLITE_DONE) return internal_error(sqlite3_errmsg(db_));
    ++puts;
    return ok_status();
  }
  Status remove(std::string_view) override { return ok_status(); }
  void skipped(std::string_view, SkipReason, std::string_view) override {}
  bool cancelled() const override { return false; }
  std::size_t puts = 0;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* ins_ = nullptr;
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// CPU seconds of this process (the machine is shared: wall time includes queueing for a CPU).
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

volatile std::uint64_t probe_sink = 0;

// The machine's speed during this run: the same fixed work on every run of any build (FNV-1a
// over 128 MiB in memory, one byte after another, so one multiply's latency per byte), timed
// in milliseconds. This machine is shared and its speed moves by more than most changes
// measured here: the probe tells a slow moment from a slow build.
double machine_probe_ms() {
  static const std::vector<unsigned char> bytes = [] {
    std::vector<unsigned char> b(std::size_t{128} << 20);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = static_cast<unsigned char>(i * 2654435761U >> 13);
    return b;
  }();
  const auto t = std::chrono::steady_clock::now();
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ULL;
  const double ms = 1000 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  probe_sink = h;  // keeps the loop
  return ms;
}

double load_average() {
  double l[1] = {0};
  return getloadavg(l, 1) == 1 ? l[0] : -1;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, keep = false, pipeline = true, ingest_only = false, reuse = false;
  std::string dir, only;
  std::size_t messages = 0, pulls = 0, vocabulary = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") quick = true;
    else if (a == "--keep") keep = true;
    else if (a == "--no-pipeline") pipeline = false;
    else if (a == "--ingest-only") ingest_only = true;
    else if (a == "--reuse-export") reuse = true;
    else if (a == "--dir" && i + 1 < argc) dir = argv[++i];
    else if (a == "--only" && i + 1 < argc && (std::string_view(argv[i + 1]) == "slack" || std::string_view(argv[i + 1]) == "github")) only = argv[++i];
    else if (a == "--messages" && i + 1 < argc) messages = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--pulls" && i + 1 < argc) pulls = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--vocabulary" && i + 1 < argc) vocabulary = std::strtoull(argv[++i], nullptr, 10);
    else {
      std::fprintf(stderr,
                   "usage: strata_sor_bench [--quick] [--dir <scratch>] [--keep] [--messages N] [--pulls N]"
                   " [--vocabulary N] [--no-pipeline] [--ingest-only] [--reuse-export] [--only slack|github]\n");
      return 2;
    }
  }
  strata::bench::ExportSize size;
  if (quick) {
    size.messages = 20'000;
    size.pulls = 2'000;
  }
  if (messages > 0) size.messages = messages;
  if (pulls > 0) size.pulls = pulls;
  size.vocabulary = vocabulary;
  if (dir.empty()) dir = (std::filesystem::temp_directory_path() / ("strata-sor-bench-" + std::to_string(::getpid()))).string();
  if (reuse && (dir.empty() || !std::filesystem::exists(dir + "/slack") || !std::filesystem::exists(dir + "/github"))) {
    std::fprintf(stderr, "--reuse-export: no export in --dir (write one with --keep first)\n");
    return 2;
  }
  auto t0 = std::chrono::steady_clock::now();
  std::size_t records = size.messages + size.pulls * (1 + size.reviews_per_pull);
  if (reuse) {
    for (const char* f : {"/ctx.db", "/ctx.db-wal", "/ctx.db-shm"}) std::filesystem::remove(dir + f);
    ::sync();  // as after the baseline below
  } else {
    std::filesystem::remove_all(dir);
    records = strata::bench::write_synthetic_export(dir, size);
  }
  std::printf("strata_sor_bench%s — %zu records (%zu Slack messages, %zu pull requests, %zu reviews), load %.2f\n",
              quick ? " --quick" : "", records, size.messages, size.pulls, size.pulls * size.reviews_per_pull,
              load_average());
  if (reuse) {
    std::printf("  export reused from %s%s\n", dir.c_str(),
                size.vocabulary != 0 ? " (--vocabulary applies only when an export is written)" : "");
  } else if (size.vocabulary == 0) {
    std::printf("  export written in %.1f s (text: 32 words, drawn uniformly)\n", seconds_since(t0));
  } else {
    std::printf("  export written in %.1f s (text: %zu words, drawn by Zipf's law)\n", seconds_since(t0),
                size.vocabulary);
  }
  // Not in the CI smoke run (--quick), whose builds are unoptimized: there it would take seconds.
  const double probe_start = quick ? 0 : machine_probe_ms();
  if (!quick) {
    std::printf("  machine probe: %.0f ms (fixed CPU work, the same in every run; lower is a quicker machine)\n",
                probe_start);
  }
  const double target = 50'000;
  int failures = 0;

  auto slack = make_slack_export_connector({.root = dir + "/slack"});
  auto github = make_github_export_connector({.root = dir + "/github", .repository = "acme/api"});
  const std::size_t expect_slack = size.messages, expect_github = size.pulls * (1 + size.reviews_per_pull);
  std::printf("  %-28s %12s %12s %14s %10s %14s\n", "phase", "records", "seconds", "records/s", "target",
              "records/CPU-s");
  struct Source {
    const char* name;
    Connector* connector;
    std::size_t expected;
  };
  std::size_t total_parse = 0, total_ingest = 0;
  double parse_s = 0, ingest_s = 0, parse_cpu = 0, ingest_cpu = 0;
  std::vector<Source> sources;
  if (only != "github") sources.push_back({"slack", slack.get(), expect_slack});
  if (only != "slack") sources.push_back({"github", github.get(), expect_github});
  for (const Source& s : sources) {
    if (ingest_only) break;
    CountingSink sink;
    auto t = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    auto r = s.connector->scan("", sink);
    const double sec = seconds_since(t), cpu = cpu_seconds() - c0;
    if (!r.ok() || sink.puts != s.expected || sink.skips != 0) {
      std::fprintf(stderr, "  %s parse: %s, %zu records (expected %zu), %zu skipped\n", s.name,
                   r.ok() ? "ok" : r.status().message().c_str(), sink.puts, s.expected, sink.skips);
      ++failures;
    }
    total_parse += sink.puts;
    parse_s += sec;
    parse_cpu += cpu;
    std::printf("  %-28s %12zu %12.2f %14.0f %10.0f %14.0f\n", (std::string(s.name) + " parse").c_str(), sink.puts, sec,
                sink.puts / sec, target, sink.puts / cpu);
  }
  if (!ingest_only) {
    // Baseline in the same run: parse + bare FTS5 inserts of the same text.
    Fts5Sink sink(dir + "/baseline.db");
    auto t = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    bool scanned = true;
    std::size_t expected = 0;
    for (const Source& s : sources) {
      scanned = s.connector->scan("", sink).ok() && scanned;
      expected += s.expected;
    }
    const bool committed = sink.commit();
    const double sec = seconds_since(t), cpu = cpu_seconds() - c0;
    if (!scanned || !committed || sink.puts != expected) {
      std::fprintf(stderr, "  baseline: %zu records\n", sink.puts);
      ++failures;
    }
    std::printf("  %-28s %12zu %12.2f %14.0f %10.0f %14.0f\n", "baseline: parse + bare FTS5", sink.puts, sec,
                sink.puts / sec, target, sink.puts / cpu);
    std::filesystem::remove(dir + "/baseline.db");
    std::filesystem::remove(dir + "/baseline.db-wal");
    std::filesystem::remove(dir + "/baseline.db-shm");
    // The file system's work for the removal (on a disk mounted with `discard`, trimming the
    // freed blocks at the next journal commit) is done before the next phase is timed.
    ::sync();
  }
  {
    const std::string index = dir + "/ctx.db";
    auto engine = ContextEngine::open({.index_path = index});
    if (!engine.ok()) {
      std::fprintf(stderr, "open: %s\n", engine.status().message().c_str());
      return 1;
    }
    for (const Source& s : sources) {
      auto t = std::chrono::steady_clock::now();
      const double c0 = cpu_seconds();
      auto r = (*engine)->ingest(*s.connector, {.pipeline = pipeline});
      const double sec = seconds_since(t), cpu = cpu_seconds() - c0;
      if (!r.ok() || r->added != s.expected) {
        std::fprintf(stderr, "  %s ingest: %s, %zu added (expected %zu)\n", s.name,
                     r.ok() ? "ok" : r.status().message().c_str(), r.ok() ? r->added : 0, s.expected);
        ++failures;
        continue;
      }
      total_ingest += r->added;
      ingest_s += sec;
      ingest_cpu += cpu;
      std::printf("  %-28s %12zu %12.2f %14.0f %10.0f %14.0f\n", (std::string(s.name) + " ingest (index)").c_str(),
                  r->added, sec, r->added / sec, target, r->added / cpu);
    }
    if (only != "github") {  // the incremental phases are Slack's
      // Incremental re-ingest: nothing changed.
      auto t = std::chrono::steady_clock::now();
      auto again = (*engine)->ingest(*slack);
      const double sec = seconds_since(t);
      if (!again.ok() || again->added + again->updated != 0) {
        std::fprintf(stderr, "  slack re-ingest wrote documents\n");
        ++failures;
      } else {
        std::printf("  %-28s %12zu %12.2f %14.0f %10s\n", "slack re-ingest (cursor)", again->unchanged, sec,
                    again->unchanged / sec, "-");
      }
      // Incremental ingest: a new day of messages (10,000 in the full run) on the large index.
      if (!reuse) {  // the export must stay as it was written
        std::vector<std::string> day_files;
        const std::size_t fresh = strata::bench::write_slack_increment(dir, size, quick ? 20 : 200, &day_files);
        t = std::chrono::steady_clock::now();
        const double c0 = cpu_seconds();
        auto inc = (*engine)->ingest(*slack);
        const double inc_s = seconds_since(t), inc_cpu = cpu_seconds() - c0;
        if (!inc.ok() || inc->added != fresh) {
          std::fprintf(stderr, "  slack incremental: %s, %zu added (expected %zu)\n",
                       inc.ok() ? "ok" : inc.status().message().c_str(), inc.ok() ? inc->added : 0, fresh);
          ++failures;
        } else {
          std::printf("  %-28s %12zu %12.2f %14.0f %10s %14.0f\n", "slack incremental (new day)", inc->added, inc_s,
                      inc->added / inc_s, "-", inc->added / inc_cpu);
        }
        for (const auto& f : day_files) std::filesystem::remove(f);  // a kept export stays as written
      }
    }
    // The close copies into the database file what the checkpoint thread has not yet copied
    // of the log (the last ingest's pages, mostly): not in the ingest figures, shown so
    // that it is not hidden.
    const auto t = std::chrono::steady_clock::now();
    engine->reset();
    std::printf("  %-28s %12s %12.2f   (the log copied into the database file, then removed)\n", "engine closed", "",
                seconds_since(t));
  }
  {
    // The engine has closed: its log is checkpointed into the file and removed.
    std::uintmax_t bytes = 0;
    for (const char* f : {"/ctx.db", "/ctx.db-wal"}) {
      std::error_code ec;
      const auto file_bytes = std::filesystem::file_size(dir + f, ec);
      if (!ec) bytes += file_bytes;
    }
    std::printf("  index file after the ingest: %.1f MB\n", static_cast<double>(bytes) / 1e6);
  }
  if (!ingest_only) {
    std::printf("  %-28s %12zu %12.2f %14.0f %10.0f %14.0f  %s\n", "all parse", total_parse, parse_s,
                total_parse / parse_s, target, total_parse / parse_cpu,
                total_parse / parse_s >= target ? "met" : "MISSED");
  }
  std::printf("  %-28s %12zu %12.2f %14.0f %10.0f %14.0f  %s\n", "all ingest (index)", total_ingest, ingest_s,
              total_ingest / ingest_s, target, total_ingest / ingest_cpu,
              total_ingest / ingest_s >= target ? "met" : "MISSED");
  if (!quick) std::printf("  machine probe: %.0f ms at the start, %.0f ms at the end\n", probe_start, machine_probe_ms());
  if (!keep) std::filesystem::remove_all(dir);
  return failures == 0 ? 0 : 1;
}
