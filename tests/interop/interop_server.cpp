// A strata server for the interop tests (tests/interop/*): a hub, strata's network server and
// an appender that streams numbered events into a session on request.
//
//   strata_interop_server [--port 0] [--db FILE] [--auth-key KEY] [--header-timeout-ms N]
//                         [--max-body-bytes N] [--exit-on-stdin-eof]
//                         [--durable-streams PREFIX] [--long-poll-ms N] [--ai-sdk PREFIX]
//                         [--ds-subscriptions]
//   strata_interop_server --auth-key KEY --mint-token '{"sub":"t","sessions":["*"],
//                         "ops":["subscribe"],"ttl":60}'      prints a token and exits
//
// It prints "listening on http://127.0.0.1:<port>/" when it serves. To start a stream, append
// to the session "control" an event {"type":"interop.start","payload":{"session":"s",
// "count":2000,"interval_us":1000}}: the appender then writes `interop.tick` events with
// payload {"i":1..count} to "s" (one every interval_us), then `interop.done` {"count"}.
// With --auth-key the control session needs an append grant like any other.
//
// An agent: {"type":"interop.agent","payload":{"session":"s","words":50,"interval_us":20000,
// "run_id":"r1"}} makes a strata Run (the C++ agent API) write into "s": a reasoning message
// ("thinking" in two deltas), a tool.call / tool.result pair, then an assistant message of
// `words` deltas "w1", " w2", ... one every interval_us, then run.completed. A cancel of the
// run stops it at the next delta. {"type":"interop.watch","payload":{"session":"s","words":N,
// "interval_us":N,"hold_after":H}} makes the same agent answer every later `user.message` in
// "s" (what the AI SDK route appends). With "hold_after" (default 0: never) each answer stops
// after H words and waits, still running, until the control session gets
// {"type":"interop.release","payload":{"session":"s"}}: the k-th answer to wait goes on after
// the k-th release (an early release is kept), or ends when its run is cancelled. A test can
// then act on a run it knows is still running, however slow the machine.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <strata/net/auth.h>
#include <strata/net/server.h>
#include <strata/session/hub.h>
#include <strata/session/sqlite_store.h>

namespace ss = strata::session;
namespace sn = strata::net;
using nlohmann::json;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

int mint(const std::string& key, const std::string& spec_text) {
  auto spec = json::parse(spec_text, nullptr, false);
  if (!spec.is_object()) {
    std::fprintf(stderr, "--mint-token needs a JSON object\n");
    return 2;
  }
  sn::Capability cap;
  cap.subject = spec.value("sub", "interop");
  sn::Grant grant;
  for (const auto& s : spec.value("sessions", json::array({"*"}))) grant.sessions.push_back(s.get<std::string>());
  for (const auto& o : spec.value("ops", json::array())) {
    auto op = sn::parse_operation(o.get<std::string>());
    if (!op) {
      std::fprintf(stderr, "unknown operation %s\n", o.dump().c_str());
      return 2;
    }
    grant.ops.push_back(*op);
  }
  cap.grants.push_back(std::move(grant));
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  cap.expires_at = now + spec.value("ttl", 60);
  sn::TokenOptions keys;
  keys.hs256_key = key;
  auto token = sn::sign_token(cap, keys);
  if (!token.ok()) {
    std::fprintf(stderr, "%s\n", token.status().to_string().c_str());
    return 2;
  }
  std::printf("%s\n", token->c_str());
  return 0;
}

// Writes numbered events into sessions when asked through the control session.
class Appender {
 public:
  explicit Appender(ss::Hub& hub) : hub_(hub) {}
  ~Appender() { stop(); }

  strata::Status start() {
    auto info = hub_.create("control");
    if (!info.ok()) return info.status();
    ss::SubscribeOptions options;
    options.from = info->head;
    auto sub = hub_.subscribe("control", options, [this](const ss::Event& e) {
      if (e.type != "interop.start" && e.type != "interop.agent" && e.type != "interop.watch" &&
          e.type != "interop.release") {
        return;
      }
      auto spec = json::parse(e.payload, nullptr, false);
      if (!spec.is_object() || !spec.contains("session")) return;
      std::lock_guard lock(mu_);
      if (stopping_) return;
      if (e.type == "interop.release") {
        ++released_[spec.value("session", std::string())];
        held_cv_.notify_all();
        return;
      }
      if (e.type == "interop.watch") {
        watch(spec.value("session", std::string()), spec.value("words", 50), spec.value("interval_us", 20000),
              spec.value("hold_after", 0));
        return;
      }
      if (e.type == "interop.agent") {
        threads_.emplace_back([this, session = spec.value("session", std::string()),
                               words = spec.value("words", 50), interval = spec.value("interval_us", 20000),
                               run_id = spec.value("run_id", std::string())] {
          agent(session, words, std::chrono::microseconds(interval), run_id, 0);
        });
        return;
      }
      threads_.emplace_back([this, session = spec.value("session", std::string()),
                             count = spec.value("count", 100), interval = spec.value("interval_us", 1000)] {
        stream(session, count, std::chrono::microseconds(interval));
      });
    });
    if (!sub.ok()) return sub.status();
    sub_ = std::move(*sub);
    return strata::ok_status();
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      held_cv_.notify_all();
    }
    if (sub_) sub_->close();
    for (auto& w : watches_) w->close();
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads) t.join();
  }

 private:
  void stream(const std::string& session, int count, std::chrono::microseconds interval) {
    auto next = std::chrono::steady_clock::now();
    for (int i = 1; i <= count && !g_stop.load(); ++i) {
      ss::EventDraft draft;
      draft.type = "interop.tick";
      draft.payload = "{\"i\":" + std::to_string(i) + "}";
      ss::AppendOptions options;
      options.producer = "appender";
      auto r = hub_.append(session, std::move(draft), options);
      if (!r.ok()) {
        std::fprintf(stderr, "appender: %s\n", r.status().to_string().c_str());
        return;
      }
      next += interval;
      std::this_thread::sleep_until(next);
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    ss::EventDraft done;
    done.type = "interop.done";
    done.payload = "{\"count\":" + std::to_string(count) + "}";
    (void)hub_.append(session, std::move(done), {.producer = "appender"});
  }

  // REQUIRES: mu_ held.
  void watch(const std::string& session, int words, int interval_us, int hold_after) {
    ss::SubscribeOptions options;
    auto info = hub_.create(session);
    if (!info.ok()) return;
    options.from = info->head;
    auto sub = hub_.subscribe(session, options, [this, session, words, interval_us, hold_after](const ss::Event& e) {
      if (e.type != "user.message") return;
      std::lock_guard lock(mu_);
      if (stopping_) return;
      threads_.emplace_back([this, session, words, interval_us, hold_after] {
        agent(session, words, std::chrono::microseconds(interval_us), "", hold_after);
      });
    });
    if (sub.ok()) watches_.push_back(std::move(*sub));
  }

  // The k-th answer of `session` to reach its hold waits here for the k-th interop.release;
  // false when the run was cancelled (or the server stops) meanwhile.
  bool hold(const std::string& session, ss::Run& run) {
    std::unique_lock lock(mu_);
    const int ticket = ++holds_[session];
    while (released_[session] < ticket) {
      if (stopping_ || g_stop.load() || run.cancelled()) return false;
      held_cv_.wait_for(lock, std::chrono::milliseconds(20));  // a cancel does not notify: polled
    }
    return true;
  }

  void agent(const std::string& session, int words, std::chrono::microseconds interval,
             const std::string& run_id, int hold_after) {
    auto started = hub_.start_run(session, {.agent = "interop-agent", .run_id = run_id});
    if (!started.ok()) {
      std::fprintf(stderr, "agent: %s\n", started.status().to_string().c_str());
      return;
    }
    auto& run = **started;
    auto live = [&] {
      std::lock_guard lock(mu_);
      return !stopping_ && !g_stop.load() && !run.cancelled();
    };
    auto thinking = run.begin_message("reasoning");
    if (!thinking.ok() || !run.delta(*thinking, "thinking").ok() || !run.delta(*thinking, " hard").ok() ||
        !run.end_message(*thinking).ok()) {
      return;
    }
    (void)run.emit({.type = "tool.call",
                    .payload = R"({"tool_call_id":"call-1","tool_name":"lookup","input":{"q":"strata"}})"});
    (void)run.emit({.type = "tool.result", .payload = R"({"tool_call_id":"call-1","output":{"found":true}})"});
    auto reply = run.begin_message("assistant");
    if (!reply.ok()) return;
    auto next = std::chrono::steady_clock::now();
    for (int i = 1; i <= words; ++i) {
      if (i == hold_after + 1 && hold_after > 0) {
        if (!hold(session, run)) return;
        next = std::chrono::steady_clock::now();
      }
      if (!live()) return;  // cancelled: the hub has written run.cancelled
      if (!run.delta(*reply, (i == 1 ? "w" : " w") + std::to_string(i)).ok()) return;
      next += interval;
      std::this_thread::sleep_until(next);
    }
    if (!run.end_message(*reply).ok()) return;
    (void)run.complete();
  }

  ss::Hub& hub_;
  std::unique_ptr<ss::Subscription> sub_;
  std::vector<std::unique_ptr<ss::Subscription>> watches_;
  std::mutex mu_;
  std::condition_variable held_cv_;           // interop.release or stop()
  std::map<std::string, int> holds_, released_;  // per session: answers that reached their hold; releases
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

int main(int argc, char** argv) {
  std::uint16_t port = 0;
  std::string db;
  std::string auth_key;
  std::string mint_spec;
  bool exit_on_eof = false;
  sn::ServerOptions options;
  options.threads = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--port") {
      port = static_cast<std::uint16_t>(std::stoi(next()));
    } else if (arg == "--db") {
      db = next();
    } else if (arg == "--auth-key") {
      auth_key = next();
    } else if (arg == "--mint-token") {
      mint_spec = next();
    } else if (arg == "--header-timeout-ms") {
      options.header_timeout = std::chrono::milliseconds(std::stoi(next()));
    } else if (arg == "--max-body-bytes") {
      options.handler.max_body_bytes = static_cast<std::size_t>(std::stoul(next()));
    } else if (arg == "--durable-streams") {
      options.durable_streams.prefix = next();
    } else if (arg == "--ai-sdk") {
      options.ai_sdk.prefix = next();
    } else if (arg == "--long-poll-ms") {
      options.durable_streams.long_poll_timeout = std::chrono::milliseconds(std::stoi(next()));
    } else if (arg == "--ds-subscriptions") {
      // The conformance suite's webhook receiver listens on 127.0.0.1: loopback allowed.
      options.durable_streams.subscriptions.enabled = true;
      options.durable_streams.subscriptions.allow_loopback_webhooks = true;
    } else if (arg == "--exit-on-stdin-eof") {
      exit_on_eof = true;
    } else {
      std::fprintf(stderr, "unknown option %s\n", arg.c_str());
      return 2;
    }
  }
  if (!mint_spec.empty()) return mint(auth_key, mint_spec);

  std::filesystem::path dir;
  if (db.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "strata-interop-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return 1;
    dir = tmpl;
    db = (dir / "interop.db").string();
  }
  int rc = 0;
  {
    // Without an fsync per commit: the tests are about the wire, and on a busy shared disk
    // fsync times would make the appender's pace (and so the tests' timing) unpredictable.
    ss::SqliteStoreOptions store_options;
    store_options.durability = ss::SqliteStoreOptions::Durability::kProcessCrash;
    auto store = ss::open_sqlite_store(db, store_options);
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
      return 1;
    }
    ss::HubOptions hub_options;
    hub_options.store = *store;
    auto hub = ss::Hub::open(hub_options);
    if (!hub.ok()) {
      std::fprintf(stderr, "%s\n", hub.status().to_string().c_str());
      return 1;
    }
    Appender appender(**hub);
    if (auto s = appender.start(); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.to_string().c_str());
      return 1;
    }
    options.port = port;
    if (!auth_key.empty()) options.handler.auth = sn::TokenOptions{.hs256_key = auth_key};
    auto server = sn::Server::start(**hub, options);
    if (!server.ok()) {
      std::fprintf(stderr, "%s\n", server.status().to_string().c_str());
      return 1;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::printf("listening on http://127.0.0.1:%u/\n", static_cast<unsigned>((*server)->port()));
    std::fflush(stdout);
    if (exit_on_eof) {
      std::thread([] {
        std::string line;
        while (std::getline(std::cin, line)) {
        }
        g_stop.store(true);
      }).detach();
    }
    while (!g_stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    (*server)->shutdown(std::chrono::milliseconds(500));
    appender.stop();
    const auto stats = (*server)->stats();
    std::fprintf(stderr, "interop server: %llu connections, %llu protocol errors\n",
                 static_cast<unsigned long long>(stats.connections_total),
                 static_cast<unsigned long long>(stats.protocol_errors));
  }
  if (!dir.empty()) std::filesystem::remove_all(dir);
  return rc;
}
