// strata/clock.h — the injected clock.
//
// Everything in strata that depends on time (leases, TTLs, timestamps, retention) asks a
// Clock, passed through options, so tests drive time with strata::testing::FakeClock instead
// of sleeping.
//
// Thread safety: implementations must be safe to call from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

namespace strata {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, used for event timestamps and lease expiry.
  virtual std::chrono::system_clock::time_point now() const = 0;

  // Milliseconds since the Unix epoch of now().
  std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch())
        .count();
  }
};

// The process-wide real clock (std::chrono::system_clock). Never null.
std::shared_ptr<Clock> system_clock();

}  // namespace strata
