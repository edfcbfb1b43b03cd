// Substring search (EngineOptions::substring_index, Query::substrings): an FTS5 trigram
// index over the files' contents, kept up to date by every ingest, filtered by permissions
// inside the query, and refused clearly when absent or asked wrongly.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <vector>

#include <strata/context/engine.h>

#include "context/context_test_util.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;

namespace {

class DocList final : public Connector {
 public:
  explicit DocList(std::vector<Document> docs) : docs_(std::move(docs)) {}
  std::string id() const override { return "docs"; }
  Result<ScanResult> scan(std::string_view, IngestSink& sink) override {
    for (auto& d : docs_) {
      if (sink.unchanged(d.path, content_hash(d.content))) continue;
      STRATA_RETURN_IF_ERROR(sink.put(d));
    }
    ScanResult r;
    r.complete = true;  // what is not listed is removed
    return r;
  }
  std::vector<Document> docs_;
};

Document file(std::string path, std::string content, std::vector<std::string> access = {std::string(kEveryone)}) {
  Document d;
  d.kind = DocumentKind::kFile;
  d.path = std::move(path);
  d.content = std::move(content);
  d.access = std::move(access);
  return d;
}

std::vector<Document> corpus() {
  return {
      file("src/list.c", "void drop(node* x) {\n  free(x);\n}\n\nvoid unlink(node* x) {\n  x->next = NULL;\n}\n"),
      file("src/sale.py", "def banner():\n    return 'rate is 50% off_now'\n"),
      file("src/near.py", "def banner():\n    return 'rate is 50X offYnow'\n"),
      file("src/widget.ts", "export class FooBarBaz {\n  render() { return 1; }\n}\n"),
      file("docs/errors.md", "# Errors\n\nThe server answers `connection reset by peer` when the client is gone.\n"),
      file("secret/keys.md", "internal: connection reset by peer handled by the vault proxy\n", {"team-vault"}),
  };
}

std::unique_ptr<ContextEngine> open_engine(const std::string& index, bool substrings) {
  auto e = ContextEngine::open({.index_path = index, .substring_index = substrings});
  REQUIRE(e.ok());
  return std::move(*e);
}

std::vector<std::string> paths(const RetrieveResult& r) {
  std::vector<std::string> out;
  for (const auto& f : r.files) out.push_back(f.path);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> find(ContextEngine& engine, std::vector<std::string> subs, std::string text = "code",
                              Principal who = {}) {
  auto r = engine.retrieve({.text = std::move(text), .max_files = 50, .principal = std::move(who),
                            .substrings = std::move(subs)});
  REQUIRE(r.ok());
  return paths(*r);
}

// FTS5's own consistency check of the trigram index against the contents it reads.
bool substr_index_consistent(const std::string& index) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(index.c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  const int check = sqlite3_exec(db, "INSERT INTO files_substr(files_substr) VALUES('integrity-check')", nullptr,
                                 nullptr, nullptr);
  sqlite3_close(db);
  return check == SQLITE_OK;
}

}  // namespace

TEST_CASE("substrings: exact fragments find the files that hold them", "[context][substring]") {
  ContextTempDir t;
  auto engine = open_engine(t.path("ctx.db"), true);
  DocList docs(corpus());
  REQUIRE(engine->ingest(docs).ok());

  SECTION("a code fragment with punctuation, in no token of the full-text index") {
    CHECK(find(*engine, {"x->next = NULL"}) == std::vector<std::string>{"src/list.c"});
  }
  SECTION("ASCII letters are compared case-insensitively; part of an identifier matches") {
    CHECK(find(*engine, {"foobarb"}) == std::vector<std::string>{"src/widget.ts"});
    CHECK(find(*engine, {"BARBAZ"}) == std::vector<std::string>{"src/widget.ts"});
  }
  SECTION("% and _ are plain characters, not wildcards") {
    CHECK(find(*engine, {"50% off_now"}) == std::vector<std::string>{"src/sale.py"});
    CHECK(find(*engine, {"50X off_now"}).empty());
  }
  SECTION("every substring must be present") {
    CHECK(find(*engine, {"def banner", "50% off"}) == std::vector<std::string>{"src/sale.py"});
    CHECK(find(*engine, {"def banner", "x->next"}).empty());
  }
  SECTION("nothing holds it: no files, whatever the text matches") {
    CHECK(find(*engine, {"no such fragment"}, "banner rate off").empty());
  }
  SECTION("the file is returned with the signal, and the span holding it ranks first") {
    auto r = engine->retrieve({.text = "drop unlink node", .substrings = {"x->next"}});
    REQUIRE(r.ok());
    REQUIRE(r->files.size() == 1);
    const auto& why = r->files[0].why;
    CHECK(std::any_of(why.begin(), why.end(), [](const Signal& s) { return s.name == "substring"; }));
    REQUIRE(!r->spans.empty());
    CHECK(r->spans[0].start_line == 5);  // unlink(), not drop()
  }
  SECTION("the principal's access filter applies inside the substring query") {
    CHECK(find(*engine, {"connection reset by peer"}) == std::vector<std::string>{"docs/errors.md"});
    CHECK(find(*engine, {"vault proxy"}).empty());
    CHECK(find(*engine, {"vault proxy"}, "code", Principal{"ana", {"team-vault"}}) ==
          std::vector<std::string>{"secret/keys.md"});
    CHECK(find(*engine, {"connection reset by peer"}, "code", Principal{"ana", {"team-vault"}}) ==
          std::vector<std::string>{"docs/errors.md", "secret/keys.md"});
  }
}

TEST_CASE("substrings: the trigram index follows every ingest", "[context][substring]") {
  ContextTempDir t;
  const std::string index = t.path("ctx.db");
  auto engine = open_engine(index, true);
  DocList docs(corpus());
  REQUIRE(engine->ingest(docs).ok());
  REQUIRE(find(*engine, {"x->next"}) == std::vector<std::string>{"src/list.c"});

  // A changed file loses its old text and gains the new; a removed file is gone.
  docs.docs_[0].content = "void unlink(node* x) {\n  x->prev = NULL;\n}\n";
  docs.docs_.erase(docs.docs_.begin() + 3);  // src/widget.ts
  auto r = engine->ingest(docs);
  REQUIRE(r.ok());
  CHECK(r->updated == 1);
  CHECK(r->removed == 1);
  CHECK(find(*engine, {"x->next"}).empty());
  CHECK(find(*engine, {"x->prev"}) == std::vector<std::string>{"src/list.c"});
  CHECK(find(*engine, {"FooBarBaz"}).empty());
  engine.reset();
  CHECK(substr_index_consistent(index));

  // Opened without the option, the index still has it and keeps it current.
  engine = open_engine(index, false);
  docs.docs_.push_back(file("src/late.go", "func Late() { panic(\"late arrival\") }\n"));
  REQUIRE(engine->ingest(docs).ok());
  CHECK(find(*engine, {"late arrival"}) == std::vector<std::string>{"src/late.go"});
  engine.reset();
  CHECK(substr_index_consistent(index));
}

TEST_CASE("substrings: turned on for an existing index, it is built from the files", "[context][substring]") {
  ContextTempDir t;
  const std::string index = t.path("ctx.db");
  {
    auto engine = open_engine(index, false);
    DocList docs(corpus());
    REQUIRE(engine->ingest(docs).ok());
    auto r = engine->retrieve({.text = "node", .substrings = {"x->next"}});
    REQUIRE(!r.ok());
    CHECK(r.status().code() == StatusCode::kFailedPrecondition);
    CHECK(r.status().message().find("substring_index") != std::string::npos);
  }
  auto engine = open_engine(index, true);
  CHECK(find(*engine, {"x->next"}) == std::vector<std::string>{"src/list.c"});
  engine.reset();
  CHECK(substr_index_consistent(index));
}

TEST_CASE("substrings: bad requests are refused with a clear error", "[context][substring]") {
  ContextTempDir t;
  auto engine = open_engine(t.path("ctx.db"), true);
  DocList docs(corpus());
  REQUIRE(engine->ingest(docs).ok());
  auto refused = [&](std::vector<std::string> subs) {
    auto r = engine->retrieve({.text = "code", .substrings = std::move(subs)});
    return !r.ok() && r.status().code() == StatusCode::kInvalidArgument;
  };
  CHECK(refused({"ab"}));
  CHECK(refused({""}));
  CHECK(refused({"\xc3\xa9\xc3\xa9"}));  // 4 bytes, 2 characters
  CHECK(refused({std::string("ab\0cd", 5)}));
  CHECK(refused({std::string(1025, 'x')}));
  CHECK(refused(std::vector<std::string>(17, "abc")));
  CHECK_FALSE(refused({"abc"}));
  CHECK_FALSE(refused({std::string(1024, 'x')}));
  CHECK_FALSE(refused(std::vector<std::string>(16, "abc")));
}
