// Helpers shared by the session tests.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <strata/session/hub.h>
#include <strata/session/sqlite_store.h>
#include <strata/session/store.h>

namespace strata::test {

// One store request (what the hub hands a SessionStore), for store-level tests.
inline session::StoreAppend request(std::string session, std::vector<session::Event> events,
                                    std::string producer = "p", std::uint64_t epoch = 0,
                                    std::optional<std::uint64_t> seq = std::nullopt) {
  session::StoreAppend r;
  r.session = std::move(session);
  r.producer = std::move(producer);
  r.producer_epoch = epoch;
  r.producer_seq = seq;
  r.events = std::move(events);
  r.now_ms = 42;
  return r;
}

// Performs one request alone and returns it with its outcome filled in.
inline session::StoreAppend append_one(session::SessionStore& store, session::StoreAppend r) {
  store.append(std::span<session::StoreAppend>(&r, 1));
  return r;
}

// A fresh directory under the system temp dir, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("strata-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Collects what a subscription delivers; waits with a deadline (never forever).
class Collector {
 public:
  session::EventHandler handler() {
    return [this](const session::Event& e) {
      std::lock_guard lock(mu_);
      events_.push_back(e);
      cv_.notify_all();
    };
  }
  session::CloseHandler close_handler() {
    return [this](const Status& s) {
      std::lock_guard lock(mu_);
      closed_ = s;
      cv_.notify_all();
    };
  }
  // True once an event with offset >= `offset` arrived.
  bool wait_for_offset(session::Offset offset, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return !events_.empty() && events_.back().offset >= offset; });
  }
  bool wait_for_count(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return events_.size() >= n; });
  }
  bool wait_for_close(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return closed_.has_value(); });
  }
  bool wait_for_type(std::string_view type, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      for (const auto& e : events_) if (e.type == type) return true;
      return false;
    });
  }
  std::vector<session::Event> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::vector<session::Offset> offsets() const {
    std::lock_guard lock(mu_);
    std::vector<session::Offset> out;
    for (const auto& e : events_) out.push_back(e.offset);
    return out;
  }
  std::optional<Status> closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<session::Event> events_;
  std::optional<Status> closed_;
};

inline session::EventDraft draft(std::string type, std::string payload = "{}") {
  session::EventDraft d;
  d.type = std::move(type);
  d.payload = std::move(payload);
  return d;
}

inline session::AppendOptions producer(std::string id) {
  session::AppendOptions o;
  o.producer = std::move(id);
  return o;
}

// Polls `predicate` until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& predicate,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return predicate();
}

}  // namespace strata::test
