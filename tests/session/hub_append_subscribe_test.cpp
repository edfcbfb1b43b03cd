// Hub: append, subscribe, resume, epochs, snapshots of plain logs, slow subscribers and bad
// input, on every store.
#include <catch2/catch.hpp>

#include <atomic>

#include <strata/testing/fake_clock.h>
#include <strata/testing/manual_executor.h>

#include "session/test_util.h"

using namespace strata;
using namespace strata::session;
using strata::test::Collector;
using strata::test::draft;
using strata::test::producer;

namespace {

struct MemoryHub {
  std::shared_ptr<SessionStore> store = open_memory_store();
};
struct SqliteHub {
  test::TempDir dir;
  std::shared_ptr<SessionStore> store =
      open_sqlite_store(dir.file("hub.db"), {SqliteStoreOptions::Durability::kProcessCrash}).value();
};

HubOptions options_for(std::shared_ptr<SessionStore> store) {
  HubOptions o;
  o.store = std::move(store);
  o.maintenance_interval = std::chrono::milliseconds(0);
  return o;
}

}  // namespace

#define HUB_STORES MemoryHub, SqliteHub

TEMPLATE_TEST_CASE("hub: subscribers get history then live events, in order, once", "[hub]", HUB_STORES) {
  TestType env;
  auto hub = Hub::open(options_for(env.store)).value();
  for (int i = 0; i < 10; ++i) {
    auto r = hub->append("chat", draft("app.n", "{\"i\":" + std::to_string(i) + "}"), producer("agent"));
    REQUIRE(r.ok());
    CHECK(r->first_offset == static_cast<Offset>(i + 1));
  }
  Collector from_start, from_middle;
  auto a = hub->subscribe("chat", {}, from_start.handler()).value();
  auto b = hub->subscribe("chat", {.from = 6}, from_middle.handler()).value();
  for (int i = 10; i < 20; ++i) REQUIRE(hub->append("chat", draft("app.n"), producer("agent")).ok());
  REQUIRE(from_start.wait_for_offset(20));
  REQUIRE(from_middle.wait_for_offset(20));
  std::vector<Offset> all(20), tail(14);
  std::iota(all.begin(), all.end(), 1);
  std::iota(tail.begin(), tail.end(), 7);
  CHECK(from_start.offsets() == all);
  CHECK(from_middle.offsets() == tail);
  auto first = from_start.events().front();
  CHECK(first.type == "app.n");
  CHECK(first.producer == "agent");
  CHECK(first.payload == "{\"i\":0}");
  CHECK(a->last_delivered() == 20);
  CHECK(a->epoch() == hub->info("chat").value().epoch);
}

TEMPLATE_TEST_CASE("hub: resume from the last offset seen, with the epoch", "[hub][resume]", HUB_STORES) {
  TestType env;
  auto hub = Hub::open(options_for(env.store)).value();
  for (int i = 0; i < 5; ++i) REQUIRE(hub->append("chat", draft("app.n"), producer("agent")).ok());
  Collector first;
  auto sub = hub->subscribe("chat", {}, first.handler()).value();
  REQUIRE(first.wait_for_offset(5));
  sub->close();  // the client drops
  const Offset last_seen = sub->last_delivered();
  const std::string epoch = sub->epoch();
  CHECK(last_seen == 5);
  for (int i = 0; i < 5; ++i) REQUIRE(hub->append("chat", draft("app.n"), producer("agent")).ok());
  Collector second;
  auto resumed = hub->resume("chat", epoch, last_seen, second.handler()).value();
  REQUIRE(second.wait_for_offset(10));
  CHECK(second.offsets() == std::vector<Offset>{6, 7, 8, 9, 10});

  SECTION("an offset beyond the head is refused") {
    auto r = hub->subscribe("chat", {.from = 11}, Collector().handler());
    CHECK(r.status().code() == StatusCode::kOutOfRange);
  }
  SECTION("a reset session is signalled explicitly") {
    resumed.reset();
    REQUIRE(hub->remove("chat").ok());
    REQUIRE(hub->append("chat", draft("app.n"), producer("agent")).ok());
    auto r = hub->resume("chat", epoch, last_seen, Collector().handler());
    CHECK(r.status().code() == StatusCode::kDataLoss);
    CHECK(r.status().message().find("epoch changed") != std::string::npos);
  }
}

TEST_CASE("hub: a new store behind the same session id is a new epoch", "[hub][resume]") {
  test::TempDir dir;
  std::string epoch;
  {
    auto hub = Hub::open({.database_path = dir.file("a.db"), .maintenance_interval = std::chrono::milliseconds(0)}).value();
    epoch = hub->append("chat", draft("app.n"), producer("p")).value().epoch;
  }
  std::filesystem::remove(dir.file("a.db"));
  auto hub = Hub::open({.database_path = dir.file("a.db"), .maintenance_interval = std::chrono::milliseconds(0)}).value();
  REQUIRE(hub->append("chat", draft("app.n"), producer("p")).ok());
  auto r = hub->resume("chat", epoch, 1, Collector().handler());
  CHECK(r.status().code() == StatusCode::kDataLoss);
}

TEMPLATE_TEST_CASE("hub: bad input is refused clearly and changes nothing", "[hub][bad-input]", HUB_STORES) {
  TestType env;
  auto options = options_for(env.store);
  options.max_event_bytes = 4096;
  auto hub = Hub::open(options).value();
  REQUIRE(hub->append("chat", draft("app.n"), producer("p")).ok());
  auto expect = [&](Result<AppendResult> r, StatusCode code, std::string_view words) {
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == code);
    INFO(r.status().to_string());
    CHECK(r.status().message().find(words) != std::string::npos);
  };
  expect(hub->append("bad id", draft("app.n"), producer("p")), StatusCode::kInvalidArgument, "session id");
  expect(hub->append("", draft("app.n"), producer("p")), StatusCode::kInvalidArgument, "session id");
  expect(hub->append("chat", draft("app.n"), producer("")), StatusCode::kInvalidArgument, "producer");
  expect(hub->append("chat", draft("Bad"), producer("p")), StatusCode::kInvalidArgument, "event type");
  expect(hub->append("chat", draft("app.n", "{\"a\":"), producer("p")), StatusCode::kInvalidArgument, "JSON");
  expect(hub->append("chat", draft("app.n", "not json"), producer("p")), StatusCode::kInvalidArgument, "JSON");
  expect(hub->append("chat", draft("app.n", "{\"t\":\"" + std::string(5000, 'x') + "\"}"), producer("p")),
         StatusCode::kInvalidArgument, "exceeds the limit");
  expect(hub->append("chat", draft("message.delta", "{}"), producer("p")), StatusCode::kInvalidArgument, "message id");
  expect(hub->append("chat", draft("run.started"), producer("p")), StatusCode::kInvalidArgument, "run id");
  expect(hub->append("chat", draft("strata.x"), producer("p")), StatusCode::kInvalidArgument, "reserved");
  expect(hub->append_batch("chat", {}, producer("p")), StatusCode::kInvalidArgument, "no events");
  // A batch with one bad event writes none of it.
  std::vector<EventDraft> batch = {draft("app.ok"), draft("app.bad", "{")};
  expect(hub->append_batch("chat", batch, producer("p")), StatusCode::kInvalidArgument, "event 1");
  CHECK(hub->info("chat").value().head == 1);

  CHECK(hub->subscribe("missing", {}, Collector().handler()).status().code() == StatusCode::kNotFound);
  CHECK(hub->subscribe("chat", {}, nullptr).status().code() == StatusCode::kInvalidArgument);
  CHECK(hub->snapshot("missing").status().code() == StatusCode::kNotFound);
  CHECK(hub->read("chat", {.after = 9}).status().code() == StatusCode::kOutOfRange);
  CHECK(hub->read("../x", {}).status().code() == StatusCode::kInvalidArgument);
  CHECK(hub->info("missing").status().code() == StatusCode::kNotFound);
  CHECK(hub->remove("missing").code() == StatusCode::kNotFound);
}

TEMPLATE_TEST_CASE("hub: batches are atomic and idempotent through the hub", "[hub][idempotency]", HUB_STORES) {
  TestType env;
  auto hub = Hub::open(options_for(env.store)).value();
  AppendOptions o = producer("agent");
  o.producer_epoch = 1;
  o.producer_seq = 0;
  std::vector<EventDraft> batch = {draft("app.a"), draft("app.b"), draft("app.c")};
  auto first = hub->append_batch("chat", batch, o).value();
  CHECK(first.first_offset == 1);
  CHECK(first.last_offset == 3);
  Collector c;
  auto sub = hub->subscribe("chat", {}, c.handler()).value();
  auto retry = hub->append_batch("chat", batch, o).value();
  CHECK(retry.duplicate);
  CHECK(retry.first_offset == 1);
  CHECK(retry.last_offset == 3);
  o.producer_seq = 1;
  REQUIRE(hub->append("chat", draft("app.d"), o).ok());
  REQUIRE(c.wait_for_offset(4));
  CHECK(c.offsets() == std::vector<Offset>{1, 2, 3, 4});  // the retry delivered nothing
  o.producer_epoch = 0;
  CHECK(hub->append("chat", draft("app.z"), o).status().code() == StatusCode::kFailedPrecondition);
}

TEMPLATE_TEST_CASE("hub: async appends complete on the executor", "[hub]", HUB_STORES) {
  TestType env;
  auto hub = Hub::open(options_for(env.store)).value();
  std::mutex mu;
  std::vector<Offset> done;
  std::vector<StatusCode> errors;
  for (int i = 0; i < 200; ++i) {
    hub->append_async("chat", {draft("app.n")}, producer("p"), [&](Result<AppendResult> r) {
      std::lock_guard lock(mu);
      if (r.ok()) done.push_back(r->first_offset); else errors.push_back(r.status().code());
    });
  }
  hub->append_async("chat", {draft("Bad")}, producer("p"), [&](Result<AppendResult> r) {
    std::lock_guard lock(mu);
    errors.push_back(r.status().code());
  });
  hub->flush();
  REQUIRE(test::eventually([&] { std::lock_guard lock(mu); return done.size() == 200 && errors.size() == 1; }));
  std::sort(done.begin(), done.end());
  for (int i = 0; i < 200; ++i) CHECK(done[i] == static_cast<Offset>(i + 1));
  CHECK(errors == std::vector<StatusCode>{StatusCode::kInvalidArgument});
}

TEST_CASE("hub: a slow subscriber is bounded, falls back to the store, and loses nothing", "[hub][slow]") {
  auto executor = std::make_shared<testing::ManualExecutor>();
  HubOptions options = options_for(open_memory_store());
  options.executor = executor;
  options.subscriber_buffer = 8;
  options.recent_events = 16;
  auto hub = Hub::open(options).value();
  REQUIRE(hub->create("chat").ok());
  std::vector<Offset> seen;
  auto sub = hub->subscribe("chat", {}, [&](const Event& e) { seen.push_back(e.offset); }).value();
  executor->run_all();  // subscriber is live and idle
  for (int i = 0; i < 500; ++i) REQUIRE(hub->append("chat", draft("app.n"), producer("p")).ok());
  // Nothing has run: the subscriber buffered at most its buffer, and appends never waited.
  CHECK(seen.empty());
  CHECK(sub->catch_up_count() == 1);
  executor->run_all();
  REQUIRE(seen.size() == 500);
  for (std::size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == i + 1);
  // Live again: a new event arrives through the buffer.
  REQUIRE(hub->append("chat", draft("app.n"), producer("p")).ok());
  executor->run_all();
  CHECK(seen.back() == 501);
  CHECK(sub->catch_up_count() == 1);
}

TEST_CASE("hub: closing from inside the handler stops delivery at once", "[hub]") {
  auto hub = Hub::open(options_for(open_memory_store())).value();
  for (int i = 0; i < 50; ++i) REQUIRE(hub->append("chat", draft("app.n"), producer("p")).ok());
  std::atomic<int> calls{0};
  std::unique_ptr<Subscription> sub;
  std::mutex mu;
  std::unique_lock hold(mu);  // the handler waits until `sub` is assigned
  sub = hub->subscribe("chat", {}, [&](const Event&) {
          std::lock_guard lock(mu);
          if (++calls == 3) sub->close();
        }).value();
  hold.unlock();
  REQUIRE(test::eventually([&] { return calls.load() >= 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(calls == 3);
}

TEST_CASE("hub: a handler that throws closes only its own subscription", "[hub][bad-input]") {
  auto hub = Hub::open(options_for(open_memory_store())).value();
  REQUIRE(hub->create("chat").ok());
  Collector thrower_close, healthy;
  auto bad = hub->subscribe("chat", {}, [](const Event&) { throw std::runtime_error("boom"); },
                            thrower_close.close_handler()).value();
  auto good = hub->subscribe("chat", {}, healthy.handler()).value();
  for (int i = 0; i < 3; ++i) REQUIRE(hub->append("chat", draft("app.n"), producer("p")).ok());
  REQUIRE(thrower_close.wait_for_close());
  CHECK(thrower_close.closed()->code() == StatusCode::kInternal);
  CHECK(thrower_close.closed()->message().find("boom") != std::string::npos);
  REQUIRE(healthy.wait_for_offset(3));
}

TEST_CASE("hub: removing a session closes its subscribers with NOT_FOUND", "[hub]") {
  auto hub = Hub::open(options_for(open_memory_store())).value();
  REQUIRE(hub->create("chat").ok());
  Collector c;
  auto sub = hub->subscribe("chat", {}, c.handler(), c.close_handler()).value();
  REQUIRE(hub->remove("chat").ok());
  REQUIRE(c.wait_for_close());
  CHECK(c.closed()->code() == StatusCode::kNotFound);
}

TEST_CASE("hub: destroying the hub closes subscriptions with CANCELLED", "[hub]") {
  Collector c;
  std::unique_ptr<Subscription> sub;
  {
    auto hub = Hub::open(options_for(open_memory_store())).value();
    REQUIRE(hub->create("chat").ok());
    sub = hub->subscribe("chat", {}, c.handler(), c.close_handler()).value();
  }
  REQUIRE(c.closed().has_value());
  CHECK(c.closed()->code() == StatusCode::kCancelled);
  sub->close();  // still safe after the hub is gone
}

TEST_CASE("hub: options are checked", "[hub][bad-input]") {
  CHECK(Hub::open({}).status().code() == StatusCode::kInvalidArgument);
  HubOptions o = options_for(open_memory_store());
  o.max_commit_group = 0;
  CHECK(Hub::open(o).status().code() == StatusCode::kInvalidArgument);
}
