// The Hub's implementation: the commit thread (group commit + publish), session loading,
// runs and control, presence, and the maintenance pass.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <strata/session/hub.h>

#include "live_session.h"

namespace strata::session::detail {

// The longest run or presence lease accepted (keeps `now + lease` far from overflow).
inline constexpr std::chrono::milliseconds kMaxLease = std::chrono::hours(24 * 366);

// Producer id strata uses for events it writes itself (agent-lost, presence expiry).
inline constexpr std::string_view kSystemProducer = "strata";

class HubImpl final : public Hub {
 public:
  explicit HubImpl(HubOptions options);
  ~HubImpl() override;
  void start();

  Result<SessionInfo> create(std::string_view session) override;
  Result<SessionInfo> info(std::string_view session) override;
  Result<AppendResult> append(std::string_view session, EventDraft draft,
                              const AppendOptions& options) override;
  Result<AppendResult> append_batch(std::string_view session, std::vector<EventDraft> drafts,
                                    const AppendOptions& options) override;
  void append_async(std::string_view session, std::vector<EventDraft> drafts,
                    const AppendOptions& options,
                    std::function<void(Result<AppendResult>)> done) override;
  Result<std::unique_ptr<Subscription>> subscribe(std::string_view session,
                                                  const SubscribeOptions& options,
                                                  EventHandler on_event,
                                                  CloseHandler on_close) override;
  Result<ReadResult> read(std::string_view session, const ReadOptions& options) override;
  Result<Snapshot> snapshot(std::string_view session) override;
  Result<std::unique_ptr<Run>> start_run(std::string_view session, RunOptions options) override;
  Result<Offset> cancel(std::string_view session, std::string_view run_id,
                        const CancelOptions& options) override;
  Result<std::vector<std::string>> cancel_all(std::string_view session,
                                              const CancelOptions& options) override;
  Result<Offset> steer(std::string_view session, std::string_view run_id,
                       std::string_view input, std::string_view requested_by) override;
  Status join(std::string_view session, const PresenceOptions& options) override;
  Status renew_presence(std::string_view session, std::string_view client_id) override;
  Status leave(std::string_view session, std::string_view client_id) override;
  Result<std::vector<PresenceEntry>> presence(std::string_view session) override;
  Status set_retention(std::string_view session, const RetentionPolicy& policy) override;
  Status remove(std::string_view session) override;
  MaintenanceReport run_maintenance() override;
  void flush() override;

  // Used by runs.
  Clock& clock() const { return *options_.clock; }
  SessionStore& store() const { return *options_.store; }
  // Validates drafts and turns them into events stamped with producer and time.
  Result<std::vector<Event>> build_events(std::string_view session,
                                          std::vector<EventDraft>& drafts,
                                          const AppendOptions& options) const;
  // Appends events a caller has built (already validated), waiting for durability.
  Result<AppendResult> append_built(const std::string& session, std::vector<Event> events,
                                    const AppendOptions& options);
  Status put_run_lease(const std::string& session, const std::string& run_id,
                       std::chrono::milliseconds lease);
  void forget_local_run(const std::shared_ptr<LiveSession>& live, const std::string& run_id);
  Result<std::shared_ptr<LiveSession>> live(std::string_view session, bool create);
  // Shared stores: brings the session up to the store's head (epoch changes included), so a
  // decision taken on this node sees what other nodes wrote. Local stores: does nothing.
  Status sync_with_store(const std::shared_ptr<LiveSession>& live);
  // sync_with_store, when `run_id` is not a running run of this hub's view of the session.
  Status sync_if_unknown(const std::shared_ptr<LiveSession>& live, std::string_view run_id);

 private:
  struct PendingAppend {
    StoreAppend request;
    std::shared_ptr<LiveSession> session;
    // Runs on the commit thread, or — when on_executor — on the executor, batched per group.
    std::function<void(Result<AppendResult>)> done;
    bool on_executor = false;
  };

  void enqueue(std::string_view session, std::vector<Event> events, const AppendOptions& options,
               std::function<void(Result<AppendResult>)> done, bool on_executor);
  // Queues an append for the commit thread (or fails it at once when the hub is stopping or
  // the queue is full).
  void submit(PendingAppend pending);
  Result<PendingAppend> make_pending(std::string_view session, std::vector<Event> events,
                                     const AppendOptions& options);
  // Writes a group to the store, publishes it and completes its appends. REQUIRES: the
  // caller set committing_ (one group is committed at a time, in queue order).
  void commit_group(std::vector<PendingAppend>& group);
  // kCancelled / kFailedPrecondition if `events` hold an event a run writes (run.*,
  // message.*) for a run that has ended, in the session or earlier in this group (whose
  // terminal events it records in `ended_in_group`, keyed "session\nrun").
  Status check_run_fence(LiveSession& live, const std::vector<Event>& events,
                         std::unordered_map<std::string, std::string>& ended_in_group);
  // Reports an append that failed before reaching the queue.
  void fail_early(std::function<void(Result<AppendResult>)>& done, bool on_executor, Status why);
  void commit_loop();
  void publish(LiveSession& live, std::vector<Event>& events);
  // Shared stores: publishes the store's events of `live` after its head up to at least
  // `target`. `own` (events just appended, the first at `own_first`) are published without a
  // read when they follow the head directly.
  Status catch_up(LiveSession& live, Offset target, std::vector<Event>* own = nullptr,
                  Offset own_first = 0);
  // Shared stores: the store's epoch of the session is not the one this hub loaded (another
  // node removed it, or the store lost its data): subscribers are closed with `why` and the
  // session is reloaded. REQUIRES: live.follow_mu held.
  void reset_after_epoch_change(LiveSession& live, const Status& why);
  // Forgets a session that is gone from the store: subscribers are closed with `why` and
  // local runs are cancelled.
  void drop_live(const std::string& session, const Status& why);
  // The follower thread of a shared store: publishes what other nodes append.
  void follow_loop();
  Status load(LiveSession& live, bool create);
  Result<Offset> append_control(const std::string& session, Event event);
  Result<std::vector<PresenceEntry>> read_presence(const std::string& session);
  void maintain_session(const std::shared_ptr<LiveSession>& live, MaintenanceReport& report);
  void maintenance_loop();
  void evict_idle_sessions(MaintenanceReport& report);

  HubOptions options_;
  std::shared_ptr<Executor> executor_;

  std::mutex sessions_mu_;
  std::unordered_map<std::string, std::shared_ptr<LiveSession>> sessions_;

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;    // work for the commit thread
  std::condition_variable flushed_cv_;  // a group finished
  std::deque<PendingAppend> queue_;
  std::uint64_t enqueued_ = 0;   // appends ever queued
  std::uint64_t completed_ = 0;  // appends ever completed
  bool stopping_ = false;
  bool commit_idle_ = false;  // the commit thread waits for work: enqueue must wake it
  bool committing_ = false;   // a group is being committed (by the commit thread or a caller)
  std::thread commit_thread_;

  // Shared stores (options_.store->shared()).
  bool shared_ = false;
  std::atomic<bool> follow_stopping_{false};
  std::thread follow_thread_;

  std::mutex maintenance_mu_;
  std::condition_variable maintenance_cv_;
  bool maintenance_stopping_ = false;
  std::thread maintenance_thread_;
};

}  // namespace strata::session::detail
