// Quickstart: an agent streams an answer into a durable session while a client's connection
// drops and resumes, a second tab joins late from a snapshot, the user steers and then
// presses Stop. Everything goes through one SQLite file.
//
//   strata_quickstart [path/to/session.db]
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <strata/session/hub.h>

using namespace std::chrono_literals;
namespace ss = strata::session;

namespace {

// A client "tab": remembers what it saw so it can resume after a drop.
struct Tab {
  explicit Tab(std::string tab_name) : name(std::move(tab_name)) {}
  std::string name;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ss::Offset> seen;
  std::string text;
  bool stopped = false;

  ss::EventHandler handler() {
    return [this](const ss::Event& e) {
      std::lock_guard lock(mu);
      seen.push_back(e.offset);
      if (e.type == ss::event_types::kMessageDelta) {
        // The payload is {"text":"..."}; the demo's tokens contain no escapes.
        const auto start = e.payload.find(":\"") + 2;
        text += e.payload.substr(start, e.payload.size() - start - 2);
      }
      if (e.type == ss::event_types::kRunCancelled) {
        stopped = true;
        std::printf("  [%s] sees run.cancelled at offset %llu: %s\n", name.c_str(),
                    static_cast<unsigned long long>(e.offset), e.payload.c_str());
      }
      cv.notify_all();
    };
  }
  bool wait(const std::function<bool()>& until, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, until);
  }
};

int fail(const strata::Status& s, const char* what) {
  std::fprintf(stderr, "%s failed: %s\n", what, s.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "quickstart.db";
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");

  ss::HubOptions options;
  options.database_path = path;  // the embedded default store: one SQLite file
  auto opened = ss::Hub::open(options);
  if (!opened.ok()) return fail(opened.status(), "open");
  auto& hub = *opened;
  const std::string chat = "demo/chat-1";
  if (auto c = hub->create(chat); !c.ok()) return fail(c.status(), "create");
  std::printf("session %s, epoch %s, store %s\n", chat.c_str(), hub->info(chat)->epoch.c_str(),
              path.c_str());

  // The agent: streams tokens until it is done or cancelled; honours steering.
  std::atomic<bool> agent_done{false};
  auto run = hub->start_run(chat, {.agent = "assistant", .run_id = "answer-1"});
  if (!run.ok()) return fail(run.status(), "start_run");
  std::thread agent([&, r = run->get()] {
    auto message = r->begin_message();
    if (!message.ok()) return;
    for (int i = 0; i < 400 && !r->cancelled(); ++i) {
      if (auto steer = r->take_steering()) {
        std::printf("  [agent] steering received: %s\n", steer->c_str());
      }
      if (!r->delta(*message, "tok" + std::to_string(i) + " ").ok()) break;
      std::this_thread::sleep_for(5ms);
    }
    if (r->cancelled()) {
      std::printf("  [agent] token fired (%s): stopping\n", r->token().reason().c_str());
    } else {
      (void)r->end_message(*message);
      (void)r->complete();
    }
    agent_done = true;
  });

  // Tab 1 subscribes, then its network drops mid-stream.
  Tab laptop("laptop");
  (void)hub->join(chat, {.client_id = "laptop", .device = "laptop/firefox"});
  auto sub = hub->subscribe(chat, {}, laptop.handler());
  if (!sub.ok()) return fail(sub.status(), "subscribe");
  laptop.wait([&] { return laptop.seen.size() >= 40; });
  const std::string epoch = (*sub)->epoch();
  sub->reset();  // connection lost: nothing is cancelled, the agent keeps writing
  const ss::Offset resume_from = laptop.seen.back();
  std::printf("  [laptop] connection dropped after offset %llu (%zu events)\n",
              static_cast<unsigned long long>(resume_from), laptop.seen.size());
  std::this_thread::sleep_for(300ms);

  // Tab 1 comes back and resumes exactly where it was.
  auto resumed = hub->resume(chat, epoch, resume_from, laptop.handler());
  if (!resumed.ok()) return fail(resumed.status(), "resume");
  std::printf("  [laptop] resumed from offset %llu\n", static_cast<unsigned long long>(resume_from));

  // Tab 2 (the phone) joins late: a snapshot instead of replaying every token.
  auto snap = hub->snapshot(chat);
  if (!snap.ok()) return fail(snap.status(), "snapshot");
  std::printf("  [phone] snapshot at offset %llu: %zu message(s), %zu run(s), text so far %zu bytes\n",
              static_cast<unsigned long long>(snap->offset), snap->messages.size(),
              snap->runs.size(), snap->messages.empty() ? 0 : snap->messages[0].text.size());
  Tab phone("phone");
  (void)hub->join(chat, {.client_id = "phone", .device = "phone/safari"});
  auto phone_sub = hub->subscribe(chat, {.from = snap->offset, .epoch = snap->epoch}, phone.handler());
  if (!phone_sub.ok()) return fail(phone_sub.status(), "phone subscribe");

  // The user steers, then presses Stop on the phone; the laptop sees it too.
  std::this_thread::sleep_for(200ms);
  (void)hub->steer(chat, "answer-1", R"({"text":"keep it short"})", "phone");
  std::this_thread::sleep_for(200ms);
  auto cancelled = hub->cancel(chat, "answer-1", {.reason = "user pressed stop", .requested_by = "phone"});
  if (!cancelled.ok()) return fail(cancelled.status(), "cancel");
  agent.join();
  laptop.wait([&] { return laptop.stopped; });
  phone.wait([&] { return phone.stopped; });
  hub->flush();

  // Check: the laptop saw every event exactly once, in order, across the drop.
  const auto head = hub->info(chat)->head;
  laptop.wait([&] { return !laptop.seen.empty() && laptop.seen.back() >= head; });
  std::vector<ss::Offset> expected;
  for (ss::Offset o = 1; o <= head; ++o) expected.push_back(o);
  std::lock_guard lock(laptop.mu);
  const bool exact = laptop.seen == expected;
  auto final_snap = hub->snapshot(chat);
  std::printf("run answer-1 ended %s; message %s with %zu bytes; presence: %zu client(s)\n",
              std::string(ss::to_string(final_snap->runs[0].state)).c_str(),
              std::string(ss::to_string(final_snap->messages[0].state)).c_str(),
              final_snap->messages[0].text.size(), final_snap->presence.size());
  if (!exact || final_snap->runs[0].state != ss::RunState::kCancelled) {
    std::printf("FAILED: laptop saw %zu events, head is %llu\n", laptop.seen.size(),
                static_cast<unsigned long long>(head));
    return 1;
  }
  std::printf("laptop: %llu events across one drop; every event arrived exactly once, in order\n",
              static_cast<unsigned long long>(head));
  return 0;
}
