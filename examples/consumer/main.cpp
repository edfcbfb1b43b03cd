// The smallest host: append to a durable session on SQLite and read it back live.
#include <condition_variable>
#include <cstdio>
#include <mutex>

#include <strata/session/hub.h>

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "consumer.db";
  auto hub = strata::session::Hub::open({.database_path = path});
  if (!hub.ok()) {
    std::fprintf(stderr, "open: %s\n", hub.status().to_string().c_str());
    return 1;
  }
  auto appended = (*hub)->append("demo", {.type = "app.hello", .payload = R"({"text":"hi"})"},
                                 {.producer = "consumer"});
  if (!appended.ok()) {
    std::fprintf(stderr, "append: %s\n", appended.status().to_string().c_str());
    return 1;
  }
  std::mutex mu;
  std::condition_variable cv;
  bool seen = false;
  auto sub = (*hub)->subscribe("demo", {.from = appended->first_offset - 1},
                               [&](const strata::session::Event& e) {
                                 std::lock_guard lock(mu);
                                 seen = e.offset == appended->first_offset && e.type == "app.hello";
                                 cv.notify_all();
                               });
  if (!sub.ok()) return 1;
  std::unique_lock lock(mu);
  if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return seen; })) return 1;
  std::printf("consumer ok: offset %llu\n", static_cast<unsigned long long>(appended->first_offset));
  return 0;
}
