// Randomized interleavings of appends, runs, subscribes, disconnects, resumes, cancels and
// compactions. Every client must see each retained event exactly once, in order, and any
// event it saw that is gone afterwards must be a compacted delta of a completed message.
#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <set>

#include "session/test_util.h"

using namespace strata;
using namespace strata::session;

namespace {

constexpr int kSessions = 3;
constexpr int kAgents = 3;
constexpr int kClientsPerSession = 3;

std::string session_name(int i) { return "room-" + std::to_string(i); }

// Catch2 assertions are not thread-safe: worker threads record failures here instead.
struct Failures {
  std::mutex mu;
  std::vector<std::string> list;
  bool expect(bool ok, const std::string& what) {
    if (!ok) {
      std::lock_guard lock(mu);
      list.push_back(what);
    }
    return ok;
  }
};

struct ClientLog {
  std::string session;
  std::vector<Event> seen;  // concatenated across reconnects
  std::string epoch;
};

void run_agents(Hub& hub, std::atomic<bool>& stop, int seed, std::atomic<int>& runs_started,
                Failures& failures) {
  std::mt19937 rng(seed);
  while (!stop.load()) {
    const auto session = session_name(static_cast<int>(rng() % kSessions));
    auto run = hub.start_run(session, {.agent = "agent-" + std::to_string(seed)});
    if (!failures.expect(run.ok(), "start_run: " + run.status().to_string())) return;
    ++runs_started;
    const int messages = 1 + static_cast<int>(rng() % 3);
    bool stopped = false;
    for (int m = 0; m < messages && !stopped; ++m) {
      auto msg = (*run)->begin_message();
      if (!msg.ok()) {
        failures.expect(msg.status().code() == StatusCode::kCancelled, "begin: " + msg.status().to_string());
        stopped = true;
        break;
      }
      const int deltas = static_cast<int>(rng() % 20);
      for (int d = 0; d < deltas; ++d) {
        auto r = (*run)->delta(*msg, "tok" + std::to_string(d) + " ");
        if (!r.ok()) {
          failures.expect(r.status().code() == StatusCode::kCancelled, "delta: " + r.status().to_string());
          stopped = true;
          break;
        }
      }
      if (!stopped && !(*run)->end_message(*msg).ok()) stopped = true;
      if (rng() % 4 == 0) {
        (void)hub.append(session, test::draft("app.note", "{\"n\":1}"), test::producer("side"));
      }
    }
    if (!stopped) (void)(*run)->complete();
  }
}

void run_client(Hub& hub, ClientLog& log, std::atomic<bool>& stop, int seed, Failures& failures) {
  std::mt19937 rng(seed);
  std::mutex mu;
  Offset last = 0;
  while (!stop.load()) {
    const bool slow = rng() % 3 == 0;
    auto sub = hub.subscribe(log.session, {.from = last, .epoch = log.epoch, .buffer = 1 + rng() % 16},
                             [&, slow](const Event& e) {
                               if (slow && e.offset % 7 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
                               std::lock_guard lock(mu);
                               log.seen.push_back(e);
                             });
    if (!failures.expect(sub.ok(), "subscribe: " + sub.status().to_string())) return;
    if (log.epoch.empty()) log.epoch = (*sub)->epoch();
    std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 3000));
    (*sub)->close();  // a network drop
    last = (*sub)->last_delivered();
    std::lock_guard lock(mu);
    if (!failures.expect((log.seen.empty() ? 0 : log.seen.back().offset) == last,
                         "last_delivered disagrees with what the handler saw")) {
      return;
    }
  }
  // Final resume: follow until the head.
  const Offset head = hub.info(log.session).value().head;
  auto sub = hub.subscribe(log.session, {.from = last, .epoch = log.epoch},
                           [&](const Event& e) {
                             std::lock_guard lock(mu);
                             log.seen.push_back(e);
                           });
  if (!failures.expect(sub.ok(), "final subscribe: " + sub.status().to_string())) return;
  failures.expect(test::eventually([&] { return (*sub)->last_delivered() >= head; }, std::chrono::seconds(60)),
                  "final resume did not reach the head");
  (*sub)->close();
}

void randomized(std::shared_ptr<SessionStore> store, int rounds_ms) {
  HubOptions options;
  options.store = store;
  options.delivery_threads = 2;
  options.recent_events = 32;
  options.maintenance_interval = std::chrono::milliseconds(0);
  auto hub = Hub::open(options).value();
  for (int s = 0; s < kSessions; ++s) REQUIRE(hub->create(session_name(s)).ok());

  std::atomic<bool> stop{false};
  std::atomic<bool> stop_writers{false};
  std::atomic<int> runs_started{0};
  Failures failures;
  std::vector<ClientLog> logs(kSessions * kClientsPerSession);
  std::vector<std::thread> threads, writers;
  for (int a = 0; a < kAgents; ++a) {
    writers.emplace_back([&, a] { run_agents(*hub, stop_writers, 100 + a, runs_started, failures); });
  }
  for (std::size_t c = 0; c < logs.size(); ++c) {
    logs[c].session = session_name(static_cast<int>(c % kSessions));
    threads.emplace_back([&, c] { run_client(*hub, logs[c], stop, 200 + static_cast<int>(c), failures); });
  }
  writers.emplace_back([&] {  // a user who presses stop now and then
    std::mt19937 rng(7);
    while (!stop_writers.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(3 + rng() % 10));
      auto snap = hub->snapshot(session_name(static_cast<int>(rng() % kSessions)));
      if (!failures.expect(snap.ok(), "snapshot: " + snap.status().to_string())) return;
      for (const auto& r : snap->runs) {
        if (r.state == RunState::kRunning && rng() % 2 == 0) {
          auto c = hub->cancel(snap->session, r.id, {.reason = "stop", .requested_by = "user"});
          failures.expect(c.ok() || c.status().code() == StatusCode::kFailedPrecondition,
                          "cancel: " + c.status().to_string());
        }
      }
    }
  });
  writers.emplace_back([&] {  // compaction racing with everything
    while (!stop_writers.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      auto report = hub->run_maintenance();
      failures.expect(report.errors.empty(), "maintenance reported errors");
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(rounds_ms));
  stop_writers = true;  // writers finish first, so the clients' final resume sees everything
  for (auto& t : writers) t.join();
  stop = true;
  for (auto& t : threads) t.join();
  for (const auto& f : failures.list) FAIL_CHECK(f);
  REQUIRE(failures.list.empty());
  hub->flush();
  (void)hub->run_maintenance();

  // The truth: what each session retains now, and which messages completed.
  std::map<std::string, std::map<Offset, Event>> retained;
  std::map<std::string, std::set<std::string>> completed;
  std::size_t total = 0;
  for (int s = 0; s < kSessions; ++s) {
    const auto name = session_name(s);
    Offset after = 0;
    for (;;) {
      auto page = hub->read(name, {.after = after, .max_events = 500});
      REQUIRE(page.ok());
      if (page->events.empty()) break;
      for (auto& e : page->events) {
        if (e.type == "message.completed") completed[name].insert(e.message_id);
        after = e.offset;
        retained[name][e.offset] = e;
        ++total;
      }
    }
  }
  CHECK(runs_started.load() > 5);
  CHECK(total > 100);
  std::size_t compacted_seen = 0;
  for (const auto& log : logs) {
    INFO("client of " << log.session << " saw " << log.seen.size());
    const auto& truth = retained[log.session];
    std::set<Offset> seen;
    Offset previous = 0;
    for (const auto& e : log.seen) {
      REQUIRE(e.offset > previous);  // in order, no duplicate
      previous = e.offset;
      seen.insert(e.offset);
      auto it = truth.find(e.offset);
      if (it != truth.end()) {
        REQUIRE(it->second == e);
      } else {
        REQUIRE(e.type == "message.delta");
        REQUIRE(completed[log.session].count(e.message_id) == 1);
        ++compacted_seen;
      }
    }
    for (const auto& [offset, e] : truth) {
      INFO("missing offset " << offset << " type " << e.type);
      REQUIRE(seen.count(offset) == 1);  // no gap
    }
  }
  // Snapshots equal a fresh fold of the retained log.
  for (int s = 0; s < kSessions; ++s) {
    const auto name = session_name(s);
    auto live = hub->snapshot(name).value();
    HubOptions again;
    again.store = store;
    again.maintenance_interval = std::chrono::milliseconds(0);
    hub.reset();
    auto fresh_hub = Hub::open(again).value();
    auto fresh = fresh_hub->snapshot(name).value();
    CHECK(fresh.offset == live.offset);
    REQUIRE(fresh.messages.size() == live.messages.size());
    for (std::size_t i = 0; i < fresh.messages.size(); ++i) {
      CHECK(fresh.messages[i].text == live.messages[i].text);
      CHECK(fresh.messages[i].state == live.messages[i].state);
    }
    REQUIRE(fresh.runs.size() == live.runs.size());
    for (std::size_t i = 0; i < fresh.runs.size(); ++i) CHECK(fresh.runs[i].state == live.runs[i].state);
    hub = std::move(fresh_hub);
  }
  WARN("events retained " << total << ", compacted deltas seen before compaction " << compacted_seen);
}

}  // namespace

TEST_CASE("randomized interleavings: memory store", "[hub][randomized]") {
  randomized(open_memory_store(), 1500);
}

TEST_CASE("randomized interleavings: sqlite store", "[hub][randomized]") {
  test::TempDir dir;
  randomized(open_sqlite_store(dir.file("r.db"), {SqliteStoreOptions::Durability::kProcessCrash}).value(), 1500);
}
