// fuzz_context_index — ContextEngine::open on an index file holding arbitrary bytes (a damaged,
// foreign or hostile context index), then the paths that interpret stored rows.
//
// Each input is written to /tmp/strata_fuzz_ctx_<pid>.db (no -wal/-shm next to it). When the
// engine opens (the file passed the format, version and quick_check checks; a version 1 index
// has had its full-text table rebuilt from its rows), the fuzzer retrieves and packs for a
// task, then ingests a complete scan of two documents: the index's other documents of that
// connector are deleted, which re-derives their terms from their stored rows (the
// contentless full-text table's delete), and one path is replaced.
//
// Checks: every call returns a Status (no crash, no exception escaping the library, no
// sanitizer report, no hang). Contents of a hostile file are not checked for sense.
//
// Seeds (corpus/context_index/): small indexes written by this program, so they always have
// the current schema. Regenerate with
//   STRATA_FUZZ_MAKE_SEEDS=tests/fuzz/corpus/context_index build/asan/tests/fuzz/strata_fuzz_context_index
// which writes a version 2 index, the same as version 1 wrote it, and exits.
#include <sqlite3.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <strata/context/engine.h>
#include <strata/context/packet.h>

namespace {

using namespace strata;
using namespace strata::context;

std::string g_path;

void remove_files(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::remove((path + suffix).c_str());
}

class TwoDocs final : public Connector {
 public:
  std::string id() const override { return "docs"; }
  Result<ScanResult> scan(std::string_view, IngestSink& sink) override {
    Document code;
    code.path = "src/walrus.py";
    code.content = "def feed_walrus(n):\n    return n\n";
    code.access = {"*"};
    STRATA_RETURN_IF_ERROR(sink.put(code));
    Document chat;
    chat.kind = DocumentKind::kChatMessage;
    chat.path = "slack:C1/1.0";
    chat.content = "the walrus deploy failed";
    chat.access = {"*"};
    STRATA_RETURN_IF_ERROR(sink.put(chat));
    ScanResult r;
    r.complete = true;
    return r;
  }
};

void exercise(const std::string& path) {
  auto engine = ContextEngine::open({.index_path = path});
  if (!engine.ok()) return;
  (void)(*engine)->retrieve({.text = "walrus deploy feed_walrus"});
  (void)(*engine)->pack({.text = "walrus deploy"}, PackOptions{.budget = 500});
  TwoDocs docs;
  (void)(*engine)->ingest(docs);
  (void)(*engine)->retrieve({.text = "walrus"});
}

bool write_file(const std::uint8_t* data, std::size_t size) {
  remove_files(g_path);
  std::FILE* f = std::fopen(g_path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}

bool sql(const std::string& path, const char* statements) {
  sqlite3* db = nullptr;
  bool ok = sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
            sqlite3_exec(db, statements, nullptr, nullptr, nullptr) == SQLITE_OK;
  sqlite3_close(db);
  return ok;
}

// Writes the seeds into `dir` (see the header comment).
int make_seeds(const std::string& dir) {
  const std::string v2 = dir + "/index_v2.db", v1 = dir + "/index_v1.db";
  remove_files(v2);
  {
    auto engine = ContextEngine::open({.index_path = v2});
    if (!engine.ok()) return 1;
    TwoDocs docs;
    if (!(*engine)->ingest(docs).ok()) return 1;
  }
  // Small pages: the seeds stay a few kilobytes (an index is created with 16 KiB pages).
  const char* shrink = "PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM;";
  if (!sql(v2, shrink)) return 1;
  remove_files(v1);
  if (!sql(v2, ("VACUUM INTO '" + v1 + "'").c_str())) return 1;
  // What version 1 wrote: files_fts keeping its term streams (filled with the text itself:
  // a seed, not an exact index).
  if (!sql(v1,
           "DROP TABLE files_vocab; DROP TABLE files_fts;"
           " CREATE VIRTUAL TABLE files_fts USING fts5(path, symbols, body,"
           "   tokenize=\"unicode61 remove_diacritics 0 tokenchars '_'\");"
           " CREATE VIRTUAL TABLE files_vocab USING fts5vocab(files_fts, 'row');"
           " INSERT INTO files_fts(rowid, path, symbols, body) SELECT id, path, '', content FROM files;"
           " UPDATE meta SET value = '1' WHERE key = 'version'; VACUUM;")) {
    return 1;
  }
  std::printf("seeds written: %s %s\n", v2.c_str(), v1.c_str());
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("STRATA_FUZZ_MAKE_SEEDS")) std::exit(make_seeds(dir));
  g_path = "/tmp/strata_fuzz_ctx_" + std::to_string(::getpid()) + ".db";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (write_file(data, size)) exercise(g_path);
  remove_files(g_path);
  return 0;
}
