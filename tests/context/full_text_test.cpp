// The contentless full-text table (files_fts): a row is deleted by re-deriving its terms from
// the files and chunks rows. An index updated in place must hold exactly the terms of one
// built from scratch; a version 1 index (files_fts kept its term streams) is rebuilt when a
// writer opens it; an unknown version is refused untouched.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <strata/context/engine.h>

#include "context/context_test_util.h"
#include "context/index.h"
#include "context/sql_test_util.h"
#include "context/sqlite_util.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;
using strata::test::sql_column;

namespace {

Document make_doc(DocumentKind kind, std::string path, std::string content) {
  Document d;
  d.kind = kind;
  d.path = std::move(path);
  d.content = std::move(content);
  d.access = {"*"};
  return d;
}

// The documents of the first ingest: code with named chunks, chat (one with a secret, which
// is redacted before it is indexed), text.
std::vector<Document> first_docs() {
  return {
      make_doc(DocumentKind::kFile, "src/walrus.py",
          "import os\n\ndef feed_walrus(n):\n    return n\n\nclass WalrusPen:\n    def open_gate(self):\n        pass\n"),
      make_doc(DocumentKind::kFile, "src/seal.cpp", "int bark_seal(int x) {\n  return x + 1;\n}\n"),
      make_doc(DocumentKind::kFile, "src/gone.py", "def vanish_soon():\n    return 'narwhal'\n"),
      make_doc(DocumentKind::kChatMessage, "slack:C1/1.0", "the walrus deploy failed, retrying"),
      make_doc(DocumentKind::kChatMessage, "slack:C1/2.0", "token = \"abcd1234efgh5678ijkl\" for the walrus job"),
      make_doc(DocumentKind::kChatMessage, "slack:C1/3.0", "narwhal sighting near the pier"),
      make_doc(DocumentKind::kDoc, "docs/pen.md", "# Pen\n\nThe walrus pen opens at dawn.\n"),
  };
}

// The second: one file changed (other symbols), one removed, one added; a message edited and
// one deleted; the rest unchanged.
std::vector<Document> second_docs() {
  auto docs = first_docs();
  docs[0].content = "import os\n\ndef starve_walrus(n):\n    return 0\n\nclass WalrusCage:\n    pass\n";
  docs.erase(docs.begin() + 2);  // src/gone.py
  docs[2].content = "the walrus deploy worked after all";  // slack:C1/1.0, edited
  docs.erase(docs.begin() + 4);  // slack:C1/3.0
  docs.push_back(make_doc(DocumentKind::kFile, "src/otter.py", "def swim_otter():\n    return 'kelp'\n"));
  return docs;
}

// Every posting of files_fts with its file's path; the vocabulary per term (documents,
// occurrences), which counts postings of rows that no longer exist too; the postings that
// belong to no file (must be none).
struct PostingDump {
  std::vector<std::string> postings, vocabulary;
  std::string orphans;
  bool operator==(const PostingDump&) const = default;
};

PostingDump terms_of(const std::string& index) {
  PostingDump t;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(index.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db, "CREATE VIRTUAL TABLE temp.postings USING fts5vocab(main, files_fts, instance)", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  auto rows = [&](const char* sql) {
    std::vector<std::string> out;
    detail::Stmt st(db, sql);
    REQUIRE(st.ok());
    while (st.step() == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(st.get()); ++c) row += st.text(c) + "|";
      out.push_back(std::move(row));
    }
    return out;
  };
  t.postings = rows("SELECT f.path, p.col, p.offset, p.term FROM temp.postings p JOIN files f ON f.id = p.doc"
                    " ORDER BY f.path, p.col, p.offset");
  t.vocabulary = rows("SELECT term, doc, cnt FROM files_vocab ORDER BY term");
  t.orphans = rows("SELECT count(*) FROM temp.postings WHERE doc NOT IN (SELECT id FROM files)").front();
  REQUIRE(sqlite3_close(db) == SQLITE_OK);
  return t;
}

std::vector<std::string> scored_spans(ContextEngine& engine, const std::string& text) {
  auto r = engine.retrieve({.text = text});
  REQUIRE(r.ok());
  std::vector<std::string> out;
  for (const auto& s : r->spans) out.push_back(s.path + " " + std::to_string(s.score));
  return out;
}

// Ingests `docs` into the index at `index`.
void ingest_docs(const std::string& index, std::vector<Document> docs) {
  auto engine = test::open_engine(index);
  test::DocsConnector c;
  c.docs = std::move(docs);
  c.complete = true;  // what was not put is removed
  auto r = engine->ingest(c);
  REQUIRE(r.ok());
}

// Turns the index into what version 1 wrote: files_fts with its content, the same term
// streams.
void make_version_1(const std::string& index) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(index.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "DROP TABLE files_vocab; DROP TABLE files_fts;"
                       " CREATE VIRTUAL TABLE files_fts USING fts5(path, symbols, body,"
                       "   tokenize=\"unicode61 remove_diacritics 0 tokenchars '_'\");"
                       " CREATE VIRTUAL TABLE files_vocab USING fts5vocab(files_fts, 'row');"
                       " UPDATE meta SET value = '1' WHERE key = 'version';",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  {  // the statements are finalized before the connection closes
    detail::Stmt files(db, "SELECT id, path, content FROM files");
    detail::Stmt names(db, detail::kChunkNamesSql);
    detail::Stmt insert(db, "INSERT INTO files_fts(rowid, path, symbols, body) VALUES(?1, ?2, ?3, ?4)");
    detail::FileTerms terms;
    while (files.step() == SQLITE_ROW) {
      REQUIRE(detail::derive_file_terms(files.int64(0), files.text_view(1), files.text_view(2), names, terms).ok());
      insert.bind(1, files.int64(0)).bind(2, terms.path).bind(3, terms.symbols).bind(4, terms.body);
      REQUIRE(insert.step() == SQLITE_DONE);
      insert.reset();
    }
  }
  REQUIRE(sqlite3_close(db) == SQLITE_OK);
}

}  // namespace

TEST_CASE("full text: an index updated in place holds exactly the terms of one built from scratch",
          "[context][schema]") {
  ContextTempDir t;
  const std::string updated = t.path("updated.db"), scratch = t.path("scratch.db");
  ingest_docs(updated, first_docs());
  CHECK(sql_column(updated, "SELECT count(*) FROM files") == std::vector<std::string>{"7"});
  ingest_docs(updated, second_docs());
  ingest_docs(scratch, second_docs());

  const PostingDump in_place = terms_of(updated), fresh = terms_of(scratch);
  CHECK(in_place.orphans == "0|");
  CHECK(in_place == fresh);
  // What went away is not found (terms of the removed file, the old symbols, the edit, the
  // deleted message); the secret was never indexed.
  for (const char* gone : {"vanish_soon", "feed_walrus", "WalrusPen", "retrying", "narwhal", "abcd1234efgh5678ijkl"}) {
    CAPTURE(gone);
    CHECK(sql_column(updated, std::string("SELECT count(*) FROM files_fts WHERE files_fts MATCH '\"") + gone + "\"'") ==
          std::vector<std::string>{"0"});
  }
  CHECK(sql_column(updated, "SELECT count(*) FROM files_fts WHERE files_fts MATCH 'starve_walrus'") ==
        std::vector<std::string>{"1"});
  // Ranking reads the table's totals (rows, tokens): the same scores as from scratch.
  auto a = test::open_engine(updated);
  auto b = test::open_engine(scratch);
  const auto ranked_in_place = scored_spans(*a, "walrus deploy otter");
  REQUIRE(ranked_in_place.size() >= 3);
  CHECK(ranked_in_place == scored_spans(*b, "walrus deploy otter"));
}

TEST_CASE("full text: the table keeps no copy of the term streams", "[context][schema]") {
  ContextTempDir t;
  const std::string index = t.path("index.db");
  ingest_docs(index, first_docs());
  CHECK(sql_column(index, "SELECT count(*) FROM sqlite_schema WHERE name = 'files_fts_content'") ==
        std::vector<std::string>{"0"});
  CHECK(sql_column(index, "SELECT value FROM meta WHERE key = 'version'") == std::vector<std::string>{"2"});
  // Its columns read as NULL; the row lengths bm25() needs are kept.
  CHECK(sql_column(index, "SELECT count(*) FROM files_fts WHERE body IS NOT NULL") == std::vector<std::string>{"0"});
  CHECK(sql_column(index, "SELECT count(*) FROM files_fts_docsize") == std::vector<std::string>{"7"});
}

TEST_CASE("full text: a version 1 index is rebuilt contentless when a writer opens it, and stays correct",
          "[context][schema]") {
  ContextTempDir t;
  const std::string index = t.path("index.db"), scratch = t.path("scratch.db");
  ingest_docs(index, first_docs());
  std::vector<std::string> before;
  {
    auto engine = test::open_engine(index);
    before = scored_spans(*engine, "walrus narwhal pen");
  }
  REQUIRE(before.size() >= 3);
  const PostingDump first = terms_of(index);

  make_version_1(index);
  REQUIRE(sql_column(index, "SELECT count(*) FROM files_fts_content") == std::vector<std::string>{"7"});
  // A reader of version 1 is accepted as it is.
  {
    auto reader = detail::open_index_db(index, /*create_schema=*/false);
    REQUIRE(reader.ok());
  }
  CHECK(sql_column(index, "SELECT value FROM meta WHERE key = 'version'") == std::vector<std::string>{"1"});

  {
    auto engine = test::open_engine(index);
    CHECK(scored_spans(*engine, "walrus narwhal pen") == before);
  }
  CHECK(sql_column(index, "SELECT value FROM meta WHERE key = 'version'") == std::vector<std::string>{"2"});
  CHECK(sql_column(index, "SELECT count(*) FROM sqlite_schema WHERE name = 'files_fts_content'") ==
        std::vector<std::string>{"0"});
  CHECK(sql_column(index, "SELECT v FROM files_fts_config WHERE k = 'hashsize'") == std::vector<std::string>{"16777216"});
  CHECK(terms_of(index) == first);
  // Updates after the rebuild delete rows by their re-derived terms: the same as from scratch.
  ingest_docs(index, second_docs());
  ingest_docs(scratch, second_docs());
  CHECK(terms_of(index) == terms_of(scratch));
}

TEST_CASE("full text: an index of an unknown version is refused and left as it was", "[context][schema]") {
  ContextTempDir t;
  const std::string index = t.path("index.db");
  ingest_docs(index, first_docs());
  sql_column(index, "UPDATE meta SET value = '3' WHERE key = 'version'");
  const PostingDump before = terms_of(index);
  auto engine = ContextEngine::open({.index_path = index});
  REQUIRE_FALSE(engine.ok());
  CHECK(engine.status().code() == StatusCode::kDataLoss);
  CHECK(engine.status().message().find("unsupported schema version") != std::string::npos);
  CHECK(sql_column(index, "SELECT value FROM meta WHERE key = 'version'") == std::vector<std::string>{"3"});
  CHECK(terms_of(index) == before);
}

TEST_CASE("full text: a version 1 index locked by another engine is not rebuilt under it", "[context][schema]") {
  ContextTempDir t;
  const std::string index = t.path("index.db");
  ingest_docs(index, first_docs());
  make_version_1(index);
  // Another process's engine holds the index (an older strata, still writing version 1).
  const int fd = ::open(index.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
  auto engine = ContextEngine::open({.index_path = index});
  ::close(fd);
  REQUIRE_FALSE(engine.ok());
  CHECK(engine.status().code() == StatusCode::kFailedPrecondition);
  CHECK(sql_column(index, "SELECT value FROM meta WHERE key = 'version'") == std::vector<std::string>{"1"});
  CHECK(sql_column(index, "SELECT count(*) FROM files_fts_content") == std::vector<std::string>{"7"});
  // Once the lock is free, the next writer rebuilds it.
  auto later = ContextEngine::open({.index_path = index});
  REQUIRE(later.ok());
  CHECK(sql_column(index, "SELECT value FROM meta WHERE key = 'version'") == std::vector<std::string>{"2"});
}
