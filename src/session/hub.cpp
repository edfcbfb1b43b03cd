// Hub core: opening, appends and the commit thread, publishing, loading, subscribe, read,
// snapshot, retention settings, removal and flush. Runs, control, presence and maintenance
// are in hub_control.cpp.
#include "hub_impl.h"

#include <future>

#include <strata/session/sqlite_store.h>

namespace strata::session {

Result<std::unique_ptr<Hub>> Hub::open(HubOptions options) {
  if (!options.store) {
    if (options.database_path.empty()) {
      return invalid_argument_error("HubOptions: set store or database_path");
    }
    auto store = open_sqlite_store(options.database_path);
    if (!store.ok()) return store.status();
    options.store = std::move(*store);
  }
  if (!options.clock) options.clock = system_clock();
  if (options.max_commit_group == 0) return invalid_argument_error("max_commit_group is 0");
  if (options.subscriber_buffer == 0) return invalid_argument_error("subscriber_buffer is 0");
  if (options.max_event_bytes == 0) return invalid_argument_error("max_event_bytes is 0");
  using detail::kMaxLease;
  if (options.run_lease.count() <= 0 || options.presence_lease.count() <= 0 ||
      options.run_lease > kMaxLease || options.presence_lease > kMaxLease) {
    return invalid_argument_error("run_lease and presence_lease must be between 1 ms and 366 days");
  }
  auto hub = std::make_unique<detail::HubImpl>(std::move(options));
  hub->start();
  return std::unique_ptr<Hub>(std::move(hub));
}

namespace detail {

namespace {

class SubscriptionImpl final : public Subscription {
 public:
  SubscriptionImpl(std::shared_ptr<SubscriberState> state, std::string session, std::string epoch)
      : state_(std::move(state)), session_(std::move(session)), epoch_(std::move(epoch)) {}
  ~SubscriptionImpl() override { state_->close(); }
  void close() override { state_->close(); }
  const std::string& session() const override { return session_; }
  const std::string& epoch() const override { return epoch_; }
  Offset last_delivered() const override { return state_->last_delivered(); }
  std::uint64_t catch_up_count() const override { return state_->catch_up_count(); }

 private:
  std::shared_ptr<SubscriberState> state_;
  std::string session_;
  std::string epoch_;
};

Status validate_reserved(const EventDraft& d) {
  const std::string_view type = d.type;
  if ((type.starts_with("run.")) && d.run_id.empty()) {
    return invalid_argument_error("event type " + d.type + " needs a run id");
  }
  if (type.starts_with("message.") && d.message_id.empty()) {
    return invalid_argument_error("event type " + d.type + " needs a message id");
  }
  if (type.starts_with("strata.")) {
    return invalid_argument_error("event types under \"strata.\" are reserved");
  }
  return {};
}

Status validate_draft(const EventDraft& d) {
  STRATA_RETURN_IF_ERROR(validate_event_type(d.type));
  if (!d.run_id.empty()) STRATA_RETURN_IF_ERROR(validate_name("run id", d.run_id));
  if (!d.parent_run_id.empty()) {
    STRATA_RETURN_IF_ERROR(validate_name("parent run id", d.parent_run_id));
  }
  if (!d.message_id.empty()) STRATA_RETURN_IF_ERROR(validate_name("message id", d.message_id));
  STRATA_RETURN_IF_ERROR(validate_reserved(d));
  return validate_json(d.payload);
}

}  // namespace

HubImpl::HubImpl(HubOptions options) : options_(std::move(options)) {
  executor_ = options_.executor ? options_.executor
                                : make_thread_pool_executor(options_.delivery_threads);
  shared_ = options_.store->shared();
}

void HubImpl::start() {
  commit_thread_ = std::thread([this] { commit_loop(); });
  if (shared_) follow_thread_ = std::thread([this] { follow_loop(); });
  if (options_.maintenance_interval.count() > 0) {
    maintenance_thread_ = std::thread([this] { maintenance_loop(); });
  }
}

HubImpl::~HubImpl() {
  if (follow_thread_.joinable()) {
    follow_stopping_.store(true);
    store().interrupt_wait();
    follow_thread_.join();
  }
  {
    std::lock_guard lock(maintenance_mu_);
    maintenance_stopping_ = true;
  }
  maintenance_cv_.notify_all();
  if (maintenance_thread_.joinable()) maintenance_thread_.join();
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (commit_thread_.joinable()) commit_thread_.join();

  std::vector<std::shared_ptr<SubscriberState>> subscribers;
  {
    std::lock_guard lock(sessions_mu_);
    for (auto& [id, live] : sessions_) {
      std::lock_guard live_lock(live->mu);
      subscribers.insert(subscribers.end(), live->subscribers.begin(), live->subscribers.end());
    }
  }
  for (auto& s : subscribers) s->close_with(cancelled_error("the hub is shutting down"));
  executor_.reset();  // a hub-owned pool runs what is queued, then joins
}

Result<std::shared_ptr<LiveSession>> HubImpl::live(std::string_view session, bool create) {
  std::shared_ptr<LiveSession> l;
  {
    std::lock_guard lock(sessions_mu_);
    auto& slot = sessions_[std::string(session)];
    if (!slot) {
      slot = std::make_shared<LiveSession>(std::string(session));
      slot->recent_capacity = options_.recent_events;
    }
    l = slot;
  }
  l->last_used_ms.store(clock().now_ms(), std::memory_order_relaxed);
  if (l->loaded.load(std::memory_order_acquire)) return l;
  std::lock_guard load_lock(l->load_mu);
  if (!l->loaded) {
    if (auto s = load(*l, create); !s.ok()) {
      std::lock_guard lock(sessions_mu_);
      auto it = sessions_.find(l->id);
      if (it != sessions_.end() && it->second == l) sessions_.erase(it);
      return s;
    }
    l->loaded = true;
    // The follower waits on the sessions it knew; make it follow this one too.
    if (shared_) store().interrupt_wait();
  }
  return l;
}

Status HubImpl::load(LiveSession& live, bool create) {
  auto info = create ? store().create(live.id, clock().now_ms()) : store().info(live.id);
  if (!info.ok()) {
    if (info.status().code() == StatusCode::kNotFound) {
      return not_found_error("session " + live.id + " not found");
    }
    return info.status();
  }
  SessionFold fold;
  std::deque<std::shared_ptr<const Event>> recent;
  Offset after = info->trimmed_through;
  for (;;) {
    auto page = store().read(live.id, after, 1000, 8 << 20);
    if (!page.ok()) return page.status();
    if (page->events.empty()) break;
    for (auto& e : page->events) {
      if (e.offset <= after) {  // a damaged store; never loop on it
        return data_loss_error("session " + live.id + ": the store returned offset " +
                               std::to_string(e.offset) + " after " + std::to_string(after));
      }
      fold.apply(e);
      after = e.offset;
      recent.push_back(std::make_shared<const Event>(std::move(e)));
      if (recent.size() > live.recent_capacity) recent.pop_front();
    }
  }
  std::lock_guard lock(live.mu);
  live.epoch = info->epoch;
  live.head = std::max(info->head, after);
  live.trimmed_through = info->trimmed_through;
  live.retention = info->retention;
  live.fold = std::move(fold);
  live.recent = std::move(recent);
  return {};
}

Result<SessionInfo> HubImpl::create(std::string_view session) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  auto l = live(session, /*create=*/true);
  if (!l.ok()) return l.status();
  return store().info(session);
}

Result<SessionInfo> HubImpl::info(std::string_view session) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  auto result = store().info(session);
  if (!result.ok() && result.status().code() == StatusCode::kNotFound) {
    return not_found_error("session " + std::string(session) + " not found");
  }
  return result;
}

Result<std::vector<Event>> HubImpl::build_events(std::string_view session,
                                                 std::vector<EventDraft>& drafts,
                                                 const AppendOptions& options) const {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  STRATA_RETURN_IF_ERROR(validate_name("producer", options.producer));
  if (drafts.empty()) return invalid_argument_error("append of no events");
  std::vector<Event> events;
  events.reserve(drafts.size());
  const std::int64_t now = clock().now_ms();
  for (auto& d : drafts) {
    if (auto s = validate_draft(d); !s.ok()) {
      if (drafts.size() == 1) return s;
      return Status(s.code(), "event " + std::to_string(events.size()) + ": " + s.message());
    }
    Event e;
    e.type = std::move(d.type);
    e.producer = options.producer;
    e.run_id = std::move(d.run_id);
    e.parent_run_id = std::move(d.parent_run_id);
    e.message_id = std::move(d.message_id);
    e.payload = std::move(d.payload);
    e.timestamp_ms = now;
    if (e.byte_size() > options_.max_event_bytes) {
      return invalid_argument_error("event of " + std::to_string(e.byte_size()) +
                                    " bytes exceeds the limit of " +
                                    std::to_string(options_.max_event_bytes));
    }
    events.push_back(std::move(e));
  }
  return events;
}

void HubImpl::fail_early(std::function<void(Result<AppendResult>)>& done, bool on_executor,
                         Status why) {
  if (!on_executor) {
    done(std::move(why));
    return;
  }
  executor_->post([done = std::move(done), why = std::move(why)] { done(why); });
}

Result<HubImpl::PendingAppend> HubImpl::make_pending(std::string_view session,
                                                    std::vector<Event> events,
                                                    const AppendOptions& options) {
  auto l = live(session, /*create=*/true);
  if (!l.ok()) return l.status();
  PendingAppend pending;
  pending.request.session = std::string(session);
  pending.request.producer = options.producer;
  pending.request.producer_epoch = options.producer_epoch;
  pending.request.producer_seq = options.producer_seq;
  pending.request.events = std::move(events);
  pending.request.now_ms = clock().now_ms();
  pending.session = std::move(*l);
  return pending;
}

void HubImpl::enqueue(std::string_view session, std::vector<Event> events,
                      const AppendOptions& options,
                      std::function<void(Result<AppendResult>)> done, bool on_executor) {
  auto made = make_pending(session, std::move(events), options);
  if (!made.ok()) {
    fail_early(done, on_executor, made.status());
    return;
  }
  made->done = std::move(done);
  made->on_executor = on_executor;
  submit(std::move(*made));
}

void HubImpl::submit(PendingAppend pending) {
  const bool on_executor = pending.on_executor;
  bool wake = false;
  {
    std::unique_lock lock(queue_mu_);
    if (stopping_) {
      lock.unlock();
      fail_early(pending.done, on_executor, unavailable_error("the hub is shutting down"));
      return;
    }
    if (queue_.size() >= options_.max_pending_appends) {
      lock.unlock();
      fail_early(pending.done, on_executor,
                 resource_exhausted_error("too many appends waiting to be written (" +
                                          std::to_string(options_.max_pending_appends) + ")"));
      return;
    }
    queue_.push_back(std::move(pending));
    ++enqueued_;
    wake = commit_idle_;
  }
  if (wake) queue_cv_.notify_one();
}

Result<AppendResult> HubImpl::append_built(const std::string& session, std::vector<Event> events,
                                           const AppendOptions& options) {
  // Fast path: when nothing is queued or being committed, the caller commits its own append
  // (no hand-off to the commit thread and back). Order is kept: committing_ admits one
  // committer at a time, and only when the queue is empty.
  // The session is looked up (and loaded if need be) before taking the lead, so a slow load
  // never holds up other committers.
  auto made = make_pending(session, std::move(events), options);
  if (!made.ok()) return made.status();
  bool lead = false;
  {
    std::lock_guard lock(queue_mu_);
    if (!stopping_ && !committing_ && queue_.empty()) {
      committing_ = true;
      ++enqueued_;
      lead = true;
    }
  }
  if (lead) {
    std::optional<Result<AppendResult>> outcome;
    made->done = [&outcome](Result<AppendResult> r) { outcome.emplace(std::move(r)); };
    std::vector<PendingAppend> group;
    group.push_back(std::move(*made));
    commit_group(group);
    bool wake = false;
    {
      std::lock_guard lock(queue_mu_);
      committing_ = false;
      ++completed_;
      wake = commit_idle_ && !queue_.empty();
    }
    flushed_cv_.notify_all();
    if (wake) queue_cv_.notify_one();
    return std::move(*outcome);
  }
  std::promise<Result<AppendResult>> promise;
  auto future = promise.get_future();
  made->done = [&promise](Result<AppendResult> r) { promise.set_value(std::move(r)); };
  submit(std::move(*made));
  return future.get();
}

Result<AppendResult> HubImpl::append(std::string_view session, EventDraft draft,
                                     const AppendOptions& options) {
  std::vector<EventDraft> drafts;
  drafts.push_back(std::move(draft));
  return append_batch(session, std::move(drafts), options);
}

Result<AppendResult> HubImpl::append_batch(std::string_view session,
                                           std::vector<EventDraft> drafts,
                                           const AppendOptions& options) {
  auto events = build_events(session, drafts, options);
  if (!events.ok()) return events.status();
  return append_built(std::string(session), std::move(*events), options);
}

void HubImpl::append_async(std::string_view session, std::vector<EventDraft> drafts,
                           const AppendOptions& options,
                           std::function<void(Result<AppendResult>)> done) {
  if (!done) done = [](Result<AppendResult>) {};
  auto events = build_events(session, drafts, options);
  if (!events.ok()) {
    fail_early(done, /*on_executor=*/true, events.status());
    return;
  }
  enqueue(session, std::move(*events), options, std::move(done), /*on_executor=*/true);
}

void HubImpl::commit_loop() {
  std::vector<PendingAppend> group;
  for (;;) {
    group.clear();
    {
      std::unique_lock lock(queue_mu_);
      commit_idle_ = true;
      queue_cv_.wait(lock, [this] {
        return (stopping_ && !committing_) || (!queue_.empty() && !committing_);
      });
      commit_idle_ = false;
      if (queue_.empty()) return;  // stopping, and everything queued is done
      committing_ = true;
      while (!queue_.empty() && group.size() < options_.max_commit_group) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commit_group(group);
    {
      std::lock_guard lock(queue_mu_);
      committing_ = false;
      completed_ += group.size();
    }
    flushed_cv_.notify_all();
  }
}

namespace {

// What a run writes itself: refused once the run has ended.
bool written_by_run(const Event& e) {
  return !e.run_id.empty() &&
         (std::string_view(e.type).starts_with("run.") ||
          std::string_view(e.type).starts_with("message."));
}

}  // namespace

Status HubImpl::check_run_fence(LiveSession& live, const std::vector<Event>& events,
                                std::unordered_map<std::string, std::string>& ended_in_group) {
  for (const auto& e : events) {
    if (!written_by_run(e)) continue;
    std::string how;
    if (auto it = ended_in_group.find(live.id + '\n' + e.run_id); it != ended_in_group.end()) {
      how = it->second;
    } else {
      std::lock_guard lock(live.mu);
      const RunSnapshot* run = live.fold.find_run(e.run_id);
      if (run == nullptr || run->state == RunState::kRunning) continue;
      how = run->state == RunState::kCancelled ? std::string(event_types::kRunCancelled) : "ended";
    }
    if (how == event_types::kRunCancelled) return cancelled_error("run " + e.run_id + " was cancelled");
    return failed_precondition_error("run " + e.run_id + " has already ended (" + how + ")");
  }
  for (const auto& e : events) {
    if (written_by_run(e) && is_terminal_run_event(e.type)) {
      ended_in_group[live.id + '\n' + e.run_id] = e.type;
    }
  }
  return {};
}

void HubImpl::commit_group(std::vector<PendingAppend>& group) {
  std::vector<StoreAppend> requests;
  requests.reserve(group.size());
  for (auto& p : group) requests.push_back(std::move(p.request));
  // Run fencing at commit time (commits are serial): an event a run writes is refused once
  // the run has ended, so a delta that passed Run's own check just before a Stop landed can
  // never follow run.cancelled. A shared store checks again, atomically with its append,
  // for Stops that other nodes wrote. (A terminal event earlier in the group counts even if
  // the store then refuses it — the later write fails with kCancelled/kFailedPrecondition.)
  std::unordered_map<std::string, std::string> ended_in_group;
  std::vector<StoreAppend> to_write;
  std::vector<std::size_t> written_at;
  to_write.reserve(requests.size());
  written_at.reserve(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    requests[i].status = check_run_fence(*group[i].session, requests[i].events, ended_in_group);
    if (!requests[i].status.ok()) continue;
    written_at.push_back(i);
    to_write.push_back(std::move(requests[i]));
  }
  try {
    if (!to_write.empty()) store().append(to_write);
  } catch (const std::exception& e) {
    for (auto& r : to_write) r.status = internal_error(std::string("store threw: ") + e.what());
  } catch (...) {
    for (auto& r : to_write) r.status = internal_error("store threw");
  }
  for (std::size_t j = 0; j < to_write.size(); ++j) requests[written_at[j]] = std::move(to_write[j]);
  for (std::size_t i = 0; i < group.size(); ++i) {
    auto& r = requests[i];
    if (!r.status.ok()) continue;
    if (!shared_) {
      if (!r.duplicate) publish(*group[i].session, r.events);
      continue;
    }
    // A shared store: other nodes append too, so publish what the store holds up to this
    // append, in its order (read-your-writes: subscribers and snapshots of this node see the
    // append when it returns). A failed read leaves the rest to the follower thread.
    LiveSession& live = *group[i].session;
    bool epoch_changed = false;
    {
      std::lock_guard lock(live.mu);
      epoch_changed = !live.removed && live.epoch != r.epoch;
    }
    if (epoch_changed) {
      std::lock_guard follow(live.follow_mu);
      reset_after_epoch_change(live, data_loss_error(
          "session " + live.id + ": the store's epoch changed (its history was removed or "
          "lost); take a snapshot"));
    }
    (void)catch_up(live, r.last_offset, r.duplicate ? nullptr : &r.events, r.first_offset);
  }
  // Synchronous callers are woken here; asynchronous completions of the whole group run
  // as one task on the executor, in append order.
  std::vector<std::pair<std::function<void(Result<AppendResult>)>, Result<AppendResult>>> later;
  for (std::size_t i = 0; i < group.size(); ++i) {
    auto& r = requests[i];
    Result<AppendResult> result =
        r.status.ok() ? Result<AppendResult>(AppendResult{r.first_offset, r.last_offset,
                                                          r.duplicate, r.epoch})
                      : Result<AppendResult>(r.status);
    if (group[i].on_executor) {
      later.emplace_back(std::move(group[i].done), std::move(result));
    } else {
      group[i].done(std::move(result));
    }
  }
  if (!later.empty()) {
    executor_->post([later = std::move(later)]() mutable {
      for (auto& [done, result] : later) {
        try {
          done(std::move(result));
        } catch (...) {
          // An append callback that throws affects only itself.
        }
      }
    });
  }
}

void HubImpl::publish(LiveSession& live, std::vector<Event>& events) {
  std::vector<std::function<void()>> actions;
  {
    std::lock_guard lock(live.mu);
    if (live.removed) return;
    for (auto& e : events) {
      if (e.offset <= live.head) continue;  // already published
      live.head = e.offset;
      auto event = std::make_shared<const Event>(std::move(e));
      live.fold.apply(*event);
      live.recent.push_back(event);
      if (live.recent.size() > live.recent_capacity) live.recent.pop_front();
      for (const auto& s : live.subscribers) s->on_published(event);

      if (event->run_id.empty() || !event->type.starts_with("run.")) continue;
      auto it = live.local_runs.find(event->run_id);
      if (it == live.local_runs.end()) continue;
      auto control = it->second;
      if (event->type == event_types::kRunSteer) {
        auto input = json_raw_field(event->payload, "input");
        std::lock_guard control_lock(control->mu);
        control->steering.push_back(input);
        if (control->on_steer) {
          actions.push_back([control, input] {
            try {
              control->on_steer(input);
            } catch (...) {
              // A steering handler that throws loses only its own notification.
            }
          });
        }
      } else if (is_terminal_run_event(event->type)) {
        const bool cancelled = event->type == event_types::kRunCancelled;
        const auto reason = cancelled ? json_string_field(event->payload, "reason") : std::string();
        {
          std::lock_guard control_lock(control->mu);
          control->ended = true;
          control->end_reason = event->type;
          control->cancel_reason = reason;
        }
        live.local_runs.erase(it);
        if (cancelled) actions.push_back([control, reason] { control->cancel.cancel(reason); });
      }
    }
  }
  for (auto& action : actions) executor_->post(std::move(action));
}

Status HubImpl::catch_up(LiveSession& live, Offset target, std::vector<Event>* own,
                         Offset own_first) {
  std::lock_guard follow(live.follow_mu);
  Offset head = 0;
  {
    std::lock_guard lock(live.mu);
    if (live.removed) return {};
    head = live.head;
  }
  if (head >= target) return {};
  if (own != nullptr && !own->empty() && own_first == head + 1) {
    publish(live, *own);
    return {};
  }
  while (head < target) {
    auto page = store().read(live.id, head, 1000, 8 << 20);
    if (!page.ok()) return page.status();
    if (page->events.empty()) break;
    if (page->events.front().offset <= head) {  // a damaged store; never loop on it
      return data_loss_error("session " + live.id + ": the store returned offsets out of order");
    }
    head = page->events.back().offset;
    publish(live, page->events);
  }
  return {};
}

void HubImpl::reset_after_epoch_change(LiveSession& live, const Status& why) {
  std::vector<std::shared_ptr<SubscriberState>> subscribers;
  {
    std::lock_guard lock(live.mu);
    if (live.removed) return;
    subscribers.swap(live.subscribers);
  }
  // Subscribers hold offsets of the old history: they are told, and resume with a snapshot.
  for (auto& sub : subscribers) sub->close_with(why);
  if (auto s = load(live, /*create=*/false); !s.ok()) {
    // Gone altogether: forget it; the next use loads it again.
    drop_live(live.id, s);
  }
}

void HubImpl::drop_live(const std::string& session, const Status& why) {
  std::shared_ptr<LiveSession> l;
  {
    std::lock_guard lock(sessions_mu_);
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return;
    l = std::move(it->second);
    sessions_.erase(it);
  }
  std::vector<std::shared_ptr<SubscriberState>> subscribers;
  std::unordered_map<std::string, std::shared_ptr<RunControl>> runs;
  {
    std::lock_guard lock(l->mu);
    l->removed = true;
    subscribers = l->subscribers;
    runs.swap(l->local_runs);
  }
  for (auto& sub : subscribers) sub->close_with(why);
  for (auto& entry : runs) {
    auto control = entry.second;
    {
      // Writes fail from now on, before the token fires on the executor.
      std::lock_guard control_lock(control->mu);
      control->ended = true;
      control->end_reason = event_types::kRunCancelled;
      control->cancel_reason = "session removed";
    }
    executor_->post([control] { control->cancel.cancel("session removed"); });
  }
}

Status HubImpl::sync_with_store(const std::shared_ptr<LiveSession>& live) {
  if (!shared_) return {};
  auto info = store().info(live->id);
  if (!info.ok()) {
    if (info.status().code() == StatusCode::kNotFound) {
      auto why = not_found_error("session " + live->id + " not found");
      drop_live(live->id, why);
      return why;
    }
    return info.status();
  }
  bool epoch_changed = false;
  {
    std::lock_guard lock(live->mu);
    if (live->removed) return not_found_error("session " + live->id + " not found");
    epoch_changed = live->epoch != info->epoch;
  }
  if (epoch_changed) {
    std::lock_guard follow(live->follow_mu);
    reset_after_epoch_change(*live, data_loss_error(
        "session " + live->id + ": the store's epoch changed (its history was removed or "
        "lost); take a snapshot"));
  }
  return catch_up(*live, info->head);
}

void HubImpl::follow_loop() {
  constexpr auto kWait = std::chrono::milliseconds(1000);
  constexpr std::size_t kMaxEvents = 1000;
  auto backoff = std::chrono::milliseconds(50);
  std::vector<TailCursor> cursors;
  // Weak: a session followed during a wait may still be evicted as idle meanwhile.
  std::vector<std::weak_ptr<LiveSession>> followed;
  std::vector<std::string> epochs;
  while (!follow_stopping_.load()) {
    cursors.clear();
    followed.clear();
    epochs.clear();
    {
      std::lock_guard lock(sessions_mu_);
      for (auto& [id, l] : sessions_) {
        if (!l->loaded.load(std::memory_order_acquire)) continue;
        std::lock_guard live_lock(l->mu);
        if (l->removed) continue;
        cursors.push_back(TailCursor{id, l->head});
        followed.push_back(l);
        epochs.push_back(l->epoch);
      }
    }
    auto batches = store().wait_for_events(cursors, kWait, kMaxEvents);
    if (!batches.ok()) {
      // The store is unreachable: wait a little (longer each time) and follow again; appends
      // meanwhile fail on their own and the session catches up once the store is back.
      const auto until = std::chrono::steady_clock::now() + backoff;
      while (!follow_stopping_.load() && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      continue;
    }
    backoff = std::chrono::milliseconds(50);
    for (auto& batch : *batches) {
      for (std::size_t i = 0; i < cursors.size(); ++i) {
        if (cursors[i].session != batch.session) continue;
        auto held = followed[i].lock();
        if (!held) break;
        LiveSession& live = *held;
        std::lock_guard follow(live.follow_mu);
        {
          std::lock_guard lock(live.mu);
          // Reloaded meanwhile (epoch change): these events belong to the old history.
          if (live.removed || live.epoch != epochs[i]) break;
        }
        publish(live, batch.events);  // skips what the head already covers
        break;
      }
    }
  }
}

Result<std::unique_ptr<Subscription>> HubImpl::subscribe(std::string_view session,
                                                         const SubscribeOptions& options,
                                                         EventHandler on_event,
                                                         CloseHandler on_close) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  if (!on_event) return invalid_argument_error("subscribe needs an event handler");
  auto l = live(session, /*create=*/false);
  if (!l.ok()) return l.status();
  auto& live_session = **l;
  if (shared_) {
    // A client resuming here from an offset another node served: catch up first.
    bool behind = false;
    {
      std::lock_guard lock(live_session.mu);
      behind = options.from > live_session.head ||
               (!options.epoch.empty() && options.epoch != live_session.epoch);
    }
    if (behind) STRATA_RETURN_IF_ERROR(sync_with_store(*l));
  }
  std::shared_ptr<SubscriberState> state;
  std::string epoch;
  {
    std::lock_guard lock(live_session.mu);
    if (live_session.removed) return not_found_error("session " + live_session.id + " not found");
    if (!options.epoch.empty() && options.epoch != live_session.epoch) {
      return data_loss_error("session " + live_session.id + " epoch changed from " +
                             options.epoch + " to " + live_session.epoch +
                             ": its history was reset; take a snapshot");
    }
    if (options.from > live_session.head) {
      return out_of_range_error("offset " + std::to_string(options.from) +
                                " is beyond the head " + std::to_string(live_session.head) +
                                " of session " + live_session.id);
    }
    if (options.from < live_session.trimmed_through) {
      return data_loss_error("events of session " + live_session.id + " after offset " +
                             std::to_string(options.from) + " up to " +
                             std::to_string(live_session.trimmed_through) +
                             " were removed by retention; take a snapshot");
    }
    state = std::make_shared<SubscriberState>(
        *l, options_.store, executor_.get(), std::move(on_event), std::move(on_close),
        options.from, options.buffer != 0 ? options.buffer : options_.subscriber_buffer);
    live_session.subscribers.push_back(state);
    state->schedule_locked();
    epoch = live_session.epoch;
  }
  return std::unique_ptr<Subscription>(
      std::make_unique<SubscriptionImpl>(std::move(state), std::string(session), std::move(epoch)));
}

Result<ReadResult> HubImpl::read(std::string_view session, const ReadOptions& options) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  if (options.max_events == 0) return invalid_argument_error("max_events is 0");
  auto l = live(session, /*create=*/false);
  if (!l.ok()) return l.status();
  if (shared_) STRATA_RETURN_IF_ERROR(sync_with_store(*l));
  auto page = store().read(session, options.after, options.max_events, options.max_bytes);
  if (!page.ok()) {
    if (page.status().code() == StatusCode::kNotFound) {
      return not_found_error("session " + std::string(session) + " not found");
    }
    return page.status();
  }
  {
    // As for subscribers: only what the hub has published, so every offset handed out can be
    // resumed from.
    std::lock_guard lock((*l)->mu);
    page->head = (*l)->head;
  }
  while (!page->events.empty() && page->events.back().offset > page->head) page->events.pop_back();
  if (options.after > page->head) {
    return out_of_range_error("offset " + std::to_string(options.after) + " is beyond the head " +
                              std::to_string(page->head));
  }
  if (options.after < page->trimmed_through) {
    return data_loss_error("events after offset " + std::to_string(options.after) + " up to " +
                           std::to_string(page->trimmed_through) +
                           " were removed by retention; take a snapshot");
  }
  return page;
}

Result<Snapshot> HubImpl::snapshot(std::string_view session) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  auto l = live(session, /*create=*/false);
  if (!l.ok()) return l.status();
  if (shared_) STRATA_RETURN_IF_ERROR(sync_with_store(*l));
  Snapshot snap;
  snap.session = std::string(session);
  {
    std::lock_guard lock((*l)->mu);
    if ((*l)->removed) return not_found_error("session " + snap.session + " not found");
    snap.epoch = (*l)->epoch;
    snap.offset = (*l)->head;
    snap.messages = (*l)->fold.messages();
    snap.runs = (*l)->fold.runs();
  }
  auto presence = read_presence(snap.session);
  if (!presence.ok()) return presence.status();
  snap.presence = std::move(*presence);
  return snap;
}

Status HubImpl::set_retention(std::string_view session, const RetentionPolicy& policy) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  auto l = live(session, /*create=*/false);
  if (!l.ok()) return l.status();
  STRATA_RETURN_IF_ERROR(store().set_retention(session, policy));
  std::lock_guard lock((*l)->mu);
  (*l)->retention = policy;
  return {};
}

Status HubImpl::remove(std::string_view session) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  flush();  // appends already accepted land before the removal
  auto s = store().remove(session);
  if (!s.ok() && s.code() == StatusCode::kNotFound) {
    return not_found_error("session " + std::string(session) + " not found");
  }
  STRATA_RETURN_IF_ERROR(s);
  const std::string id(session);
  drop_live(id, not_found_error("session " + id + " was removed"));
  return {};
}

void HubImpl::flush() {
  std::unique_lock lock(queue_mu_);
  const std::uint64_t target = enqueued_;
  flushed_cv_.wait(lock, [&] { return completed_ >= target; });
}

}  // namespace detail
}  // namespace strata::session
