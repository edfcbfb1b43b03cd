// Hub: runs, messages as deltas, cancel, steer, sub-agents, agent leases and snapshots.
#include <catch2/catch.hpp>

#include <atomic>

#include <strata/testing/fake_clock.h>

#include "session/test_util.h"

using namespace strata;
using namespace strata::session;
using strata::test::Collector;
using strata::test::draft;
using strata::test::producer;

namespace {

struct Env {
  std::shared_ptr<testing::FakeClock> clock = std::make_shared<testing::FakeClock>();
  std::unique_ptr<Hub> hub;
  explicit Env(std::shared_ptr<SessionStore> store = open_memory_store()) {
    HubOptions o;
    o.store = std::move(store);
    o.clock = clock;
    o.maintenance_interval = std::chrono::milliseconds(0);
    o.run_lease = std::chrono::seconds(30);
    o.presence_lease = std::chrono::seconds(30);
    hub = Hub::open(o).value();
  }
};

const RunSnapshot& run_in(const Snapshot& s, const std::string& id) {
  for (const auto& r : s.runs) if (r.id == id) return r;
  FAIL("run " << id << " not in snapshot");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("runs: an agent streams a message, the snapshot shows it whole", "[hub][runs]") {
  Env env;
  auto run = env.hub->start_run("chat", {.agent = "assistant", .run_id = "r1"}).value();
  auto msg = run->begin_message().value();
  REQUIRE(run->delta(msg, "Hel").ok());
  REQUIRE(run->delta(msg, "lo, ").ok());

  auto mid = env.hub->snapshot("chat").value();
  REQUIRE(mid.messages.size() == 1);
  CHECK(mid.messages[0].text == "Hello, ");
  CHECK(mid.messages[0].state == MessageState::kStreaming);
  CHECK(run_in(mid, "r1").state == RunState::kRunning);
  CHECK(mid.offset == 4);

  REQUIRE(run->delta(msg, "w\xc3\xb6rld \"quoted\"").ok());
  REQUIRE(run->end_message(msg).ok());
  REQUIRE(run->complete("{\"tokens\":3}").ok());
  auto done = env.hub->snapshot("chat").value();
  REQUIRE(done.messages.size() == 1);
  CHECK(done.messages[0].text == "Hello, w\xc3\xb6rld \"quoted\"");
  CHECK(done.messages[0].state == MessageState::kCompleted);
  CHECK(done.messages[0].role == "assistant");
  CHECK(done.messages[0].run_id == "r1");
  CHECK(run_in(done, "r1").state == RunState::kCompleted);
  CHECK(run_in(done, "r1").agent == "assistant");

  // Writing after the end is refused.
  CHECK(run->delta(msg, "x").status().code() == StatusCode::kFailedPrecondition);
  CHECK(run->complete().status().code() == StatusCode::kFailedPrecondition);
  auto again = env.hub->start_run("chat", {.agent = "assistant", .run_id = "r1"});
  CHECK(again.status().code() == StatusCode::kAlreadyExists);
}

TEST_CASE("runs: bad writes by an agent are refused", "[hub][runs][bad-input]") {
  Env env;
  CHECK(env.hub->start_run("chat", {.agent = ""}).status().code() == StatusCode::kInvalidArgument);
  CHECK(env.hub->start_run("chat", {.agent = "a", .payload = "[1]"}).status().code() == StatusCode::kInvalidArgument);
  CHECK(env.hub->start_run("chat", {.agent = "a", .parent_run_id = "ghost"}).status().code() == StatusCode::kNotFound);
  auto run = env.hub->start_run("chat", {.agent = "a"}).value();
  auto other = env.hub->start_run("chat", {.agent = "b"}).value();
  auto msg = run->begin_message().value();
  CHECK(run->delta("nope", "x").status().code() == StatusCode::kNotFound);
  CHECK(other->delta(msg, "x").status().code() == StatusCode::kNotFound);  // not its message
  CHECK(run->delta(msg, std::string("\xff\xfe", 2)).status().code() == StatusCode::kInvalidArgument);
  CHECK(run->begin_message("assistant", msg).status().code() == StatusCode::kAlreadyExists);
  CHECK(run->emit(draft("run.completed")).status().code() == StatusCode::kInvalidArgument);
  CHECK(run->complete("oops").status().code() == StatusCode::kInvalidArgument);
  REQUIRE(run->end_message(msg).ok());
  CHECK(run->delta(msg, "late").status().code() == StatusCode::kFailedPrecondition);
  CHECK(env.hub->cancel("chat", "ghost").status().code() == StatusCode::kNotFound);
  CHECK(env.hub->steer("chat", "ghost", "{}", "u").status().code() == StatusCode::kNotFound);
  CHECK(env.hub->steer("chat", run->id(), "{bad", "u").status().code() == StatusCode::kInvalidArgument);
  CHECK(env.hub->cancel("missing-session", "r").status().code() == StatusCode::kNotFound);
}

TEST_CASE("runs: cancel is an event every subscriber sees and fires the agent's token", "[hub][runs][cancel]") {
  Env env;
  std::atomic<int> callbacks{0};
  auto run = env.hub->start_run("chat", {.agent = "assistant"}).value();
  run->token().on_cancel([&] { ++callbacks; });
  auto msg = run->begin_message().value();
  REQUIRE(run->delta(msg, "partial").ok());
  Collector tab1, tab2;
  auto s1 = env.hub->subscribe("chat", {}, tab1.handler()).value();
  auto s2 = env.hub->subscribe("chat", {}, tab2.handler()).value();

  auto offset = env.hub->cancel("chat", run->id(), {.reason = "user pressed stop", .requested_by = "tab-1"});
  REQUIRE(offset.ok());
  REQUIRE(tab1.wait_for_type("run.cancelled"));
  REQUIRE(tab2.wait_for_type("run.cancelled"));
  auto e = tab2.events().back();
  CHECK(e.offset == *offset);
  CHECK(e.run_id == run->id());
  CHECK(e.producer == "tab-1");
  CHECK(e.payload.find("user pressed stop") != std::string::npos);

  REQUIRE(test::eventually([&] { return run->cancelled(); }));
  CHECK(run->token().reason() == "user pressed stop");
  REQUIRE(test::eventually([&] { return callbacks.load() == 1; }));
  auto write = run->delta(msg, "more");
  CHECK(write.status().code() == StatusCode::kCancelled);
  auto snap = env.hub->snapshot("chat").value();
  CHECK(run_in(snap, run->id()).state == RunState::kCancelled);
  CHECK(run_in(snap, run->id()).reason == "user pressed stop");
  REQUIRE(snap.messages.size() == 1);
  CHECK(snap.messages[0].state == MessageState::kInterrupted);
  CHECK(snap.messages[0].text == "partial");
  auto twice = env.hub->cancel("chat", run->id());
  CHECK(twice.status().code() == StatusCode::kFailedPrecondition);
  CHECK(twice.status().message().find("cancelled") != std::string::npos);
}

TEST_CASE("runs: a subscriber going away never cancels anything", "[hub][runs][cancel]") {
  Env env;
  auto run = env.hub->start_run("chat", {.agent = "assistant"}).value();
  {
    Collector c;
    auto sub = env.hub->subscribe("chat", {}, c.handler()).value();
    REQUIRE(c.wait_for_offset(1));
  }  // the client disconnects
  REQUIRE(env.hub->join("chat", {.client_id = "tab"}).ok());
  REQUIRE(env.hub->leave("chat", "tab").ok());
  (void)env.hub->run_maintenance();
  auto msg = run->begin_message().value();
  CHECK(run->delta(msg, "still going").ok());
  CHECK_FALSE(run->cancelled());
  CHECK(run_in(env.hub->snapshot("chat").value(), run->id()).state == RunState::kRunning);
}

TEST_CASE("runs: steering input reaches the running agent", "[hub][runs][steer]") {
  Env env;
  std::mutex mu;
  std::vector<std::string> pushed;
  auto run = env.hub->start_run("chat", {.agent = "assistant", .on_steer = [&](const std::string& in) {
                                           std::lock_guard lock(mu);
                                           pushed.push_back(in);
                                         }}).value();
  REQUIRE(env.hub->steer("chat", run->id(), "{\"text\":\"shorter please\"}", "tab-2").ok());
  REQUIRE(env.hub->steer("chat", run->id(), "\"and in French\"", "tab-2").ok());
  REQUIRE(test::eventually([&] { std::lock_guard lock(mu); return pushed.size() == 2; }));
  CHECK(pushed[0] == "{\"text\":\"shorter please\"}");
  CHECK(run->take_steering() == std::optional<std::string>("{\"text\":\"shorter please\"}"));
  CHECK(run->take_steering() == std::optional<std::string>("\"and in French\""));
  CHECK_FALSE(run->take_steering().has_value());
  REQUIRE(run->complete().ok());
  CHECK(env.hub->steer("chat", run->id(), "{}", "tab-2").status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("runs: sub-agents write under their own identity and cancel cascades", "[hub][runs][multi-agent]") {
  Env env;
  auto root = env.hub->start_run("chat", {.agent = "orchestrator", .run_id = "root"}).value();
  auto research = env.hub->start_run("chat", {.agent = "researcher", .run_id = "research", .parent_run_id = "root"}).value();
  auto deep = env.hub->start_run("chat", {.agent = "searcher", .run_id = "deep", .parent_run_id = "research"}).value();
  auto sibling = env.hub->start_run("chat", {.agent = "other", .run_id = "sibling"}).value();
  auto msg = deep->begin_message().value();
  REQUIRE(deep->delta(msg, "found it").ok());
  Collector c;
  auto sub = env.hub->subscribe("chat", {}, c.handler()).value();
  REQUIRE(c.wait_for_offset(6));
  auto events = c.events();
  CHECK(events[4].producer == "searcher");  // message.started by the sub-agent itself
  CHECK(events[5].run_id == "deep");
  CHECK(events[5].parent_run_id == "research");

  REQUIRE(env.hub->cancel("chat", "root").ok());
  REQUIRE(test::eventually([&] { return root->cancelled() && research->cancelled() && deep->cancelled(); }));
  CHECK_FALSE(sibling->cancelled());
  auto snap = env.hub->snapshot("chat").value();
  CHECK(run_in(snap, "research").state == RunState::kCancelled);
  CHECK(run_in(snap, "deep").parent_run_id == "research");
  CHECK(run_in(snap, "sibling").state == RunState::kRunning);
  auto all = env.hub->cancel_all("chat").value();
  CHECK(all == std::vector<std::string>{"sibling"});
  REQUIRE(test::eventually([&] { return sibling->cancelled(); }));
}

TEST_CASE("runs: cancel_all cancels every running run", "[hub][runs][cancel]") {
  Env env;
  auto a = env.hub->start_run("chat", {.agent = "a", .run_id = "a"}).value();
  auto b = env.hub->start_run("chat", {.agent = "b", .run_id = "b", .parent_run_id = "a"}).value();
  auto c = env.hub->start_run("chat", {.agent = "c", .run_id = "c"}).value();
  REQUIRE(c->complete().ok());
  auto cancelled = env.hub->cancel_all("chat").value();
  std::sort(cancelled.begin(), cancelled.end());
  CHECK(cancelled == std::vector<std::string>{"a", "b"});
  REQUIRE(test::eventually([&] { return a->cancelled() && b->cancelled(); }));
}

TEST_CASE("runs: an agent that stops renewing ends as agent-lost", "[hub][runs][lease]") {
  Env env;
  auto alive = env.hub->start_run("chat", {.agent = "alive", .lease = std::chrono::seconds(10)}).value();
  auto lost = env.hub->start_run("chat", {.agent = "lost", .lease = std::chrono::seconds(10)}).value();
  env.clock->advance(std::chrono::seconds(8));
  REQUIRE(alive->renew().ok());
  env.clock->advance(std::chrono::seconds(8));
  auto report = env.hub->run_maintenance();
  CHECK(report.runs_lost == 1);
  CHECK(report.errors.empty());
  auto snap = env.hub->snapshot("chat").value();
  CHECK(run_in(snap, lost->id()).state == RunState::kAgentLost);
  CHECK(run_in(snap, alive->id()).state == RunState::kRunning);
  CHECK(lost->delta("m", "x").status().code() == StatusCode::kFailedPrecondition);
  CHECK(env.hub->run_maintenance().runs_lost == 0);  // once only
  // Writes renew the lease too.
  auto msg = alive->begin_message().value();
  for (int i = 0; i < 5; ++i) {
    env.clock->advance(std::chrono::seconds(4));
    REQUIRE(alive->delta(msg, "tick").ok());
  }
  CHECK(env.hub->run_maintenance().runs_lost == 0);
}

TEST_CASE("runs: an agent process that dies is detected by the next process", "[hub][runs][lease]") {
  test::TempDir dir;
  auto clock = std::make_shared<testing::FakeClock>();
  std::string run_id;
  {
    HubOptions o;
    o.database_path = dir.file("s.db");
    o.clock = clock;
    o.maintenance_interval = std::chrono::milliseconds(0);
    auto hub = Hub::open(o).value();
    auto run = hub->start_run("chat", {.agent = "a", .lease = std::chrono::seconds(5)}).value();
    run_id = run->id();
  }  // the process "dies" without completing the run
  clock->advance(std::chrono::seconds(6));
  HubOptions o;
  o.database_path = dir.file("s.db");
  o.clock = clock;
  o.maintenance_interval = std::chrono::milliseconds(0);
  auto hub = Hub::open(o).value();
  REQUIRE(hub->snapshot("chat").ok());  // loads the session
  CHECK(hub->run_maintenance().runs_lost == 1);
  CHECK(run_in(hub->snapshot("chat").value(), run_id).state == RunState::kAgentLost);
}

TEMPLATE_TEST_CASE("runs: a late joiner's snapshot plus live follow equals the full replay",
                   "[hub][snapshot]", std::true_type, std::false_type) {
  test::TempDir dir;
  Env env(TestType::value ? open_memory_store() : open_sqlite_store(dir.file("s.db")).value());
  auto run = env.hub->start_run("chat", {.agent = "assistant"}).value();
  auto done = run->begin_message().value();
  for (int i = 0; i < 20; ++i) REQUIRE(run->delta(done, "t" + std::to_string(i) + " ").ok());
  REQUIRE(run->end_message(done).ok());
  auto live_msg = run->begin_message().value();
  REQUIRE(run->delta(live_msg, "so far").ok());

  auto snap = env.hub->snapshot("chat").value();
  REQUIRE(snap.messages.size() == 2);
  CHECK(snap.messages[0].state == MessageState::kCompleted);
  CHECK(snap.messages[1].text == "so far");
  Collector c;
  auto sub = env.hub->subscribe("chat", {.from = snap.offset, .epoch = snap.epoch}, c.handler()).value();
  REQUIRE(run->delta(live_msg, " and more").ok());
  REQUIRE(c.wait_for_count(1));
  CHECK(c.events().front().offset == snap.offset + 1);
  CHECK(c.events().front().payload == "{\"text\":\" and more\"}");
}

TEST_CASE("runs: leases are bounded", "[hub][runs][lease][bad-input]") {
  Env env;
  const auto huge = std::chrono::milliseconds(std::numeric_limits<std::int64_t>::max());
  CHECK(env.hub->start_run("chat", {.agent = "a", .lease = huge}).status().code() == StatusCode::kInvalidArgument);
  CHECK(env.hub->start_run("chat", {.agent = "a", .lease = std::chrono::milliseconds(-1)}).status().code() ==
        StatusCode::kInvalidArgument);
  CHECK(env.hub->join("chat", {.client_id = "c", .lease = huge}).code() == StatusCode::kInvalidArgument);
  HubOptions o;
  o.store = open_memory_store();
  o.run_lease = huge;
  CHECK(Hub::open(o).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("runs: a run of a removed session stops writing at once", "[hub][runs]") {
  Env env;
  auto run = env.hub->start_run("chat", {.agent = "a"}).value();
  auto msg = run->begin_message().value();
  REQUIRE(env.hub->remove("chat").ok());
  auto write = run->delta(msg, "late");
  CHECK(write.status().code() == StatusCode::kCancelled);
  CHECK(env.hub->info("chat").status().code() == StatusCode::kNotFound);  // not recreated
  REQUIRE(test::eventually([&] { return run->cancelled(); }));
  CHECK(run->token().reason() == "session removed");
}

TEST_CASE("runs: a write racing a Stop never lands after run.cancelled", "[hub][runs][cancel]") {
  // The agent writes as fast as it can while a client stops it: every delta either lands
  // before run.cancelled or is refused with kCancelled — whatever the interleaving.
  Env env;
  std::size_t refused_total = 0;
  for (int round = 0; round < 40; ++round) {
    const std::string session = "race-" + std::to_string(round);
    auto run = env.hub->start_run(session, {.agent = "assistant", .run_id = "r"}).value();
    auto msg = run->begin_message().value();
    std::atomic<bool> go{false};
    std::atomic<std::size_t> refused{0};
    std::vector<StatusCode> other_errors;
    std::thread agent([&] {
      while (!go) std::this_thread::yield();
      for (int i = 0; i < 2000; ++i) {
        auto r = run->delta(msg, "x");
        if (r.ok()) continue;
        if (r.status().code() == StatusCode::kCancelled) {
          refused.fetch_add(1);
        } else {
          other_errors.push_back(r.status().code());
        }
        break;
      }
    });
    go = true;
    std::this_thread::sleep_for(std::chrono::microseconds(50 * (round % 5)));
    REQUIRE(env.hub->cancel(session, "r").ok());
    agent.join();
    CHECK(other_errors.empty());
    refused_total += refused.load();
    auto page = env.hub->read(session, {.after = 0, .max_events = 100000}).value();
    bool after_cancel = false;
    for (const auto& e : page.events) {
      if (after_cancel) CHECK(e.run_id != "r");
      if (e.type == "run.cancelled") after_cancel = true;
    }
    CHECK(after_cancel);
  }
  CHECK(refused_total > 0);
}
