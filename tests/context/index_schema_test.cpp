// Index schema additions: an index made before the partial `files_commit_set` index (with the
// full `files_commit` index of the first version) opens, is migrated in place and stays
// correct; the re-stamping UPDATE uses the partial index.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <strata/context/code_tree.h>
#include <strata/context/engine.h>

#include "context/context_test_util.h"
#include "context/sql_test_util.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;
using strata::test::sql_column;

namespace {

std::vector<std::string> ranked(ContextEngine& engine, const std::string& text) {
  auto r = engine.retrieve({.text = text});
  REQUIRE(r.ok());
  std::vector<std::string> out;
  for (const auto& f : r->files) out.push_back(f.path + "@" + f.commit);
  return out;
}

}  // namespace

TEST_CASE("schema: an index with the first version's files_commit index is migrated and stays correct",
          "[context][schema]") {
  ContextTempDir t;
  const std::string repo = t.path("repo");
  const std::string index = t.path("index.db");
  const std::string git = "git -C " + repo + " -c user.name=Tester -c user.email=t@example.com ";
  REQUIRE(test::sh("git init -q " + repo) == 0);
  t.write("repo/cache.py", "def evict_entries():\n    return 'lru'\n");
  t.write("repo/server.py", "def serve_requests():\n    pass\n");
  REQUIRE(test::sh(git + "add -A && " + git + "commit -qm 'Initial import'") == 0);
  std::vector<std::string> before;
  std::string first_commit;
  {
    auto engine = ContextEngine::open({.index_path = index});
    REQUIRE(engine.ok());
    auto code = make_code_tree_connector({.root = repo});
    auto r = (*engine)->ingest(*code);
    REQUIRE(r.ok());
    first_commit = r->commit;
    REQUIRE(first_commit.size() == 40);
    before = ranked(**engine, "evict entries");
  }
  CHECK(sql_column(index, "SELECT name FROM sqlite_schema WHERE name LIKE 'files_commit%'") ==
        std::vector<std::string>{"files_commit_set"});
  // Turn it into what the first version wrote.
  sql_column(index, "DROP INDEX files_commit_set");
  sql_column(index, "CREATE INDEX files_commit ON files(source, commit_hash)");
  REQUIRE(sql_column(index, "SELECT name FROM sqlite_schema WHERE name LIKE 'files_commit%'") ==
          std::vector<std::string>{"files_commit"});

  {
    auto engine = ContextEngine::open({.index_path = index});
    REQUIRE(engine.ok());
    CHECK(ranked(**engine, "evict entries") == before);
    // A new commit: every file reflects it, the changed one is rewritten.
    t.write("repo/server.py", "def serve_requests():\n    return 'tls'\n");
    REQUIRE(test::sh(git + "commit -qam 'Serve over TLS'") == 0);
    auto code = make_code_tree_connector({.root = repo});
    auto r = (*engine)->ingest(*code);
    REQUIRE(r.ok());
    CHECK(r->updated == 1);
    REQUIRE(r->commit != first_commit);
    const auto after = ranked(**engine, "evict entries serve requests");
    REQUIRE(after.size() == 2);
    for (const auto& hit : after) CHECK(hit.substr(hit.find('@') + 1) == r->commit);
  }
  CHECK(sql_column(index, "SELECT name FROM sqlite_schema WHERE name LIKE 'files_commit%'") ==
        std::vector<std::string>{"files_commit_set"});
  // No row keeps a commit of its own after a complete scan: the partial index is empty.
  CHECK(sql_column(index, "SELECT count(*) FROM files WHERE commit_hash != ''") == std::vector<std::string>{"0"});
  const auto plan = sql_column(index,
                           "EXPLAIN QUERY PLAN UPDATE files SET commit_hash = '' WHERE source = 'code'"
                           " AND commit_hash != '' AND id > 0");
  REQUIRE_FALSE(plan.empty());
  CHECK(plan.front().find("files_commit_set") != std::string::npos);
}

namespace {

std::vector<std::string> spans(ContextEngine& engine, const std::string& text) {
  auto r = engine.retrieve({.text = text});
  REQUIRE(r.ok());
  std::vector<std::string> out;
  for (const auto& s : r->spans) {
    out.push_back(s.path + " " + std::string(to_string(s.kind)) + " " + std::to_string(s.start_line) + "-" +
                  std::to_string(s.end_line) + " sig " + std::to_string(s.signature_end_line) + " " + s.symbol +
                  " " + std::to_string(s.score));
  }
  return out;
}

}  // namespace

TEST_CASE("schema: a document whose only chunk is the whole of it has no chunk row, and the same spans",
          "[context][schema]") {
  ContextTempDir t;
  const std::string index = t.path("index.db");
  test::DocsConnector c;
  Document chat;
  chat.kind = DocumentKind::kChatMessage;
  chat.path = "slack:C1/1.0";
  chat.content = "the walrus deploy failed\nretrying the walrus job\n";
  c.docs.push_back(chat);
  Document text;
  text.path = "notes/walrus.txt";
  text.content = "walrus notes\n\nmore about the walrus";  // no final newline: 3 lines
  c.docs.push_back(text);
  Document code;
  code.path = "src/walrus.py";
  code.content = "import os\n\ndef feed_walrus(n):\n    return n\n";
  c.docs.push_back(code);
  std::vector<std::string> fresh;
  {
    auto engine = ContextEngine::open({.index_path = index});
    REQUIRE(engine.ok());
    auto r = (*engine)->ingest(c);
    REQUIRE(r.ok());
    CHECK(r->chunks == 4);  // counted as before: 1 + 1 + (block + function)
    fresh = spans(**engine, "walrus feed_walrus");
  }
  REQUIRE(fresh.size() >= 3);
  CHECK(std::any_of(fresh.begin(), fresh.end(), [](const std::string& s) { return s.rfind("slack:C1/1.0 file 1-2 sig 1 ", 0) == 0; }));
  CHECK(std::any_of(fresh.begin(), fresh.end(), [](const std::string& s) { return s.rfind("notes/walrus.txt file 1-3 sig 1 ", 0) == 0; }));
  CHECK(sql_column(index, "SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path != 'src/walrus.py'") ==
        std::vector<std::string>{"0"});
  CHECK(sql_column(index, "SELECT count(*) FROM chunks") == std::vector<std::string>{"2"});
  // An index written before this change holds the whole-document rows: the same spans.
  sql_column(index, "INSERT INTO chunks(file_id, kind, name, qualified, start_line, end_line, sig_end)"
                " SELECT id, 0, '', '', 1, lines, 1 FROM files WHERE lines > 0 AND id NOT IN (SELECT file_id FROM chunks)");
  REQUIRE(sql_column(index, "SELECT count(*) FROM chunks") == std::vector<std::string>{"4"});
  auto engine = ContextEngine::open({.index_path = index});
  REQUIRE(engine.ok());
  CHECK(spans(**engine, "walrus feed_walrus") == fresh);
}

TEST_CASE("schema: a new index has 16 KiB pages and a 16 MiB FTS5 pending-terms buffer", "[context][schema]") {
  ContextTempDir t;
  const std::string index = t.path("index.db");
  {
    auto engine = ContextEngine::open({.index_path = index});
    REQUIRE(engine.ok());
  }
  CHECK(sql_column(index, "PRAGMA page_size") == std::vector<std::string>{"16384"});
  CHECK(sql_column(index, "SELECT v FROM files_fts_config WHERE k = 'hashsize'") == std::vector<std::string>{"16777216"});
}

TEST_CASE("schema: an index with the full files_key index is migrated to files_code_key, which records do not enter",
          "[context][schema]") {
  ContextTempDir t;
  const std::string index = t.path("index.db");
  auto file = [](const std::string& path, const std::string& text) {
    Document d;
    d.path = path;
    d.content = text;
    d.access = {"*"};
    return d;
  };
  auto chat = [&](const std::string& path, const std::string& text) {
    Document d = file(path, text);
    d.kind = DocumentKind::kChatMessage;
    d.authors = {"slack:U1"};
    return d;
  };
  test::DocsConnector c("mixed");
  c.complete = true;
  c.docs = {file("src/otter.py", "def otter():\n    pass\n"), file("docs/otter.md", "# Otters\n"),
            chat("slack:C1/1.0", "otter sighting"), chat("slack:C1/2.0", "otter again")};
  {
    auto engine = ContextEngine::open({.index_path = index});
    REQUIRE(engine.ok());
    REQUIRE((*engine)->ingest(c).ok());
  }
  // The source files have an entry, the records none (they are looked up by UNIQUE(source, path)).
  CHECK(sql_column(index, "SELECT count(*) FROM files INDEXED BY files_code_key WHERE flags & 4 = 0") ==
        std::vector<std::string>{"2"});
  CHECK(sql_column(index, "SELECT count(*) FROM files WHERE flags & 4 != 0") == std::vector<std::string>{"2"});
  const auto plan = sql_column(index, "EXPLAIN QUERY PLAN SELECT f.id, f.hash FROM files f INDEXED BY files_code_key"
                                      " WHERE f.source = 'mixed' AND f.path = 'src/otter.py' AND f.flags & 4 = 0");
  REQUIRE_FALSE(plan.empty());
  CHECK(plan.front().find("COVERING INDEX files_code_key") != std::string::npos);

  // What an index made before looked like: one full index for every row.
  sql_column(index, "DROP INDEX files_code_key");
  sql_column(index, "CREATE INDEX files_key ON files(source, path, hash)");
  {
    auto engine = ContextEngine::open({.index_path = index});
    REQUIRE(engine.ok());
    // Everything put again (found through either lookup), a message edited, one gone.
    c.docs = {file("src/otter.py", "def otter():\n    return 'river'\n"), file("docs/otter.md", "# Otters\n"),
              chat("slack:C1/1.0", "otter sighting confirmed")};
    auto r = (*engine)->ingest(c);
    REQUIRE(r.ok());
    CHECK(r->added == 0);
    CHECK(r->updated == 3);
    CHECK(r->removed == 1);
    auto hits = (*engine)->retrieve({.text = "confirmed sighting"});
    REQUIRE(hits.ok());
    REQUIRE_FALSE(hits->files.empty());
    CHECK(hits->files.front().path == "slack:C1/1.0");
  }
  CHECK(sql_column(index, "SELECT name FROM sqlite_schema WHERE name LIKE 'files%key' ORDER BY name") ==
        std::vector<std::string>{"files_code_key"});
  CHECK(sql_column(index, "SELECT path FROM files ORDER BY path") ==
        std::vector<std::string>{"docs/otter.md", "slack:C1/1.0", "src/otter.py"});
  CHECK(sql_column(index, "PRAGMA integrity_check") == std::vector<std::string>{"ok"});
}
