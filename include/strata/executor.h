// strata/executor.h — where strata runs callbacks.
//
// Subscriber callbacks, cancellation callbacks, steering callbacks and asynchronous append
// completions are posted to an Executor, never invoked from inside the call that initiated
// them. A host that runs an event loop (for example an Asio io_context) adapts it by
// implementing post(); otherwise strata uses its own thread pool.
//
// Thread safety: post() must be callable from any thread concurrently.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace strata {

class Executor {
 public:
  virtual ~Executor() = default;
  // Schedules `task` to run soon on some thread of this executor. Must not run it inline.
  // Tasks posted from one thread run in the order they were posted when the executor has
  // one thread; with several threads they may run concurrently.
  virtual void post(std::function<void()> task) = 0;
};

// A pool of `threads` worker threads (at least 1). Its destructor runs every task already
// posted, then joins the threads.
std::shared_ptr<Executor> make_thread_pool_executor(std::size_t threads);

}  // namespace strata
