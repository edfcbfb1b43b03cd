// strata_redis_bench — appends/s through the Redis store, next to raw pipelined XADD measured
// with redis-benchmark against the same server in the same run, and cross-node
// append -> deliver latency (one store appends, another follows with wait_for_events).
//
//   strata_redis_bench [--quick]
//
// Starts its own redis-server (no persistence, unix socket, in a temporary directory) and
// removes it at the end. Needs redis-server and redis-benchmark on PATH (Debian: redis-server,
// redis-tools).
//
//   1. Raw: redis-benchmark -s <socket> -c 50 -P 32 -n N -q XADD bench '*' <the entry strata
//      writes per event: nine fields>. The baseline. Also shown: the one-field
//      XADD bench '*' f <payload>.
//   2. Store: SessionStore::append with groups of 1024 single-event requests (1 session, and
//      1,000 interleaved sessions), and groups of 128 requests of 8 events, from one appender
//      (which waits one round trip per group); then 8 stores ("nodes") appending at once, to
//      a session each and all to one session (redis-benchmark keeps 50 connections busy, so
//      this is the like-for-like throughput). Target: >= 50% of raw.
//   3. Hub: Hub::append_async with many in flight, then flush, 1 session.
//   4. Cross-node latency: node A appends one event every millisecond, node B follows with
//      wait_for_events; p50/p99 of append-call -> B has it. Then the same hub to hub: an
//      append on hub A -> the callback of a subscriber on hub B (B's follower thread).
//
// Exit status non-zero if anything failed (setup, an append error, a lost event); a missed
// target is reported, not a failure.
#include <fmt/core.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <strata/session/hub.h>
#include <strata/session/redis_store.h>

namespace ss = strata::session;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr double kTarget = 0.50;  // strata store appends/s / raw pipelined XADD/s
constexpr std::string_view kPayload = R"({"text":"token "})";
int failures = 0;

void fail(const std::string& what) {
  fmt::print(stderr, "FAILURE: {}\n", what);
  ++failures;
}

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// A redis-server child in a temporary directory.
class Server {
 public:
  Server() {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / fmt::format("strata-redis-bench-{}", rd());
    std::filesystem::create_directories(dir_);
    socket_ = (dir_ / "redis.sock").string();
    const auto conf = (dir_ / "redis.conf").string();
    std::ofstream(conf) << "port 0\nunixsocket " << socket_ << "\nunixsocketperm 700\ndir "
                        << dir_.string() << "\nlogfile " << (dir_ / "redis.log").string()
                        << "\nsave \"\"\nappendonly no\n";
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(1);
      execlp("redis-server", "redis-server", conf.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 1500 && !ready(); ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~Server() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  bool ready() const {
    if (pid_ <= 0) return false;
    auto store = ss::open_redis_store(options("ping:"));
    return store.ok();
  }
  ss::RedisStoreOptions options(std::string prefix) const {
    ss::RedisStoreOptions o;
    o.unix_socket = socket_;
    o.key_prefix = std::move(prefix);
    return o;
  }
  const std::string& socket() const { return socket_; }
  void flush() const {
    std::string out;
    run(fmt::format("redis-cli -s {} FLUSHALL", socket_), out);
  }
  static bool run(const std::string& command, std::string& out) {
    FILE* p = popen(command.c_str(), "r");
    if (p == nullptr) return false;
    std::array<char, 4096> buf{};
    std::size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    return pclose(p) == 0;
  }

 private:
  std::filesystem::path dir_;
  std::string socket_;
  pid_t pid_ = -1;
};

// Raw pipelined XADD/s from redis-benchmark: `entry_shape` true writes the same entry strata
// writes for an unsequenced event (all nine fields, the unset ones empty), false the one-field
// entry of the plain `XADD bench * f <payload>`.
double raw_xadd(const Server& server, std::size_t n, bool entry_shape) {
  const std::string fields =
      entry_shape ? fmt::format("t message.delta p agent d '{}' ts 1767225600000 e 0 q '' r r1 "
                                "pr '' m m1", kPayload)
                  : fmt::format("f '{}'", kPayload);
  const std::string command = fmt::format(
      "redis-benchmark -s {} -c 50 -P 32 -n {} -q XADD bench '*' {} 2>&1", server.socket(), n, fields);
  std::string out;
  if (!Server::run(command, out)) {
    fail("redis-benchmark failed: " + out);
    return 0;
  }
  // -q prints progress with '\r', then "<command>: 123456.78 requests per second, ...".
  const auto at = out.rfind(" requests per second");
  if (at == std::string::npos) {
    fail("cannot read redis-benchmark's output: " + out);
    return 0;
  }
  const auto begin = out.rfind(' ', at - 1);
  return std::atof(out.c_str() + (begin == std::string::npos ? 0 : begin + 1));
}

ss::Event delta_event() {
  ss::Event e;
  e.type = "message.delta";
  e.message_id = "m1";
  e.run_id = "r1";
  e.payload = std::string(kPayload);
  e.timestamp_ms = 1767225600000;
  return e;
}

// Microseconds Redis spent in `command` (INFO commandstats) since the last CONFIG RESETSTAT.
double redis_usec(const Server& server, std::string_view command) {
  std::string stats;
  Server::run(fmt::format("redis-cli -s {} INFO commandstats", server.socket()), stats);
  const auto at = stats.find(fmt::format("cmdstat_{}:", command));
  if (at == std::string::npos) return 0;
  const auto usec = stats.find("usec=", at);
  return usec == std::string::npos ? 0 : std::atof(stats.c_str() + usec + 5);
}

void reset_stats(const Server& server) {
  std::string out;
  Server::run(fmt::format("redis-cli -s {} CONFIG RESETSTAT", server.socket()), out);
}

// Appends `total` events through SessionStore::append in groups; returns events/s.
double store_appends(ss::SessionStore& store, std::size_t total, std::size_t sessions,
                     std::size_t requests_per_group, std::size_t events_per_request,
                     const std::string& session_prefix) {
  std::vector<ss::StoreAppend> group;
  std::size_t written = 0, next_session = 0;
  const auto start = SteadyClock::now();
  while (written < total) {
    group.clear();
    for (std::size_t r = 0; r < requests_per_group && written < total; ++r) {
      ss::StoreAppend a;
      a.session = fmt::format("{}{}", session_prefix, next_session++ % sessions);
      a.producer = "agent";
      a.events.assign(events_per_request, delta_event());
      a.now_ms = 1;
      written += events_per_request;
      group.push_back(std::move(a));
    }
    store.append(group);
    for (const auto& a : group) {
      if (!a.status.ok()) {
        fail("store append: " + a.status.to_string());
        return 0;
      }
    }
  }
  return static_cast<double>(written) / seconds_since(start);
}

double hub_appends(std::shared_ptr<ss::SessionStore> store, std::size_t total) {
  ss::HubOptions o;
  o.store = std::move(store);
  o.maintenance_interval = std::chrono::milliseconds(0);
  auto hub = ss::Hub::open(o);
  if (!hub.ok()) {
    fail("hub open: " + hub.status().to_string());
    return 0;
  }
  std::atomic<std::size_t> errors{0};
  ss::AppendOptions ao;
  ao.producer = "agent";
  const auto start = SteadyClock::now();
  for (std::size_t i = 0; i < total; ++i) {
    ss::EventDraft d;
    d.type = "app.note";
    d.payload = std::string(kPayload);
    (*hub)->append_async("hub-bench", {std::move(d)}, ao, [&](strata::Result<ss::AppendResult> r) {
      if (!r.ok()) errors.fetch_add(1);
    });
    if (i % 16384 == 16383) (*hub)->flush();
  }
  (*hub)->flush();
  const double rate = static_cast<double>(total) / seconds_since(start);
  if (errors != 0) fail(fmt::format("hub: {} appends failed", errors.load()));
  return rate;
}

struct Latency {
  double p50_us = 0, p99_us = 0;
};

Latency cross_node_latency(const Server& server, std::size_t count) {
  auto a = ss::open_redis_store(server.options("lat:"));
  auto b = ss::open_redis_store(server.options("lat:"));
  if (!a.ok() || !b.ok()) {
    fail("latency: open");
    return {};
  }
  if (!(*a)->create("lat", 0).ok()) fail("latency: create");
  std::vector<SteadyClock::time_point> sent(count + 1);
  std::vector<double> micros;
  micros.reserve(count);
  std::atomic<bool> done{false};
  std::thread follower([&] {
    std::vector<ss::TailCursor> cursors = {{"lat", 0}};
    while (cursors[0].after < count) {
      auto got = (*b)->wait_for_events(cursors, std::chrono::seconds(2), 1000);
      if (!got.ok()) {
        fail("latency: wait " + got.status().to_string());
        break;
      }
      const auto now = SteadyClock::now();
      if (got->empty() && done) break;
      for (const auto& batch : *got) {
        for (const auto& e : batch.events) {
          micros.push_back(std::chrono::duration<double, std::micro>(now - sent[e.offset]).count());
          cursors[0].after = e.offset;
        }
      }
    }
  });
  for (std::size_t i = 1; i <= count; ++i) {
    ss::StoreAppend r;
    r.session = "lat";
    r.producer = "agent";
    r.events = {delta_event()};
    sent[i] = SteadyClock::now();
    (*a)->append(std::span<ss::StoreAppend>(&r, 1));
    if (!r.status.ok() || r.first_offset != i) {
      fail("latency: append " + r.status.to_string());
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  done = true;
  follower.join();
  if (micros.size() != count) {
    fail(fmt::format("latency: {} of {} events delivered", micros.size(), count));
    return {};
  }
  std::sort(micros.begin(), micros.end());
  return {micros[micros.size() / 2], micros[micros.size() * 99 / 100]};
}

// Hub to hub: an agent on hub A (its own store connections) appends one event every
// millisecond; a subscriber on hub B gets it through B's follower thread. p50/p99 of
// append-call -> B's callback.
Latency cross_node_hub_latency(const Server& server, std::size_t count) {
  auto open_node = [&]() -> std::unique_ptr<ss::Hub> {
    auto store = ss::open_redis_store(server.options("hublat:"));
    if (!store.ok()) return nullptr;
    ss::HubOptions o;
    o.store = *store;
    auto hub = ss::Hub::open(o);
    return hub.ok() ? std::move(*hub) : nullptr;
  };
  auto a = open_node();
  auto b = open_node();
  if (!a || !b || !a->create("lat").ok()) {
    fail("hub latency: open");
    return {};
  }
  std::vector<SteadyClock::time_point> sent(count + 1);
  std::vector<double> micros;
  micros.reserve(count);
  std::mutex mu;
  std::condition_variable cv;
  auto sub = b->subscribe("lat", {}, [&](const ss::Event& e) {
    const auto now = SteadyClock::now();
    std::lock_guard lock(mu);
    if (e.offset <= count) micros.push_back(std::chrono::duration<double, std::micro>(now - sent[e.offset]).count());
    cv.notify_all();
  });
  if (!sub.ok()) {
    fail("hub latency: subscribe " + sub.status().to_string());
    return {};
  }
  ss::AppendOptions producer;
  producer.producer = "agent";
  for (std::size_t i = 1; i <= count; ++i) {
    ss::EventDraft d;
    d.type = "app.tick";
    d.payload = std::string(kPayload);
    {
      std::lock_guard lock(mu);
      sent[i] = SteadyClock::now();
    }
    auto r = a->append("lat", std::move(d), producer);
    if (!r.ok() || r->first_offset != i) {
      fail("hub latency: append " + (r.ok() ? std::to_string(r->first_offset) : r.status().to_string()));
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::unique_lock lock(mu);
  if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return micros.size() >= count; })) {
    fail(fmt::format("hub latency: {} of {} events delivered", micros.size(), count));
    return {};
  }
  std::sort(micros.begin(), micros.end());
  return {micros[micros.size() / 2], micros[micros.size() * 99 / 100]};
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else {
      fmt::print("usage: {} [--quick]\n", argv[0]);
      return arg == "--help" || arg == "-h" ? 0 : 2;
    }
  }
  const std::size_t n = quick ? 50'000 : 1'000'000;
  const std::size_t latency_count = quick ? 200 : 2'000;
  Server server;
  if (!server.ready()) {
    fmt::print(stderr, "FAILURE: cannot start redis-server (apt-get install -y redis-server)\n");
    return 1;
  }
  fmt::print("strata_redis_bench ({} sizes), redis-server on a unix socket, no persistence\n\n",
             quick ? "quick" : "full");

  // Each figure is the best of two runs (the machine may be shared); the raw baselines run
  // before and after the store runs.
  double raw = raw_xadd(server, n, true);
  server.flush();
  const double raw_one_field = raw_xadd(server, n, false);
  server.flush();
  auto store = ss::open_redis_store(server.options("bench:"));
  if (!store.ok()) {
    fmt::print(stderr, "FAILURE: {}\n", store.status().to_string());
    return 1;
  }
  auto best = [&](auto&& run) {
    double top = 0;
    for (int i = 0; i < 2; ++i) {
      top = std::max(top, run());
      server.flush();
    }
    return top;
  };
  const double one = best([&] { return store_appends(**store, n, 1, 1024, 1, "one-"); });
  // Redis's own time per event (INFO commandstats), which a busy machine distorts less than
  // throughput: the raw XADD next to the append script.
  reset_stats(server);
  raw_xadd(server, n / 5, true);
  const double raw_us = redis_usec(server, "xadd") / static_cast<double>(n / 5);
  server.flush();
  reset_stats(server);
  store_appends(**store, n / 5, 1, 1024, 1, "cpu-");
  const double script_us = redis_usec(server, "evalsha") / static_cast<double>(n / 5);
  server.flush();
  reset_stats(server);
  store_appends(**store, n / 5, 1000, 1024, 1, "cpu-many-");
  const double script_many_us = redis_usec(server, "evalsha") / static_cast<double>(n / 5);
  server.flush();
  const double interleaved = best([&] { return store_appends(**store, n, 1000, 1024, 1, "many-"); });
  const double batched = best([&] { return store_appends(**store, n, 1, 128, 8, "batch-"); });
  // Several stores ("nodes") appending at once keep Redis busy the way redis-benchmark's 50
  // connections do; one appender waits a round trip per group.
  auto nodes_at_once = [&](int count, bool one_session) {
    std::vector<std::shared_ptr<ss::SessionStore>> nodes;
    for (int i = 0; i < count; ++i) {
      auto node = ss::open_redis_store(server.options("bench:"));
      if (!node.ok()) {
        fail("open a node: " + node.status().to_string());
        return 0.0;
      }
      nodes.push_back(*node);
    }
    return best([&] {
      const auto start = SteadyClock::now();
      std::vector<std::thread> threads;
      for (int i = 0; i < count; ++i) {
        threads.emplace_back([&, i] {
          store_appends(*nodes[i], n / count, 1, 1024, 1,
                        one_session ? std::string("shared-") : fmt::format("node-{}-", i));
        });
      }
      for (auto& t : threads) t.join();
      return static_cast<double>(n / count * count) / seconds_since(start);
    });
  };
  const double eight_nodes = nodes_at_once(8, false);
  const double eight_nodes_one_session = nodes_at_once(8, true);
  server.flush();
  const double hub = best([&] { return hub_appends(*store, quick ? 50'000 : 300'000); });
  raw = std::max(raw, raw_xadd(server, n, true));
  server.flush();
  const Latency latency = cross_node_latency(server, latency_count);
  const Latency hub_latency = cross_node_hub_latency(server, latency_count);

  auto row = [&](std::string_view what, double rate) {
    fmt::print("  {:<58} {:>12.0f} /s  {:>5.0f}% of raw{}\n", what, rate, raw > 0 ? 100 * rate / raw : 0,
               rate >= kTarget * raw ? "" : "  (below the 50% target)");
  };
  fmt::print("Appends/s (events), target >= {:.0f}% of raw pipelined XADD\n", kTarget * 100);
  fmt::print("  {:<58} {:>12.0f} /s  (baseline)\n", "raw XADD of strata's entry, redis-benchmark -c 50 -P 32", raw);
  fmt::print("  {:<58} {:>12.0f} /s  ({:.0f}% of the baseline)\n", "raw XADD of one field (XADD bench * f <payload>)",
             raw_one_field, raw > 0 ? 100 * raw_one_field / raw : 0);
  row("store, 1 session, groups of 1024 x 1 event", one);
  row("store, 1,000 sessions, groups of 1024 x 1 event", interleaved);
  row("store, 1 session, groups of 128 x 8 events", batched);
  row("store, 8 nodes at once, 1 session each", eight_nodes);
  row("store, 8 nodes at once, all to 1 session", eight_nodes_one_session);
  row("hub append_async, 1 session", hub);
  fmt::print("\nRedis time per event (INFO commandstats; excludes parsing and I/O)\n");
  fmt::print("  {:<58} {:>9.2f} us\n", "raw XADD of strata's entry", raw_us);
  fmt::print("  {:<58} {:>9.2f} us  ({:.0f}% of raw's rate)\n", "append script, 1 session, 1024 x 1 event",
             script_us, script_us > 0 ? 100 * raw_us / script_us : 0);
  fmt::print("  {:<58} {:>9.2f} us  ({:.0f}% of raw's rate)\n", "append script, 1,000 sessions, 1024 x 1 event",
             script_many_us, script_many_us > 0 ? 100 * raw_us / script_many_us : 0);
  fmt::print("\nCross-node append -> wait_for_events delivery, 1 event/ms, {} events\n", latency_count);
  fmt::print("  p50 {:.0f} us   p99 {:.0f} us\n", latency.p50_us, latency.p99_us);
  fmt::print("Cross-node hub A append -> hub B subscriber callback, 1 event/ms, {} events\n",
             latency_count);
  fmt::print("  p50 {:.0f} us   p99 {:.0f} us\n", hub_latency.p50_us, hub_latency.p99_us);
  if (failures != 0) {
    fmt::print(stderr, "{} failure(s)\n", failures);
    return 1;
  }
  return 0;
}
