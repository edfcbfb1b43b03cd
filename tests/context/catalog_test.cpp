// The in-memory catalog after an incremental update (a few files changed) must equal the one
// a full reload of the index builds: same files in the same order, the same lookup tables,
// the same symbol table, counts and commits.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <thread>
#include <random>
#include <string>

#include <strata/context/code_tree.h>
#include <strata/context/engine.h>

#include "context/context_test_util.h"
#include "context/engine_impl.h"
#include "context/index.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;

namespace {

// Every difference between two catalogs, as text ("" when equal).
std::string diff(const detail::Catalog& a, const detail::Catalog& b) {
  std::string out;
  auto note = [&](const std::string& what) {
    if (out.size() < 2000) out += what + "\n";
  };
  if (a.files.size() != b.files.size()) {
    note("files: " + std::to_string(a.files.size()) + " vs " + std::to_string(b.files.size()));
  }
  for (std::size_t i = 0; i < std::min(a.files.size(), b.files.size()); ++i) {
    const auto& x = a.files[i];
    const auto& y = b.files[i];
    if (x.id != y.id || x.path != y.path || a.commit_of(x) != b.commit_of(y) || a.access_of(x) != b.access_of(y) ||
        x.flags != y.flags || x.bytes != y.bytes || a.stem_of(x) != b.stem_of(y) ||
        a.module_of(x) != b.module_of(y) || x.tokens != y.tokens) {
      note("file " + std::to_string(i) + ": " + x.path + "@" + a.commit_of(x) + " vs " + y.path + "@" + b.commit_of(y));
    }
  }
  for (const auto& f : a.files) {
    if (a.find_path(f.path) != b.find_path(f.path)) note("path lookup differs for " + f.path);
  }
  for (const auto& f : b.files) {
    if (a.find_path(f.path) != b.find_path(f.path)) note("path lookup differs for " + f.path);
  }
  // Names are kept for the files that have them, no more: removals compact them.
  if (a.names.size() != b.names.size()) {
    note("names: " + std::to_string(a.names.size()) + " vs " + std::to_string(b.names.size()));
  }
  if (a.by_stem != b.by_stem) note("by_stem differs");
  if (a.by_module != b.by_module) note("by_module differs");
  if (a.definitions.size() != b.definitions.size()) note("definitions: different names");
  for (const auto& [name, defs] : a.definitions) {
    auto it = b.definitions.find(name);
    if (it == b.definitions.end()) {
      note("definition " + name + " only in the first");
      continue;
    }
    bool same = defs.size() == it->second.size();
    for (std::size_t i = 0; same && i < defs.size(); ++i) {
      same = defs[i].file == it->second[i].file && defs[i].kind == it->second[i].kind &&
             defs[i].line == it->second[i].line;
    }
    if (!same) note("definition " + name + " differs");
  }
  if (a.chunks != b.chunks) note("chunks: " + std::to_string(a.chunks) + " vs " + std::to_string(b.chunks));
  if (a.commits != b.commits) note("commits differ");
  if (a.index_commit != b.index_commit) note("index_commit: " + a.index_commit + " vs " + b.index_commit);
  return out;
}

// A Python module with a class and a few functions whose names depend on `seed`.
std::string module_text(int seed) {
  std::string s = "class Thing" + std::to_string(seed % 7) + ":\n";
  s += "    def method_" + std::to_string(seed % 5) + "(self):\n        return " + std::to_string(seed) + "\n";
  s += "    def shared(self):\n        return 1\n\n";
  for (int k = 0; k <= seed % 3; ++k) {
    s += "def helper_" + std::to_string((seed + k) % 11) + "(x):\n    return x + " + std::to_string(k) + "\n\n";
  }
  return s;
}

struct Fixture {
  ContextTempDir dir;
  std::string index = dir.path("ctx.db");
  std::string root = dir.path("repo");
  std::unique_ptr<ContextEngine> engine;

  Fixture() {
    auto e = ContextEngine::open({.index_path = index});
    REQUIRE(e.ok());
    engine = std::move(*e);
  }
  detail::EngineImpl& impl() { return dynamic_cast<detail::EngineImpl&>(*engine); }
  void write(const std::string& rel, const std::string& text) { dir.write("repo/" + rel, text); }
  void remove(const std::string& rel) { std::remove(dir.path("repo/" + rel).c_str()); }
  IngestReport ingest(const std::string& commit = "c1") {
    auto code = make_code_tree_connector({.root = root, .commit = commit});
    auto r = engine->ingest(*code);
    REQUIRE(r.ok());
    return *r;
  }
  // The engine's catalog against a full load from a separate connection.
  std::string compare() {
    auto db = detail::open_index_db(index, false);
    REQUIRE(db.ok());
    auto full = detail::load_catalog(db->get());
    REQUIRE(full.ok());
    return diff(*impl().catalog(), **full);
  }
};

}  // namespace

TEST_CASE("catalog: an incremental update equals a full reload", "[context][catalog]") {
  Fixture fx;
  for (int i = 0; i < 40; ++i) {
    fx.write("pkg" + std::to_string(i % 4) + "/mod" + std::to_string(i) + ".py", module_text(i));
  }
  fx.write("README.md", "# readme\n");
  fx.ingest();
  CHECK(fx.compare().empty());
  const std::size_t updates = fx.impl().catalog_updates();

  SECTION("one file changed") {
    fx.write("pkg1/mod5.py", module_text(1005));
    CHECK(fx.ingest().updated == 1);
    CHECK(fx.impl().catalog_updates() == updates + 1);
    CHECK(fx.compare().empty());
  }
  SECTION("the file with the largest id changed (its row id is reused)") {
    fx.write("pkg3/mod39.py", module_text(2039));
    CHECK(fx.ingest().updated == 1);
    CHECK(fx.impl().catalog_updates() == updates + 1);
    CHECK(fx.compare().empty());
  }
  SECTION("files removed, added and changed in one ingest") {
    fx.remove("pkg0/mod0.py");
    fx.remove("pkg2/mod10.py");
    fx.write("pkg2/new_module.py", module_text(77));
    fx.write("pkg9/deep/other.py", module_text(78));
    fx.write("pkg3/mod3.py", module_text(303));
    const auto r = fx.ingest();
    CHECK(r.removed == 2);
    CHECK(r.added == 2);
    CHECK(r.updated == 1);
    CHECK(fx.impl().catalog_updates() == updates + 1);
    CHECK(fx.compare().empty());
    // Retrieval sees the new definitions and not the removed ones.
    auto res = fx.engine->retrieve({.text = "Thing0 method_3", .max_files = 50});
    REQUIRE(res.ok());
    for (const auto& f : res->files) CHECK(f.path != "pkg0/mod0.py");
  }
  SECTION("a new commit with no file changed moves every file's commit") {
    fx.ingest("c2");
    CHECK(fx.impl().catalog_updates() == updates + 1);
    auto cat = fx.impl().catalog();
    CHECK(cat->commit_of(cat->files.front()) == "c2");
    CHECK(fx.compare().empty());
  }
  SECTION("a reader holding the catalog keeps its snapshot; the update goes to a copy") {
    const auto held = fx.impl().catalog();
    const std::size_t before = held->files.size();
    fx.remove("pkg1/mod1.py");
    fx.write("pkg2/mod2.py", module_text(902));
    const auto r = fx.ingest();
    CHECK(r.removed == 1);
    CHECK(r.updated == 1);
    CHECK(fx.impl().catalog_updates() == updates + 1);
    CHECK(fx.impl().catalog() != held);
    CHECK(held->files.size() == before);
    CHECK(held->find_path("pkg1/mod1.py") >= 0);
    CHECK(fx.impl().catalog()->find_path("pkg1/mod1.py") < 0);
    CHECK(fx.compare().empty());
  }
  SECTION("a change to most files reloads the catalog whole") {
    const std::size_t reloads = fx.impl().catalog_reloads();
    for (int i = 0; i < 40; ++i) {
      fx.write("pkg" + std::to_string(i % 4) + "/mod" + std::to_string(i) + ".py", module_text(500 + i));
    }
    CHECK(fx.ingest().updated == 40);
    CHECK(fx.impl().catalog_updates() == updates);
    CHECK(fx.impl().catalog_reloads() == reloads + 1);
    CHECK(fx.compare().empty());
  }
  SECTION("added files only extend the catalog (no update, no reload)") {
    const std::size_t reloads = fx.impl().catalog_reloads();
    fx.write("pkg7/added.py", module_text(4242));
    CHECK(fx.ingest().added == 1);
    CHECK(fx.impl().catalog_updates() == updates);
    CHECK(fx.impl().catalog_reloads() == reloads);
    CHECK(fx.compare().empty());
  }
  SECTION("a file that loses all its definitions") {
    fx.write("pkg2/mod6.py", "x = 1\n");
    fx.ingest();
    CHECK(fx.compare().empty());
    CHECK(fx.impl().catalog()->definitions.count("method_1") == 1);  // still defined elsewhere
  }
}

TEST_CASE("catalog: random edit sequences keep the catalog equal to a full reload", "[context][catalog]") {
  Fixture fx;
  std::mt19937 rng(12345);
  std::vector<std::string> present;
  for (int i = 0; i < 30; ++i) {
    const std::string rel = "src/m" + std::to_string(i) + ".py";
    fx.write(rel, module_text(i));
    present.push_back(rel);
  }
  fx.ingest();
  int next = 100;
  for (int round = 0; round < 12; ++round) {
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const unsigned what = rng() % 3;
      if (what == 0 && present.size() > 5) {  // remove
        const std::size_t k = rng() % present.size();
        fx.remove(present[k]);
        present.erase(present.begin() + static_cast<std::ptrdiff_t>(k));
      } else if (what == 1) {  // add
        const std::string rel = "src/sub" + std::to_string(next % 3) + "/n" + std::to_string(next) + ".py";
        fx.write(rel, module_text(next));
        present.push_back(rel);
        ++next;
      } else {  // change
        fx.write(present[rng() % present.size()], module_text(next++));
      }
    }
    fx.ingest(round % 4 == 3 ? "c" + std::to_string(round) : "c1");
    INFO("round " << round);
    CHECK(fx.compare().empty());
  }
  CHECK(fx.impl().catalog_updates() >= 10);
}

TEST_CASE("catalog: queries run while ingests update the catalog", "[context][catalog][concurrency]") {
  Fixture fx;
  for (int i = 0; i < 30; ++i) fx.write("src/m" + std::to_string(i) + ".py", module_text(i));
  fx.ingest();
  std::atomic<bool> done{false};
  std::atomic<int> queries{0};
  std::mutex mu;
  std::vector<std::string> errors;  // collected by the readers, checked here
  auto reader = [&](std::string text) {
    while (!done.load()) {
      auto r = fx.engine->retrieve({.text = text, .max_files = 20});
      ++queries;
      std::lock_guard lock(mu);
      if (!r.ok()) {
        errors.push_back(r.status().to_string());
      } else {
        for (const auto& f : r->files) {
          if (f.path.rfind("src/", 0) != 0) errors.push_back("unexpected path " + f.path);
        }
      }
    }
  };
  std::thread a(reader, "Thing3 method_2 helper_4");
  std::thread b(reader, "shared helper_7 Thing5");
  std::mt19937 rng(7);
  int next = 100;
  for (int round = 0; round < 25; ++round) {
    // A changed file (in place or on a copy, depending on whether a query holds the
    // catalog), sometimes an added or a removed one.
    fx.write("src/m" + std::to_string(rng() % 30) + ".py", module_text(next++));
    if (round % 3 == 0) fx.write("src/new" + std::to_string(round) + ".py", module_text(next++));
    if (round % 5 == 4) fx.remove("src/new" + std::to_string(round - 4) + ".py");
    fx.ingest();
  }
  done = true;
  a.join();
  b.join();
  CHECK(errors.empty());
  if (!errors.empty()) FAIL_CHECK(errors.front());
  CHECK(queries.load() > 0);
  CHECK(fx.impl().catalog_updates() >= 20);
  CHECK(fx.compare().empty());
}

TEST_CASE("catalog: path lookup finds every file, the later of two with one path, nothing else", "[context][catalog]") {
  detail::Catalog cat;
  // Enough files to grow the table many times; every 1,000th path repeats an earlier one (two
  // sources holding the same path), and the later file is the one found.
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    detail::Catalog::File f;
    f.id = i + 1;
    f.path = i % 1000 == 999 ? "slack:C1/" + std::to_string(i - 500) : "slack:C1/" + std::to_string(i);
    cat.files.push_back(std::move(f));
    cat.index_path(static_cast<std::uint32_t>(i));
  }
  auto expect = [&](int i) { return i % 1000 == 499 ? static_cast<std::int64_t>(i + 500) : static_cast<std::int64_t>(i); };
  for (int i = 0; i < n; ++i) {
    if (i % 1000 == 999) continue;
    CHECK(cat.find_path("slack:C1/" + std::to_string(i)) == expect(i));
  }
  CHECK(cat.find_path("slack:C1/20000") == -1);
  CHECK(cat.find_path("") == -1);
  CHECK(cat.find_path("slack:C1/1 ") == -1);
  // After removals the lookup is rebuilt over the renumbered files.
  std::vector<detail::Catalog::File> kept;
  for (auto& f : cat.files) {
    if (f.id % 2 == 0) kept.push_back(std::move(f));
  }
  cat.files = std::move(kept);
  cat.reindex_paths();
  for (std::size_t i = 0; i < cat.files.size(); ++i) {
    const std::int64_t at = cat.find_path(cat.files[i].path);
    REQUIRE(at >= 0);
    CHECK(cat.files[static_cast<std::size_t>(at)].path == cat.files[i].path);
  }
  CHECK(cat.find_path("slack:C1/0") == -1);  // id 1: removed
  CHECK(cat.find_path("slack:C1/1") == 0);   // id 2: now the first file
  // Ids: a binary search over the files in id order.
  CHECK(cat.index_of(2) == 0);
  CHECK(cat.index_of(3) == -1);
  CHECK(cat.index_of(n) == static_cast<std::int64_t>(cat.files.size()) - 1);
  CHECK(cat.index_of(n + 1) == -1);
  // Access lists are stored once.
  const auto a = cat.intern_access("\nslack:C1\n");
  const auto b = cat.intern_access("\n*\n");
  CHECK(cat.intern_access("\nslack:C1\n") == a);
  CHECK(a != b);
  CHECK(cat.access_lists.size() == 2);
}

TEST_CASE("catalog: a small ingest after a large extension moves no file entry", "[context][catalog]") {
  // A large extension reserves room beyond its own rows: the next small one appends in place
  // instead of moving every entry (a 10,000-message day on a 1.3 M-record index once cost a
  // move of the whole catalog).
  Fixture fx;
  for (int i = 0; i < 400; ++i) fx.write("a/m" + std::to_string(i) + ".py", module_text(i));
  fx.ingest();
  for (int i = 0; i < 150; ++i) fx.write("b/m" + std::to_string(i) + ".py", module_text(i));
  fx.ingest();
  const auto* before = fx.impl().catalog()->files.data();
  for (int i = 0; i < 5; ++i) fx.write("c/m" + std::to_string(i) + ".py", module_text(i));
  CHECK(fx.ingest().added == 5);
  const auto cat = fx.impl().catalog();
  CHECK(cat->files.size() == 555);
  CHECK(cat->files.data() == before);
  CHECK(fx.compare().empty());
}
