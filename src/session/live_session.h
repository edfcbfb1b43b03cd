// The in-memory side of one active session: its head, snapshot fold, recent events, local
// runs and subscribers, and the delivery state machine of each subscriber.
//
// Delivery, and why there is no gap and no duplicate at the live switch-over:
//   * The commit thread publishes committed events in offset order under `mu`, advancing
//     `head`. A live subscriber gets each event with offset > last_enqueued pushed to its
//     bounded queue; an event at or below last_enqueued is skipped (it was delivered by
//     catch-up already).
//   * A subscriber that is not live (new, or whose queue overflowed) runs catch-up: it reads
//     events after last_enqueued from the recent cache or the store, then, under `mu`, turns
//     live only when last_enqueued >= head. Every event published after that point is pushed
//     to it; every event at or below it was read. Store reads see a prefix of the committed
//     log, so nothing is skipped.
//   * Memory per subscriber is bounded by its queue; appenders never wait for subscribers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <strata/cancellation.h>
#include <strata/executor.h>
#include <strata/session/hub.h>
#include <strata/session/store.h>

#include "session_fold.h"

namespace strata::session::detail {

struct LiveSession;

// Control state of a run whose agent runs in this process.
struct RunControl {
  CancellationSource cancel;
  std::mutex mu;
  std::deque<std::string> steering;
  std::function<void(const std::string&)> on_steer;
  bool ended = false;  // a terminal event was published
  std::string end_reason;     // the terminal event type
  std::string cancel_reason;  // when that was run.cancelled
};

class SubscriberState : public std::enable_shared_from_this<SubscriberState> {
 public:
  SubscriberState(std::shared_ptr<LiveSession> session, std::shared_ptr<SessionStore> store,
                  Executor* executor, EventHandler on_event, CloseHandler on_close,
                  Offset from, std::size_t buffer);

  // Ends delivery; see Subscription::close().
  void close();
  // Ends delivery from the hub's side and reports `why` to the close handler.
  void close_with(const Status& why);

  // REQUIRES: session->mu held. Called for every published event.
  void on_published(const std::shared_ptr<const Event>& event);
  // REQUIRES: session->mu held. Makes sure a drain task is posted.
  void schedule_locked();

  Offset last_delivered() const { return last_delivered_.load(std::memory_order_acquire); }
  std::uint64_t catch_up_count() const { return catch_ups_.load(std::memory_order_relaxed); }
  const std::shared_ptr<LiveSession>& session() const { return session_; }

 private:
  void drain();
  bool deliver(const Event& event);  // false if closed meanwhile
  void finish_close(const Status& why);

  const std::shared_ptr<LiveSession> session_;
  const std::shared_ptr<SessionStore> store_;
  Executor* const executor_;
  EventHandler on_event_;
  CloseHandler on_close_;
  const std::size_t buffer_;

  // Guarded by session_->mu.
  std::deque<std::shared_ptr<const Event>> queue_;
  Offset last_enqueued_;
  bool live_ = false;
  bool scheduled_ = false;

  std::atomic<bool> closed_{false};
  std::atomic<Offset> last_delivered_;
  std::atomic<std::uint64_t> catch_ups_{0};

  // Lets close() wait for a running callback.
  std::mutex callback_mu_;
  std::condition_variable callback_cv_;
  bool in_callback_ = false;
  std::thread::id callback_thread_;
};

struct LiveSession {
  explicit LiveSession(std::string session_id) : id(std::move(session_id)) {}

  const std::string id;
  std::mutex load_mu;     // held while loading from the store
  // Shared stores: held while publishing what the store holds (by the committer of an append
  // or by the follower thread), so events are published once each and in store order.
  // Taken before `mu`, never while holding it.
  std::mutex follow_mu;
  std::atomic<bool> loaded{false};  // set under load_mu, stable once true
  std::atomic<std::int64_t> last_used_ms{0};  // for idle eviction

  std::mutex mu;          // everything below
  std::string epoch;
  Offset head = 0;
  Offset trimmed_through = 0;
  RetentionPolicy retention;
  SessionFold fold;
  std::deque<std::shared_ptr<const Event>> recent;
  std::size_t recent_capacity = 4096;
  std::vector<std::shared_ptr<SubscriberState>> subscribers;
  std::unordered_map<std::string, std::shared_ptr<RunControl>> local_runs;
  bool removed = false;

  // Copies up to `max` recent events after `after`, if the recent cache covers that point.
  // REQUIRES: mu held. Returns false if it does not.
  bool copy_recent(Offset after, std::size_t max, std::vector<std::shared_ptr<const Event>>& out) const;
};

}  // namespace strata::session::detail
