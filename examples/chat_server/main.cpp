// Chat server: strata's network server with a demo chat page and a DEMO agent.
//
// The page (web/index.html, served from --static) appends a `user.message` event to a
// session. The demo agent follows the session; for each user message it opens a run, copies
// the user's text into the run as a message with role "user" (so a snapshot holds the whole
// conversation), then streams a canned answer word by word. It is a demo: there is no model,
// the answer is canned text around an echo of the question. It honours Stop (the run's
// cancellation token: it stops within one delta) and steering (it weaves the steering text
// into the rest of its answer).
//
//   strata_chat_server [--port 0] [--db path/chat.db] [--static dir] [--delay-ms 60]
//                      [--session demo]... [--auth-key <32+ bytes>]
//                      [--redis redis://host:6379] [--no-agent] [--run-lease-ms 30000]
//
// With --redis the sessions live in Redis instead of an SQLite file, so several of these
// servers (nodes) can serve the same sessions behind a load balancer: a client may resume on
// any node, and Stop pressed on one node stops the demo agent on another. Run the agent on
// one node and --no-agent on the others (docs/redis.md).
//
// Prints "listening on http://127.0.0.1:<port>/" once it serves. With --auth-key every
// request needs a capability token; the server then mints one for the demo user and prints
// the page URL with the token in its fragment (#token=...), which the page reads.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <strata/net/auth.h>
#include <strata/net/server.h>
#include <strata/session/hub.h>
#include <strata/session/redis_store.h>

#ifndef STRATA_CHAT_WEB_DIR
#define STRATA_CHAT_WEB_DIR ""
#endif

using namespace std::chrono_literals;
namespace ss = strata::session;
namespace sn = strata::net;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

struct Options {
  std::uint16_t port = 0;
  std::string db;
  std::string static_root = STRATA_CHAT_WEB_DIR;
  std::chrono::milliseconds delay{60};
  std::vector<std::string> sessions;
  std::string auth_key;
  std::string redis_url;
  bool agent = true;
  std::chrono::milliseconds run_lease{30000};
};

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--port N] [--db FILE] [--static DIR] [--delay-ms N] [--session ID]...\n"
               "          [--auth-key KEY] [--redis URL] [--no-agent] [--run-lease-ms N]\n",
               argv0);
  return 2;
}

// Words of the canned answer. The first ones echo the question.
std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::vector<std::string> canned_answer(const std::string& question) {
  std::string q = question.size() > 200 ? question.substr(0, 200) + "…" : question;
  return split_words(
      "(Demo agent — no model here.) You asked: \"" + q +
      "\". Here is a canned answer, streamed one word at a time into a durable session. "
      "Every word is an event with an offset. Reload this page, open it in a second tab, or go "
      "offline for a moment: the stream picks up exactly where you were, with nothing missing "
      "and nothing twice. Press Stop and every open tab sees the run end as cancelled; type "
      "while I am answering and I will take your words into account. That is all there is to "
      "it: the session remembers, so the connection does not have to.");
}

std::vector<std::string> steered_answer(const std::string& input) {
  return split_words("— you steered me: \"" + input +
                     "\". Noted and taken into account. (Still a demo: the words are canned, "
                     "but the steering event travelled through the session like any other.) "
                     "Back to where I was —");
}

// The text of a `user.message` or `run.steer` payload: {"text": "..."} or {"input": ...}.
std::string text_of(const std::string& payload_json) {
  auto j = nlohmann::json::parse(payload_json, nullptr, false);
  if (j.is_discarded()) return {};
  if (j.is_object() && j.contains("input")) j = j["input"];
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("text") && j["text"].is_string()) return j["text"].get<std::string>();
  return j.dump();
}

// The demo agent of one session: a worker thread answers user messages one at a time.
class DemoAgent {
 public:
  DemoAgent(ss::Hub& hub, std::string session, std::chrono::milliseconds delay)
      : hub_(hub), session_(std::move(session)), delay_(delay) {}

  ~DemoAgent() { stop(); }

  strata::Status start() {
    auto info = hub_.create(session_);
    if (!info.ok()) return info.status();
    // Only messages written from now on: a restarted server does not answer old ones again.
    ss::SubscribeOptions from_head;
    from_head.from = info->head;
    from_head.epoch = info->epoch;
    auto sub = hub_.subscribe(session_, from_head, [this](const ss::Event& e) {
      if (e.type != "user.message") return;
      std::lock_guard lock(mu_);
      inbox_.push_back({e.offset, text_of(e.payload)});
      cv_.notify_all();
    });
    if (!sub.ok()) return sub.status();
    subscription_ = std::move(*sub);
    worker_ = std::thread([this] { work(); });
    return strata::ok_status();
  }

  void stop() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      cv_.notify_all();
    }
    if (subscription_) subscription_->close();
    if (worker_.joinable()) worker_.join();
  }

 private:
  struct Question {
    ss::Offset offset;
    std::string text;
  };

  void work() {
    for (;;) {
      Question q;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !inbox_.empty(); });
        if (stopping_) return;
        q = std::move(inbox_.front());
        inbox_.pop_front();
      }
      answer(q);
    }
  }

  // Sleeps for the delay; wakes early when the run is cancelled or the agent stops.
  void pause(const ss::Run& run) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, delay_, [&] { return stopping_ || run.cancelled(); });
  }

  void answer(const Question& q) {
    ss::RunOptions options;
    options.agent = "demo-agent";
    options.run_id = "run-" + std::to_string(q.offset);
    options.payload = R"({"demo":true})";
    auto started = hub_.start_run(session_, std::move(options));
    if (!started.ok()) {
      std::fprintf(stderr, "demo agent: start_run: %s\n", started.status().to_string().c_str());
      return;
    }
    std::unique_ptr<ss::Run> run = std::move(*started);
    // Wake pause() as soon as Stop is pressed, so the agent stops within one delta.
    const auto wake = run->token().on_cancel([this] {
      std::lock_guard lock(mu_);
      cv_.notify_all();
    });
    const bool finished = stream(*run, q);
    run->token().unregister(wake);
    if (finished) {
      (void)run->complete(R"({"demo":true})");
    } else if (!run->cancelled()) {
      (void)run->fail("demo agent stopped");
    }
  }

  // Writes the user's message and the answer. False if cancelled or a write failed.
  bool stream(ss::Run& run, const Question& q) {
    // The question, as a message of the conversation (a snapshot then shows it).
    auto user = run.begin_message("user", "u-" + std::to_string(q.offset));
    if (!user.ok() || !run.delta(*user, q.text).ok() || !run.end_message(*user).ok()) return false;
    auto reply = run.begin_message("assistant");
    if (!reply.ok()) return false;
    std::vector<std::string> words = canned_answer(q.text);
    for (std::size_t i = 0; i < words.size(); ++i) {
      if (run.cancelled()) return false;
      if (auto steer = run.take_steering()) {
        // Steering: the user's new input is taken up right here, then the answer goes on.
        auto more = steered_answer(text_of(*steer));
        words.insert(words.begin() + static_cast<std::ptrdiff_t>(i), more.begin(), more.end());
      }
      if (!run.delta(*reply, (i == 0 ? "" : " ") + words[i]).ok()) return false;
      pause(run);
      {
        std::lock_guard lock(mu_);
        if (stopping_) return false;
      }
    }
    return run.end_message(*reply).ok();
  }

  ss::Hub& hub_;
  const std::string session_;
  const std::chrono::milliseconds delay_;
  std::unique_ptr<ss::Subscription> subscription_;
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Question> inbox_;
  bool stopping_ = false;
};

std::string temp_database() {
  std::string dir = (std::filesystem::temp_directory_path() / "strata-chat-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) return "chat.db";
  return dir + "/chat.db";
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--help" || arg == "-h") return usage(argv[0]);
    if (arg == "--no-agent") {
      opt.agent = false;
      continue;
    }
    if (arg != "--port" && arg != "--db" && arg != "--static" && arg != "--delay-ms" &&
        arg != "--session" && arg != "--auth-key" && arg != "--redis" &&
        arg != "--run-lease-ms") {
      std::fprintf(stderr, "unknown option %s\n", arg.c_str());
      return usage(argv[0]);
    }
    if ((v = value()) == nullptr) return usage(argv[0]);
    if (arg == "--port") opt.port = static_cast<std::uint16_t>(std::atoi(v));
    if (arg == "--db") opt.db = v;
    if (arg == "--static") opt.static_root = v;
    if (arg == "--delay-ms") opt.delay = std::chrono::milliseconds(std::atoi(v));
    if (arg == "--session") opt.sessions.emplace_back(v);
    if (arg == "--auth-key") opt.auth_key = v;
    if (arg == "--redis") opt.redis_url = v;
    if (arg == "--run-lease-ms") opt.run_lease = std::chrono::milliseconds(std::atoi(v));
  }
  if (opt.sessions.empty()) opt.sessions.emplace_back("demo");
  while (opt.static_root.size() > 1 && opt.static_root.back() == '/') opt.static_root.pop_back();

  ss::HubOptions hub_options;
  hub_options.run_lease = opt.run_lease;
  std::string store_name;
  if (!opt.redis_url.empty()) {
    auto redis = ss::parse_redis_url(opt.redis_url);
    if (!redis.ok()) {
      std::fprintf(stderr, "--redis: %s\n", redis.status().to_string().c_str());
      return 2;
    }
    auto store = ss::open_redis_store(*redis);
    if (!store.ok()) {
      std::fprintf(stderr, "cannot use Redis: %s\n", store.status().to_string().c_str());
      return 1;
    }
    hub_options.store = std::move(*store);
    store_name = "redis";
  } else {
    if (opt.db.empty()) opt.db = temp_database();
    hub_options.database_path = opt.db;
    store_name = opt.db;
  }
  auto hub = ss::Hub::open(hub_options);
  if (!hub.ok()) {
    std::fprintf(stderr, "cannot open %s: %s\n", store_name.c_str(), hub.status().to_string().c_str());
    return 1;
  }

  std::vector<std::unique_ptr<DemoAgent>> agents;
  for (const auto& session : opt.sessions) {
    if (!opt.agent) break;
    agents.push_back(std::make_unique<DemoAgent>(**hub, session, opt.delay));
    if (auto s = agents.back()->start(); !s.ok()) {
      std::fprintf(stderr, "session %s: %s\n", session.c_str(), s.to_string().c_str());
      return 1;
    }
  }

  sn::ServerOptions server_options;
  server_options.port = opt.port;
  server_options.static_root = opt.static_root;
  std::string token;
  if (!opt.auth_key.empty()) {
    sn::TokenOptions keys;
    keys.hs256_key = opt.auth_key;
    server_options.handler.auth = keys;
    // The demo user's token: every operation on every session, for 12 hours. A real backend
    // mints narrower tokens (one user's sessions) after its own login.
    sn::Capability cap;
    cap.subject = "demo-user";
    cap.grants = {{{"*"},
                   {sn::Operation::kSubscribe, sn::Operation::kHistory, sn::Operation::kAppend,
                    sn::Operation::kCancel, sn::Operation::kSteer, sn::Operation::kPresence}}};
    cap.expires_at = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count() +
                     12 * 3600;
    auto signed_token = sn::sign_token(cap, keys);
    if (!signed_token.ok()) {
      std::fprintf(stderr, "--auth-key: %s\n", signed_token.status().to_string().c_str());
      return 2;
    }
    token = *signed_token;
  }
  auto server = sn::Server::start(**hub, server_options);
  if (!server.ok()) {
    std::fprintf(stderr, "cannot start the server: %s\n", server.status().to_string().c_str());
    return 1;
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const auto port = (*server)->port();
  std::fprintf(stderr, "strata chat demo: store %s, pages from %s, demo agent in session(s):",
               store_name.c_str(), opt.static_root.c_str());
  if (!opt.agent) std::fprintf(stderr, " none (--no-agent)");
  for (const auto& s : opt.sessions) {
    if (opt.agent) std::fprintf(stderr, " %s", s.c_str());
  }
  std::fprintf(stderr, "\n");
  std::printf("listening on http://127.0.0.1:%u/\n", static_cast<unsigned>(port));
  if (!token.empty()) std::printf("open http://127.0.0.1:%u/#token=%s\n", static_cast<unsigned>(port), token.c_str());
  std::fflush(stdout);

  while (!g_stop.load()) std::this_thread::sleep_for(100ms);

  std::fprintf(stderr, "shutting down: clients are told to reconnect and resume\n");
  (*server)->shutdown();
  for (auto& agent : agents) agent->stop();
  return 0;
}
