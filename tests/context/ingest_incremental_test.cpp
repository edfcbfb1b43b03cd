// Incremental ingest on an index that already holds other documents: the connector's rows
// are looked up per path, an add-only ingest extends the in-memory catalog instead of
// reloading it, and the result must equal what a fresh open (a full catalog load) sees.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include <strata/context/engine.h>

#include "context/context_test_util.h"
#include "context/engine_impl.h"
#include "context/index.h"
#include "context/sql_test_util.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;
using strata::test::open_engine;
using strata::test::sql_column;

namespace {

// A connector that reports a fixed list of documents and removals (cursor = a counter).
class ListConnector final : public Connector {
 public:
  explicit ListConnector(std::string id) : id_(std::move(id)) {}
  std::string id() const override { return id_; }
  Result<ScanResult> scan(std::string_view, IngestSink& sink) override {
    for (const auto& d : docs) {
      if (sink.unchanged(d.path, content_hash(d.content))) continue;
      STRATA_RETURN_IF_ERROR(sink.put(d));
    }
    for (const auto& p : removals) STRATA_RETURN_IF_ERROR(sink.remove(p));
    STRATA_RETURN_IF_ERROR(fail_at_end);
    ScanResult r;
    r.cursor = std::to_string(++scans_);
    return r;
  }
  std::vector<Document> docs;
  std::vector<std::string> removals;
  Status fail_at_end = ok_status();  // returned after every document was offered

 private:
  std::string id_;
  int scans_ = 0;
};

Document message(const std::string& path, const std::string& text, std::vector<std::string> access = {"*"}) {
  Document d;
  d.kind = DocumentKind::kChatMessage;
  d.path = path;
  d.title = "#general";
  d.content = text;
  d.authors = {"slack:U1"};
  d.access = std::move(access);
  return d;
}

std::vector<std::string> hits(ContextEngine& engine, const std::string& text, const std::string& who = "") {
  Query q;
  q.text = text;
  q.principal.id = who;
  auto r = engine.retrieve(q);
  REQUIRE(r.ok());
  std::vector<std::string> out;
  for (const auto& f : r->files) out.push_back(f.path);
  std::sort(out.begin(), out.end());
  return out;
}

// The social graph's secondary indexes (EdgeWriter drops them during a bulk import).
const char* const kEdgeIndexes =
    "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'edges' ORDER BY name";
const std::vector<std::string> kAllEdgeIndexes = {"edges_account", "edges_doc", "edges_target"};

}  // namespace

TEST_CASE("ingest: new documents on a populated index are found, and match a fresh open", "[context][ingest]") {
  ContextTempDir t;
  const std::string index = t.path() + "/ctx.db";
  ListConnector chat("chat"), notes("notes");
  for (int i = 0; i < 50; ++i) notes.docs.push_back(message("note/" + std::to_string(i), "ordinary note number words"));
  chat.docs.push_back(message("chat/1", "first message about zebrafish"));
  chat.docs.push_back(message("chat/2", "second message about quokka", {"slack:U7"}));
  {
    auto engine = open_engine(index);
    REQUIRE(engine->ingest(notes).ok());
    auto first = engine->ingest(chat);
    REQUIRE(first.ok());
    CHECK(first->added == 2);

    // Add-only: two new messages (one private), the old ones unchanged.
    chat.docs.push_back(message("chat/3", "third message about axolotl"));
    chat.docs.push_back(message("chat/4", "fourth message about axolotl secretly", {"slack:U9"}));
    auto second = engine->ingest(chat);
    REQUIRE(second.ok());
    CHECK(second->added == 2);
    CHECK(second->unchanged == 2);
    CHECK(second->updated == 0);

    auto stats = engine->stats();
    REQUIRE(stats.ok());
    CHECK(stats->files == 54);
    CHECK(hits(*engine, "axolotl") == std::vector<std::string>{"chat/3"});  // chat/4 is not public
    CHECK(hits(*engine, "axolotl", "slack:U9") == std::vector<std::string>{"chat/3", "chat/4"});
    CHECK(hits(*engine, "quokka").empty());
    CHECK(hits(*engine, "quokka", "slack:U7") == std::vector<std::string>{"chat/2"});

    // A changed message replaces its row (the catalog is reloaded): the old words are gone.
    chat.docs[0] = message("chat/1", "first message now about narwhal");
    auto third = engine->ingest(chat);
    REQUIRE(third.ok());
    CHECK(third->updated == 1);
    CHECK(hits(*engine, "zebrafish").empty());
    CHECK(hits(*engine, "narwhal") == std::vector<std::string>{"chat/1"});

    // Then an add-only ingest again after the reload, and a removal.
    chat.docs.push_back(message("chat/5", "fifth message about capybara"));
    REQUIRE(engine->ingest(chat).ok());
    CHECK(hits(*engine, "capybara") == std::vector<std::string>{"chat/5"});
    chat.removals = {"chat/3"};
    auto removed = engine->ingest(chat);
    REQUIRE(removed.ok());
    CHECK(removed->removed == 1);
    CHECK(hits(*engine, "axolotl", "slack:U9") == std::vector<std::string>{"chat/4"});
    stats = engine->stats();
    REQUIRE(stats.ok());
    CHECK(stats->files == 54);
  }
  // A fresh open loads the catalog whole: the same answers.
  auto reopened = open_engine(index);
  auto stats = reopened->stats();
  REQUIRE(stats.ok());
  CHECK(stats->files == 54);
  CHECK(hits(*reopened, "capybara") == std::vector<std::string>{"chat/5"});
  CHECK(hits(*reopened, "narwhal") == std::vector<std::string>{"chat/1"});
  CHECK(hits(*reopened, "axolotl", "slack:U9") == std::vector<std::string>{"chat/4"});
  CHECK(hits(*reopened, "axolotl").empty());
}

TEST_CASE("ingest: a document put twice in one scan is one row", "[context][ingest]") {
  ContextTempDir t;
  ListConnector chat("chat");
  chat.docs.push_back(message("chat/1", "draft about pelican"));
  chat.docs.push_back(message("chat/1", "final about pelican"));
  auto engine = open_engine(t.path() + "/ctx.db");
  auto r = engine->ingest(chat);
  REQUIRE(r.ok());
  CHECK(r->added == 1);
  CHECK(r->updated == 1);
  auto stats = engine->stats();
  REQUIRE(stats.ok());
  CHECK(stats->files == 1);
  CHECK(hits(*engine, "final") == std::vector<std::string>{"chat/1"});
  CHECK(hits(*engine, "draft").empty());
}

TEST_CASE("ingest: a first ingest replaces a record put twice with its edges, and removes what it is told to",
          "[context][ingest]") {
  ContextTempDir t;
  const std::string index = t.path() + "/ctx.db";
  ListConnector chat("chat");
  chat.docs.push_back(message("chat/1", "walrus migration plan"));
  chat.docs.push_back(message("chat/2", "walrus rollback"));
  chat.docs.push_back(message("chat/3", "walrus draft"));
  Document again = message("chat/3", "walrus final");
  again.authors = {"slack:U2"};
  chat.docs.push_back(again);
  chat.removals = {"chat/2", "chat/never-put"};
  auto engine = open_engine(index);
  auto r = engine->ingest(chat);
  REQUIRE(r.ok());
  CHECK(r->added == 3);  // chat/2 was added, then removed
  CHECK(r->updated == 1);
  CHECK(r->removed == 1);
  CHECK(hits(*engine, "walrus") == std::vector<std::string>{"chat/1", "chat/3"});
  CHECK(hits(*engine, "draft").empty());
  // The first version's edge went with it: one author of chat/3, the second.
  CHECK(sql_column(index, "SELECT account FROM edges WHERE doc = 'chat/3'") == std::vector<std::string>{"slack:U2"});
  CHECK(sql_column(index, "SELECT count(*) FROM edges WHERE doc = 'chat/2'") == std::vector<std::string>{"0"});
  // A fresh open (the catalog loaded whole) sees the same.
  engine.reset();
  auto reopened = open_engine(index);
  CHECK(hits(*reopened, "walrus") == std::vector<std::string>{"chat/1", "chat/3"});
}

TEST_CASE("ingest: a bulk first ingest builds the edge indexes again, and a failed one leaves them as they were",
          "[context][ingest]") {
  ContextTempDir t;
  const std::string index = t.path() + "/ctx.db";
  // More documents than the bulk threshold (20,000): the edge indexes are dropped part way.
  ListConnector chat("chat");
  for (int i = 0; i < 25'000; ++i) chat.docs.push_back(message("chat/" + std::to_string(i), "beluga " + std::to_string(i)));
  auto engine = open_engine(index);
  auto r = engine->ingest(chat);
  REQUIRE(r.ok());
  CHECK(r->added == 25'000);
  CHECK(sql_column(index, kEdgeIndexes) == kAllEdgeIndexes);
  CHECK(sql_column(index, "SELECT count(*) FROM edges") == std::vector<std::string>{"25000"});
  CHECK(sql_column(index, "PRAGMA integrity_check") == std::vector<std::string>{"ok"});
  // The index on (source, doc) serves a re-ingest's edge replacement.
  chat.docs = {message("chat/7", "beluga edited")};
  auto edit = engine->ingest(chat);
  REQUIRE(edit.ok());
  CHECK(edit->updated == 1);
  CHECK(sql_column(index, "SELECT count(*) FROM edges WHERE doc = 'chat/7'") == std::vector<std::string>{"1"});

  // A connector that fails after 25,000 documents: rolled back, indexes and rows as before.
  ListConnector other("other");
  for (int i = 0; i < 25'000; ++i) other.docs.push_back(message("other/" + std::to_string(i), "orca"));
  other.fail_at_end = unavailable_error("export truncated");
  auto failed = engine->ingest(other);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().message().find("export truncated") != std::string::npos);
  CHECK(sql_column(index, kEdgeIndexes) == kAllEdgeIndexes);
  CHECK(sql_column(index, "SELECT count(*) FROM edges") == std::vector<std::string>{"25000"});
  CHECK(hits(*engine, "orca").empty());
}

namespace {

// A chat connector with `n` messages chat/0 ... chat/<n-1>, message i saying text(i): more
// than the bulk threshold (20,000) makes a first ingest a bulk import.
ListConnector chat_export(int n, const std::function<std::string(int)>& text) {
  ListConnector chat("chat");
  for (int i = 0; i < n; ++i) chat.docs.push_back(message("chat/" + std::to_string(i), text(i)));
  return chat;
}

// The engine's catalog against a full load of the index from a connection of its own: the
// same rows in the same order with the same paths, commits, access lists and token counts.
std::string catalog_difference(ContextEngine& engine, const std::string& index) {
  auto db = detail::open_index_db(index, false);
  REQUIRE(db.ok());
  auto full = detail::load_catalog(db->get());
  REQUIRE(full.ok());
  const auto have = dynamic_cast<detail::EngineImpl&>(engine).catalog();
  const detail::Catalog& want = **full;
  if (have->files.size() != want.files.size()) {
    return "files: " + std::to_string(have->files.size()) + " vs " + std::to_string(want.files.size());
  }
  for (std::size_t i = 0; i < want.files.size(); ++i) {
    const auto& x = have->files[i];
    const auto& y = want.files[i];
    if (x.id != y.id || x.path != y.path || x.tokens != y.tokens || x.bytes != y.bytes || x.flags != y.flags ||
        have->access_of(x) != want.access_of(y) || have->commit_of(x) != want.commit_of(y) ||
        have->find_path(x.path) != want.find_path(y.path)) {
      return "file " + std::to_string(i) + ": " + x.path + " vs " + y.path;
    }
  }
  if (have->commits != want.commits || have->index_commit != want.index_commit) return "totals differ";
  return "";
}

}  // namespace

TEST_CASE("ingest: a bulk import commits its documents, then builds the edge indexes while the catalog takes the rows",
          "[context][ingest]") {
  ContextTempDir t;
  const std::string index = t.path() + "/ctx.db";
  ListConnector chat = chat_export(25'000, [](int i) { return i == 4242 ? "narwhal sturgeon" : "narwhal"; });
  for (std::size_t i = 1; i < chat.docs.size(); i += 2) chat.docs[i].access = {"group:ops"};
  auto engine = open_engine(index);
  auto& impl = dynamic_cast<detail::EngineImpl&>(*engine);
  const std::size_t reloads = impl.catalog_reloads();
  auto r = engine->ingest(chat);
  REQUIRE(r.ok());
  CHECK(r->added == 25'000);
  CHECK(sql_column(index, kEdgeIndexes) == kAllEdgeIndexes);
  CHECK(sql_column(index, "PRAGMA integrity_check") == std::vector<std::string>{"ok"});
  // The catalog was extended (on its own thread and connection), not reloaded, and equals a
  // full load.
  CHECK(impl.catalog_reloads() == reloads);
  CHECK(catalog_difference(*engine, index).empty());
  auto stats = engine->stats();
  REQUIRE(stats.ok());
  CHECK(stats->files == 25'000);
  CHECK(hits(*engine, "sturgeon") == std::vector<std::string>{"chat/4242"});
}

TEST_CASE("ingest: when a bulk import's edge indexes cannot be built after its commit, the documents stay and the next ingest builds them",
          "[context][ingest]") {
  ContextTempDir t;
  const std::string index = t.path() + "/ctx.db";
  ListConnector chat = chat_export(25'000, [](int i) { return i == 77 ? "manatee dugong" : "manatee"; });
  auto engine = open_engine(index);
  auto& impl = dynamic_cast<detail::EngineImpl&>(*engine);
  impl.set_edge_index_fault_for_test([] { return unavailable_error("disk I/O error (injected)"); });
  auto r = engine->ingest(chat);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kUnavailable);
  CHECK(r.status().message().find("documents were committed") != std::string::npos);
  CHECK(r.status().message().find("disk I/O error (injected)") != std::string::npos);
  // The documents, their edges and the cursor are in; the edge indexes are not.
  CHECK(sql_column(index, "SELECT count(*) FROM files") == std::vector<std::string>{"25000"});
  CHECK(sql_column(index, "SELECT count(*) FROM edges") == std::vector<std::string>{"25000"});
  CHECK(sql_column(index, kEdgeIndexes).empty());
  CHECK(sql_column(index, "PRAGMA integrity_check") == std::vector<std::string>{"ok"});
  // The catalog took the rows all the same, and queries find them.
  CHECK(catalog_difference(*engine, index).empty());
  CHECK(hits(*engine, "dugong") == std::vector<std::string>{"chat/77"});

  // The next ingest builds the indexes first; it then changes a message (the edge
  // replacement uses edges_doc).
  impl.set_edge_index_fault_for_test(nullptr);
  ListConnector edit("chat");
  edit.docs = {message("chat/9", "manatee edited")};
  auto again = engine->ingest(edit);
  REQUIRE(again.ok());
  CHECK(again->updated == 1);
  CHECK(sql_column(index, kEdgeIndexes) == kAllEdgeIndexes);
  CHECK(sql_column(index, "SELECT count(*) FROM edges WHERE doc = 'chat/9'") == std::vector<std::string>{"1"});
  CHECK(sql_column(index, "PRAGMA integrity_check") == std::vector<std::string>{"ok"});
  CHECK(catalog_difference(*engine, index).empty());
}

// A first ingest queues its records' files rows and writes them 32 at a time (IndexSink's
// kFileBatch); each row's id, full-text row and edges are written before its files row is.
// A record put again replaces the earlier version wherever that one is: in the same batch,
// in a batch already written, or after bulk mode dropped the edge indexes.
TEST_CASE("ingest: a first ingest writes its records in batches, and a record put again replaces the earlier one wherever it is",
          "[context][ingest]") {
  for (const bool pipelined : {true, false}) {
    INFO("pipelined: " << pipelined);
    ContextTempDir t;
    const std::string index = t.path() + "/ctx.db";
    const std::vector<int> again = {40, 3, 7, 24'999};
    ListConnector chat = chat_export(25'000, [&](int i) {
      return std::find(again.begin(), again.end(), i) != again.end() ? "heron plover" : "heron";
    });
    auto replacement = [](int i) {
      Document d = message("chat/" + std::to_string(i), "egret");
      d.authors = {"slack:U2"};
      return d;
    };
    // chat/40 again right after it (the same batch), chat/3 two batches later, chat/7 after
    // bulk mode began (the 20,000th record), chat/24999 as the very last record.
    chat.docs.insert(chat.docs.begin() + 21'000, replacement(7));
    chat.docs.insert(chat.docs.begin() + 100, replacement(3));
    chat.docs.insert(chat.docs.begin() + 41, replacement(40));
    chat.docs.push_back(replacement(24'999));
    auto engine = open_engine(index);
    auto r = engine->ingest(chat, {.pipeline = pipelined});
    REQUIRE(r.ok());
    CHECK(r->added == 25'000);
    CHECK(r->updated == 4);
    CHECK(sql_column(index, "SELECT count(*) FROM files") == std::vector<std::string>{"25000"});
    CHECK(sql_column(index, "SELECT count(*) FROM edges") == std::vector<std::string>{"25000"});
    CHECK(sql_column(index, kEdgeIndexes) == kAllEdgeIndexes);
    CHECK(sql_column(index, "PRAGMA integrity_check") == std::vector<std::string>{"ok"});
    // One full-text row per files row, under the same id; the earlier versions' terms are gone.
    CHECK(sql_column(index, "SELECT count(*) FROM files_fts_docsize") == std::vector<std::string>{"25000"});
    CHECK(sql_column(index, "SELECT count(*) FROM files_fts_docsize WHERE id NOT IN (SELECT id FROM files)") ==
          std::vector<std::string>{"0"});
    CHECK(hits(*engine, "plover").empty());
    CHECK(hits(*engine, "egret") == std::vector<std::string>{"chat/24999", "chat/3", "chat/40", "chat/7"});
    // Each replaced record has the second version's edge only.
    CHECK(sql_column(index, "SELECT doc || ' ' || account FROM edges WHERE doc IN ('chat/3', 'chat/7', 'chat/40', 'chat/24999')"
                            " ORDER BY doc") ==
          std::vector<std::string>{"chat/24999 slack:U2", "chat/3 slack:U2", "chat/40 slack:U2", "chat/7 slack:U2"});
    CHECK(catalog_difference(*engine, index).empty());
  }
}

TEST_CASE("ingest: a batch of records the database refuses fails the ingest with its error, and none of the scan stays",
          "[context][ingest]") {
  ContextTempDir t;
  const std::string index = t.path() + "/ctx.db";
  auto engine = open_engine(index);
  ListConnector other("other");
  for (int i = 0; i < 10; ++i) other.docs.push_back(message("other/" + std::to_string(i), "ibis"));
  REQUIRE(engine->ingest(other).ok());
  // RAISE(ABORT) aborts the batch's INSERT OR IGNORE like any other statement.
  sql_column(index, "CREATE TRIGGER refuse BEFORE INSERT ON files WHEN NEW.path = 'chat/50'"
                    " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END");
  ListConnector chat = chat_export(100, [](int i) { return i == 7 ? "spoonbill" : "stork"; });
  auto failed = engine->ingest(chat);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.status().message().find("refused by the test") != std::string::npos);
  CHECK(sql_column(index, "SELECT count(*) FROM files") == std::vector<std::string>{"10"});
  CHECK(sql_column(index, "SELECT count(*) FROM edges") == std::vector<std::string>{"10"});
  CHECK(sql_column(index, "SELECT count(*) FROM files_fts_docsize") == std::vector<std::string>{"10"});
  CHECK(hits(*engine, "spoonbill").empty());
  CHECK(hits(*engine, "ibis").size() == 10);
  // Without the trigger the same scan goes in whole (no cursor was saved by the failure).
  sql_column(index, "DROP TRIGGER refuse");
  auto r = engine->ingest(chat);
  REQUIRE(r.ok());
  CHECK(r->added == 100);
  CHECK(hits(*engine, "spoonbill") == std::vector<std::string>{"chat/7"});
  CHECK(sql_column(index, "SELECT count(*) FROM files") == std::vector<std::string>{"110"});
  CHECK(sql_column(index, "SELECT count(*) FROM edges") == std::vector<std::string>{"110"});
  CHECK(catalog_difference(*engine, index).empty());
}
