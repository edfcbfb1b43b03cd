// strata/cancellation.h — cancellation tokens for agent runs.
//
// A run's token fires when a cancel control event for the run reaches the node that runs the
// agent (see strata/session/hub.h). Agents either poll `cancelled()` between steps or
// register a callback. A client disconnecting never fires a token.
//
// Thread safety: all methods are safe to call concurrently. A CancellationSource and the
// tokens made from it share one state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace strata {

namespace detail {
struct CancellationState;
}

class CancellationToken {
 public:
  // A token that can never fire.
  CancellationToken() = default;

  [[nodiscard]] bool cancelled() const noexcept;
  // Why it fired ("" while not cancelled), e.g. "user pressed stop".
  [[nodiscard]] std::string reason() const;
  // Registers `callback`, invoked once when the token fires (on the thread that fires it, or
  // immediately on this thread if it already has). Returns an id for unregister().
  std::uint64_t on_cancel(std::function<void()> callback) const;
  // Removes a callback that has not run yet. Returns false if it already ran or is unknown.
  bool unregister(std::uint64_t id) const;

 private:
  friend class CancellationSource;
  explicit CancellationToken(std::shared_ptr<detail::CancellationState> state)
      : state_(std::move(state)) {}
  std::shared_ptr<detail::CancellationState> state_;
};

class CancellationSource {
 public:
  CancellationSource();
  [[nodiscard]] CancellationToken token() const { return CancellationToken(state_); }
  // Fires the token once; later calls do nothing and return false.
  bool cancel(std::string reason);
  [[nodiscard]] bool cancelled() const noexcept;

 private:
  std::shared_ptr<detail::CancellationState> state_;
};

}  // namespace strata
