// strata/testing/fake_clock.h — a Clock that moves only when a test says so.
//
// Thread safety: all methods are safe to call concurrently.
#pragma once

#include <atomic>
#include <chrono>

#include <strata/clock.h>

namespace strata::testing {

class FakeClock final : public Clock {
 public:
  // Starts at 2026-01-01T00:00:00Z unless told otherwise.
  explicit FakeClock(std::int64_t start_ms = 1767225600000) : now_ms_(start_ms) {}

  std::chrono::system_clock::time_point now() const override {
    return std::chrono::system_clock::time_point(
        std::chrono::milliseconds(now_ms_.load(std::memory_order_acquire)));
  }
  void advance(std::chrono::milliseconds by) {
    now_ms_.fetch_add(by.count(), std::memory_order_acq_rel);
  }
  void set_ms(std::int64_t ms) { now_ms_.store(ms, std::memory_order_release); }

 private:
  std::atomic<std::int64_t> now_ms_;
};

}  // namespace strata::testing
