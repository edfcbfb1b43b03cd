// What only the SQLite store does: persistence across reopen, exclusive ownership, and
// refusing damaged or foreign files without making them worse.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <sqlite3.h>

#include <strata/session/hub.h>

#include "session/test_util.h"

using namespace strata;
using namespace strata::session;

namespace {

StoreAppend one(std::string session, std::string type, std::string payload = "{}") {
  StoreAppend r;
  r.session = std::move(session);
  r.producer = "p";
  Event e;
  e.type = std::move(type);
  e.producer = "p";
  e.payload = std::move(payload);
  r.events.push_back(std::move(e));
  return r;
}

void append(SessionStore& store, StoreAppend r) {
  store.append(std::span<StoreAppend>(&r, 1));
  REQUIRE(r.status.ok());
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("sqlite: events, epochs and producers survive reopening", "[sqlite]") {
  test::TempDir dir;
  const auto path = dir.file("s.db");
  std::string epoch;
  {
    auto store = open_sqlite_store(path).value();
    append(*store, one("chat", "a"));
    StoreAppend seq = one("chat", "b");
    seq.producer = "agent";
    seq.producer_seq = 0;
    store->append(std::span<StoreAppend>(&seq, 1));
    REQUIRE(seq.status.ok());
    REQUIRE(store->put_leased("chat", "lease", {"run-1", "{}", 77}).ok());
    epoch = store->info("chat").value().epoch;
  }
  auto store = open_sqlite_store(path).value();
  auto info = store->info("chat").value();
  CHECK(info.epoch == epoch);
  CHECK(info.head == 2);
  CHECK(store->read("chat", 0, 10, 1 << 20).value().events.size() == 2);
  StoreAppend retry = one("chat", "b");
  retry.producer = "agent";
  retry.producer_seq = 0;
  store->append(std::span<StoreAppend>(&retry, 1));
  CHECK(retry.status.ok());
  CHECK(retry.duplicate);
  CHECK(retry.first_offset == 2);
  CHECK(store->list_leased("chat", "lease").value().size() == 1);
}

TEST_CASE("sqlite: a second open of the same file is refused while the first lives", "[sqlite]") {
  test::TempDir dir;
  const auto path = dir.file("s.db");
  auto first = open_sqlite_store(path).value();
  auto second = open_sqlite_store(path);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == StatusCode::kUnavailable);
  first.reset();
  CHECK(open_sqlite_store(path).ok());
}

TEST_CASE("sqlite: a deleted database gives new epochs", "[sqlite]") {
  test::TempDir dir;
  const auto path = dir.file("s.db");
  std::string epoch;
  {
    auto store = open_sqlite_store(path).value();
    epoch = store->create("chat", 0).value().epoch;
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  auto store = open_sqlite_store(path).value();
  CHECK(store->info("chat").status().code() == StatusCode::kNotFound);
  CHECK(store->create("chat", 0).value().epoch != epoch);
}

TEST_CASE("sqlite: files that are not strata stores are refused and left untouched", "[sqlite][bad-input]") {
  test::TempDir dir;
  SECTION("garbage bytes") {
    const auto path = dir.file("garbage.db");
    std::string garbage(8192, '\0');
    for (std::size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>(i * 131 + 7);
    std::ofstream(path, std::ios::binary) << garbage;
    auto store = open_sqlite_store(path);
    REQUIRE_FALSE(store.ok());
    CHECK(store.status().code() == StatusCode::kDataLoss);
    CHECK(store.status().message().find(path) != std::string::npos);
    CHECK(read_file(path) == garbage);
  }
  SECTION("another application's SQLite database") {
    const auto path = dir.file("other.db");
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1);", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
    const auto before = read_file(path);
    auto store = open_sqlite_store(path);
    REQUIRE_FALSE(store.ok());
    CHECK(store.status().code() == StatusCode::kDataLoss);
    CHECK(store.status().message().find("not a strata store") != std::string::npos);
    CHECK(read_file(path) == before);
  }
}

TEST_CASE("sqlite: a truncated or corrupted store gives clear errors, never a crash", "[sqlite][bad-input]") {
  test::TempDir dir;
  const auto path = dir.file("s.db");
  {
    auto store = open_sqlite_store(path).value();
    for (int i = 0; i < 2000; ++i) {
      append(*store, one("chat-" + std::to_string(i % 7), "t",
                         "{\"text\":\"" + std::string(200, 'x') + "\"}"));
    }
  }  // closing checkpoints the WAL into the main file
  REQUIRE(std::filesystem::file_size(path) > 100000);

  SECTION("truncated to half") {
    std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
    auto store = open_sqlite_store(path);
    if (store.ok()) {
      // The header survived; reads of the lost pages must fail cleanly.
      bool saw_error = false;
      for (int s = 0; s < 7; ++s) {
        Offset after = 0;
        for (;;) {
          auto page = (*store)->read("chat-" + std::to_string(s), after, 100, 1 << 20);
          if (!page.ok()) {
            saw_error = true;
            CHECK((page.status().code() == StatusCode::kDataLoss ||
                   page.status().code() == StatusCode::kNotFound));
            break;
          }
          if (page->events.empty()) break;
          after = page->events.back().offset;
        }
      }
      CHECK(saw_error);
    } else {
      CHECK(store.status().code() == StatusCode::kDataLoss);
    }
  }
  SECTION("pages overwritten with garbage are caught by verify_on_open") {
    {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(4096 * 3);
      const std::string junk(4096 * 4, '\x5a');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    SqliteStoreOptions options;
    options.verify_on_open = true;
    auto store = open_sqlite_store(path, options);
    REQUIRE_FALSE(store.ok());
    CHECK(store.status().code() == StatusCode::kDataLoss);
  }
}

TEST_CASE("sqlite: an unwritable location is a clear error", "[sqlite][bad-input]") {
  auto store = open_sqlite_store("/nonexistent-dir/strata/s.db");
  REQUIRE_FALSE(store.ok());
  CHECK(store.status().code() == StatusCode::kUnavailable);
  CHECK(open_sqlite_store("").status().code() == StatusCode::kInvalidArgument);
}

namespace {
// Opens the store's file with plain SQLite and runs `sql` on it (damage for the tests below).
void tamper(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
  INFO((error != nullptr ? error : ""));
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}
}  // namespace

TEST_CASE("sqlite: a hub over a store with damaged rows reports it and never hangs", "[sqlite][bad-input]") {
  test::TempDir dir;
  const auto path = dir.file("s.db");
  {
    auto hub = Hub::open({.database_path = path, .maintenance_interval = std::chrono::milliseconds(0)}).value();
    for (int i = 0; i < 5; ++i) REQUIRE(hub->append("chat", test::draft("app.n"), test::producer("p")).ok());
    REQUIRE(hub->join("chat", {.client_id = "alice", .device = "laptop"}).ok());
  }
  SECTION("offsets that do not increase") {
    tamper(path, "UPDATE events SET off = 4.5 WHERE off = 5");
    auto hub = Hub::open({.database_path = path, .maintenance_interval = std::chrono::milliseconds(0)}).value();
    auto snap = hub->snapshot("chat");
    REQUIRE_FALSE(snap.ok());
    CHECK(snap.status().code() == StatusCode::kDataLoss);
    CHECK(snap.status().message().find("offset") != std::string::npos);
  }
  SECTION("a presence entry with fields of the wrong type") {
    tamper(path, "UPDATE leased SET value = '{\"device\":1,\"since_ms\":\"x\",\"lease_ms\":[]}'");
    auto hub = Hub::open({.database_path = path, .maintenance_interval = std::chrono::milliseconds(0)}).value();
    auto snap = hub->snapshot("chat");
    REQUIRE(snap.ok());
    REQUIRE(snap->presence.size() == 1);
    CHECK(snap->presence[0].device.empty());
    CHECK(snap->presence[0].since_ms == 0);
    CHECK(hub->renew_presence("chat", "alice").ok());
  }
}
