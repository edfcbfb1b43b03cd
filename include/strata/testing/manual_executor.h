// strata/testing/manual_executor.h — an Executor that runs tasks only when the test asks.
//
// Lets a test hold back every callback (to simulate a slow subscriber) and then release
// them deterministically.
//
// Thread safety: post() and run_all() may be called from any thread.
#pragma once

#include <deque>
#include <functional>
#include <mutex>

#include <strata/executor.h>

namespace strata::testing {

class ManualExecutor final : public Executor {
 public:
  void post(std::function<void()> task) override {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  // Runs tasks, including tasks they post, until none is left. Returns how many ran.
  std::size_t run_all() {
    std::size_t ran = 0;
    while (run_one()) ++ran;
    return ran;
  }
  // Runs the oldest task, if any.
  bool run_one() {
    std::function<void()> task;
    {
      std::lock_guard lock(mu_);
      if (tasks_.empty()) return false;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
    return true;
  }
  std::size_t pending() const {
    std::lock_guard lock(mu_);
    return tasks_.size();
  }

 private:
  mutable std::mutex mu_;
  std::deque<std::function<void()>> tasks_;
};

}  // namespace strata::testing
