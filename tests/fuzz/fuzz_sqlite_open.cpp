// fuzz_sqlite_open — open_sqlite_store on a file holding arbitrary bytes (a damaged, foreign
// or hostile store file).
//
// Each input is written to /tmp/strata_fuzz_sqlite_<pid>.db (no -wal/-shm next to it) and
// opened twice, with verify_on_open false and true (the file is rewritten in between). When
// the store opens, the fuzzer lists its sessions and, for each, calls info, read and
// list_leased, appends one event, then opens a Hub over the store (FakeClock, ManualExecutor,
// no background maintenance) and asks it for snapshots, presence, reads, cancel_all and a
// maintenance pass — the paths that interpret stored events and leased entries.
//
// Checks: every call returns a Status (no crash, no exception escaping the library, no
// sanitizer report, no hang: libFuzzer's -timeout catches a loop that never ends). Contents
// of a hostile file are not checked for sense, only survived.
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <strata/session/hub.h>
#include <strata/session/sqlite_store.h>
#include <strata/testing/fake_clock.h>
#include <strata/testing/manual_executor.h>

namespace {

using namespace strata;
using namespace strata::session;

constexpr std::size_t kMaxSessions = 8;

std::string g_path;

void remove_files() {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::remove((g_path + suffix).c_str());
  }
}

bool write_file(const std::uint8_t* data, std::size_t size) {
  remove_files();
  std::FILE* f = std::fopen(g_path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(data, 1, size, f) == size;
  return std::fclose(f) == 0 && ok;
}

void exercise_store(SessionStore& store, const std::vector<std::string>& sessions) {
  for (const auto& id : sessions) {
    (void)store.info(id);
    Offset after = 0;
    for (int page = 0; page < 4; ++page) {  // bounded: a hostile file may not advance
      auto r = store.read(id, after, 64, 1 << 20);
      if (!r.ok() || r->events.empty()) break;
      after = r->events.back().offset;
    }
    (void)store.list_leased(id, "presence");
    (void)store.list_leased(id, "lease");
  }
  StoreAppend request;
  request.session = sessions.empty() ? std::string("fuzz") : sessions.front();
  request.producer = "fuzz";
  request.now_ms = 1767225600000;
  Event e;
  e.type = "fuzz.append";
  e.timestamp_ms = request.now_ms;
  request.events.push_back(e);
  StoreAppend batch[1] = {std::move(request)};
  store.append(batch);
}

void exercise_hub(const std::shared_ptr<SessionStore>& store,
                  const std::vector<std::string>& sessions) {
  auto executor = std::make_shared<testing::ManualExecutor>();
  {
    HubOptions options;
    options.store = store;
    options.clock = std::make_shared<testing::FakeClock>();
    options.executor = executor;
    options.maintenance_interval = std::chrono::milliseconds(0);
    auto hub = Hub::open(std::move(options));
    if (!hub.ok()) return;
    for (const auto& id : sessions) {
      (void)(*hub)->snapshot(id);
      (void)(*hub)->presence(id);
      (void)(*hub)->read(id, ReadOptions{});
      (void)(*hub)->cancel_all(id);
      (void)(*hub)->renew_presence(id, "client");
    }
    (void)(*hub)->run_maintenance();
    EventDraft draft;
    draft.type = "fuzz.hub";
    (void)(*hub)->append(sessions.empty() ? std::string("fuzz") : sessions.front(), draft,
                         AppendOptions{.producer = "fuzz"});
    (*hub)->flush();
    executor->run_all();
  }
  executor->run_all();
}

void open_and_exercise(bool verify) {
  SqliteStoreOptions options;
  options.verify_on_open = verify;
  options.durability = SqliteStoreOptions::Durability::kProcessCrash;  // no fsync per input
  options.cache_kib = 512;
  auto store = open_sqlite_store(g_path, options);
  if (!store.ok()) return;
  auto listed = (*store)->list_sessions();
  std::vector<std::string> sessions;
  if (listed.ok()) {
    for (auto& id : *listed) {
      if (sessions.size() == kMaxSessions) break;
      sessions.push_back(std::move(id));
    }
  }
  exercise_store(**store, sessions);
  exercise_hub(*store, sessions);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_path = "/tmp/strata_fuzz_sqlite_" + std::to_string(::getpid()) + ".db";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (bool verify : {false, true}) {
    if (!write_file(data, size)) break;
    open_and_exercise(verify);
  }
  remove_files();
  return 0;
}
