// The pipelined ingest (src/context/ingest_pipeline.h): the connector's sink calls reach the
// writer exactly once and in order, every document arrives prepared (redacted, terms),
// unchanged() answers as the index would, errors on the writer stop the scan and roll the
// ingest back, cancellation works, a pipelined ingest writes the same index as a
// single-threaded one, and the checkpoint thread copies a committed ingest into the database
// file. Catch2 is not thread-safe: the fakes record on the writer thread, the test asserts on
// the main thread after finish().
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <strata/context/engine.h>

#include "context/context_test_util.h"
#include "context/engine_impl.h"
#include "context/ingest_pipeline.h"

using namespace strata;
using namespace strata::context;
using strata::context::detail::PipelinedSink;
using strata::context::detail::PreparedDocument;
using strata::context::detail::PreparedSink;
using strata::context::detail::PipelineOptions;
using strata::test::ContextTempDir;

namespace {

// Records every call in order; answers unchanged() like an index in a first ingest: "yes"
// only for a source file put earlier with the same key.
class RecordingPreparedSink final : public PreparedSink {
 public:
  bool unchanged(std::string_view path, std::string_view hash) override {
    note("unchanged " + std::string(path));
    const auto it = std::find_if(puts.rbegin(), puts.rend(), [&](const auto& p) { return p.first == path; });
    const bool same = it != puts.rend() && it->second == hash && !removed(path, it) &&
                      file_paths.count(std::string(path)) != 0;
    if (lie_about_unchanged) return !same;
    return same;
  }
  bool unchanged_stamp(std::string_view path, const FileStamp& stamp) override {
    note("unchanged_stamp " + std::string(path));
    return stamp.size == 42;
  }
  void record_stamp(std::string_view path, const FileStamp&) override { note("record_stamp " + std::string(path)); }
  void note_read(std::string_view path) override { note("note_read " + std::string(path)); }
  Status put(Document) override { return internal_error("put() of an unprepared document"); }
  bool redacts() const override { return redact; }
  void set_progress(ProgressCallback) override {}
  Status put_prepared(const PreparedDocument& p) override {
    const Document& d = p.doc;
    note("put " + d.path);
    // The key asked about (the tests ask with content_hash), else the hash of the content as read.
    if (!redact && p.hash != content_hash(d.content)) hash_mismatch = true;
    if (p.terms.body.empty() && !d.content.empty()) unprepared = true;
    redacted += p.redacted;
    if (d.kind == DocumentKind::kFile) {
      file_paths.insert(d.path);
    } else {
      file_paths.erase(d.path);
    }
    contents.push_back(d.content);
    if (put_delay.count() > 0) std::this_thread::sleep_for(put_delay);
    const std::string hash = p.hash;
    if (fail_at > 0 && ++puts_seen == fail_at) return unavailable_error("disk full at " + d.path);
    puts.emplace_back(d.path, hash);
    if (pipe != nullptr && post_progress) {
      IngestProgress pr;
      pr.written = puts.size();
      pr.current = d.path;
      pipe->post_progress(pr);
    }
    return ok_status();
  }
  Status remove(std::string_view path) override {
    note("remove " + std::string(path));
    removals.emplace_back(path, puts.size());
    return ok_status();
  }
  void skipped(std::string_view path, SkipReason, std::string_view detail) override {
    note("skipped " + std::string(path) + " " + std::string(detail));
  }
  bool cancelled() const override { return false; }

  std::vector<std::string> calls;
  std::vector<std::pair<std::string, std::string>> puts;
  std::vector<std::pair<std::string, std::size_t>> removals;  // path, puts before it
  std::vector<std::thread::id> threads;
  std::set<std::string> file_paths;
  std::vector<std::string> contents;        // as put (redacted when `redact`)
  std::size_t redacted = 0;
  bool redact = false;
  bool unprepared = false;
  bool hash_mismatch = false;
  bool lie_about_unchanged = false;
  bool post_progress = false;
  int fail_at = 0;
  int puts_seen = 0;
  std::chrono::microseconds put_delay{0};  // a slow writer
  PipelinedSink* pipe = nullptr;

 private:
  void note(std::string call) {
    calls.push_back(std::move(call));
    if (threads.empty() || threads.back() != std::this_thread::get_id()) threads.push_back(std::this_thread::get_id());
  }
  bool removed(std::string_view path, std::vector<std::pair<std::string, std::string>>::reverse_iterator put) const {
    const std::size_t put_index = static_cast<std::size_t>(puts.rend() - put) - 1;
    for (const auto& [p, before] : removals) {
      if (p == path && before > put_index) return true;
    }
    return false;
  }
};

Document doc(const std::string& path, const std::string& content, DocumentKind kind = DocumentKind::kFile) {
  Document d;
  d.kind = kind;
  d.path = path;
  d.content = content;
  d.authors = {"slack:U1"};
  return d;
}

}  // namespace

TEST_CASE("pipeline: every call reaches the writer once, in order, on one other thread", "[context][pipeline]") {
  RecordingPreparedSink inner;
  std::vector<std::string> expected;
  std::vector<bool> answers, expected_answers;
  {
    PipelinedSink sink(inner, PipelineOptions{.batch = 7, .max_batches = 2});
    for (int i = 0; i < 5000; ++i) {
      const std::string p = "m/" + std::to_string(i % 3000);  // paths 0..1999 are put twice
      const std::string text = "text " + std::to_string(i / 3000);
      const bool same = i >= 3000 && i % 2 == 0;
      // Ask about the path as it was put before (or never): true only for an identical put.
      answers.push_back(sink.unchanged(p, content_hash(same ? "text 0" : text)));
      expected_answers.push_back(same);
      if (answers.back()) {
        expected.push_back("unchanged " + p);
        continue;
      }
      // A "no" followed by the put of that path is not passed on (the put marks it seen).
      REQUIRE(sink.put(doc(p, text)).ok());
      expected.push_back("put " + p);
      if (i % 97 == 0) {
        sink.note_read(p);
        expected.push_back("note_read " + p);
        sink.skipped(p + "#1", SkipReason::kMalformed, "bad");
        expected.push_back("skipped " + p + "#1 bad");
      }
      if (i % 1000 == 999) {
        REQUIRE(sink.remove(p).ok());
        expected.push_back("remove " + p);
        // Removed in this scan: no longer unchanged.
        answers.push_back(sink.unchanged(p, content_hash(text)));
        expected_answers.push_back(false);
        expected.push_back("unchanged " + p);
      }
    }
    REQUIRE(sink.finish().ok());
    REQUIRE(sink.finish().ok());  // idempotent
  }
  CHECK(answers == expected_answers);
  CHECK(inner.calls == expected);
  CHECK(std::count(answers.begin(), answers.end(), true) == 1000);
  CHECK_FALSE(inner.hash_mismatch);
  REQUIRE(inner.threads.size() == 1);
  CHECK(inner.threads.front() != std::this_thread::get_id());
}

TEST_CASE("pipeline: a connector ahead of a slow writer is woken once per half queue", "[context][pipeline]") {
  // 100 batches of 4 for a writer that takes 500 us a document: the connector fills the
  // queue (8 batches), then waits until it is down to 4 and hands over 4 more per wait,
  // instead of one per batch the writer takes.
  RecordingPreparedSink inner;
  inner.put_delay = std::chrono::microseconds(500);
  std::size_t waits = 0;
  {
    PipelinedSink sink(inner, PipelineOptions{.batch = 4, .max_batches = 8});
    for (int i = 0; i < 400; ++i) REQUIRE(sink.put(doc("m/" + std::to_string(i), "text")).ok());
    REQUIRE(sink.finish().ok());
    waits = sink.waits_for_room();
  }
  INFO("waits for room: " << waits);
  CHECK(inner.puts.size() == 400);
  CHECK(waits >= 10);  // the writer is the slow side: the connector did wait
  CHECK(waits <= 100 / 4 + 1);
}

TEST_CASE("pipeline: stamps, a large document, and the destructor finishing", "[context][pipeline]") {
  RecordingPreparedSink inner;
  bool stamp_unknown = true, stamp_known = false;
  {
    PipelinedSink sink(inner, PipelineOptions{.batch = 100, .batch_bytes = 1000});
    // Not put in this scan: unknown to the writer, answered without asking it.
    stamp_unknown = sink.unchanged_stamp("a.py", FileStamp{.size = 42});
    sink.record_stamp("a.py", FileStamp{.size = 42});
    REQUIRE(sink.put(doc("a.py", std::string(5000, 'x'))).ok());  // over batch_bytes: handed over at once
    sink.record_stamp("a.py", FileStamp{.size = 42});
    // Put in this scan: the writer answers (it sees the put first).
    stamp_known = sink.unchanged_stamp("a.py", FileStamp{.size = 42});
    REQUIRE(sink.put(doc("b.py", "b")).ok());
    // No finish(): the destructor hands over and joins.
  }
  CHECK_FALSE(stamp_unknown);
  CHECK(stamp_known);
  CHECK(inner.calls == std::vector<std::string>{"put a.py", "record_stamp a.py", "unchanged_stamp a.py", "put b.py"});
}

TEST_CASE("pipeline: a write error is sticky, stops the connector and drops later writes", "[context][pipeline]") {
  RecordingPreparedSink inner;
  inner.fail_at = 10;
  const std::size_t batch = 8, max_batches = 2;
  Status first_error;
  int error_at = -1;
  Status finished;
  {
    PipelinedSink sink(inner, PipelineOptions{.batch = batch, .max_batches = max_batches});
    for (int i = 0; i < 100000; ++i) {
      Status s = sink.put(doc("m/" + std::to_string(i), "x"));
      if (!s.ok()) {
        first_error = s;
        error_at = i;
        break;
      }
    }
    // remove() reports it too.
    CHECK(sink.remove("m/1").code() == StatusCode::kUnavailable);
    finished = sink.finish();
  }
  CHECK(first_error.code() == StatusCode::kUnavailable);
  CHECK(finished.code() == StatusCode::kUnavailable);
  CHECK(finished.message().find("m/9") != std::string::npos);
  // The connector can only get a bounded distance ahead of the writer.
  CHECK(error_at >= 10);
  CHECK(error_at <= static_cast<int>(10 + (max_batches + 2) * batch));
  // Nothing after the failing put was written.
  CHECK(inner.puts.size() == 9);
  CHECK(inner.calls.size() == 10);
}

TEST_CASE("pipeline: a held-back \"no\" reaches the writer unless the put of its path follows",
          "[context][pipeline]") {
  RecordingPreparedSink inner;
  {
    PipelinedSink sink(inner, PipelineOptions{.batch = 2});
    CHECK_FALSE(sink.unchanged("a", content_hash("a")));
    REQUIRE(sink.put(doc("b", "b")).ok());  // another path: "a" is passed on first
    CHECK_FALSE(sink.unchanged("c", content_hash("c")));
    REQUIRE(sink.put(doc("c", "c")).ok());  // its own put: dropped
    CHECK_FALSE(sink.unchanged("d", content_hash("d")));
    REQUIRE(sink.remove("d").ok());
    CHECK_FALSE(sink.unchanged("e", content_hash("e")));
    sink.skipped("e", SkipReason::kMalformed, "x");
    CHECK_FALSE(sink.unchanged("f", content_hash("f")));
    REQUIRE(sink.finish().ok());  // the last one too
  }
  CHECK(inner.calls == std::vector<std::string>{"unchanged a", "put b", "put c", "unchanged d", "remove d",
                                                "unchanged e", "skipped e x", "unchanged f"});
}

TEST_CASE("pipeline: only a source file put earlier in the scan is unchanged, as in the index",
          "[context][pipeline]") {
  RecordingPreparedSink inner;
  std::vector<bool> answers;
  {
    PipelinedSink sink(inner, PipelineOptions{.batch = 3});
    REQUIRE(sink.put(doc("a.py", "x = 1\n")).ok());
    REQUIRE(sink.put(doc("slack:C1/1", "hello", DocumentKind::kChatMessage)).ok());
    answers.push_back(sink.unchanged("a.py", content_hash("x = 1\n")));   // a file: yes
    answers.push_back(sink.unchanged("a.py", content_hash("x = 2\n")));   // other content: no
    REQUIRE(sink.put(doc("a.py", "x = 2\n")).ok());
    // A record is not remembered in a first ingest: asked again it is put again (and
    // replaces its first row in the index).
    answers.push_back(sink.unchanged("slack:C1/1", content_hash("hello")));
    REQUIRE(sink.put(doc("slack:C1/1", "hello", DocumentKind::kChatMessage)).ok());
    // A record put where a file was: the file is gone, so is its key.
    REQUIRE(sink.put(doc("a.py", "x = 2\n", DocumentKind::kIssue)).ok());
    answers.push_back(sink.unchanged("a.py", content_hash("x = 2\n")));
    REQUIRE(sink.finish().ok());  // the writer agreed with every answer
  }
  CHECK(answers == std::vector<bool>{true, false, false, false});
  CHECK_FALSE(inner.hash_mismatch);
}

TEST_CASE("pipeline: every document reaches the writer prepared and redacted, whichever thread prepared it",
          "[context][pipeline]") {
  RecordingPreparedSink inner;
  inner.redact = true;
  const std::string secret = "ghp_" + std::string(36, 'a');
  {
    // A small queue and many documents: the writer has batches waiting at times (this thread
    // prepares) and none at others (the writer prepares).
    PipelinedSink sink(inner, PipelineOptions{.batch = 2, .max_batches = 1});
    for (int i = 0; i < 3000; ++i) {
      const std::string text = i % 10 == 0 ? "token " + secret + " in message " + std::to_string(i)
                                           : "message " + std::to_string(i);
      REQUIRE(sink.put(doc("slack:C1/" + std::to_string(i), text, DocumentKind::kChatMessage)).ok());
    }
    REQUIRE(sink.finish().ok());
  }
  CHECK_FALSE(inner.unprepared);
  CHECK(inner.redacted == 300);
  REQUIRE(inner.contents.size() == 3000);
  for (const auto& c : inner.contents) CHECK(c.find(secret) == std::string::npos);
}

TEST_CASE("pipeline: the writer checks every unchanged() answer", "[context][pipeline]") {
  RecordingPreparedSink inner;
  inner.lie_about_unchanged = true;  // the index answers differently than predicted
  PipelinedSink sink(inner, PipelineOptions{});
  CHECK_FALSE(sink.unchanged("a", content_hash("a")));
  const Status s = sink.finish();
  CHECK(s.code() == StatusCode::kInternal);
  CHECK(s.message().find("unchanged") != std::string::npos);
}

TEST_CASE("pipeline: progress is delivered on the connector's thread", "[context][pipeline]") {
  RecordingPreparedSink inner;
  inner.post_progress = true;
  std::vector<std::thread::id> progress_threads;
  std::size_t last_written = 0;
  {
    PipelinedSink sink(inner, PipelineOptions{.batch = 4, .progress = [&](const IngestProgress& p) {
                                                progress_threads.push_back(std::this_thread::get_id());
                                                last_written = p.written;
                                              }});
    inner.pipe = &sink;
    for (int i = 0; i < 2000; ++i) REQUIRE(sink.put(doc("m/" + std::to_string(i), "x")).ok());
    REQUIRE(sink.finish().ok());  // delivers the last one posted
  }
  REQUIRE_FALSE(progress_threads.empty());
  for (const auto& id : progress_threads) CHECK(id == std::this_thread::get_id());
  CHECK(last_written == 2000);
}

// ---- through the engine ----

namespace {

// Reports a fixed list of operations; checks cancellation between documents.
class ScriptConnector final : public Connector {
 public:
  explicit ScriptConnector(std::string id) : id_(std::move(id)) {}
  std::string id() const override { return id_; }
  Result<ScanResult> scan(std::string_view, IngestSink& sink) override {
    scan_thread = std::this_thread::get_id();
    for (const auto& d : docs) {
      if (sink.cancelled()) return cancelled_error("scan cancelled");
      if (d.content == "<remove>") {
        STRATA_RETURN_IF_ERROR(sink.remove(d.path));
        continue;
      }
      if (sink.unchanged(d.path, content_hash(d.content))) continue;
      Status s = sink.put(d);
      if (!s.ok()) {
        put_errors.push_back(s);
        return s;
      }
    }
    ScanResult r;
    r.cursor = "c1";
    r.complete = complete;
    return r;
  }
  std::vector<Document> docs;
  bool complete = false;
  std::vector<Status> put_errors;
  std::thread::id scan_thread;

 private:
  std::string id_;
};

Document chat(const std::string& path, const std::string& text, const std::string& author,
              std::vector<std::string> access = {"*"}) {
  Document d;
  d.kind = DocumentKind::kChatMessage;
  d.path = path;
  d.title = "#general";
  d.content = text;
  d.authors = {author};
  d.access = std::move(access);
  d.parent = "thread/1";
  d.participants = {"reacted:slack:U9"};
  return d;
}

std::vector<Document> mixed_docs() {
  std::vector<Document> docs;
  for (int i = 0; i < 1500; ++i) {
    docs.push_back(chat("c/" + std::to_string(i), "message " + std::to_string(i) + " about otter_" + std::to_string(i % 7),
                        "slack:U" + std::to_string(i % 5), i % 3 == 0 ? std::vector<std::string>{"slack:U1"}
                                                                      : std::vector<std::string>{"*"}));
  }
  docs.push_back(chat("c/5", "message 5 about otter_5", "slack:U0"));  // same again: a record is put again
  docs.push_back(chat("c/6", "edited: token = \"abcd1234efgh5678ijkl\"", "slack:U1"));  // replaced, redacted
  docs.push_back(chat("c/7", "<remove>", ""));
  Document code;
  code.kind = DocumentKind::kFile;
  code.path = "src/otter.py";
  code.content = "def swim_otter(x):\n    return x\n\nclass Otter:\n    def dive(self):\n        pass\n";
  docs.push_back(code);
  docs.push_back(code);  // a source file seen again: unchanged
  return docs;
}

// Everything an ingest wrote, as text rows (ids left out: equal when written in the same order).
std::vector<std::string> dump(const std::string& index) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(index.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::vector<std::string> rows;
  // files_fts keeps no columns (contentless): its index, term by term, position by position.
  REQUIRE(sqlite3_exec(db, "CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, files_fts, instance)", nullptr,
                       nullptr, nullptr) == SQLITE_OK);
  for (const char* sql :
       {"SELECT 'f', source, path, hash, commit_hash, language, bytes, lines, flags, access, content FROM files ORDER BY id",
        "SELECT 't', f.path, t.col, t.offset, t.term FROM temp.terms t JOIN files f ON f.id = t.doc"
        " ORDER BY f.id, t.col, t.offset",
        "SELECT 'c', f.path, kind, name, qualified, start_line, end_line, sig_end FROM chunks c JOIN files f"
        " ON f.id = c.file_id ORDER BY c.id",
        "SELECT 'e', source, doc, relation, account, target, time, ord, access FROM edges ORDER BY rowid",
        "SELECT 'k', connector, cursor FROM cursors ORDER BY connector"}) {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const auto* text = sqlite3_column_text(st, c);
        row += text ? std::string(reinterpret_cast<const char*>(text), static_cast<std::size_t>(sqlite3_column_bytes(st, c))) : "NULL";
        row += '|';
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return rows;
}

}  // namespace

TEST_CASE("pipeline: a pipelined first ingest writes the same index as a single-threaded one", "[context][pipeline]") {
  ContextTempDir t;
  IngestReport reports[2];
  std::vector<std::string> results[2];
  for (int pipelined = 0; pipelined < 2; ++pipelined) {
    const std::string index = t.path() + "/ctx" + std::to_string(pipelined) + ".db";
    {
      auto engine = ContextEngine::open({.index_path = index});
      REQUIRE(engine.ok());
      ScriptConnector c("chat");
      c.docs = mixed_docs();
      std::size_t progress_calls = 0;
      std::vector<std::thread::id> callback_threads;
      IngestOptions opts;
      opts.pipeline = pipelined == 1;
      opts.progress_every = 100;
      opts.progress = [&](const IngestProgress&) {
        ++progress_calls;
        callback_threads.push_back(std::this_thread::get_id());
      };
      opts.cancelled = [&] {
        callback_threads.push_back(std::this_thread::get_id());
        return false;
      };
      auto r = (*engine)->ingest(c, opts);
      REQUIRE(r.ok());
      reports[pipelined] = *r;
      CHECK(progress_calls >= 2);
      CHECK(c.scan_thread == std::this_thread::get_id());
      for (const auto& id : callback_threads) CHECK(id == std::this_thread::get_id());
      Query q;
      q.text = "otter_3 swim_otter dive";
      q.principal.id = "slack:U1";
      auto hits = (*engine)->retrieve(q);
      REQUIRE(hits.ok());
      for (const auto& f : hits->files) results[pipelined].push_back(f.path + " " + std::to_string(f.score));
      REQUIRE_FALSE(results[pipelined].empty());
    }
    if (pipelined == 1) CHECK(dump(t.path() + "/ctx0.db") == dump(index));
  }
  const IngestReport &a = reports[0], &b = reports[1];
  CHECK(a.added == 1501);
  CHECK(a.added == b.added);
  CHECK(a.updated == b.updated);
  CHECK(a.updated == 2);
  CHECK(a.removed == b.removed);
  CHECK(a.removed == 1);
  CHECK(a.unchanged == b.unchanged);
  CHECK(a.unchanged == 1);
  CHECK(a.bytes == b.bytes);
  CHECK(a.chunks == b.chunks);
  CHECK(a.redacted == b.redacted);
  CHECK(a.redacted == 1);
  CHECK(results[0] == results[1]);
}

TEST_CASE("pipeline: a write error stops the scan and rolls the ingest back", "[context][pipeline]") {
  ContextTempDir t;
  const std::string index = t.path() + "/ctx.db";
  REQUIRE(ContextEngine::open({.index_path = index}).ok());  // creates the schema
  // A real SQLite error on the writer thread at the 2,000th document: a trigger that aborts
  // its insert (as a full disk or an I/O error would fail it).
  auto sql = [&](const char* statement) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(index.c_str(), &db) == SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(db, statement, nullptr, nullptr, &err);
    INFO((err ? err : ""));
    sqlite3_free(err);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
  };
  sql("CREATE TRIGGER inject_write_error BEFORE INSERT ON files WHEN NEW.path = 'c/1999'"
      " BEGIN SELECT RAISE(ABORT, 'injected write error'); END");
  {
    auto engine = ContextEngine::open({.index_path = index});
    REQUIRE(engine.ok());
    ScriptConnector c("chat");
    for (int i = 0; i < 20000; ++i) c.docs.push_back(chat("c/" + std::to_string(i), "hello " + std::to_string(i), "slack:U1"));
    IngestOptions pipelined;
    pipelined.pipeline = true;
    auto r = (*engine)->ingest(c, pipelined);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find("injected write error") != std::string::npos);
    // The connector was told (a put returned the error) and stopped before the end.
    REQUIRE(c.put_errors.size() == 1);
    CHECK(c.put_errors.front().message().find("injected write error") != std::string::npos);
    auto st = (*engine)->stats();
    REQUIRE(st.ok());
    CHECK(st->files == 0);
    CHECK(st->cursors.empty());
  }
  sql("DROP TRIGGER inject_write_error");
  // Nothing of the failed ingest is left, and the next one (pipelined again) works.
  auto engine = ContextEngine::open({.index_path = index});
  REQUIRE(engine.ok());
  ScriptConnector ok("chat");
  for (int i = 0; i < 3000; ++i) ok.docs.push_back(chat("c/" + std::to_string(i), "hello again", "slack:U1"));
  auto r2 = (*engine)->ingest(ok, {.pipeline = true});
  REQUIRE(r2.ok());
  CHECK(r2->added == 3000);
}

TEST_CASE("pipeline: cancelling a pipelined ingest commits nothing", "[context][pipeline]") {
  ContextTempDir t;
  auto engine = ContextEngine::open({.index_path = t.path() + "/ctx.db"});
  REQUIRE(engine.ok());
  ScriptConnector c("chat");
  for (int i = 0; i < 5000; ++i) c.docs.push_back(chat("c/" + std::to_string(i), "hello " + std::to_string(i), "slack:U1"));
  int checks = 0;
  IngestOptions opts;
  opts.pipeline = true;
  opts.cancelled = [&] { return ++checks > 2000; };
  auto r = (*engine)->ingest(c, opts);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kCancelled);
  auto st = (*engine)->stats();
  REQUIRE(st.ok());
  CHECK(st->files == 0);
  CHECK(st->cursors.empty());
}

TEST_CASE("pipeline: a connector that throws mid-scan leaves nothing behind", "[context][pipeline]") {
  ContextTempDir t;
  auto engine = ContextEngine::open({.index_path = t.path() + "/ctx.db"});
  REQUIRE(engine.ok());
  class Throwing final : public Connector {
   public:
    std::string id() const override { return "boom"; }
    Result<ScanResult> scan(std::string_view, IngestSink& sink) override {
      for (int i = 0; i < 1000; ++i) {
        Document d;
        d.kind = DocumentKind::kChatMessage;
        d.path = "m/" + std::to_string(i);
        d.content = "text";
        (void)sink.put(std::move(d));
      }
      throw std::runtime_error("parser exploded");
    }
  } c;
  IngestOptions opts;
  opts.pipeline = true;
  auto r = (*engine)->ingest(c, opts);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("parser exploded") != std::string::npos);
  auto st = (*engine)->stats();
  REQUIRE(st.ok());
  CHECK(st->files == 0);
}

TEST_CASE("ingest: one path is never both a commit and a file of a connector", "[context][pipeline]") {
  auto commit = [](const std::string& path) {
    Document d;
    d.kind = DocumentKind::kCommit;
    d.path = path;
    d.title = "fix";
    d.content = "fix the parser";
    d.authors = {"Dev <dev@acme.io>"};
    d.changed_paths = {"src/a.py"};
    return d;
  };
  auto file = [](const std::string& path) {
    Document d;
    d.kind = DocumentKind::kFile;
    d.path = path;
    d.content = "x = 1\n";
    return d;
  };
  for (const bool pipeline : {true, false}) {
    for (const bool file_first : {true, false}) {
      INFO("pipeline " << pipeline << ", file first " << file_first);
      ContextTempDir t;
      auto engine = ContextEngine::open({.index_path = t.path() + "/ctx.db"});
      REQUIRE(engine.ok());
      {  // in one first ingest
        ScriptConnector c("repo");
        for (int i = 0; i < 30; ++i) c.docs.push_back(chat("m/" + std::to_string(i), "hello", "slack:U1"));
        c.docs.push_back(file_first ? file("abc123") : commit("abc123"));
        c.docs.push_back(file_first ? commit("abc123") : file("abc123"));
        auto r = (*engine)->ingest(c, {.pipeline = pipeline});
        REQUIRE_FALSE(r.ok());
        CHECK(r.status().code() == StatusCode::kInvalidArgument);
        CHECK(r.status().message() ==
              std::string(file_first ? "path names a file: abc123" : "path names a commit: abc123"));
        auto st = (*engine)->stats();
        REQUIRE(st.ok());
        CHECK(st->files == 0);  // rolled back
        CHECK(st->commits == 0);
      }
      {  // in a later ingest
        ScriptConnector c("repo");
        c.docs.push_back(file_first ? file("abc123") : commit("abc123"));
        REQUIRE((*engine)->ingest(c, {.pipeline = pipeline}).ok());
        c.docs = {file_first ? commit("abc123") : file("abc123")};
        auto r = (*engine)->ingest(c, {.pipeline = pipeline});
        REQUIRE_FALSE(r.ok());
        CHECK(r.status().message() ==
              std::string(file_first ? "path names a file: abc123" : "path names a commit: abc123"));
      }
    }
  }
}

TEST_CASE("checkpoints: a committed ingest reaches the database file without the write-ahead log",
          "[context][pipeline]") {
  ContextTempDir t;
  const std::string index = t.path() + "/ctx.db";
  auto engine = ContextEngine::open({.index_path = index});
  REQUIRE(engine.ok());
  auto& impl = dynamic_cast<detail::EngineImpl&>(**engine);
  const std::size_t before = impl.checkpoints();
  ScriptConnector c("chat");
  for (int i = 0; i < 3000; ++i) c.docs.push_back(chat("c/" + std::to_string(i), "walrus " + std::to_string(i), "slack:U1"));
  auto r = (*engine)->ingest(c);
  REQUIRE(r.ok());
  REQUIRE(r->added == 3000);
  // The checkpoint runs on its own thread after the commit.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (impl.checkpoints() == before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(impl.checkpoints() > before);
  // A copy of the database file alone (no -wal) holds the whole ingest.
  const std::string copy = t.path() + "/copy.db";
  std::filesystem::copy_file(index, copy);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(copy.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT count(*) FROM files WHERE source = 'chat'", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int64(st, 0) == 3000);
  sqlite3_finalize(st);
  sqlite3_close(db);
  // The engine keeps working and stays searchable while and after checkpoints run.
  ScriptConnector more("chat2");
  more.docs.push_back(chat("d/1", "narwhal tusk", "slack:U1"));
  REQUIRE((*engine)->ingest(more).ok());
  Query q;
  q.text = "narwhal";
  q.principal.id = "slack:U1";
  auto hits = (*engine)->retrieve(q);
  REQUIRE(hits.ok());
  REQUIRE_FALSE(hits->files.empty());
  CHECK(hits->files.front().path == "d/1");
}
