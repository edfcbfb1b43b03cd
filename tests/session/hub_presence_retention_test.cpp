// Hub: presence with leases, compaction of completed messages, ttl and size retention.
#include <catch2/catch.hpp>

#include <strata/testing/fake_clock.h>
#include <strata/testing/manual_executor.h>

#include "session/test_util.h"

using namespace strata;
using namespace strata::session;
using strata::test::Collector;
using strata::test::draft;
using strata::test::producer;

namespace {

struct Env {
  std::shared_ptr<testing::FakeClock> clock = std::make_shared<testing::FakeClock>();
  test::TempDir dir;
  std::shared_ptr<SessionStore> store;
  std::unique_ptr<Hub> hub;
  explicit Env(bool sqlite) {
    store = sqlite ? open_sqlite_store(dir.file("s.db"), {SqliteStoreOptions::Durability::kProcessCrash}).value()
                   : open_memory_store();
    reopen();
  }
  void reopen() {
    hub.reset();
    HubOptions o;
    o.store = store;
    o.clock = clock;
    o.maintenance_interval = std::chrono::milliseconds(0);
    o.presence_lease = std::chrono::seconds(30);
    hub = Hub::open(o).value();
  }
};

std::vector<std::string> types(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.type);
  return out;
}

std::vector<Event> read_all(Hub& hub, const std::string& session, Offset after = 0) {
  std::vector<Event> out;
  for (;;) {
    auto page = hub.read(session, {.after = after, .max_events = 100});
    REQUIRE(page.ok());
    if (page->events.empty()) return out;
    after = page->events.back().offset;
    out.insert(out.end(), page->events.begin(), page->events.end());
  }
}

}  // namespace

TEMPLATE_TEST_CASE("presence: join, renew, leave and expiry", "[hub][presence]", std::true_type, std::false_type) {
  Env env(TestType::value);
  REQUIRE(env.hub->join("chat", {.client_id = "laptop", .device = "laptop/firefox"}).ok());
  env.clock->advance(std::chrono::seconds(1));
  REQUIRE(env.hub->join("chat", {.client_id = "phone", .device = "phone/safari", .lease = std::chrono::seconds(10)}).ok());
  REQUIRE(env.hub->join("chat", {.client_id = "agent-1", .kind = "agent"}).ok());
  auto present = env.hub->presence("chat").value();
  REQUIRE(present.size() == 3);
  CHECK(present[1].client_id == "laptop");
  CHECK(present[1].device == "laptop/firefox");
  CHECK(present[0].kind == "agent");
  const auto since = present[1].since_ms;

  // Re-joining only renews: no second presence.joined, same `since`.
  env.clock->advance(std::chrono::seconds(5));
  REQUIRE(env.hub->join("chat", {.client_id = "laptop", .device = "laptop/firefox"}).ok());
  CHECK(env.hub->presence("chat").value()[1].since_ms == since);

  env.clock->advance(std::chrono::seconds(6));  // phone's 10 s lease has run out
  REQUIRE(env.hub->renew_presence("chat", "laptop").ok());
  CHECK(env.hub->renew_presence("chat", "phone").code() == StatusCode::kNotFound);
  auto report = env.hub->run_maintenance();
  CHECK(report.presence_expired == 1);
  CHECK(env.hub->presence("chat").value().size() == 2);
  REQUIRE(env.hub->leave("chat", "agent-1").ok());
  CHECK(env.hub->leave("chat", "agent-1").code() == StatusCode::kNotFound);
  auto snap = env.hub->snapshot("chat").value();
  REQUIRE(snap.presence.size() == 1);
  CHECK(snap.presence[0].client_id == "laptop");

  auto log = types(read_all(*env.hub, "chat"));
  CHECK(log == std::vector<std::string>{"presence.joined", "presence.joined", "presence.joined",
                                        "presence.left", "presence.left"});
  CHECK(env.hub->join("chat", {.client_id = ""}).code() == StatusCode::kInvalidArgument);
  CHECK(env.hub->presence("nope").status().code() == StatusCode::kNotFound);
}

TEMPLATE_TEST_CASE("retention: completed messages compact, snapshot and replay stay correct",
                   "[hub][retention]", std::true_type, std::false_type) {
  Env env(TestType::value);
  auto run = env.hub->start_run("chat", {.agent = "assistant"}).value();
  auto first = run->begin_message().value();
  std::string expected;
  for (int i = 0; i < 50; ++i) {
    REQUIRE(run->delta(first, "w" + std::to_string(i) + " ").ok());
    expected += "w" + std::to_string(i) + " ";
  }
  REQUIRE(run->end_message(first).ok());
  auto second = run->begin_message().value();
  REQUIRE(run->delta(second, "in progress").ok());

  // A client that saw the first few deltas before dropping.
  Collector early;
  auto early_sub = env.hub->subscribe("chat", {}, early.handler()).value();
  REQUIRE(early.wait_for_count(5));
  const Offset dropped_at = 5;
  const std::string epoch = early_sub->epoch();
  early_sub.reset();

  auto before = env.hub->snapshot("chat").value();
  auto report = env.hub->run_maintenance();
  CHECK(report.deltas_compacted == 50);
  auto after = env.hub->snapshot("chat").value();
  CHECK(after.offset == before.offset);
  REQUIRE(after.messages.size() == 2);
  CHECK(after.messages[0].text == expected);
  CHECK(after.messages[1].text == "in progress");

  // Full replay: no deltas of the completed message remain, the whole message does.
  auto log = read_all(*env.hub, "chat");
  CHECK(log.size() == 1 + 1 + 1 + 1 + 1);  // run.started, started, completed, started, delta
  for (const auto& e : log) CHECK_FALSE((e.type == "message.delta" && e.message_id == first));

  // A fresh hub over the same store folds the compacted log into the same snapshot.
  env.reopen();
  auto rebuilt = env.hub->snapshot("chat").value();
  REQUIRE(rebuilt.messages.size() == 2);
  CHECK(rebuilt.messages[0].text == expected);
  CHECK(rebuilt.messages[0].state == MessageState::kCompleted);
  CHECK(rebuilt.messages[1].text == "in progress");
  CHECK(rebuilt.offset == before.offset);

  // The early client resumes into the compacted range and gets the whole message.
  Collector resumed;
  auto sub = env.hub->resume("chat", epoch, dropped_at, resumed.handler()).value();
  REQUIRE(resumed.wait_for_offset(before.offset));
  auto got = resumed.events();
  CHECK(got.front().type == "message.completed");
  CHECK(got.front().payload.find(expected) != std::string::npos);
}

TEMPLATE_TEST_CASE("retention: size limits and ttl trim the oldest events", "[hub][retention]",
                   std::true_type, std::false_type) {
  Env env(TestType::value);
  for (int i = 0; i < 100; ++i) REQUIRE(env.hub->append("chat", draft("app.n"), producer("p")).ok());
  RetentionPolicy keep_40;
  keep_40.max_events = 40;
  REQUIRE(env.hub->set_retention("chat", keep_40).ok());
  auto report = env.hub->run_maintenance();
  CHECK(report.events_trimmed == 60);
  auto info = env.hub->info("chat").value();
  CHECK(info.event_count == 40);
  CHECK(info.trimmed_through == 60);
  CHECK(info.retention == keep_40);

  // A client behind the trim point is told, not given a gap.
  auto behind = env.hub->subscribe("chat", {.from = 10}, Collector().handler());
  CHECK(behind.status().code() == StatusCode::kDataLoss);
  CHECK(env.hub->read("chat", {.after = 10}).status().code() == StatusCode::kDataLoss);
  Collector ok;
  auto sub = env.hub->subscribe("chat", {.from = 60}, ok.handler()).value();
  REQUIRE(ok.wait_for_offset(100));
  CHECK(ok.events().size() == 40);

  SECTION("ttl") {
    RetentionPolicy ttl;
    ttl.ttl = std::chrono::minutes(10);
    REQUIRE(env.hub->set_retention("chat", ttl).ok());
    env.clock->advance(std::chrono::minutes(11));
    for (int i = 0; i < 5; ++i) REQUIRE(env.hub->append("chat", draft("app.new"), producer("p")).ok());
    CHECK(env.hub->run_maintenance().events_trimmed == 40);
    auto log = read_all(*env.hub, "chat", 100);
    CHECK(log.size() == 5);
    CHECK(env.hub->info("chat").value().trimmed_through == 100);
  }
  SECTION("bytes") {
    RetentionPolicy bytes;
    const auto one = read_all(*env.hub, "chat", 60).front().byte_size();
    bytes.max_bytes = one * 10;
    REQUIRE(env.hub->set_retention("chat", bytes).ok());
    CHECK(env.hub->run_maintenance().events_trimmed == 30);
    CHECK(env.hub->info("chat").value().bytes <= bytes.max_bytes);
  }
}

TEST_CASE("retention: the hub default applies to sessions without their own policy", "[hub][retention]") {
  auto clock = std::make_shared<testing::FakeClock>();
  HubOptions o;
  o.store = open_memory_store();
  o.clock = clock;
  o.maintenance_interval = std::chrono::milliseconds(0);
  o.default_retention.max_events = 3;
  auto hub = Hub::open(o).value();
  for (int i = 0; i < 10; ++i) REQUIRE(hub->append("chat", draft("app.n"), producer("p")).ok());
  CHECK(hub->run_maintenance().events_trimmed == 7);
}

TEST_CASE("retention: a subscriber catching up behind a trim is told, never given a gap", "[hub][retention][slow]") {
  auto executor = std::make_shared<testing::ManualExecutor>();
  HubOptions o;
  o.store = open_memory_store();
  o.executor = executor;
  o.subscriber_buffer = 4;
  o.recent_events = 4;
  o.maintenance_interval = std::chrono::milliseconds(0);
  auto hub = Hub::open(o).value();
  REQUIRE(hub->create("chat").ok());
  Collector c;
  auto sub = hub->subscribe("chat", {}, c.handler(), c.close_handler()).value();
  executor->run_all();
  for (int i = 0; i < 50; ++i) REQUIRE(hub->append("chat", draft("app.n"), producer("p")).ok());
  RetentionPolicy keep;
  keep.max_events = 10;
  REQUIRE(hub->set_retention("chat", keep).ok());
  CHECK(hub->run_maintenance().events_trimmed == 40);
  executor->run_all();
  REQUIRE(c.closed().has_value());
  CHECK(c.closed()->code() == StatusCode::kDataLoss);
  // Whatever it got before the cut is a gap-free prefix.
  auto offsets = c.offsets();
  for (std::size_t i = 0; i < offsets.size(); ++i) CHECK(offsets[i] == i + 1);
}

TEST_CASE("idle sessions leave memory and come back from the store intact", "[hub][eviction]") {
  Env env(true);
  REQUIRE(env.hub->append("idle", draft("app.n"), producer("p")).ok());
  REQUIRE(env.hub->append("busy", draft("app.n"), producer("p")).ok());
  auto run = env.hub->start_run("with-run", {.agent = "a"}).value();
  Collector c;
  auto sub = env.hub->subscribe("busy", {}, c.handler()).value();
  REQUIRE(c.wait_for_offset(1));
  auto before = env.hub->snapshot("idle").value();

  CHECK(env.hub->run_maintenance().sessions_evicted == 0);  // not idle long enough
  env.clock->advance(std::chrono::minutes(2));
  auto report = env.hub->run_maintenance();
  CHECK(report.sessions_evicted == 1);  // "busy" has a subscriber, "with-run" a running run
  REQUIRE(env.hub->append("busy", draft("app.n"), producer("p")).ok());
  REQUIRE(c.wait_for_offset(2));

  auto after = env.hub->snapshot("idle").value();
  CHECK(after.offset == before.offset);
  CHECK(after.epoch == before.epoch);
  Collector again;
  auto resub = env.hub->subscribe("idle", {.from = 0, .epoch = before.epoch}, again.handler()).value();
  REQUIRE(again.wait_for_offset(1));
  REQUIRE(env.hub->append("idle", draft("app.n"), producer("p")).ok());
  REQUIRE(again.wait_for_offset(2));
  CHECK(again.offsets() == std::vector<Offset>{1, 2});
}
