// Documents a principal may not read leave no trace in what it is served: the same readable
// documents give the same files, spans, scores and query terms whether the index also holds
// unreadable ones or not — the BM25 statistics (document count, average length, document
// frequencies) and the catalog signals (how many files define a name, share a module or a
// file name) are the principal's own.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <strata/context/engine.h>

#include "context/context_test_util.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;

namespace {

class Docs final : public Connector {
 public:
  explicit Docs(std::vector<Document> docs) : docs_(std::move(docs)) {}
  std::string id() const override { return "code"; }
  Result<ScanResult> scan(std::string_view, IngestSink& sink) override {
    for (auto& d : docs_) STRATA_RETURN_IF_ERROR(sink.put(d));
    return ScanResult{};
  }

 private:
  std::vector<Document> docs_;
};

Document file(std::string path, std::string content, std::string reader) {
  Document d;
  d.path = std::move(path);
  d.content = std::move(content);
  d.access = {std::move(reader)};
  return d;
}

// Readable to the team: a small package with overlapping vocabulary and different lengths.
std::vector<Document> readable() {
  return {
      file("pkg/cache.py",
           "class LruCache:\n    def evict(self, key):\n        return self.store.pop(key)\n\n"
           "def cache_key(request):\n    return request.path\n",
           "team"),
      file("pkg/router.py",
           "def route(request):\n    key = cache_key(request)\n    return dispatch(key)\n\n"
           "def dispatch(key):\n    return handlers[key]\n",
           "team"),
      file("pkg/util/strings.py", "def normalise(text):\n    return text.strip().lower()\n", "*"),
      file("docs/cache.md", "# Cache\n\nThe cache evicts the least recently used key when full.\n", "team"),
  };
}

// Unreadable to the team: the same names, modules, file names and terms, many times over.
std::vector<Document> secret(int variant) {
  std::vector<Document> out;
  for (int i = 0; i < 6 + variant * 5; ++i) {
    const std::string n = std::to_string(i);
    std::string body = "class LruCache:\n    def evict(self, key):\n        return None\n\n"
                       "def cache_key(request):\n    return 'secret-" + n + "'\n";
    for (int k = 0; k < i * (variant + 1); ++k) body += "# evict cache key dispatch route padding line\n";
    out.push_back(file("vault" + n + "/pkg/cache.py", body, "secret"));
    out.push_back(file("vault" + n + "/cache.py", "def dispatch(key):\n    return key\n", "secret"));
  }
  return out;
}

RetrieveResult ask(ContextEngine& engine, const std::string& text) {
  auto r = engine.retrieve({.text = text, .max_files = 20, .max_spans = 20, .principal = {"ana", {"team"}}});
  REQUIRE(r.ok());
  return *r;
}

// Equal up to floating-point rounding.
bool close(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(a)); }

std::string diff(const RetrieveResult& a, const RetrieveResult& b) {
  if (a.terms != b.terms) return "query terms differ";
  if (a.files.size() != b.files.size()) {
    return "file counts differ: " + std::to_string(a.files.size()) + " vs " + std::to_string(b.files.size());
  }
  for (std::size_t i = 0; i < a.files.size(); ++i) {
    const auto& x = a.files[i];
    const auto& y = b.files[i];
    if (x.path != y.path) return "file " + std::to_string(i) + ": " + x.path + " vs " + y.path;
    if (!close(x.score, y.score)) {
      return x.path + ": score " + std::to_string(x.score) + " vs " + std::to_string(y.score);
    }
    if (x.why.size() != y.why.size()) return x.path + ": signals differ";
    for (std::size_t k = 0; k < x.why.size(); ++k) {
      if (x.why[k].name != y.why[k].name || !close(x.why[k].score, y.why[k].score)) {
        return x.path + ": signal " + x.why[k].name + " " + std::to_string(x.why[k].score) + " vs " +
               y.why[k].name + " " + std::to_string(y.why[k].score);
      }
    }
  }
  if (a.spans.size() != b.spans.size()) return "span counts differ";
  for (std::size_t i = 0; i < a.spans.size(); ++i) {
    if (a.spans[i].path != b.spans[i].path || a.spans[i].start_line != b.spans[i].start_line ||
        !close(a.spans[i].score, b.spans[i].score)) {
      return "span " + std::to_string(i) + " differs";
    }
  }
  return "";
}

}  // namespace

TEST_CASE("permissions: unreadable documents change no score, rank or term", "[context][permissions]") {
  ContextTempDir t;
  auto open = [&](const std::string& name, std::vector<Document> docs) {
    auto e = ContextEngine::open({.index_path = t.path(name)});
    REQUIRE(e.ok());
    Docs c(std::move(docs));
    REQUIRE((*e)->ingest(c).ok());
    return std::move(*e);
  };
  auto with = [](std::vector<Document> a, const std::vector<Document>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  // The team reads everything in `alone` (FTS5's own bm25); in the others it does not.
  auto alone = open("alone.db", readable());
  auto mixed = open("mixed.db", with(readable(), secret(0)));
  auto other = open("other.db", with(secret(1), readable()));

  const std::vector<std::string> tasks = {
      "LruCache.evict drops the wrong key",
      "cache_key returns the path for every request",
      "route dispatch fails for an unknown key",
      "pkg.cache evicts too early; see cache.py",
      "normalise should lower the text",
      "the least recently used key is evicted when the cache is full",
  };
  for (const auto& task : tasks) {
    INFO(task);
    const RetrieveResult a = ask(*alone, task);
    CHECK(!a.files.empty());
    CHECK(diff(a, ask(*mixed, task)) == "");
    CHECK(diff(a, ask(*other, task)) == "");
    for (const auto& f : ask(*mixed, task).files) CHECK(f.path.rfind("vault", 0) != 0);
  }
}
