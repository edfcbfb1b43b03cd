#include "live_session.h"

#include <algorithm>
#include <exception>

namespace strata::session::detail {
namespace {
constexpr std::size_t kBatch = 256;            // events taken per step of a drain
constexpr std::size_t kDrainQuota = 4096;      // events delivered before yielding the thread
constexpr std::size_t kCatchUpBytes = 1 << 20; // bytes read from the store per catch-up step
}  // namespace

bool LiveSession::copy_recent(Offset after, std::size_t max,
                              std::vector<std::shared_ptr<const Event>>& out) const {
  if (recent.empty() || recent.front()->offset > after + 1) return false;
  auto it = std::upper_bound(recent.begin(), recent.end(), after,
                             [](Offset o, const std::shared_ptr<const Event>& e) { return o < e->offset; });
  for (; it != recent.end() && out.size() < max; ++it) out.push_back(*it);
  return true;
}

SubscriberState::SubscriberState(std::shared_ptr<LiveSession> session,
                                 std::shared_ptr<SessionStore> store, Executor* executor,
                                 EventHandler on_event, CloseHandler on_close, Offset from,
                                 std::size_t buffer)
    : session_(std::move(session)),
      store_(std::move(store)),
      executor_(executor),
      on_event_(std::move(on_event)),
      on_close_(std::move(on_close)),
      buffer_(std::max<std::size_t>(buffer, 1)),
      last_enqueued_(from),
      last_delivered_(from) {}

void SubscriberState::on_published(const std::shared_ptr<const Event>& event) {
  if (!live_ || event->offset <= last_enqueued_) return;
  if (queue_.size() >= buffer_) {
    // Fell behind: stop buffering; the drain serves the rest from the recent cache or store.
    live_ = false;
    catch_ups_.fetch_add(1, std::memory_order_relaxed);
    schedule_locked();
    return;
  }
  queue_.push_back(event);
  last_enqueued_ = event->offset;
  schedule_locked();
}

void SubscriberState::schedule_locked() {
  if (scheduled_ || closed_.load(std::memory_order_acquire)) return;
  scheduled_ = true;
  executor_->post([self = shared_from_this()] { self->drain(); });
}

bool SubscriberState::deliver(const Event& event) {
  {
    std::lock_guard lock(callback_mu_);
    if (closed_.load(std::memory_order_acquire)) return false;
    in_callback_ = true;
    callback_thread_ = std::this_thread::get_id();
  }
  Status failure;
  last_delivered_.store(event.offset, std::memory_order_release);
  try {
    on_event_(event);
  } catch (const std::exception& e) {
    failure = internal_error(std::string("subscriber event handler threw: ") + e.what());
  } catch (...) {
    failure = internal_error("subscriber event handler threw a non-standard exception");
  }
  {
    std::lock_guard lock(callback_mu_);
    in_callback_ = false;
    callback_thread_ = {};
  }
  callback_cv_.notify_all();
  if (!failure.ok()) {
    close_with(failure);
    return false;
  }
  return true;
}

void SubscriberState::drain() {
  std::size_t delivered = 0;
  std::vector<std::shared_ptr<const Event>> batch;
  std::vector<Event> from_store;
  for (;;) {
    batch.clear();
    from_store.clear();
    Offset read_after = 0;
    bool read_store = false;
    {
      std::lock_guard lock(session_->mu);
      if (closed_.load(std::memory_order_acquire)) {
        scheduled_ = false;
        return;
      }
      if (delivered >= kDrainQuota) {  // yield the thread to other subscribers
        scheduled_ = false;
        schedule_locked();
        return;
      }
      if (!queue_.empty()) {
        while (!queue_.empty() && batch.size() < kBatch) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      } else if (!live_) {
        if (last_enqueued_ >= session_->head) {
          live_ = true;  // caught up: from here on, publish() feeds the queue
          scheduled_ = false;
          return;
        }
        if (session_->copy_recent(last_enqueued_, kBatch, batch) && !batch.empty()) {
          last_enqueued_ = batch.back()->offset;
        } else {
          batch.clear();
          read_store = true;
          read_after = last_enqueued_;
        }
      } else {
        scheduled_ = false;
        return;
      }
    }
    if (read_store) {
      auto page = store_->read(session_->id, read_after, kBatch, kCatchUpBytes);
      if (!page.ok()) {
        close_with(page.status().code() == StatusCode::kNotFound
                       ? not_found_error("session " + session_->id + " was removed")
                       : page.status());
        return;
      }
      if (page->trimmed_through > read_after) {
        close_with(data_loss_error(
            "subscriber fell behind retention: events after offset " + std::to_string(read_after) +
            " up to " + std::to_string(page->trimmed_through) +
            " were removed; take a snapshot and subscribe from its offset"));
        return;
      }
      from_store = std::move(page->events);
      {
        std::lock_guard lock(session_->mu);
        // Only published events are delivered, so that a client never holds an offset the
        // hub has not announced yet (it could not resume from it). Later ones come live.
        while (!from_store.empty() && from_store.back().offset > session_->head) from_store.pop_back();
        if (!from_store.empty()) {
          last_enqueued_ = std::max(last_enqueued_, from_store.back().offset);
        } else if (last_enqueued_ < session_->head) {
          // Nothing retained between read_after and the head: every event in between was
          // compacted away, so everything up to the head has been seen.
          last_enqueued_ = session_->head;
        }
      }
      for (const auto& event : from_store) {
        if (!deliver(event)) return;
        ++delivered;
      }
      continue;
    }
    for (const auto& event : batch) {
      if (!deliver(*event)) return;
      ++delivered;
    }
  }
}

void SubscriberState::close() {
  {
    std::lock_guard lock(session_->mu);
    closed_.store(true, std::memory_order_release);
    queue_.clear();
    std::erase_if(session_->subscribers,
                  [this](const std::shared_ptr<SubscriberState>& s) { return s.get() == this; });
  }
  std::unique_lock lock(callback_mu_);
  callback_cv_.wait(lock, [this] {
    return !in_callback_ || callback_thread_ == std::this_thread::get_id();
  });
}

void SubscriberState::close_with(const Status& why) {
  {
    std::lock_guard lock(session_->mu);
    if (closed_.exchange(true, std::memory_order_acq_rel)) return;
    queue_.clear();
    std::erase_if(session_->subscribers,
                  [this](const std::shared_ptr<SubscriberState>& s) { return s.get() == this; });
  }
  finish_close(why);
}

void SubscriberState::finish_close(const Status& why) {
  if (!on_close_) return;
  executor_->post([self = shared_from_this(), why] {
    try {
      self->on_close_(why);
    } catch (...) {
      // A close handler has nobody left to report to.
    }
  });
}

}  // namespace strata::session::detail
