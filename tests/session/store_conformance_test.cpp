// The conformance suite every SessionStore runs, unchanged. A new store adds a factory to
// the TEMPLATE_TEST_CASE lists below (the Redis store will).
#include <catch2/catch.hpp>

#include <set>

#include "session/redis_server.h"
#include "session/test_util.h"

using namespace strata;
using namespace strata::session;

namespace {

struct MemoryFactory {
  std::shared_ptr<SessionStore> open() { return open_memory_store(); }
};

struct SqliteFactory {
  test::TempDir dir;
  std::shared_ptr<SessionStore> open() {
    return open_sqlite_store(dir.file("conformance.db"),
                             {SqliteStoreOptions::Durability::kProcessCrash}).value();
  }
};

// Each instance works under its own key prefix on the process's shared redis-server.
struct RedisFactory {
  std::shared_ptr<SessionStore> open() {
    auto store = open_redis_store(test::shared_redis_server().store_options(test::unique_redis_prefix()));
    if (!store.ok()) FAIL(store.status().to_string());
    return *store;
  }
};

Event make_event(std::string type, std::string producer = "p", std::string message_id = "",
                 std::string payload = "{}") {
  Event e;
  e.type = std::move(type);
  e.producer = std::move(producer);
  e.message_id = std::move(message_id);
  e.payload = std::move(payload);
  e.timestamp_ms = 1000;
  return e;
}

using test::append_one;
using test::request;

}  // namespace

#define STORES MemoryFactory, SqliteFactory, RedisFactory

TEMPLATE_TEST_CASE("store: create gives a session with a fresh epoch", "[store]", STORES) {
  TestType factory;
  auto store = factory.open();
  auto a = store->create("s1", 5).value();
  CHECK(a.id == "s1");
  CHECK(a.head == 0);
  CHECK(a.epoch.size() == 32);
  CHECK(a.created_ms == 5);
  auto again = store->create("s1", 9).value();
  CHECK(again.epoch == a.epoch);  // create is idempotent
  auto b = store->create("s2", 5).value();
  CHECK(b.epoch != a.epoch);
  CHECK(store->info("nope").status().code() == StatusCode::kNotFound);
  CHECK(store->read("nope", 0, 10, 1 << 20).status().code() == StatusCode::kNotFound);
  CHECK(store->list_sessions().value() == std::vector<std::string>{"s1", "s2"});
}

TEMPLATE_TEST_CASE("store: offsets are consecutive per session and never reused", "[store]", STORES) {
  TestType factory;
  auto store = factory.open();
  std::vector<StoreAppend> batch;
  batch.push_back(request("a", {make_event("x"), make_event("y")}));
  batch.push_back(request("b", {make_event("x")}));
  batch.push_back(request("a", {make_event("z")}));
  store->append(batch);
  for (auto& r : batch) REQUIRE(r.status.ok());
  CHECK(batch[0].first_offset == 1);
  CHECK(batch[0].last_offset == 2);
  CHECK(batch[0].events[1].offset == 2);
  CHECK(batch[1].first_offset == 1);
  CHECK(batch[2].first_offset == 3);
  auto page = store->read("a", 0, 100, 1 << 20).value();
  REQUIRE(page.events.size() == 3);
  CHECK(page.events[0].type == "x");
  CHECK(page.events[2].type == "z");
  CHECK(page.events[2].offset == 3);
  CHECK(page.events[0].timestamp_ms == 1000);
  CHECK(page.head == 3);
  auto info = store->info("a").value();
  CHECK(info.event_count == 3);
  CHECK(info.bytes == page.events[0].byte_size() * 2 + page.events[2].byte_size());
  // After trimming everything, new offsets continue from the head.
  CHECK(store->trim("a", 3).value() == 3);
  auto r = append_one(*store, request("a", {make_event("w")}));
  CHECK(r.first_offset == 4);
}

TEMPLATE_TEST_CASE("store: reads page by count and bytes", "[store]", STORES) {
  TestType factory;
  auto store = factory.open();
  std::vector<Event> events;
  for (int i = 0; i < 50; ++i) events.push_back(make_event("t", "p", "", "{\"i\":" + std::to_string(i) + "}"));
  REQUIRE(append_one(*store, request("s", events)).status.ok());
  auto page = store->read("s", 10, 5, 1 << 20).value();
  REQUIRE(page.events.size() == 5);
  CHECK(page.events.front().offset == 11);
  CHECK(page.events.back().payload == "{\"i\":14}");
  auto small = store->read("s", 0, 100, 1).value();
  CHECK(small.events.size() == 1);  // at least one event even past max_bytes
  auto tail = store->read("s", 50, 100, 1 << 20).value();
  CHECK(tail.events.empty());
  CHECK(tail.head == 50);
}

TEMPLATE_TEST_CASE("store: idempotent producers and fencing", "[store][idempotency]", STORES) {
  TestType factory;
  auto store = factory.open();
  auto first = append_one(*store, request("s", {make_event("a"), make_event("b")}, "agent", 1, 0));
  REQUIRE(first.status.ok());
  CHECK_FALSE(first.duplicate);
  auto second = append_one(*store, request("s", {make_event("c")}, "agent", 1, 1));
  REQUIRE(second.status.ok());
  CHECK(second.first_offset == 3);

  SECTION("a retry of the last sequence returns its offsets and writes nothing") {
    auto retry = append_one(*store, request("s", {make_event("c")}, "agent", 1, 1));
    REQUIRE(retry.status.ok());
    CHECK(retry.duplicate);
    CHECK(retry.first_offset == 3);
    CHECK(retry.last_offset == 3);
    CHECK(store->info("s").value().head == 3);
  }
  SECTION("a retry of an older sequence returns its offsets") {
    auto retry = append_one(*store, request("s", {make_event("a"), make_event("b")}, "agent", 1, 0));
    REQUIRE(retry.status.ok());
    CHECK(retry.duplicate);
    CHECK(retry.first_offset == 1);
    CHECK(retry.last_offset == 2);
    CHECK(store->info("s").value().head == 3);
  }
  SECTION("a sequence gap is refused") {
    auto gap = append_one(*store, request("s", {make_event("x")}, "agent", 1, 5));
    CHECK(gap.status.code() == StatusCode::kFailedPrecondition);
    CHECK(gap.status.message().find("sequence gap") != std::string::npos);
    CHECK(store->info("s").value().head == 3);
  }
  SECTION("a new epoch fences the old one and restarts at 0") {
    auto bad_start = append_one(*store, request("s", {make_event("x")}, "agent", 2, 7));
    CHECK(bad_start.status.code() == StatusCode::kFailedPrecondition);
    auto fresh = append_one(*store, request("s", {make_event("x")}, "agent", 2, 0));
    REQUIRE(fresh.status.ok());
    CHECK(fresh.first_offset == 4);
    auto zombie = append_one(*store, request("s", {make_event("z")}, "agent", 1, 2));
    CHECK(zombie.status.code() == StatusCode::kFailedPrecondition);
    CHECK(zombie.status.message().find("fenced") != std::string::npos);
    auto zombie_unsequenced = append_one(*store, request("s", {make_event("z")}, "agent", 1));
    CHECK(zombie_unsequenced.status.code() == StatusCode::kFailedPrecondition);
    CHECK(store->info("s").value().head == 4);
  }
  SECTION("producers are independent of each other and per session") {
    auto other = append_one(*store, request("s", {make_event("x")}, "other", 0, 0));
    CHECK(other.status.ok());
    auto elsewhere = append_one(*store, request("t", {make_event("x")}, "agent", 0, 0));
    CHECK(elsewhere.status.ok());
  }
  SECTION("a retried sequence whose events retention removed is reported") {
    REQUIRE(store->trim("s", 3).ok());
    auto retry = append_one(*store, request("s", {make_event("a")}, "agent", 1, 0));
    CHECK(retry.status.code() == StatusCode::kAlreadyExists);
  }
}

TEMPLATE_TEST_CASE("store: a failing request in a group leaves the others alone", "[store]", STORES) {
  TestType factory;
  auto store = factory.open();
  REQUIRE(append_one(*store, request("s", {make_event("a")}, "agent", 3, 0)).status.ok());
  std::vector<StoreAppend> batch;
  batch.push_back(request("s", {make_event("ok1")}));
  batch.push_back(request("s", {make_event("zombie")}, "agent", 1, 0));
  batch.push_back(request("s", {}));
  batch.push_back(request("s", {make_event("ok2")}, "agent", 3, 1));
  store->append(batch);
  CHECK(batch[0].status.ok());
  CHECK(batch[1].status.code() == StatusCode::kFailedPrecondition);
  CHECK(batch[2].status.code() == StatusCode::kInvalidArgument);
  CHECK(batch[3].status.ok());
  CHECK(batch[0].first_offset == 2);
  CHECK(batch[3].first_offset == 3);
  auto page = store->read("s", 0, 10, 1 << 20).value();
  REQUIRE(page.events.size() == 3);
  CHECK(page.events[2].type == "ok2");
}

TEMPLATE_TEST_CASE("store: compaction removes only deltas of the given messages", "[store]", STORES) {
  TestType factory;
  auto store = factory.open();
  std::vector<Event> events = {
      make_event("message.started", "p", "m1"), make_event("message.delta", "p", "m1"),
      make_event("message.delta", "p", "m2"),   make_event("message.delta", "p", "m1"),
      make_event("message.completed", "p", "m1"), make_event("app.note", "p", "m1")};
  REQUIRE(append_one(*store, request("s", events)).status.ok());
  const std::vector<MessageSpan> spans = {{"m1", 1, 5}};
  CHECK(store->compact_messages("s", spans).value() == 2);
  auto page = store->read("s", 0, 100, 1 << 20).value();
  std::vector<Offset> offsets;
  for (auto& e : page.events) offsets.push_back(e.offset);
  CHECK(offsets == std::vector<Offset>{1, 3, 5, 6});
  auto info = store->info("s").value();
  CHECK(info.event_count == 4);
  CHECK(info.head == 6);
  CHECK(info.trimmed_through == 0);  // compaction is not retention
  std::uint64_t bytes = 0;
  for (auto& e : page.events) bytes += e.byte_size();
  CHECK(info.bytes == bytes);
  CHECK(store->compact_messages("s", spans).value() == 0);
  // Deltas outside the given span are not touched.
  REQUIRE(append_one(*store, request("s", {make_event("message.delta", "p", "m3"),
                                           make_event("message.delta", "p", "m3")})).status.ok());
  const std::vector<MessageSpan> narrow = {{"m3", 8, 9}};
  CHECK(store->compact_messages("s", narrow).value() == 1);
  CHECK(store->info("s").value().event_count == 5);
}

TEMPLATE_TEST_CASE("store: trim removes a prefix and records it", "[store]", STORES) {
  TestType factory;
  auto store = factory.open();
  std::vector<Event> events(10, make_event("t"));
  REQUIRE(append_one(*store, request("s", events)).status.ok());
  CHECK(store->trim("s", 4).value() == 4);
  auto page = store->read("s", 0, 100, 1 << 20).value();
  CHECK(page.trimmed_through == 4);
  REQUIRE(page.events.size() == 6);
  CHECK(page.events.front().offset == 5);
  CHECK(store->info("s").value().event_count == 6);
  CHECK(store->trim("s", 2).value() == 0);  // never moves back
  CHECK(store->info("s").value().trimmed_through == 4);
  CHECK(store->trim("s", 1000).value() == 6);  // clamped to the head
  CHECK(store->info("s").value().trimmed_through == 10);
}

TEMPLATE_TEST_CASE("store: remove deletes everything, recreating gives a new epoch", "[store]", STORES) {
  TestType factory;
  auto store = factory.open();
  auto r = append_one(*store, request("s", {make_event("a")}, "agent", 0, 0));
  REQUIRE(r.status.ok());
  const auto old_epoch = r.epoch;
  REQUIRE(store->put_leased("s", "presence", {"c1", "{}", 99}).ok());
  REQUIRE(store->remove("s").ok());
  CHECK(store->remove("s").code() == StatusCode::kNotFound);
  CHECK(store->info("s").status().code() == StatusCode::kNotFound);
  auto again = append_one(*store, request("s", {make_event("b")}, "agent", 0, 0));
  REQUIRE(again.status.ok());  // producer state went with the session
  CHECK(again.first_offset == 1);
  CHECK(again.epoch != old_epoch);
  CHECK(store->list_leased("s", "presence").value().empty());
}

TEMPLATE_TEST_CASE("store: leased entries", "[store]", STORES) {
  TestType factory;
  auto store = factory.open();
  CHECK(store->put_leased("s", "presence", {"c1", "{}", 1}).code() == StatusCode::kNotFound);
  REQUIRE(store->create("s", 0).ok());
  REQUIRE(store->put_leased("s", "presence", {"c2", "{\"d\":2}", 200}).ok());
  REQUIRE(store->put_leased("s", "presence", {"c1", "{\"d\":1}", 100}).ok());
  REQUIRE(store->put_leased("s", "lease", {"r1", "{}", 300}).ok());
  REQUIRE(store->put_leased("s", "presence", {"c1", "{\"d\":3}", 150}).ok());  // replace
  auto presence = store->list_leased("s", "presence").value();
  REQUIRE(presence.size() == 2);
  CHECK(presence[0] == LeasedEntry{"c1", "{\"d\":3}", 150});
  CHECK(presence[1] == LeasedEntry{"c2", "{\"d\":2}", 200});
  CHECK(store->list_leased("s", "lease").value().size() == 1);
  CHECK(store->remove_leased("s", "presence", "c1").value());
  CHECK_FALSE(store->remove_leased("s", "presence", "c1").value());
  CHECK(store->list_leased("s", "presence").value().size() == 1);
}

TEMPLATE_TEST_CASE("store: retention policy persists", "[store]", STORES) {
  TestType factory;
  auto store = factory.open();
  REQUIRE(store->create("s", 0).ok());
  RetentionPolicy p;
  p.ttl = std::chrono::hours(1);
  p.max_events = 10;
  p.max_bytes = 1000;
  p.compact_completed_messages = false;
  REQUIRE(store->set_retention("s", p).ok());
  CHECK(store->info("s").value().retention == p);
  CHECK(store->set_retention("none", p).code() == StatusCode::kNotFound);
}

TEMPLATE_TEST_CASE("store: events round-trip every field", "[store]", STORES) {
  TestType factory;
  auto store = factory.open();
  Event e = make_event("message.delta", "agent/sub", "m-1", "{\"text\":\"h\\u00e9llo \xf0\x9f\x98\x80\"}");
  e.run_id = "run-1";
  e.parent_run_id = "run-0";
  e.timestamp_ms = 1767225600123;
  REQUIRE(append_one(*store, request("s", {e}, "agent/sub")).status.ok());
  auto got = store->read("s", 0, 1, 1 << 20).value().events.at(0);
  e.offset = 1;
  CHECK(got == e);
}
