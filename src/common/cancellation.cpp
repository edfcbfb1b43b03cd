#include <strata/cancellation.h>

#include <atomic>
#include <mutex>
#include <utility>
#include <vector>

namespace strata::detail {
struct CancellationState {
  std::atomic<bool> cancelled{false};
  std::mutex mu;
  std::string reason;
  std::uint64_t next_id = 1;
  std::vector<std::pair<std::uint64_t, std::function<void()>>> callbacks;
};
}  // namespace strata::detail

namespace strata {

bool CancellationToken::cancelled() const noexcept {
  return state_ && state_->cancelled.load(std::memory_order_acquire);
}

std::string CancellationToken::reason() const {
  if (!state_) return {};
  std::lock_guard lock(state_->mu);
  return state_->reason;
}

std::uint64_t CancellationToken::on_cancel(std::function<void()> callback) const {
  if (!state_) return 0;
  {
    std::lock_guard lock(state_->mu);
    if (!state_->cancelled.load(std::memory_order_acquire)) {
      const auto id = state_->next_id++;
      state_->callbacks.emplace_back(id, std::move(callback));
      return id;
    }
  }
  callback();
  return 0;
}

bool CancellationToken::unregister(std::uint64_t id) const {
  if (!state_) return false;
  std::lock_guard lock(state_->mu);
  for (auto it = state_->callbacks.begin(); it != state_->callbacks.end(); ++it) {
    if (it->first == id) {
      state_->callbacks.erase(it);
      return true;
    }
  }
  return false;
}

CancellationSource::CancellationSource() : state_(std::make_shared<detail::CancellationState>()) {}

bool CancellationSource::cancel(std::string reason) {
  std::vector<std::pair<std::uint64_t, std::function<void()>>> callbacks;
  {
    std::lock_guard lock(state_->mu);
    if (state_->cancelled.load(std::memory_order_acquire)) return false;
    state_->reason = std::move(reason);
    state_->cancelled.store(true, std::memory_order_release);
    callbacks.swap(state_->callbacks);
  }
  for (auto& [id, callback] : callbacks) callback();
  return true;
}

bool CancellationSource::cancelled() const noexcept {
  return state_->cancelled.load(std::memory_order_acquire);
}

}  // namespace strata
