// Several hubs ("nodes") on one Redis behave as one: each hub follows the shared store, so a
// subscriber on one node gets what agents on every node write, exactly once and in store
// order; Stop and steering reach a run on another node; leases and presence are shared; a
// run whose node went silent ends as agent-lost exactly once; Redis restarts and data loss
// are survived or reported. Each test starts or shares a real redis-server.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "session/redis_server.h"
#include "session/test_util.h"

using namespace strata;
using namespace strata::session;
using namespace std::chrono_literals;
using strata::test::Collector;
using strata::test::RedisServer;

namespace {

// A node: its own store connection(s) and hub on the shared Redis.
std::unique_ptr<Hub> open_node(const RedisServer& server, const std::string& prefix,
                               std::chrono::milliseconds maintenance = 0ms,
                               std::chrono::milliseconds run_lease = 30s) {
  auto store = open_redis_store(server.store_options(prefix));
  if (!store.ok()) FAIL(store.status().to_string());
  HubOptions o;
  o.store = *store;
  o.maintenance_interval = maintenance;
  o.run_lease = run_lease;
  auto hub = Hub::open(o);
  if (!hub.ok()) FAIL(hub.status().to_string());
  return std::move(*hub);
}

std::vector<Event> read_log(Hub& hub, const std::string& session) {
  std::vector<Event> out;
  Offset after = 0;
  for (;;) {
    ReadOptions r;
    r.after = after;
    r.max_events = 1000;
    auto page = hub.read(session, r);
    if (!page.ok()) FAIL(page.status().to_string());
    if (page->events.empty()) return out;
    after = page->events.back().offset;
    for (auto& e : page->events) out.push_back(std::move(e));
  }
}

// Offsets strictly increasing with no repeats, each one in the log.
void check_exactly_once(const std::vector<Event>& got, const std::vector<Event>& log) {
  std::map<Offset, std::string> by_offset;
  for (const auto& e : log) by_offset[e.offset] = e.payload;
  REQUIRE(got.size() == log.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].offset == log[i].offset);
    CHECK(got[i].payload == log[i].payload);
  }
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

}  // namespace

TEST_CASE("multinode: writers on two nodes, subscribers on both see one log exactly once",
          "[redis][multinode][hub]") {
  auto& server = test::shared_redis_server();
  const auto prefix = test::unique_redis_prefix();
  auto a = open_node(server, prefix);
  auto b = open_node(server, prefix);
  auto created = a->create("chat").value();

  Collector on_a, on_b;
  auto sub_a = a->subscribe("chat", {}, on_a.handler(), on_a.close_handler()).value();
  auto sub_b = b->subscribe("chat", {}, on_b.handler(), on_b.close_handler()).value();
  CHECK(sub_b->epoch() == created.epoch);

  // An agent streams on A while users write on B, concurrently.
  constexpr int kEach = 300;
  std::vector<std::string> errors;
  std::mutex errors_mu;
  auto writer = [&](Hub& hub, const std::string& who) {
    for (int i = 0; i < kEach; ++i) {
      auto r = hub.append("chat", test::draft("app.note", "{\"who\":\"" + who + "\",\"i\":" +
                                                              std::to_string(i) + "}"),
                          test::producer(who));
      if (!r.ok()) {
        std::lock_guard lock(errors_mu);
        errors.push_back(r.status().to_string());
      }
    }
  };
  std::thread ta([&] { writer(*a, "agent-on-a"); });
  std::thread tb([&] { writer(*b, "user-on-b"); });
  ta.join();
  tb.join();
  REQUIRE(errors.empty());

  const auto log = read_log(*a, "chat");
  REQUIRE(log.size() == 2 * kEach);
  REQUIRE(on_a.wait_for_offset(log.back().offset));
  REQUIRE(on_b.wait_for_offset(log.back().offset));
  check_exactly_once(on_a.events(), log);
  check_exactly_once(on_b.events(), log);

  // Read-your-writes on each node: an append returned means this node's snapshot has it.
  auto r = b->append("chat", test::draft("app.note", "{\"last\":true}"), test::producer("u")).value();
  CHECK(b->snapshot("chat").value().offset >= r.last_offset);
  // And the other node serves it to a reader at once (it looks at the store first).
  CHECK(a->snapshot("chat").value().offset >= r.last_offset);
}

TEST_CASE("multinode: a client drops on one node and resumes on the other with nothing lost",
          "[redis][multinode][hub]") {
  auto& server = test::shared_redis_server();
  const auto prefix = test::unique_redis_prefix();
  auto a = open_node(server, prefix);
  auto b = open_node(server, prefix);
  const auto epoch = a->create("s").value().epoch;

  std::atomic<bool> stop{false};
  std::thread agent([&] {
    auto run = a->start_run("s", {.agent = "assistant", .run_id = "r1"}).value();
    auto msg = run->begin_message().value();
    for (int i = 0; !stop && i < 5000; ++i) {
      if (!run->delta(msg, "w" + std::to_string(i) + " ").ok()) return;
      std::this_thread::sleep_for(100us);
    }
    (void)run->end_message(msg);
    (void)run->complete();
  });

  // The client follows on B for a while, then its connection drops.
  Collector first;
  auto sub = b->subscribe("s", {}, first.handler()).value();
  REQUIRE(first.wait_for_count(50));
  sub->close();
  const auto seen = first.events();
  const Offset last = seen.back().offset;

  // It resumes on A from the last offset it saw, with the epoch it was given.
  Collector second;
  auto resumed = a->resume("s", epoch, last, second.handler()).value();
  std::this_thread::sleep_for(50ms);
  stop = true;
  agent.join();
  const auto log = read_log(*b, "s");
  REQUIRE(second.wait_for_offset(log.back().offset));
  auto all = seen;
  for (const auto& e : second.events()) all.push_back(e);
  check_exactly_once(all, log);
  CHECK(log.back().type == "run.completed");

  // Resuming with an offset another node handed out but this node has not published yet
  // works too: the node catches up from the store first.
  auto more = a->append("s", test::draft("app.note"), test::producer("x")).value();
  Collector third;
  auto at_head = b->resume("s", epoch, more.last_offset, third.handler());
  REQUIRE(at_head.ok());
}

TEST_CASE("multinode: Stop and steering sent to one node reach the run on another",
          "[redis][multinode][hub][control]") {
  auto& server = test::shared_redis_server();
  const auto prefix = test::unique_redis_prefix();
  auto a = open_node(server, prefix);
  auto b = open_node(server, prefix);

  std::atomic<int> steered{0};
  RunOptions options{.agent = "assistant", .run_id = "r1"};
  options.on_steer = [&](const std::string&) { steered.fetch_add(1); };
  auto run = a->start_run("s", std::move(options)).value();
  auto msg = run->begin_message().value();
  REQUIRE(run->delta(msg, "thinking").ok());

  // B learns of the run from the store even if its follower has not delivered it yet.
  REQUIRE(b->steer("s", "r1", "\"shorter please\"", "user-1").ok());
  REQUIRE(eventually([&] { return steered.load() == 1; }));
  CHECK(run->take_steering() == std::optional<std::string>("\"shorter please\""));

  REQUIRE(b->cancel("s", "r1", {.reason = "user pressed stop", .requested_by = "user-1"}).ok());
  REQUIRE(eventually([&] { return run->cancelled(); }));
  CHECK(run->token().reason() == "user pressed stop");
  // The agent's writes after Stop are refused; nothing lands after run.cancelled.
  CHECK_FALSE(run->delta(msg, "more").ok());
  const auto log = read_log(*a, "s");
  CHECK(log.back().type == "run.cancelled");

  // Stop is not a network drop: the run ended as cancelled on both nodes.
  for (Hub* hub : {a.get(), b.get()}) {
    auto snap = hub->snapshot("s").value();
    REQUIRE(snap.runs.size() == 1);
    CHECK(snap.runs[0].state == RunState::kCancelled);
  }
  // Cancelling twice is refused on either node.
  CHECK(a->cancel("s", "r1").status().code() == StatusCode::kFailedPrecondition);
  CHECK(b->cancel("s", "r1").status().code() == StatusCode::kFailedPrecondition);
  // An unknown run is still unknown after looking at the store.
  CHECK(b->cancel("s", "nope").status().code() == StatusCode::kNotFound);
}

TEST_CASE("multinode: presence joined on one node is seen on the other",
          "[redis][multinode][hub][presence]") {
  auto& server = test::shared_redis_server();
  const auto prefix = test::unique_redis_prefix();
  auto a = open_node(server, prefix);
  auto b = open_node(server, prefix);
  REQUIRE(a->create("s").ok());
  Collector on_b;
  auto sub = b->subscribe("s", {}, on_b.handler()).value();
  REQUIRE(a->join("s", {.client_id = "tab-1", .device = "laptop"}).ok());
  REQUIRE(on_b.wait_for_type("presence.joined"));
  auto seen = b->presence("s").value();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].client_id == "tab-1");
  CHECK(seen[0].device == "laptop");
  REQUIRE(b->leave("s", "tab-1").ok());
  CHECK(a->presence("s").value().empty());
  CHECK(a->leave("s", "tab-1").code() == StatusCode::kNotFound);
}

TEST_CASE("multinode: a run whose node went silent ends as agent-lost exactly once",
          "[redis][multinode][hub][lease]") {
  auto& server = test::shared_redis_server();
  const auto prefix = test::unique_redis_prefix();
  // Both nodes run maintenance often, so both notice the expired lease.
  auto a = open_node(server, prefix, 20ms, 300ms);
  auto b = open_node(server, prefix, 20ms, 300ms);
  auto c = open_node(server, prefix, 20ms, 300ms);
  REQUIRE(b->create("s").ok());
  Collector on_b, on_c;
  auto sub_b = b->subscribe("s", {}, on_b.handler()).value();
  auto sub_c = c->subscribe("s", {}, on_c.handler()).value();

  auto run = a->start_run("s", {.agent = "assistant", .run_id = "r1"}).value();
  REQUIRE(run->delta(run->begin_message().value(), "hello").ok());
  // The agent now stalls (its node hangs): no write renews the lease.
  REQUIRE(on_b.wait_for_type("run.agent_lost", 10s));
  REQUIRE(on_c.wait_for_type("run.agent_lost", 10s));
  REQUIRE(eventually([&] { return run->cancelled() || !run->delta("m", "x").ok(); }));
  std::this_thread::sleep_for(200ms);  // several more maintenance passes on every node
  int lost = 0;
  for (const auto& e : read_log(*c, "s")) lost += e.type == "run.agent_lost" ? 1 : 0;
  CHECK(lost == 1);
  for (Hub* hub : {a.get(), b.get(), c.get()}) {
    auto snap = hub->snapshot("s").value();
    REQUIRE(snap.runs.size() == 1);
    CHECK(snap.runs[0].state == RunState::kAgentLost);
  }
}

TEST_CASE("multinode: a lease renewed on one node is not taken by another",
          "[redis][multinode][hub][lease]") {
  auto& server = test::shared_redis_server();
  const auto prefix = test::unique_redis_prefix();
  auto a = open_node(server, prefix, 20ms, 300ms);
  auto b = open_node(server, prefix, 20ms, 300ms);
  auto run = a->start_run("s", {.agent = "assistant", .run_id = "r1"}).value();
  auto msg = run->begin_message().value();
  // Writes for three lease lengths: each renews the lease; B must never call it lost.
  const auto until = std::chrono::steady_clock::now() + 900ms;
  while (std::chrono::steady_clock::now() < until) {
    REQUIRE(run->delta(msg, ".").ok());
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(run->end_message(msg).ok());
  REQUIRE(run->complete().ok());
  for (const auto& e : read_log(*b, "s")) CHECK(e.type != "run.agent_lost");
}

TEST_CASE("multinode: Redis restarted mid-stream with append-only persistence",
          "[redis][multinode][hub][restart]") {
  RedisServer server({.append_only = true, .fsync_always = true});
  auto a = open_node(server, "strata:");
  auto b = open_node(server, "strata:");
  const auto epoch = a->create("s").value().epoch;
  Collector on_b;
  auto sub = b->subscribe("s", {}, on_b.handler(), on_b.close_handler()).value();

  std::atomic<bool> stop{false};
  std::vector<Offset> acked;
  std::vector<std::string> errors;
  std::size_t unavailable = 0;
  std::thread writer([&] {
    std::uint64_t seq = 0;
    while (!stop || seq < 50) {
      AppendOptions o = test::producer("agent");
      o.producer_epoch = 1;
      o.producer_seq = seq;
      auto r = a->append("s", test::draft("t", "{\"seq\":" + std::to_string(seq) + "}"), o);
      if (r.ok()) {
        acked.push_back(r->first_offset);
        ++seq;
      } else if (r.status().code() == StatusCode::kUnavailable) {
        ++unavailable;  // the same sequence again: written once whatever happened
        std::this_thread::sleep_for(5ms);
      } else {
        errors.push_back(r.status().to_string());
        return;
      }
      if (seq > 5000) return;
    }
  });
  std::this_thread::sleep_for(150ms);
  server.kill();  // a crash mid-stream
  std::this_thread::sleep_for(200ms);
  server.start();
  std::this_thread::sleep_for(200ms);
  stop = true;
  writer.join();
  REQUIRE(errors.empty());
  CHECK(unavailable > 0);
  REQUIRE(acked.size() >= 50);

  // Nothing acknowledged was lost; the epoch is unchanged, so clients simply go on.
  const auto log = read_log(*b, "s");
  REQUIRE(log.size() == acked.size());
  for (std::size_t i = 0; i < acked.size(); ++i) CHECK(log[i].offset == acked[i]);
  CHECK(b->info("s").value().epoch == epoch);
  // The subscriber on B rode out the outage: its follower reconnected.
  REQUIRE(on_b.wait_for_offset(log.back().offset, 15s));
  check_exactly_once(on_b.events(), log);
  CHECK_FALSE(on_b.closed().has_value());
}

TEST_CASE("multinode: Redis lost its data: subscribers are told and resuming is refused",
          "[redis][multinode][hub][restart]") {
  RedisServer server;  // no persistence: a restart starts empty
  auto a = open_node(server, "strata:");
  auto b = open_node(server, "strata:");
  const auto old_epoch = a->create("s").value().epoch;
  REQUIRE(a->append("s", test::draft("t"), test::producer("p")).ok());
  Collector on_a, on_b;
  auto sub_a = a->subscribe("s", {}, on_a.handler(), on_a.close_handler()).value();
  auto sub_b = b->subscribe("s", {}, on_b.handler(), on_b.close_handler()).value();
  REQUIRE(on_b.wait_for_count(1));

  server.kill();
  server.start();
  // The next append on A recreates the session with a new epoch: A's subscriber is told.
  auto appended = [&] {
    for (int i = 0; i < 200; ++i) {
      auto r = a->append("s", test::draft("t"), test::producer("p"));
      if (r.ok()) return r.value();
      std::this_thread::sleep_for(10ms);
    }
    FAIL("no append succeeded after the restart");
    return AppendResult{};
  }();
  CHECK(appended.epoch != old_epoch);
  REQUIRE(on_a.wait_for_close());
  CHECK(on_a.closed()->code() == StatusCode::kDataLoss);
  // B finds out in its maintenance pass (nobody appends there).
  (void)b->run_maintenance();
  REQUIRE(on_b.wait_for_close());
  CHECK(on_b.closed()->code() == StatusCode::kDataLoss);
  // A client resuming with the old epoch on either node is refused with DATA_LOSS.
  for (Hub* hub : {a.get(), b.get()}) {
    auto r = hub->resume("s", old_epoch, 1, [](const Event&) {});
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kDataLoss);
  }
}

TEST_CASE("multinode: a write racing a Stop from another node never lands after run.cancelled",
          "[redis][multinode][hub][control]") {
  auto& server = test::shared_redis_server();
  const auto prefix = test::unique_redis_prefix();
  auto a = open_node(server, prefix);
  auto b = open_node(server, prefix);
  std::size_t refused_total = 0;
  for (int round = 0; round < 15; ++round) {
    const std::string session = "race-" + std::to_string(round);
    auto run = a->start_run(session, {.agent = "assistant", .run_id = "r"}).value();
    auto msg = run->begin_message().value();
    std::atomic<std::size_t> refused{0};
    std::vector<std::string> other_errors;
    std::thread agent([&] {
      for (int i = 0; i < 5000; ++i) {
        auto r = run->delta(msg, "x");
        if (r.ok()) continue;
        if (r.status().code() == StatusCode::kCancelled) {
          refused.fetch_add(1);
        } else {
          other_errors.push_back(r.status().to_string());
        }
        break;
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(2 + round % 4));
    REQUIRE(b->cancel(session, "r").ok());
    agent.join();
    CHECK(other_errors.empty());
    refused_total += refused.load();
    bool after_cancel = false;
    for (const auto& e : read_log(*b, session)) {
      if (after_cancel) CHECK(e.run_id != "r");
      if (e.type == "run.cancelled") after_cancel = true;
    }
    CHECK(after_cancel);
  }
  CHECK(refused_total > 0);
}

TEST_CASE("redis: the store refuses what a run writes after the run ended, atomically",
          "[redis][control]") {
  auto& server = test::shared_redis_server();
  auto store = open_redis_store(server.store_options(test::unique_redis_prefix())).value();
  auto ev = [](std::string type, std::string run) {
    Event e;
    e.type = std::move(type);
    e.run_id = std::move(run);
    e.message_id = e.type.starts_with("message.") ? "m" : "";
    e.payload = "{}";
    return e;
  };
  using test::append_one;
  using test::request;
  REQUIRE(append_one(*store, request("s", {ev("run.started", "r"), ev("message.delta", "r")})).status.ok());
  REQUIRE(append_one(*store, request("s", {ev("run.cancelled", "r")})).status.ok());
  auto late = append_one(*store, request("s", {ev("message.delta", "r")}));
  CHECK(late.status.code() == StatusCode::kCancelled);
  auto second_end = append_one(*store, request("s", {ev("run.completed", "r")}));
  CHECK(second_end.status.code() == StatusCode::kCancelled);
  // Other runs, and events others write about the run (feedback), go on.
  CHECK(append_one(*store, request("s", {ev("message.delta", "r2")})).status.ok());
  CHECK(append_one(*store, request("s", {ev("app.feedback", "r")})).status.ok());
  // A run that completed: kFailedPrecondition naming how it ended.
  REQUIRE(append_one(*store, request("s", {ev("run.completed", "r2")})).status.ok());
  auto after_complete = append_one(*store, request("s", {ev("message.delta", "r2")}));
  CHECK(after_complete.status.code() == StatusCode::kFailedPrecondition);
  CHECK(after_complete.status.message().find("run.completed") != std::string::npos);
  // Nothing of the refused requests was written.
  auto info = store->info("s").value();
  CHECK(info.head == 6);
}

TEST_CASE("multinode: idle sessions are evicted from a node that follows them",
          "[redis][multinode][hub]") {
  auto& server = test::shared_redis_server();
  const auto prefix = test::unique_redis_prefix();
  HubOptions o;
  o.store = open_redis_store(server.store_options(prefix)).value();
  o.maintenance_interval = 0ms;
  o.idle_session_ttl = 1ms;
  auto hub = Hub::open(o).value();
  REQUIRE(hub->append("s", test::draft("t"), test::producer("p")).ok());
  std::this_thread::sleep_for(50ms);  // the follower is now waiting on the session
  // The follower's wait does not keep the session in memory.
  REQUIRE(eventually([&] { return hub->run_maintenance().sessions_evicted == 1; }, 5s));
  // It is loaded and followed again on next use: another node's append reaches it.
  Collector seen;
  auto sub = hub->subscribe("s", {}, seen.handler()).value();
  auto other = Hub::open(HubOptions{.store = open_redis_store(server.store_options(prefix)).value(),
                                    .maintenance_interval = 0ms}).value();
  auto r = other->append("s", test::draft("t2"), test::producer("q")).value();
  REQUIRE(seen.wait_for_offset(r.last_offset));
  CHECK(seen.events().back().type == "t2");
}
