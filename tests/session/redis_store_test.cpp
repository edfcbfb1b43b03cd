// The Redis store beyond the conformance suite: several stores ("nodes") on one Redis,
// following with wait_for_events, Redis restarts and crashes, hostile data, oversized events,
// and a Hub on top. Every test starts or shares a real redis-server (session/redis_server.h).
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include <strata/testing/fake_clock.h>

#include "session/redis_server.h"
#include "session/test_util.h"

using namespace strata;
using namespace strata::session;
using strata::test::Collector;
using strata::test::RedisServer;

namespace {

std::shared_ptr<SessionStore> open_store(const RedisServer& server, const std::string& prefix) {
  auto store = open_redis_store(server.store_options(prefix));
  if (!store.ok()) FAIL(store.status().to_string());
  return *store;
}

Event event(std::string type, std::string payload = "{}") {
  Event e;
  e.type = std::move(type);
  e.payload = std::move(payload);
  e.timestamp_ms = 7;
  return e;
}

using test::append_one;
using test::request;

std::vector<Event> read_all(SessionStore& store, const std::string& session) {
  auto page = store.read(session, 0, 1u << 30, std::size_t{1} << 40);
  if (!page.ok()) FAIL(page.status().to_string());
  return page->events;
}

}  // namespace

TEST_CASE("redis: an unreachable Redis at open is a clear kUnavailable naming the address",
          "[redis][bad-input]") {
  test::TempDir dir;
  RedisStoreOptions by_socket;
  by_socket.unix_socket = dir.file("nobody-listens.sock");
  auto a = open_redis_store(by_socket);
  REQUIRE_FALSE(a.ok());
  CHECK(a.status().code() == StatusCode::kUnavailable);
  CHECK(a.status().message().find("unix:" + by_socket.unix_socket) != std::string::npos);

  // A port nobody listens on: the one a stopped server used.
  int port = 0;
  {
    RedisServer server;
    port = server.port();
  }
  RedisStoreOptions by_port;
  by_port.host = "127.0.0.1";
  by_port.port = port;
  auto b = open_redis_store(by_port);
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().code() == StatusCode::kUnavailable);
  CHECK(b.status().message().find("127.0.0.1:" + std::to_string(port)) != std::string::npos);

  RedisStoreOptions bad_prefix;
  bad_prefix.key_prefix = "x{y}";
  CHECK(open_redis_store(bad_prefix).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("redis: TCP, password and database options", "[redis]") {
  RedisServer server({.config = {"requirepass s3cret"}});
  RedisStoreOptions o;
  o.host = "127.0.0.1";
  o.port = server.port();
  o.database = 3;
  auto refused = open_redis_store(o);
  CHECK(refused.status().code() == StatusCode::kUnauthenticated);
  o.password = "wrong";
  CHECK(open_redis_store(o).status().code() == StatusCode::kUnauthenticated);
  o.password = "s3cret";
  auto store = open_redis_store(o);
  REQUIRE(store.ok());
  REQUIRE(append_one(**store, request("s", {event("a")})).status.ok());
  CHECK(server.command({"AUTH", "s3cret"}) == "OK");  // a fresh connection each time, so:
  CHECK(server.command({"DBSIZE"}).starts_with("ERR"));  // (unauthenticated) nothing leaks
}

TEST_CASE("redis: two nodes append concurrently to one session", "[redis][multinode]") {
  auto& server = test::shared_redis_server();
  const std::string prefix = test::unique_redis_prefix();
  const bool cluster = GENERATE(false, true);
  INFO("cluster mode: " << cluster);
  auto options = server.store_options(prefix);
  options.cluster = cluster;
  auto node_a = open_redis_store(options).value();
  auto node_b = open_redis_store(options).value();
  constexpr int kThreads = 4;
  constexpr int kAppends = 150;
  struct Ack {
    std::string producer;
    std::uint64_t seq;
    Offset first, last;
  };
  std::vector<std::vector<Ack>> acks(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string producer = "agent-" + std::to_string(t);
      SessionStore* nodes[2] = {node_a.get(), node_b.get()};
      for (int i = 0; i < kAppends; ++i) {
        const auto seq = static_cast<std::uint64_t>(i);
        std::vector<Event> events;
        for (int k = 0; k < 1 + i % 3; ++k) {
          events.push_back(event("t", "{\"p\":\"" + producer + "\",\"s\":" + std::to_string(i) + "}"));
        }
        // Alternate nodes; every fifth append is retried on the other node.
        auto first = append_one(*nodes[(t + i) % 2], request("shared", events, producer, 1, seq));
        if (!first.status.ok() || first.duplicate) {
          errors[t] = "append " + std::to_string(i) + ": " + first.status.to_string();
          return;
        }
        if (i % 5 == 0) {
          auto retry = append_one(*nodes[(t + i + 1) % 2], request("shared", events, producer, 1, seq));
          if (!retry.status.ok() || !retry.duplicate || retry.first_offset != first.first_offset ||
              retry.last_offset != first.last_offset) {
            errors[t] = "retry " + std::to_string(i) + " was not a duplicate with the same offsets";
            return;
          }
        }
        acks[t].push_back({producer, seq, first.first_offset, first.last_offset});
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) CHECK(e.empty());

  auto events = read_all(*node_b, "shared");
  std::size_t expected = 0;
  for (int i = 0; i < kAppends; ++i) expected += 1 + i % 3;
  REQUIRE(events.size() == expected * kThreads);
  for (std::size_t i = 0; i < events.size(); ++i) {
    REQUIRE(events[i].offset == i + 1);  // consecutive, no duplicate, no gap
  }
  // Each acknowledged append is exactly its events, in its producer's sequence order.
  for (const auto& per_thread : acks) {
    Offset previous = 0;
    for (const auto& ack : per_thread) {
      CHECK(ack.first > previous);
      previous = ack.last;
      for (Offset o = ack.first; o <= ack.last; ++o) {
        const auto& e = events[o - 1];
        CHECK(e.producer == ack.producer);
        CHECK(e.payload.find("\"s\":" + std::to_string(ack.seq) + "}") != std::string::npos);
      }
    }
  }
  auto info = node_a->info("shared").value();
  CHECK(info.head == events.size());
  CHECK(info.event_count == events.size());
}

TEST_CASE("redis: fencing and idempotency across nodes", "[redis][multinode][idempotency]") {
  auto& server = test::shared_redis_server();
  const std::string prefix = test::unique_redis_prefix();
  auto node_a = open_store(server, prefix);
  auto node_b = open_store(server, prefix);
  REQUIRE(append_one(*node_a, request("s", {event("a")}, "agent", 1, 0)).status.ok());
  REQUIRE(append_one(*node_a, request("s", {event("b")}, "agent", 1, 1)).status.ok());
  // The agent moves to node B with a new producer epoch: the zombie on A is fenced.
  auto moved = append_one(*node_b, request("s", {event("c")}, "agent", 2, 0));
  REQUIRE(moved.status.ok());
  CHECK(moved.first_offset == 3);
  auto zombie = append_one(*node_a, request("s", {event("z")}, "agent", 1, 2));
  CHECK(zombie.status.code() == StatusCode::kFailedPrecondition);
  CHECK(zombie.status.message().find("fenced") != std::string::npos);
  // An older sequence retried on the other node finds its offsets.
  auto older = append_one(*node_b, request("s", {event("c")}, "agent", 2, 0));
  CHECK(older.duplicate);
  CHECK(older.first_offset == 3);
  auto gap = append_one(*node_a, request("s", {event("x")}, "agent", 2, 5));
  CHECK(gap.status.message().find("sequence gap") != std::string::npos);
  CHECK(node_a->info("s").value().head == 3);
  // Producer epochs and sequences beyond 2^53 are compared exactly.
  const std::uint64_t big = (std::uint64_t{1} << 60) + 1;
  REQUIRE(append_one(*node_a, request("s", {event("x")}, "big", big, 0)).status.ok());
  CHECK(append_one(*node_b, request("s", {event("y")}, "big", big - 1, 0)).status.code() ==
        StatusCode::kFailedPrecondition);
  REQUIRE(append_one(*node_b, request("s", {event("y")}, "big", big, 1)).status.ok());
  CHECK(append_one(*node_a, request("s", {event("y")}, "big", big, 1)).duplicate);
}

TEST_CASE("redis: a session removed on one node is gone on the other", "[redis][multinode]") {
  auto& server = test::shared_redis_server();
  const std::string prefix = test::unique_redis_prefix();
  auto node_a = open_store(server, prefix);
  auto node_b = open_store(server, prefix);
  auto first = append_one(*node_a, request("s", {event("a")}));
  REQUIRE(first.status.ok());
  REQUIRE(node_b->create("t", 3).ok());
  CHECK(node_a->list_sessions().value() == std::vector<std::string>{"s", "t"});
  REQUIRE(node_b->remove("s").ok());
  CHECK(node_a->info("s").status().code() == StatusCode::kNotFound);
  CHECK(node_a->list_sessions().value() == std::vector<std::string>{"t"});
  // Node A still believes "s" is indexed; recreating it there indexes it again.
  auto again = append_one(*node_a, request("s", {event("b")}));
  REQUIRE(again.status.ok());
  CHECK(again.epoch != first.epoch);
  CHECK(again.first_offset == 1);
  CHECK(node_b->list_sessions().value() == std::vector<std::string>{"s", "t"});
}

TEST_CASE("redis: wait_for_events follows another node's appends, interrupt_wait",
          "[redis][multinode][follow]") {
  auto& server = test::shared_redis_server();
  const std::string prefix = test::unique_redis_prefix();
  auto writer = open_store(server, prefix);
  auto follower = open_store(server, prefix);
  CHECK(follower->shared());
  REQUIRE(append_one(*writer, request("s1", {event("a"), event("b")})).status.ok());
  REQUIRE(writer->create("s2", 0).ok());

  SECTION("events already there come back at once, up to max_events per session") {
    std::vector<TailCursor> cursors = {{"s1", 0}, {"s2", 0}, {"ghost", 0}};
    auto got = follower->wait_for_events(cursors, std::chrono::seconds(5), 1).value();
    REQUIRE(got.size() == 1);
    CHECK(got[0].session == "s1");
    REQUIRE(got[0].events.size() == 1);
    CHECK(got[0].events[0].offset == 1);
  }
  SECTION("a blocked wait wakes on the other node's append") {
    std::vector<TailCursor> cursors = {{"s1", 2}, {"s2", 0}};
    Result<std::vector<TailBatch>> got = std::vector<TailBatch>{};
    std::thread waiter([&] { got = follower->wait_for_events(cursors, std::chrono::seconds(10), 100); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(append_one(*writer, request("s2", {event("c")})).status.ok());
    waiter.join();
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    REQUIRE(got.ok());
    REQUIRE(got->size() == 1);
    CHECK(got->at(0).session == "s2");
    CHECK(got->at(0).events.at(0).type == "c");
    CHECK(got->at(0).events.at(0).offset == 1);
  }
  SECTION("interrupt_wait ends a blocked wait early, and a pending one ends the next") {
    std::vector<TailCursor> cursors = {{"s1", 2}};
    Result<std::vector<TailBatch>> got = std::vector<TailBatch>{};
    const auto start = std::chrono::steady_clock::now();
    std::thread waiter([&] { got = follower->wait_for_events(cursors, std::chrono::seconds(30), 100); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    follower->interrupt_wait();
    waiter.join();
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
    REQUIRE(got.ok());
    CHECK(got->empty());

    follower->interrupt_wait();
    const auto again = std::chrono::steady_clock::now();
    auto next = follower->wait_for_events(cursors, std::chrono::seconds(30), 100);
    REQUIRE(next.ok());
    CHECK(next->empty());
    CHECK(std::chrono::steady_clock::now() - again < std::chrono::seconds(5));
    // Nothing pending: a wait with nothing new times out.
    auto idle = follower->wait_for_events(cursors, std::chrono::milliseconds(50), 100);
    REQUIRE(idle.ok());
    CHECK(idle->empty());
  }
  SECTION("interrupts racing with waits never leave a wait stuck") {
    std::vector<TailCursor> cursors = {{"s1", 2}};
    std::atomic<bool> done{false};
    int returned = 0;
    std::thread waiter([&] {
      for (int i = 0; i < 50; ++i) {
        auto r = follower->wait_for_events(cursors, std::chrono::seconds(20), 10);
        if (r.ok()) ++returned;
      }
      done = true;
    });
    const auto start = std::chrono::steady_clock::now();
    while (!done && std::chrono::steady_clock::now() - start < std::chrono::seconds(60)) {
      follower->interrupt_wait();
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    waiter.join();
    CHECK(returned == 50);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(30));
  }
}

TEST_CASE("redis: restarted with appendfsync always, no acknowledged append is lost",
          "[redis][restart]") {
  RedisServer server({.append_only = true, .fsync_always = true});
  auto store = open_store(server, "strata:");
  std::atomic<bool> stop{false};
  std::vector<std::pair<std::uint64_t, Offset>> acked;  // (seq, first offset)
  std::vector<std::string> errors;
  std::size_t unavailable = 0;
  std::thread writer([&] {
    std::uint64_t seq = 0;
    while (!stop || seq < 50) {
      auto r = append_one(*store, request("s", {event("t", "{\"seq\":" + std::to_string(seq) + "}")},
                                          "agent", 1, seq));
      if (r.status.ok()) {
        acked.emplace_back(seq, r.first_offset);
        ++seq;
      } else if (r.status.code() == StatusCode::kUnavailable) {
        ++unavailable;  // retry the same sequence: written once whatever happened
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      } else {
        errors.push_back(r.status.to_string());
        return;
      }
      if (seq > 5000) return;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  server.kill();  // a crash, mid-stream
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  server.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  stop = true;
  writer.join();
  CHECK(errors.empty());
  CHECK(unavailable > 0);  // the outage was seen
  REQUIRE(acked.size() >= 50);

  auto events = read_all(*store, "s");
  REQUIRE(events.size() == acked.size());
  for (std::size_t i = 0; i < acked.size(); ++i) {
    CHECK(acked[i].first == i);
    CHECK(acked[i].second == i + 1);
    CHECK(events[i].offset == i + 1);
    CHECK(events[i].payload == "{\"seq\":" + std::to_string(i) + "}");
  }
}

TEST_CASE("redis: restarted without persistence, a session gets a new epoch", "[redis][restart]") {
  RedisServer server;
  auto store = open_store(server, "strata:");
  auto before = append_one(*store, request("s", {event("a"), event("b")}));
  REQUIRE(before.status.ok());
  server.kill();
  auto down = append_one(*store, request("s", {event("c")}));
  CHECK(down.status.code() == StatusCode::kUnavailable);
  CHECK(down.status.message().find("unix:" + server.socket_path()) != std::string::npos);
  CHECK(store->info("s").status().code() == StatusCode::kUnavailable);
  server.start();
  // The store reconnects; Redis lost everything, so the session is new with a new epoch.
  CHECK(store->info("s").status().code() == StatusCode::kNotFound);
  auto after = append_one(*store, request("s", {event("d")}));
  REQUIRE(after.status.ok());
  CHECK(after.epoch != before.epoch);
  CHECK(after.first_offset == 1);
  CHECK(store->list_sessions().value() == std::vector<std::string>{"s"});

  // A hub on this store refuses to resume with the old epoch.
  HubOptions o;
  o.store = store;
  o.maintenance_interval = std::chrono::milliseconds(0);
  auto hub = Hub::open(o).value();
  Collector c;
  auto resumed = hub->resume("s", before.epoch, 2, c.handler(), c.close_handler());
  CHECK(resumed.status().code() == StatusCode::kDataLoss);
}

TEST_CASE("redis: killed under load, appends fail cleanly and nothing is half-written",
          "[redis][restart][fault]") {
  RedisServer server({.append_only = true, .fsync_always = true});
  auto store = open_store(server, "strata:");
  constexpr int kPerRequest = 8;
  std::atomic<bool> killed{false};
  std::vector<int> ok_requests;
  std::vector<std::string> bad_errors;
  std::size_t failed = 0;
  std::thread writer([&] {
    int next = 0;
    for (;;) {
      // A group of 4 requests, 8 events each, without sequences.
      std::vector<StoreAppend> group;
      for (int g = 0; g < 4; ++g, ++next) {
        std::vector<Event> events;
        for (int k = 0; k < kPerRequest; ++k) {
          events.push_back(event("t", "{\"req\":" + std::to_string(next) + ",\"k\":" +
                                          std::to_string(k) + ",\"pad\":\"" + std::string(200, 'x') + "\"}"));
        }
        group.push_back(request("s", std::move(events)));
      }
      store->append(group);
      bool any_failed = false;
      for (std::size_t g = 0; g < group.size(); ++g) {
        if (group[g].status.ok()) {
          ok_requests.push_back(next - 4 + static_cast<int>(g));
        } else {
          any_failed = true;
          ++failed;
          if (group[g].status.code() != StatusCode::kUnavailable) {
            bad_errors.push_back(group[g].status.to_string());
          }
        }
      }
      if (any_failed && killed) return;
      if (next > 200000) return;
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server.kill();
  killed = true;
  writer.join();
  CHECK(bad_errors.empty());
  CHECK(failed > 0);
  server.start();

  auto events = read_all(*store, "s");
  std::map<int, int> per_request;
  for (std::size_t i = 0; i < events.size(); ++i) {
    REQUIRE(events[i].offset == i + 1);
    const auto& p = events[i].payload;
    const int req = std::stoi(p.substr(p.find(':') + 1));
    ++per_request[req];
  }
  for (auto [req, n] : per_request) CHECK(n == kPerRequest);  // all or nothing
  for (int req : ok_requests) CHECK(per_request.count(req) == 1);  // acknowledged: kept
  auto info = store->info("s").value();
  CHECK(info.head == events.size());
  CHECK(info.event_count == events.size());
  std::uint64_t bytes = 0;
  for (const auto& e : events) bytes += e.byte_size();
  CHECK(info.bytes == bytes);
}

TEST_CASE("redis: oversized events are refused whole, others in the group go on",
          "[redis][bad-input]") {
  RedisServer server({.config = {"proto-max-bulk-len 1mb"}});
  auto options = server.store_options("strata:");
  options.max_request_bytes = 4u << 20;
  auto store = open_redis_store(options).value();
  std::vector<StoreAppend> group;
  group.push_back(request("s", {event("ok", "{\"a\":1}")}));
  group.push_back(request("s", {event("x", "\"" + std::string(2u << 20, 'b') + "\"")}));
  std::vector<Event> many;
  for (int i = 0; i < 5; ++i) many.push_back(event("y", "\"" + std::string(900u << 10, 'c') + "\""));
  group.push_back(request("s", many));  // each fits a bulk, together past max_request_bytes
  group.push_back(request("s", {event("ok", "{\"a\":2}")}));
  store->append(group);
  CHECK(group[0].status.ok());
  CHECK(group[1].status.code() == StatusCode::kInvalidArgument);
  CHECK(group[1].status.message().find("proto-max-bulk-len") != std::string::npos);
  CHECK(group[2].status.code() == StatusCode::kInvalidArgument);
  CHECK(group[2].status.message().find("max_request_bytes") != std::string::npos);
  CHECK(group[3].status.ok());
  CHECK(group[3].first_offset == 2);
  auto events = read_all(*store, "s");
  REQUIRE(events.size() == 2);
  CHECK(events[1].payload == "{\"a\":2}");
  // The connection survived: nothing half-sent.
  CHECK(append_one(*store, request("s", {event("z")})).first_offset == 3);
}

TEST_CASE("redis: foreign or corrupted data is kDataLoss, never a crash", "[redis][bad-input]") {
  auto& server = test::shared_redis_server();
  const std::string prefix = test::unique_redis_prefix();
  auto store = open_store(server, prefix);
  auto key = [&](const std::string& session, const std::string& part) {
    return prefix + "{" + session + "}:" + part;
  };
  REQUIRE(append_one(*store, request("ok", {event("a")}, "agent", 0, 0)).status.ok());

  SECTION("metadata of another format") {
    server.command({"HSET", key("ok", "meta"), "format", "9"});
    CHECK(store->info("ok").status().code() == StatusCode::kDataLoss);
    CHECK(store->read("ok", 0, 10, 1 << 20).status().code() == StatusCode::kDataLoss);
    CHECK(append_one(*store, request("ok", {event("b")})).status.code() == StatusCode::kDataLoss);
  }
  SECTION("metadata that is not a hash") {
    server.command({"DEL", key("w", "meta")});
    server.command({"SET", key("w", "meta"), "hello"});
    CHECK(store->info("w").status().code() == StatusCode::kDataLoss);
    CHECK(append_one(*store, request("w", {event("b")})).status.code() == StatusCode::kDataLoss);
    CHECK(store->create("w", 0).status().code() == StatusCode::kDataLoss);
  }
  SECTION("a log without metadata is not taken over") {
    server.command({"XADD", key("orphan", "log"), "5-0", "x", "y"});
    CHECK(append_one(*store, request("orphan", {event("b")})).status.code() == StatusCode::kDataLoss);
    CHECK(server.command({"XLEN", key("orphan", "log")}) == "1");  // untouched
  }
  SECTION("foreign entries in the log") {
    server.command({"XADD", key("ok", "log"), "1-5", "t", "a"});
    CHECK(store->read("ok", 0, 10, 1 << 20).status().code() == StatusCode::kDataLoss);
    // ... and a log that runs past the head is never appended to.
    server.command({"XADD", key("ok", "log"), "9-0", "t", "a"});
    CHECK(append_one(*store, request("ok", {event("b")})).status.code() == StatusCode::kDataLoss);
  }
  SECTION("entries with bad fields") {
    server.command({"HSET", key("ok", "meta"), "head", "2"});
    server.command({"XADD", key("ok", "log"), "2-0", "t", "a", "p", "x", "d", "{}", "ts", "soon", "e", "0"});
    CHECK(store->read("ok", 0, 10, 1 << 20).status().code() == StatusCode::kDataLoss);
    CHECK(store->read("ok", 1, 10, 1 << 20).status().code() == StatusCode::kDataLoss);
    std::vector<TailCursor> cursors = {{"ok", 0}};
    CHECK(store->wait_for_events(cursors, std::chrono::milliseconds(10), 10).status().code() ==
          StatusCode::kDataLoss);
  }
  SECTION("damaged producer state") {
    server.command({"HSET", key("ok", "producers"), "agent", "garbage"});
    auto r = append_one(*store, request("ok", {event("b")}, "agent", 0, 1));
    CHECK(r.status.code() == StatusCode::kDataLoss);
    CHECK(append_one(*store, request("ok", {event("b")}, "other", 0, 0)).status.ok());
  }
  SECTION("a damaged session does not affect the other sessions of a group") {
    const bool cluster = GENERATE(false, true);
    auto options = server.store_options(prefix);
    options.cluster = cluster;
    auto other = open_redis_store(options).value();
    server.command({"HSET", key("ok", "meta"), "format", "9"});
    std::vector<StoreAppend> group;
    group.push_back(request("fine1", {event("a")}));
    group.push_back(request("ok", {event("b")}));
    group.push_back(request("fine2", {event("c")}, "agent", 0, 0));
    group.push_back(request("ok", {event("d")}));
    group.push_back(request("fine1", {event("e")}));
    other->append(group);
    CHECK(group[0].status.ok());
    CHECK(group[1].status.code() == StatusCode::kDataLoss);
    CHECK(group[2].status.ok());
    CHECK(group[3].status.code() == StatusCode::kDataLoss);
    CHECK(group[4].status.ok());
    CHECK(group[4].first_offset == 2);
    CHECK(server.command({"HGET", key("ok", "meta"), "head"}) == "1");
    CHECK(server.command({"XLEN", key("ok", "log")}) == "1");
  }
  SECTION("damaged leased entries and retention") {
    server.command({"HSET", key("ok", "leased:presence"), "c1", "no-expiry"});
    CHECK(store->list_leased("ok", "presence").status().code() == StatusCode::kDataLoss);
    server.command({"HSET", key("ok", "meta"), "retention", "1,2"});
    CHECK(store->info("ok").status().code() == StatusCode::kDataLoss);
  }
  SECTION("a hub on damaged data reports it") {
    server.command({"HSET", key("ok", "meta"), "head", "2"});
    server.command({"XADD", key("ok", "log"), "2-0", "garbage", "1"});
    HubOptions o;
    o.store = store;
    o.maintenance_interval = std::chrono::milliseconds(0);
    auto hub = Hub::open(o).value();
    CHECK(hub->snapshot("ok").status().code() == StatusCode::kDataLoss);
  }
}

TEST_CASE("redis: the scripts come back after Redis forgot them", "[redis]") {
  auto& server = test::shared_redis_server();
  auto store = open_store(server, test::unique_redis_prefix());
  REQUIRE(append_one(*store, request("s", {event("a")})).status.ok());
  REQUIRE(server.command({"SCRIPT", "FLUSH"}) == "OK");
  std::vector<StoreAppend> group;
  group.push_back(request("s", {event("b")}));
  group.push_back(request("t", {event("c")}));
  store->append(group);
  CHECK(group[0].status.ok());
  CHECK(group[0].first_offset == 2);
  CHECK(group[1].status.ok());
  REQUIRE(server.command({"SCRIPT", "FLUSH"}) == "OK");
  CHECK(store->read("s", 0, 10, 1 << 20).value().events.size() == 2);
  auto none = store->read("s", 0, 0, 1 << 20).value();  // no events wanted: still the head
  CHECK(none.events.empty());
  CHECK(none.head == 2);
  CHECK(store->read("nope", 0, 0, 1 << 20).status().code() == StatusCode::kNotFound);
  REQUIRE(server.command({"SCRIPT", "FLUSH"}) == "OK");
  CHECK(store->trim("s", 1).value() == 1);
}

TEST_CASE("redis: retention keeps counts and bytes right across trims and compaction",
          "[redis][retention]") {
  auto& server = test::shared_redis_server();
  auto store = open_store(server, test::unique_redis_prefix());
  // More events than one trim step and one compaction page.
  std::vector<Event> events;
  for (int i = 0; i < 9000; ++i) {
    Event e = event(i % 2 == 0 ? "message.delta" : "app.note", "{\"i\":" + std::to_string(i) + "}");
    e.message_id = "m";
    events.push_back(e);
  }
  REQUIRE(append_one(*store, request("s", events)).status.ok());
  const std::vector<MessageSpan> spans = {{"m", 1, 6000}};
  CHECK(store->compact_messages("s", spans).value() == 3000);
  CHECK(store->trim("s", 8000).value() == 8000 - 3000);
  auto left = read_all(*store, "s");
  REQUIRE(left.size() == 1000);
  CHECK(left.front().offset == 8001);
  auto info = store->info("s").value();
  CHECK(info.event_count == 1000);
  CHECK(info.trimmed_through == 8000);
  std::uint64_t bytes = 0;
  for (const auto& e : left) bytes += e.byte_size();
  CHECK(info.bytes == bytes);
}

TEST_CASE("redis: a hub runs its basic flows on the Redis store", "[redis][hub]") {
  auto& server = test::shared_redis_server();
  auto store = open_store(server, test::unique_redis_prefix());
  auto clock = std::make_shared<testing::FakeClock>();
  HubOptions o;
  o.store = store;
  o.clock = clock;
  o.maintenance_interval = std::chrono::milliseconds(0);
  auto hub = Hub::open(o).value();

  auto created = hub->create("chat").value();
  Collector live;
  auto sub = hub->subscribe("chat", {}, live.handler(), live.close_handler()).value();
  auto first = hub->append("chat", test::draft("app.note", "{\"n\":1}"), test::producer("client-1")).value();
  CHECK(first.first_offset == 1);
  CHECK(first.epoch == created.epoch);

  auto run = hub->start_run("chat", {.agent = "assistant", .run_id = "r1"}).value();
  auto msg = run->begin_message().value();
  REQUIRE(run->delta(msg, "Hel").ok());
  REQUIRE(run->delta(msg, "lo").ok());
  REQUIRE(run->end_message(msg).ok());
  REQUIRE(run->complete().ok());
  REQUIRE(live.wait_for_type("run.completed"));
  auto offsets = live.offsets();
  for (std::size_t i = 0; i < offsets.size(); ++i) CHECK(offsets[i] == i + 1);

  auto snap = hub->snapshot("chat").value();
  REQUIRE(snap.messages.size() == 1);
  CHECK(snap.messages[0].text == "Hello");

  // Cancel and steer on a second run.
  auto run2 = hub->start_run("chat", {.agent = "assistant", .run_id = "r2"}).value();
  REQUIRE(hub->steer("chat", "r2", "{\"q\":\"more\"}", "client-1").ok());
  CHECK(run2->take_steering() == std::optional<std::string>("{\"q\":\"more\"}"));
  REQUIRE(hub->cancel("chat", "r2").ok());
  CHECK(run2->delta(run2->begin_message().value_or("m"), "x").status().code() != StatusCode::kOk);

  // Presence is kept in the store's leased entries.
  REQUIRE(hub->join("chat", {.client_id = "c1", .device = "laptop"}).ok());
  CHECK(hub->presence("chat").value().size() == 1);

  // A second subscriber resumes from an offset and gets exactly the rest.
  Collector resumed;
  auto sub2 = hub->resume("chat", created.epoch, 3, resumed.handler()).value();
  const auto head = hub->info("chat").value().head;
  REQUIRE(resumed.wait_for_offset(head));
  auto got = resumed.offsets();
  REQUIRE_FALSE(got.empty());
  CHECK(got.front() == 4);
  CHECK(got.back() == head);

  // A new hub (another process, same Redis) loads the session from Redis.
  sub.reset();
  sub2.reset();
  hub.reset();
  auto hub2 = Hub::open(o).value();
  auto snap2 = hub2->snapshot("chat").value();
  CHECK(snap2.messages.size() >= 1);
  CHECK(snap2.epoch == created.epoch);
}

TEST_CASE("redis: a hub's maintenance compacts and trims on the Redis store", "[redis][hub][retention]") {
  auto& server = test::shared_redis_server();
  auto store = open_store(server, test::unique_redis_prefix());
  auto clock = std::make_shared<testing::FakeClock>();
  HubOptions o;
  o.store = store;
  o.clock = clock;
  o.maintenance_interval = std::chrono::milliseconds(0);
  auto hub = Hub::open(o).value();

  auto run = hub->start_run("chat", {.agent = "assistant"}).value();
  auto msg = run->begin_message().value();
  std::string text;
  for (int i = 0; i < 30; ++i) {
    REQUIRE(run->delta(msg, "t" + std::to_string(i)).ok());
    text += "t" + std::to_string(i);
  }
  REQUIRE(run->end_message(msg).ok());
  REQUIRE(run->complete().ok());
  auto report = hub->run_maintenance();
  CHECK(report.deltas_compacted == 30);
  auto snap = hub->snapshot("chat").value();
  REQUIRE(snap.messages.size() == 1);
  CHECK(snap.messages[0].text == text);
  auto info = store->info("chat").value();
  CHECK(info.event_count == 4);  // run.started, message.started, message.completed, run.completed

  for (int i = 0; i < 20; ++i) REQUIRE(hub->append("chat", test::draft("app.n"), test::producer("p")).ok());
  RetentionPolicy keep;
  keep.max_events = 5;
  REQUIRE(hub->set_retention("chat", keep).ok());
  CHECK(hub->run_maintenance().events_trimmed == 19);
  info = store->info("chat").value();
  CHECK(info.event_count == 5);
  CHECK(info.retention == keep);
  CHECK(hub->subscribe("chat", {.from = 3}, Collector().handler()).status().code() == StatusCode::kDataLoss);

  RetentionPolicy ttl;
  ttl.ttl = std::chrono::minutes(5);
  REQUIRE(hub->set_retention("chat", ttl).ok());
  clock->advance(std::chrono::minutes(6));
  REQUIRE(hub->append("chat", test::draft("app.new"), test::producer("p")).ok());
  CHECK(hub->run_maintenance().events_trimmed == 5);
  CHECK(store->info("chat").value().event_count == 1);
}

TEST_CASE("redis: leased entries are shared between nodes", "[redis][multinode]") {
  auto& server = test::shared_redis_server();
  const std::string prefix = test::unique_redis_prefix();
  auto node_a = open_store(server, prefix);
  auto node_b = open_store(server, prefix);
  REQUIRE(node_a->create("s", 0).ok());
  REQUIRE(node_a->put_leased("s", "presence", {"c1", "{\"d\":1}", 100}).ok());
  REQUIRE(node_b->put_leased("s", "lease", {"r1", "{}", 200}).ok());
  CHECK(node_b->list_leased("s", "presence").value() == std::vector<LeasedEntry>{{"c1", "{\"d\":1}", 100}});
  CHECK(node_a->list_leased("s", "lease").value().size() == 1);
  CHECK(node_b->remove_leased("s", "presence", "c1").value());
  CHECK(node_a->list_leased("s", "presence").value().empty());
  REQUIRE(node_b->remove("s").ok());
  CHECK(server.command({"KEYS", prefix + "{s}*"}).empty());  // nothing of the session is left
}
