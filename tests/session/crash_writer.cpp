// A child process for the kill -9 test: appends from several threads through a hub on an
// SQLite store and prints "ack <offset> <writer> <i>" after each append returned. The test
// kills it at a random moment and checks every acknowledged event is in the file.
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <strata/session/hub.h>
#include <strata/session/sqlite_store.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <db> <full|process>\n", argv[0]);
    return 2;
  }
  strata::session::SqliteStoreOptions store_options;
  store_options.durability = std::string(argv[2]) == "full"
                                 ? strata::session::SqliteStoreOptions::Durability::kFull
                                 : strata::session::SqliteStoreOptions::Durability::kProcessCrash;
  auto store = strata::session::open_sqlite_store(argv[1], store_options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
    return 1;
  }
  strata::session::HubOptions options;
  options.store = *store;
  options.maintenance_interval = std::chrono::milliseconds(0);
  auto hub = strata::session::Hub::open(options);
  if (!hub.ok()) return 1;
  std::mutex out;
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0;; ++i) {
        strata::session::EventDraft d;
        d.type = "app.tick";
        d.payload = "{\"writer\":" + std::to_string(w) + ",\"i\":" + std::to_string(i) + "}";
        strata::session::AppendOptions o;
        o.producer = "writer-" + std::to_string(w);
        auto r = (*hub)->append("crash/session-" + std::to_string(w % 2), d, o);
        if (!r.ok()) {
          std::fprintf(stderr, "append failed: %s\n", r.status().to_string().c_str());
          std::_Exit(1);
        }
        std::lock_guard lock(out);
        std::printf("ack %d %llu %d\n", w % 2, static_cast<unsigned long long>(r->first_offset), i);
        std::fflush(stdout);
      }
    });
  }
  for (auto& t : writers) t.join();
}
