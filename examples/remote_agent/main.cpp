// An out-of-process agent runtime: it reaches a strata server over the network with the C++
// client, answers each user message by streaming a reply into the session, and stops
// mid-answer when anyone presses Stop (a run.cancelled event for its run). It is a demo
// agent — it streams canned words, there is no model — but the wiring is what a real agent
// runtime does.
//
//   strata_remote_agent --url ws://127.0.0.1:8080/v1/ws --session chat-1 [--token T]
//   strata_remote_agent --self-test     # in-process server, one answered and one stopped turn
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include <strata/net/client.h>
#include <strata/net/server.h>
#include <strata/session/hub.h>

using namespace std::chrono_literals;
using nlohmann::json;
namespace net = strata::net;
namespace ss = strata::session;

namespace {

class RemoteAgent {
 public:
  RemoteAgent(net::Client& client, std::string session) : client_(client), session_(std::move(session)) {}

  // Follows the session from its current head; handlers only queue work (they run on the
  // client's I/O thread, which must not block on client calls).
  bool start() {
    auto snapshot = client_.snapshot_json(session_);
    ss::Offset from = 0;
    if (snapshot.ok()) from = json::parse(*snapshot).value("next_offset", ss::Offset{0});
    subscription_ = client_.subscribe(session_, {.from = from}, [this](const ss::Event& e) { on_event(e); },
                                      [this](const strata::Status& why) {
                                        std::fprintf(stderr, "agent: subscription ended: %s\n", why.to_string().c_str());
                                        stop();
                                      });
    return true;
  }

  // Answers queued user messages until stop().
  void run(std::chrono::milliseconds delay) {
    int turn = 0;
    while (true) {
      std::string text;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !inbox_.empty(); });
        if (stopping_) return;
        text = std::move(inbox_.front());
        inbox_.pop_front();
      }
      answer("remote-run-" + client_.producer() + "-" + std::to_string(++turn), text, delay);
    }
  }

  void stop() {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }

  std::atomic<int> answered{0};
  std::atomic<int> stopped{0};

 private:
  void on_event(const ss::Event& e) {
    std::lock_guard lock(mu_);
    if (e.type == "user.message") {
      inbox_.push_back(json::parse(e.payload).value("text", ""));
      cv_.notify_all();
    } else if (e.type == "run.cancelled") {
      cancelled_.insert(e.run_id);
    }
  }

  bool cancelled(const std::string& run_id) {
    std::lock_guard lock(mu_);
    return cancelled_.count(run_id) > 0;
  }

  bool write(const std::string& type, const std::string& run_id, const std::string& message_id, json payload) {
    auto r = client_.append(session_, {{.type = type, .payload = payload.dump(), .run_id = run_id,
                                        .message_id = message_id}});
    if (!r.ok()) std::fprintf(stderr, "agent: append %s failed: %s\n", type.c_str(), r.status().to_string().c_str());
    return r.ok();
  }

  void answer(const std::string& run_id, const std::string& question, std::chrono::milliseconds delay) {
    const std::string message_id = run_id + "-m";
    if (!write("run.started", run_id, "", {{"agent", client_.producer()}})) return;
    write("message.started", run_id, message_id, {{"role", "assistant"}});
    std::string reply = "You said \"" + question + "\". This demo agent streams a canned answer word by word "
                        "so you can watch it arrive, reconnect mid-answer, or press Stop.";
    std::string so_far;
    std::size_t pos = 0;
    while (pos < reply.size()) {
      if (cancelled(run_id)) {
        std::printf("agent: %s stopped by the user after %zu characters\n", run_id.c_str(), so_far.size());
        ++stopped;
        return;  // the run.cancelled event already ended the run; write nothing more
      }
      std::size_t next = reply.find(' ', pos + 1);
      std::string word = reply.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
      write("message.delta", run_id, message_id, {{"text", word}});
      so_far += word;
      pos = next == std::string::npos ? reply.size() : next;
      std::this_thread::sleep_for(delay);
    }
    write("message.completed", run_id, message_id, {{"role", "assistant"}, {"text", so_far}});
    write("run.completed", run_id, "", json::object());
    ++answered;
    std::printf("agent: %s answered\n", run_id.c_str());
  }

  net::Client& client_;
  std::string session_;
  std::unique_ptr<net::ClientSubscription> subscription_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> inbox_;
  std::set<std::string> cancelled_;
  bool stopping_ = false;
};

// Waits until the session's history satisfies `done`.
template <typename Pred>
bool wait_history(ss::Hub& hub, const std::string& session, Pred done, std::chrono::seconds timeout = 20s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto page = hub.read(session, {.after = 0, .max_events = 10000});
    if (page.ok() && done(page->events)) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

int self_test() {
  ss::HubOptions hub_options;
  hub_options.store = ss::open_memory_store();
  auto hub = ss::Hub::open(hub_options).value();
  auto server = net::Server::start(*hub, {}).value();
  const std::string url = "ws://127.0.0.1:" + std::to_string(server->port()) + "/v1/ws";
  const std::string session = "remote-agent-demo";
  if (!hub->create(session).ok()) return 1;

  auto agent_client = net::Client::connect({.url = url, .producer = "remote-agent"}).value();
  RemoteAgent agent(*agent_client, session);
  agent.start();
  std::thread agent_thread([&] { agent.run(15ms); });

  auto user = net::Client::connect({.url = url, .producer = "browser-tab"}).value();
  auto count = [](const std::vector<ss::Event>& events, const char* type) {
    int n = 0;
    for (const auto& e : events) n += e.type == type;
    return n;
  };
  std::this_thread::sleep_for(200ms);
  (void)user->append(session, {{.type = "user.message", .payload = R"({"text":"hello"})"}});
  bool first = wait_history(*hub, session, [&](const auto& ev) { return count(ev, "run.completed") == 1; });

  (void)user->append(session, {{.type = "user.message", .payload = R"({"text":"tell me more"})"}});
  // Press Stop once the second answer is streaming.
  std::string second_run;
  wait_history(*hub, session, [&](const auto& ev) {
    for (const auto& e : ev) {
      if (e.type == "message.delta" && e.run_id.find("-2") != std::string::npos) second_run = e.run_id;
    }
    return !second_run.empty();
  });
  bool cancelled = !second_run.empty() && user->cancel(session, second_run, "stop pressed").ok();
  bool stopped = wait_history(*hub, session, [&](const auto&) { return agent.stopped == 1; }, 10s);
  agent.stop();
  agent_thread.join();

  auto snapshot = hub->snapshot(session).value();
  bool states_ok = snapshot.runs.size() == 2 && snapshot.runs[0].state == ss::RunState::kCompleted &&
                   snapshot.runs[1].state == ss::RunState::kCancelled;
  if (first && cancelled && stopped && states_ok) {
    std::printf("remote agent: answered one turn over the network and stopped the next on cancel\n");
    return 0;
  }
  std::fprintf(stderr, "remote agent self-test failed: first=%d cancelled=%d stopped=%d states=%d\n", first,
               cancelled, stopped, states_ok);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  std::string session;
  std::string token;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--self-test") return self_test();
    if (i + 1 < argc && arg == "--url") url = argv[++i];
    else if (i + 1 < argc && arg == "--session") session = argv[++i];
    else if (i + 1 < argc && arg == "--token") token = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s --url ws://host:port/v1/ws --session ID [--token T] | --self-test\n", argv[0]);
      return 2;
    }
  }
  if (url.empty() || session.empty()) {
    std::fprintf(stderr, "usage: %s --url ws://host:port/v1/ws --session ID [--token T] | --self-test\n", argv[0]);
    return 2;
  }
  auto client = net::Client::connect({.url = url, .token = token, .producer = "remote-agent"});
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.status().to_string().c_str());
    return 1;
  }
  RemoteAgent agent(**client, session);
  agent.start();
  std::printf("agent: answering user.message events in %s (Ctrl-C to quit)\n", session.c_str());
  agent.run(60ms);
  return 0;
}
