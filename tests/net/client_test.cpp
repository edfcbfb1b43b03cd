// The C++ client against a real server over loopback: resume across drops, idempotent
// appends across drops, control requests, refused subscriptions, server restarts.
#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include <strata/net/client.h>
#include <strata/net/server.h>
#include <strata/session/hub.h>

using namespace strata;
using namespace strata::net;

namespace {

struct Setup {
  std::unique_ptr<session::Hub> hub;
  std::unique_ptr<Server> server;
  Setup() {
    session::HubOptions o;
    o.store = session::open_memory_store();
    o.maintenance_interval = std::chrono::milliseconds(0);
    hub = session::Hub::open(o).value();
    server = Server::start(*hub, {}).value();
  }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(server->port()) + "/v1/ws"; }
};

// Records deliveries; checks order and uniqueness as they arrive (on the client's thread).
struct Recorder {
  std::mutex mu;
  std::vector<session::Offset> offsets;
  std::atomic<bool> out_of_order{false};
  std::function<void(const session::Event&)> handler() {
    return [this](const session::Event& e) {
      std::lock_guard lock(mu);
      if (!offsets.empty() && e.offset <= offsets.back()) out_of_order = true;
      offsets.push_back(e.offset);
    };
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return offsets.size();
  }
  bool wait_for(std::size_t n, std::chrono::seconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (size() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return size() >= n;
  }
};

ClientOptions options_for(const Setup& s) {
  ClientOptions o;
  o.url = s.url();
  o.initial_backoff = std::chrono::milliseconds(10);
  o.max_backoff = std::chrono::milliseconds(200);
  o.request_timeout = std::chrono::milliseconds(10000);
  return o;
}

}  // namespace

TEST_CASE("client: events arrive once and in order across many dropped connections", "[net][client]") {
  Setup s;
  REQUIRE(s.hub->create("chat").ok());
  auto client = Client::connect(options_for(s)).value();
  Recorder rec;
  auto sub = client->subscribe("chat", {}, rec.handler());
  constexpr int kEvents = 3000;
  std::thread writer([&] {
    for (int i = 0; i < kEvents; ++i) {
      session::EventDraft d;
      d.type = "app.tick";
      d.payload = "{\"i\":" + std::to_string(i) + "}";
      (void)s.hub->append("chat", std::move(d), {.producer = "agent"});
      if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  // Each drop waits for the reconnect the previous one caused, so every drop cuts a live
  // connection however slow the machine is (a drop while reconnecting is a no-op).
  constexpr int kDrops = 25;
  for (int drop = 0; drop < kDrops; ++drop) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (client->connections() < static_cast<std::uint64_t>(drop + 1) &&
           std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    REQUIRE(client->connections() >= static_cast<std::uint64_t>(drop + 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
    client->drop_connection();
  }
  writer.join();
  REQUIRE(rec.wait_for(kEvents));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK_FALSE(rec.out_of_order);
  REQUIRE(rec.size() == kEvents);
  for (int i = 0; i < kEvents; ++i) CHECK(rec.offsets[i] == static_cast<session::Offset>(i + 1));
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (client->connections() <= static_cast<std::uint64_t>(kDrops) &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  CHECK(client->connections() == static_cast<std::uint64_t>(kDrops) + 1);
  CHECK(sub->last_offset() == kEvents);
  CHECK(sub->epoch() == s.hub->info("chat")->epoch);
}

TEST_CASE("client: appends retried across drops are written exactly once", "[net][client]") {
  Setup s;
  auto client = Client::connect(options_for(s)).value();
  std::atomic<bool> done{false};
  std::thread chaos([&] {
    while (!done) {
      std::this_thread::sleep_for(std::chrono::milliseconds(7));
      client->drop_connection();
    }
  });
  constexpr int kAppends = 200;
  int failures = 0;
  for (int i = 0; i < kAppends; ++i) {
    session::EventDraft d;
    d.type = "user.message";
    d.payload = "{\"n\":" + std::to_string(i) + "}";
    auto r = client->append("notes", {d});
    if (!r.ok()) ++failures;
  }
  done = true;
  chaos.join();
  CHECK(failures == 0);
  auto page = s.hub->read("notes", {.after = 0, .max_events = 1000}).value();
  REQUIRE(page.events.size() == kAppends);
  for (int i = 0; i < kAppends; ++i) {
    CHECK(page.events[i].payload == "{\"n\":" + std::to_string(i) + "}");
    CHECK(page.events[i].producer == client->producer());
  }
}

TEST_CASE("client: cancel and steer reach a run, errors come back as statuses", "[net][client]") {
  Setup s;
  std::atomic<int> steered{0};
  session::RunOptions ro;
  ro.agent = "assistant";
  ro.on_steer = [&](const std::string&) { ++steered; };
  auto run = s.hub->start_run("chat", std::move(ro)).value();
  auto client = Client::connect(options_for(s)).value();
  REQUIRE(client->steer("chat", run->id(), R"({"text":"be brief"})").ok());
  REQUIRE(client->join("chat", "tab-1", "laptop").ok());
  auto snapshot = client->snapshot_json("chat");
  REQUIRE(snapshot.ok());
  CHECK(snapshot->find("tab-1") != std::string::npos);
  auto cancelled = client->cancel("chat", run->id(), "stop pressed");
  REQUIRE(cancelled.ok());
  for (int i = 0; i < 200 && !run->cancelled(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(run->cancelled());
  CHECK(steered.load() == 1);
  CHECK(client->cancel("chat", run->id()).status().code() == StatusCode::kFailedPrecondition);
  CHECK(client->cancel("chat", "no-such-run").status().code() == StatusCode::kNotFound);
  CHECK(client->steer("chat", run->id(), "{not json").status().code() == StatusCode::kInvalidArgument);
  CHECK(client->append("bad id!", {{.type = "a.b"}}).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("client: a refused subscription reports why and stops", "[net][client]") {
  Setup s;
  auto client = Client::connect(options_for(s)).value();
  std::promise<Status> closed;
  auto sub = client->subscribe("missing", {}, [](const session::Event&) {},
                               [&](const Status& why) { closed.set_value(why); });
  auto f = closed.get_future();
  REQUIRE(f.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(f.get().code() == StatusCode::kNotFound);

  REQUIRE(s.hub->create("old").ok());
  std::promise<Status> stale;
  auto sub2 = client->subscribe("old", {.from = 0, .epoch = "not-the-epoch"}, [](const session::Event&) {},
                                [&](const Status& why) { stale.set_value(why); });
  auto f2 = stale.get_future();
  REQUIRE(f2.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(f2.get().code() == StatusCode::kDataLoss);
}

TEST_CASE("client: survives a server restart on the same port and resumes", "[net][client]") {
  Setup s;
  const std::uint16_t port = s.server->port();
  REQUIRE(s.hub->create("chat").ok());
  auto client = Client::connect(options_for(s)).value();
  Recorder rec;
  auto sub = client->subscribe("chat", {}, rec.handler());
  for (int i = 0; i < 10; ++i) REQUIRE(s.hub->append("chat", {.type = "app.tick"}, {.producer = "a"}).ok());
  REQUIRE(rec.wait_for(10));
  s.server.reset();  // graceful: clients are told 1012
  for (int i = 0; i < 10; ++i) REQUIRE(s.hub->append("chat", {.type = "app.tick"}, {.producer = "a"}).ok());
  ServerOptions again;
  again.port = port;
  s.server = Server::start(*s.hub, again).value();
  REQUIRE(rec.wait_for(20));
  CHECK_FALSE(rec.out_of_order);
  CHECK(rec.size() == 20);
  CHECK(client->connections() >= 2);
}

TEST_CASE("client: bad URLs are refused up front", "[net][client]") {
  for (std::string url : {"http://x/v1/ws", "ws://", "ws://host:0/", "ws://host:99999/", "ws://host:abc/"}) {
    ClientOptions o;
    o.url = url;
    INFO(url);
    CHECK(Client::connect(o).status().code() == StatusCode::kInvalidArgument);
  }
}
