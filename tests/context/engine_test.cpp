// ContextEngine: ingest (code tree, git history), incremental re-ingest, bad input,
// corrupted index files, retrieval on a crafted repository.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <strata/context/code_tree.h>
#include <strata/context/engine.h>
#include <strata/context/git_history.h>

#include "context/context_test_util.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;
using strata::test::open_engine;

namespace {

std::vector<std::string> ranked_paths(const RetrieveResult& r) {
  std::vector<std::string> out;
  for (const auto& f : r.files) out.push_back(f.path);
  return out;
}

void write_small_repo(const ContextTempDir& t) {
  t.write("repo/src/parser.py",
          "class Parser:\n"
          "    def parse_expression(self, text):\n"
          "        return self.tokens(text)\n"
          "\n"
          "    def tokens(self, text):\n"
          "        return text.split()\n");
  t.write("repo/src/printer.py",
          "def latex(expr):\n"
          "    \"\"\"Render expr as LaTeX.\"\"\"\n"
          "    return str(expr)\n"
          "\n"
          "def pretty(expr):\n"
          "    return str(expr)\n");
  t.write("repo/src/matrix.py",
          "class Matrix:\n"
          "    @property\n"
          "    def is_upper(self):\n"
          "        return all(self[i, j] == 0 for i in range(3) for j in range(i))\n");
  t.write("repo/src/tests/test_printer.py",
          "from src.printer import latex\n\ndef test_latex():\n    assert latex(1) == '1'\n    latex(2)\n");
  t.write("repo/README.md", "A toy repository for retrieval tests. It has a parser and a printer.\n");
}

}  // namespace

TEST_CASE("engine: ingest a tree, retrieve files and spans with reasons", "[context][engine]") {
  ContextTempDir t;
  write_small_repo(t);
  auto engine = open_engine(t.path("index.db"));
  auto code = make_code_tree_connector({.root = t.path("repo")});
  auto report = engine->ingest(*code);
  REQUIRE(report.ok());
  CHECK(report->added == 5);
  CHECK(report->chunks > 5);

  auto r = engine->retrieve({.text = "Matrix.is_upper raises IndexError for tall matrices"});
  REQUIRE(r.ok());
  REQUIRE_FALSE(r->files.empty());
  CHECK(r->files[0].path == "src/matrix.py");
  bool definition_signal = false;
  for (const auto& s : r->files[0].why) definition_signal |= s.name == "definition";
  CHECK(definition_signal);
  REQUIRE_FALSE(r->spans.empty());
  CHECK(r->spans[0].path == "src/matrix.py");
  CHECK(r->spans[0].symbol.find("is_upper") != std::string::npos);

  // A test file that uses `latex` ranks below the module defining it.
  auto r2 = engine->retrieve({.text = "latex(expr) prints the wrong thing"});
  REQUIRE(r2.ok());
  REQUIRE(r2->files.size() >= 2);
  CHECK(r2->files[0].path == "src/printer.py");
  // Unless the task is about tests.
  auto r3 = engine->retrieve({.text = "test_latex in the printer tests fails", .include_tests = true});
  REQUIRE(r3.ok());
  CHECK(ranked_paths(*r3).front() == "src/tests/test_printer.py");

  // Stack traces name files.
  auto r4 = engine->retrieve({.text = "Traceback (most recent call last):\n"
                                      "  File \"/home/u/repo/src/parser.py\", line 3, in parse_expression\n"
                                      "AttributeError: oops"});
  REQUIRE(r4.ok());
  CHECK(ranked_paths(*r4).front() == "src/parser.py");

  CHECK(engine->retrieve({.text = "   "}).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("engine: re-ingest touches only what changed", "[context][engine]") {
  ContextTempDir t;
  write_small_repo(t);
  auto engine = open_engine(t.path("index.db"));
  auto code = make_code_tree_connector({.root = t.path("repo")});
  REQUIRE(engine->ingest(*code).ok());

  auto again = engine->ingest(*code);
  REQUIRE(again.ok());
  CHECK(again->added == 0);
  CHECK(again->updated == 0);
  CHECK(again->removed == 0);
  CHECK(again->unchanged == 5);

  t.write("repo/src/printer.py", "def latex(expr):\n    return 'changed'\n");
  std::filesystem::remove(t.path("repo/src/parser.py"));
  t.write("repo/src/new_module.py", "def brand_new_function():\n    pass\n");
  auto delta = engine->ingest(*code);
  REQUIRE(delta.ok());
  CHECK(delta->added == 1);
  CHECK(delta->updated == 1);
  CHECK(delta->removed == 1);
  CHECK(delta->unchanged == 3);
  auto r = engine->retrieve({.text = "brand_new_function"});
  REQUIRE(r.ok());
  REQUIRE_FALSE(r->files.empty());
  CHECK(r->files[0].path == "src/new_module.py");
  auto gone = engine->retrieve({.text = "parse_expression tokens"});
  REQUIRE(gone.ok());
  for (const auto& f : gone->files) CHECK(f.path != "src/parser.py");

  // The index survives a reopen with the same content.
  engine.reset();
  auto reopened = open_engine(t.path("index.db"));
  auto st = reopened->stats();
  REQUIRE(st.ok());
  CHECK(st->files == 5);
}

TEST_CASE("engine: .gitignore is honoured while walking", "[context][engine]") {
  ContextTempDir t;
  t.write("repo/.gitignore", "build/\n*.log\n!keep.log\n");
  t.write("repo/src/.gitignore", "generated_*.py\n");
  t.write("repo/build/out.py", "def built(): pass\n");
  t.write("repo/a.log", "log\n");
  t.write("repo/keep.log", "kept\n");
  t.write("repo/src/generated_x.py", "def gx(): pass\n");
  t.write("repo/src/real.py", "def real(): pass\n");
  t.write("repo/other/generated_y.py", "def gy(): pass\n");  // the src rule does not reach here
  auto engine = open_engine(t.path("index.db"));
  auto code = make_code_tree_connector({.root = t.path("repo")});
  auto report = engine->ingest(*code);
  REQUIRE(report.ok());
  // .gitignore x2, keep.log, src/real.py, other/generated_y.py
  CHECK(report->added == 5);
  auto r = engine->retrieve({.text = "built gx gy real kept", .max_files = 20});
  REQUIRE(r.ok());
  auto paths = ranked_paths(*r);
  CHECK(std::find(paths.begin(), paths.end(), "build/out.py") == paths.end());
  CHECK(std::find(paths.begin(), paths.end(), "src/generated_x.py") == paths.end());
  CHECK(std::find(paths.begin(), paths.end(), "other/generated_y.py") != paths.end());
}

TEST_CASE("engine: bad files are skipped and counted, never fatal", "[context][engine]") {
  ContextTempDir t;
  t.write("repo/ok.py", "def fine():\n    return 1\n");
  t.write("repo/binary.dat", std::string("\x7f" "ELF\0\0\x01", 7));
  t.write("repo/huge.txt", std::string(2 << 20, 'a'));
  t.write("repo/minified.js", "var a=1;" + std::string(30000, 'x') + "\n");
  t.write("repo/gen.go", "// Code generated by protoc-gen-go. DO NOT EDIT.\npackage x\n");
  t.write("repo/latin1.py", "s = '\xe9t\xe9'\ndef caf\xe9():\n    pass\n");  // invalid UTF-8
  t.write("repo/secret.py", "def hidden(): pass\n");
  ::chmod(t.path("repo/secret.py").c_str(), 0);
  std::filesystem::create_directories(t.path("repo/loop"));
  std::filesystem::create_directory_symlink(t.path("repo/loop"), t.path("repo/loop/again"));
  std::filesystem::create_symlink("/etc/passwd", t.path("repo/outside"));
  std::filesystem::create_symlink(t.path("repo/nowhere"), t.path("repo/dangling"));

  auto engine = open_engine(t.path("index.db"));
  for (bool follow : {false, true}) {
    auto code = make_code_tree_connector({.root = t.path("repo"), .follow_symlinks = follow});
    auto report = engine->ingest(*code);
    REQUIRE(report.ok());
    CHECK(report->skipped["binary"] == 1);
    CHECK(report->skipped["too_large"] == 1);
    CHECK(report->skipped["long_lines"] == 1);
    CHECK(report->skipped["generated"] == 1);
    if (::geteuid() != 0) CHECK(report->skipped["unreadable"] == 1);
    CHECK(report->skipped["symlink"] >= 2);
    CHECK_FALSE(report->skipped_examples.empty());
  }
  auto r = engine->retrieve({.text = "fine caf\xe9 \xff\xfe"});
  REQUIRE(r.ok());
  REQUIRE_FALSE(r->files.empty());
  CHECK(r->files[0].path == "ok.py");
  // The invalid UTF-8 file is indexed (its valid words are searchable) and packs to JSON.
  auto p = engine->pack({.text = "latin1 caf"}, {.budget = 4000, .tokenizer = std::make_shared<test::ByteTokenizer>(),
                                                  .format = PacketFormat::kJson});
  REQUIRE(p.ok());
  CHECK(p->to_json().size() <= 4000);
}

TEST_CASE("engine: a missing root, a damaged or foreign index file", "[context][engine]") {
  ContextTempDir t;
  {
    auto engine = open_engine(t.path("index.db"));
    auto code = make_code_tree_connector({.root = t.path("does-not-exist")});
    CHECK(engine->ingest(*code).status().code() == StatusCode::kNotFound);
    // The same file cannot be opened twice.
    CHECK(ContextEngine::open({.index_path = t.path("index.db")}).status().code() ==
          StatusCode::kFailedPrecondition);
  }
  CHECK(ContextEngine::open({}).status().code() == StatusCode::kInvalidArgument);

  // Garbage: refused with DATA_LOSS and left byte-for-byte untouched.
  const std::string garbage = "this is not an sqlite file at all" + std::string(5000, '\x5a');
  t.write("garbage.db", garbage);
  auto g = ContextEngine::open({.index_path = t.path("garbage.db")});
  CHECK(g.status().code() == StatusCode::kDataLoss);
  std::ifstream in(t.path("garbage.db"), std::ios::binary);
  std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(after == garbage);

  // A valid SQLite file of someone else's.
  REQUIRE(test::sh("sqlite3 " + t.path("foreign.db") + " 'CREATE TABLE t(x); INSERT INTO t VALUES(1);' 2>/dev/null || "
                   "python3 -c \"import sqlite3; c=sqlite3.connect('" + t.path("foreign.db") +
                   "'); c.execute('CREATE TABLE t(x)'); c.commit()\"") == 0);
  CHECK(ContextEngine::open({.index_path = t.path("foreign.db")}).status().code() == StatusCode::kDataLoss);

  // A real index with damaged pages.
  {
    ContextTempDir repo;
    write_small_repo(repo);
    auto engine = open_engine(t.path("damaged.db"));
    auto code = make_code_tree_connector({.root = repo.path("repo")});
    REQUIRE(engine->ingest(*code).ok());
  }
  {
    std::fstream f(t.path("damaged.db"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);  // the schema page, after the 100-byte file header
    const std::string junk(3000, '\xa5');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto d = ContextEngine::open({.index_path = t.path("damaged.db")});
  CHECK(d.status().code() == StatusCode::kDataLoss);
}

TEST_CASE("engine: git history ingest, incremental by commit, rewinds", "[context][engine][git]") {
  ContextTempDir t;
  const std::string repo = t.path("repo");
  const std::string git = "git -C " + repo + " -c user.name=Tester -c user.email=t@example.com ";
  REQUIRE(test::sh("git init -q " + repo) == 0);
  t.write("repo/cache.py", "def evict(): pass\n");
  t.write("repo/server.py", "def serve(): pass\n");
  REQUIRE(test::sh(git + "add -A && " + git + "commit -qm 'Initial import'") == 0);
  t.write("repo/cache.py", "def evict():\n    return 'lru'\n");
  REQUIRE(test::sh(git + "commit -qam 'Fix eviction order in the LRU cache'") == 0);

  auto engine = open_engine(t.path("index.db"));
  auto hist = make_git_history_connector({.repository = repo});
  auto r1 = engine->ingest(*hist);
  REQUIRE(r1.ok());
  CHECK(r1->added == 2);
  CHECK(r1->commit.size() == 40);
  auto code = make_code_tree_connector({.root = repo});
  auto rc = engine->ingest(*code);
  REQUIRE(rc.ok());
  CHECK(rc->commit == r1->commit);  // the code tree is stamped with HEAD

  // History credits the file the matching commit changed.
  auto r = engine->retrieve({.text = "LRU eviction order is wrong"});
  REQUIRE(r.ok());
  REQUIRE_FALSE(r->files.empty());
  CHECK(r->files[0].path == "cache.py");
  CHECK(r->files[0].commit == r1->commit);
  bool history = false;
  for (const auto& s : r->files[0].why) history |= s.name == "history";
  CHECK(history);

  // Incremental: one new commit.
  t.write("repo/server.py", "def serve():\n    return 'tls'\n");
  REQUIRE(test::sh(git + "commit -qam 'Serve over TLS'") == 0);
  auto r2 = engine->ingest(*hist);
  REQUIRE(r2.ok());
  CHECK(r2->added == 1);
  CHECK(r2->removed == 0);
  auto r3 = engine->ingest(*hist);
  REQUIRE(r3.ok());
  CHECK(r3->added == 0);

  // A rewind removes the commits the new head does not have.
  REQUIRE(test::sh(git + "reset -q --hard HEAD~2") == 0);
  auto r4 = engine->ingest(*hist);
  REQUIRE(r4.ok());
  CHECK(r4->removed == 2);
  auto st = engine->stats();
  REQUIRE(st.ok());
  CHECK(st->commits == 1);

  // Not a repository: a clear error, nothing changes.
  auto bad = make_git_history_connector({.repository = t.path("nowhere")});
  CHECK(engine->ingest(*bad).status().code() == StatusCode::kUnavailable);
  auto evil = make_git_history_connector({.repository = repo, .rev = "--output=/tmp/x"});
  CHECK(engine->ingest(*evil).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("engine: access lists filter before ranking", "[context][engine]") {
  class Fixed final : public Connector {
   public:
    std::string id() const override { return "docs"; }
    Result<ScanResult> scan(std::string_view, IngestSink& sink) override {
      Document pub{.path = "public.md", .content = "deploy runbook for the payments service"};
      Document priv{.path = "private.md", .content = "deploy runbook payments secrets rotation",
                    .access = {"alice", "group:sre"}};
      Document nobody{.path = "nobody.md", .content = "deploy runbook payments", .access = {}};
      STRATA_RETURN_IF_ERROR(sink.put(pub));
      STRATA_RETURN_IF_ERROR(sink.put(priv));
      STRATA_RETURN_IF_ERROR(sink.put(nobody));
      return ScanResult{.complete = true};
    }
  };
  ContextTempDir t;
  auto engine = open_engine(t.path("index.db"));
  Fixed docs;
  REQUIRE(engine->ingest(docs).ok());
  auto anon = engine->retrieve({.text = "payments deploy runbook secrets"});
  REQUIRE(anon.ok());
  CHECK(ranked_paths(*anon) == std::vector<std::string>{"public.md"});
  auto alice = engine->retrieve({.text = "payments deploy runbook secrets", .principal = {.id = "alice"}});
  REQUIRE(alice.ok());
  CHECK(ranked_paths(*alice).size() == 2);
  auto sre = engine->retrieve({.text = "payments deploy runbook secrets", .principal = {.id = "bob", .groups = {"group:sre"}}});
  REQUIRE(sre.ok());
  CHECK(ranked_paths(*sre).size() == 2);
}

TEST_CASE("engine: a failing or throwing connector changes nothing", "[context][engine]") {
  class Failing final : public Connector {
   public:
    bool do_throw = false;
    std::string id() const override { return "code"; }
    Result<ScanResult> scan(std::string_view, IngestSink& sink) override {
      (void)sink.put(Document{.path = "half.py", .content = "def half(): pass\n"});
      if (do_throw) throw std::runtime_error("boom");
      return unavailable_error("source went away");
    }
  };
  ContextTempDir t;
  auto engine = open_engine(t.path("index.db"));
  Failing f;
  CHECK(engine->ingest(f).status().code() == StatusCode::kUnavailable);
  f.do_throw = true;
  CHECK(engine->ingest(f).status().code() == StatusCode::kInternal);
  auto st = engine->stats();
  REQUIRE(st.ok());
  CHECK(st->files == 0);
  CHECK(st->cursors.empty());
  // Cancellation.
  ContextTempDir repo;
  write_small_repo(repo);
  auto code = make_code_tree_connector({.root = repo.path("repo")});
  IngestOptions io;
  io.cancelled = [] { return true; };
  CHECK(engine->ingest(*code, io).status().code() == StatusCode::kCancelled);
  CHECK(engine->stats()->files == 0);
}

TEST_CASE("engine: an optional embedder reranks the lexical candidates", "[context][engine]") {
  // A toy embedder: letter frequencies. Deterministic; enough to move "zzz" files up.
  class Letters final : public Embedder {
   public:
    std::string name() const override { return "letters"; }
    Result<std::vector<float>> embed(std::string_view text) const override {
      std::vector<float> v(26, 0.0f);
      for (char c : text) {
        if (c >= 'a' && c <= 'z') v[static_cast<std::size_t>(c - 'a')] += 1.0f;
      }
      return v;
    }
  };
  ContextTempDir t;
  t.write("repo/a.py", "def handler(): return 'aaaa aaaa aaaa'\n");
  t.write("repo/z.py", "def handler(): return 'zzzz zzzz zzzz'\n");
  auto e = ContextEngine::open({.index_path = t.path("index.db"), .embedder = std::make_shared<Letters>()});
  REQUIRE(e.ok());
  auto code = make_code_tree_connector({.root = t.path("repo")});
  REQUIRE((*e)->ingest(*code).ok());
  auto r = (*e)->retrieve({.text = "handler zzz zzzzzz zz"});
  REQUIRE(r.ok());
  REQUIRE(r->files.size() == 2);
  CHECK(r->files[0].path == "z.py");
  bool embedding = false;
  for (const auto& s : r->files[0].why) embedding |= s.name == "embedding" && s.detail == "letters";
  CHECK(embedding);
}
