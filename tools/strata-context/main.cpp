// strata-context — ingest a repository into a context index, rank files and spans for a
// task, or print a token-budgeted packet.
//
//   strata-context ingest <repo> --index <file> [--no-history] [--max-commits N] [--quiet]
//                  [--substring-index]
//   strata-context query "<task>" --index <file> [--files N] [--spans N] [--substring TEXT]...
//   strata-context pack "<task>" --index <file> --budget N [--tiktoken <file>
//                  --encoding cl100k_base|o200k_base] [--format md|json] [--substring TEXT]...
//   strata-context stats --index <file>
// A task of "-" is read from standard input. --substring-index (any command) builds the
// trigram index once; from then on the index keeps it and --substring works.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <strata/context/code_tree.h>
#include <strata/context/engine.h>
#include <strata/context/git_history.h>
#include <strata/context/tokenizer.h>

namespace sc = strata::context;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage:\n"
               "  strata-context ingest <repo> --index <file> [--no-history] [--max-commits N] [--quiet]\n"
               "                 [--substring-index]\n"
               "  strata-context query \"<task>\" --index <file> [--files N] [--spans N] [--substring TEXT]...\n"
               "  strata-context pack \"<task>\" --index <file> --budget N [--tiktoken <file>\n"
               "                 --encoding cl100k_base|o200k_base] [--format md|json] [--substring TEXT]...\n"
               "  strata-context stats --index <file>\n"
               "A task of \"-\" is read from standard input.\n");
  return 2;
}

int fail(const strata::Status& s) {
  std::fprintf(stderr, "strata-context: %s\n", s.to_string().c_str());
  return 1;
}

bool parse_size(const std::string& s, std::size_t& out) {
  if (s.empty() || s.size() > 12) return false;
  std::size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::size_t>(c - '0');
  }
  out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string command = argv[1];
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;
  std::vector<std::string> substrings;  // --substring, repeatable
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) == 0 && a.size() > 2) {
      if (a == "--no-history" || a == "--quiet" || a == "--substring-index") {
        flags[a] = "1";
      } else if (a == "--substring" && i + 1 < argc) {
        substrings.push_back(argv[++i]);
      } else if (i + 1 < argc) {
        flags[a] = argv[++i];
      } else {
        std::fprintf(stderr, "strata-context: %s needs a value\n", a.c_str());
        return 2;
      }
    } else {
      positional.push_back(a);
    }
  }
  if (!flags.count("--index")) {
    std::fprintf(stderr, "strata-context: --index <file> is required\n");
    return usage();
  }
  auto engine = sc::ContextEngine::open(
      {.index_path = flags["--index"], .substring_index = flags.count("--substring-index") > 0});
  if (!engine.ok()) return fail(engine.status());

  if (command == "ingest") {
    if (positional.size() != 1) return usage();
    const std::string repo = positional[0];
    const bool quiet = flags.count("--quiet") > 0;
    sc::IngestOptions io;
    if (!quiet) {
      io.progress = [](const sc::IngestProgress& p) {
        std::fprintf(stderr, "\r[%s] %zu seen, %zu written, %zu removed, %zu skipped   ",
                     p.connector.c_str(), p.seen, p.written, p.removed, p.skipped);
      };
    }
    auto code = sc::make_code_tree_connector({.root = repo});
    auto report = (*engine)->ingest(*code, io);
    if (!quiet) std::fprintf(stderr, "\n");
    if (!report.ok()) return fail(report.status());
    std::printf("code: %zu added, %zu updated, %zu unchanged, %zu removed, %zu chunks, %.1f MB, %lld ms",
                report->added, report->updated, report->unchanged, report->removed, report->chunks,
                static_cast<double>(report->bytes) / 1e6, static_cast<long long>(report->elapsed.count()));
    for (const auto& [reason, n] : report->skipped) std::printf(", %zu skipped (%s)", n, reason.c_str());
    std::printf("\n");
    if (!report->commit.empty()) std::printf("commit: %s\n", report->commit.c_str());
    if (!flags.count("--no-history")) {
      sc::GitHistoryOptions go{.repository = repo};
      std::size_t max_commits = 0;
      if (flags.count("--max-commits") && !parse_size(flags["--max-commits"], max_commits)) return usage();
      go.max_commits = max_commits;
      auto git = sc::make_git_history_connector(go);
      auto hist = (*engine)->ingest(*git, io);
      if (!quiet) std::fprintf(stderr, "\n");
      if (!hist.ok()) {
        std::fprintf(stderr, "strata-context: history not ingested: %s\n", hist.status().to_string().c_str());
      } else {
        std::printf("history: %zu commits added, %zu removed, %lld ms\n", hist->added, hist->removed,
                    static_cast<long long>(hist->elapsed.count()));
      }
    }
    return 0;
  }

  if (command == "stats") {
    auto st = (*engine)->stats();
    if (!st.ok()) return fail(st.status());
    std::printf("files %zu, chunks %zu, commits %zu, commit %s\n", st->files, st->chunks, st->commits,
                st->commit.empty() ? "-" : st->commit.c_str());
    for (const auto& [id, cursor] : st->cursors) std::printf("cursor %s = %s\n", id.c_str(), cursor.c_str());
    return 0;
  }

  if (command != "query" && command != "pack") return usage();
  if (positional.size() != 1) return usage();
  std::string task = positional[0];
  if (task == "-") task.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  sc::Query q{.text = task, .substrings = substrings};
  if (flags.count("--files") && !parse_size(flags["--files"], q.max_files)) return usage();
  if (flags.count("--spans") && !parse_size(flags["--spans"], q.max_spans)) return usage();

  if (command == "query") {
    auto r = (*engine)->retrieve(q);
    if (!r.ok()) return fail(r.status());
    std::printf("index @%s\nfiles:\n", r->index_commit.empty() ? "-" : r->index_commit.substr(0, 12).c_str());
    for (std::size_t i = 0; i < r->files.size(); ++i) {
      const auto& f = r->files[i];
      std::printf("%2zu. %-60s %.3f\n", i + 1, f.path.c_str(), f.score);
      for (const auto& w : f.why) std::printf("      %-12s %.3f  %s\n", w.name.c_str(), w.score, w.detail.c_str());
    }
    std::printf("spans:\n");
    for (const auto& s : r->spans) {
      std::printf("  %s:%d-%d %s %s  %.3f\n", s.path.c_str(), s.start_line, s.end_line,
                  std::string(sc::to_string(s.kind)).c_str(), s.symbol.c_str(), s.score);
    }
    return 0;
  }

  sc::PackOptions po;
  if (!flags.count("--budget") || !parse_size(flags["--budget"], po.budget)) return usage();
  if (flags.count("--format")) {
    if (flags["--format"] == "json") po.format = sc::PacketFormat::kJson;
    else if (flags["--format"] != "md") return usage();
  }
  if (flags.count("--tiktoken")) {
    sc::Encoding enc = sc::Encoding::kCl100kBase;
    const std::string e = flags.count("--encoding") ? flags["--encoding"] : "cl100k_base";
    if (e == "o200k_base") enc = sc::Encoding::kO200kBase;
    else if (e != "cl100k_base") return usage();
    auto tok = sc::load_tiktoken(flags["--tiktoken"], enc);
    if (!tok.ok()) return fail(tok.status());
    po.tokenizer = *tok;
  }
  auto packet = (*engine)->pack(q, po);
  if (!packet.ok()) return fail(packet.status());
  std::fputs(packet->render().c_str(), stdout);
  std::fprintf(stderr, "%zu items, %zu of %zu tokens (%s%s)\n", packet->items.size(), packet->used_tokens,
               packet->budget, packet->tokenizer.c_str(), packet->exact_counts ? "" : ", estimated");
  return 0;
}
