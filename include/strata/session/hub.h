// strata/session/hub.h — Durable Sessions: append, subscribe, resume, snapshot, runs,
// cancel, steer, presence and retention over a pluggable SessionStore.
//
// A Hub is the in-process heart of the delivery layer. Agents append events to a session;
// clients subscribe to it; neither holds a pipe to the other. Transports (WebSocket, SSE,
// HTTP) are thin layers over this API.
//
//   auto hub = strata::session::Hub::open({.database_path = "chat.db"}).value();
//   auto run = hub->start_run("chat-42", {.agent = "assistant"}).value();
//   auto msg = run->begin_message().value();
//   run->delta(msg, "Hello");  run->end_message(msg);  run->complete();
//
// Threading model. One commit thread per hub takes queued appends in groups, writes each
// group to the store in one call (group commit), then publishes the new events to the
// session's live state and its subscribers. Every callback (subscriber events and closes,
// cancellation, steering, async append completions) runs on the hub's Executor — never
// inside the call that caused it, never concurrently for one subscription, and never while a
// hub lock is held, so callbacks may call back into the hub. Slow callbacks delay only their
// own subscription: each subscriber has a bounded buffer, and one that falls behind is served
// from the store (catch-up) and rejoins live without loss. Appenders never wait for
// subscribers.
//
// Thread safety: Hub, Run and Subscription objects are safe to use from any number of threads.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <strata/cancellation.h>
#include <strata/clock.h>
#include <strata/executor.h>
#include <strata/session/event.h>
#include <strata/session/snapshot.h>
#include <strata/session/store.h>
#include <strata/status.h>

namespace strata::session {

struct HubOptions {
  // The store. Default: an SQLite store at `database_path` (see below).
  std::shared_ptr<SessionStore> store{};
  // Used when `store` is null: open_sqlite_store(database_path). If both are empty, open()
  // fails with kInvalidArgument.
  std::string database_path{};
  // Default: strata::system_clock().
  std::shared_ptr<Clock> clock{};
  // Where callbacks run. Default: a pool of `delivery_threads` threads owned by the hub.
  std::shared_ptr<Executor> executor{};
  std::size_t delivery_threads = 1;

  // An event larger than this (Event::byte_size) is refused with kInvalidArgument.
  // Default: 1 MiB.
  std::size_t max_event_bytes = 1 << 20;
  // Events buffered per subscriber before it falls back to catch-up reads. Default: 1024.
  std::size_t subscriber_buffer = 1024;
  // Recent events kept in memory per active session to serve catch-up without reading the
  // store. Default: 256.
  std::size_t recent_events = 256;
  // A session nobody uses (no subscriber, run handle, running run or pending append) for this
  // long is dropped from memory by maintenance; it is reloaded from the store on next use.
  // Default: 60 s.
  std::chrono::milliseconds idle_session_ttl{60000};
  // Most appends written to the store in one group commit. Default: 1024.
  std::size_t max_commit_group = 1024;
  // Appends waiting for the commit thread before append() fails with kResourceExhausted.
  // Default: 65536.
  std::size_t max_pending_appends = 65536;

  // Policy for sessions that have none of their own (see set_retention). Default: keep all,
  // compact completed messages.
  RetentionPolicy default_retention{};
  // How often the background maintenance pass runs (leases, presence expiry, compaction,
  // retention). Zero disables the background pass; call run_maintenance() yourself (tests do,
  // with a FakeClock). Default: 1 s.
  std::chrono::milliseconds maintenance_interval{1000};
  // Agent run lease; a run not renewed for this long ends as agent-lost. Default: 30 s.
  std::chrono::milliseconds run_lease{30000};
  // Presence lease; a client not renewed for this long leaves. Default: 30 s.
  std::chrono::milliseconds presence_lease{30000};
};

// Idempotent, fenced appends (contract point 2). Without a sequence an append is written
// every time it is called.
struct AppendOptions {
  // Who writes. Required: validated like other names.
  std::string producer{};
  // Fencing: once a session has seen epoch N from this producer, appends with an epoch < N
  // fail with kFailedPrecondition ("fenced"). Starting a new epoch resets the sequence.
  std::uint64_t producer_epoch = 0;
  // If set: the first append of a producer epoch has sequence 0, each next one the previous
  // plus 1. A retry of an already-written sequence writes nothing and returns the original
  // offsets with `duplicate` set; a skipped sequence fails with kFailedPrecondition.
  std::optional<std::uint64_t> producer_seq{};
};

struct AppendResult {
  Offset first_offset = 0;
  Offset last_offset = 0;
  bool duplicate = false;
  std::string epoch{};  // the session's epoch
};

struct SubscribeOptions {
  // Deliver events with offset > from. 0 = from the beginning.
  Offset from = 0;
  // If not empty, the epoch the client saw `from` in. A different current epoch fails the
  // subscribe with kDataLoss: the history was reset and `from` means nothing any more.
  std::string epoch{};
  // Buffered events before falling back to catch-up. Default (0): HubOptions value.
  std::size_t buffer = 0;
};

// Receives events in offset order, each once. Runs on the hub's executor.
using EventHandler = std::function<void(const Event&)>;
// Called at most once, when the hub ends a subscription: kNotFound (session removed),
// kDataLoss (the subscriber fell behind retention; take a snapshot), kInternal (the event
// handler threw), kCancelled (the hub is shutting down). Not called after close().
using CloseHandler = std::function<void(const Status&)>;

// A live subscription; destroying it unsubscribes.
class Subscription {
 public:
  virtual ~Subscription() = default;
  // Stops delivery. After close() returns no handler of this subscription is running or
  // will run — except when close() is called from inside one of its own handlers, in which
  // case nothing runs after that handler returns.
  virtual void close() = 0;
  [[nodiscard]] virtual const std::string& session() const = 0;
  [[nodiscard]] virtual const std::string& epoch() const = 0;
  // Offset of the last event handed to the EventHandler (the resume point). Final once
  // close() has returned.
  [[nodiscard]] virtual Offset last_delivered() const = 0;
  // How many times this subscriber fell behind its buffer and was served from the store.
  [[nodiscard]] virtual std::uint64_t catch_up_count() const = 0;
};

struct RunOptions {
  // Producer id of the agent (or sub-agent). Required.
  std::string agent{};
  // Default: a new unique id.
  std::string run_id{};
  // The run that spawned this one (sub-agents); must exist in the session.
  std::string parent_run_id{};
  // Extra JSON object fields for the run.started payload, e.g. {"model":"..."}.
  std::string payload = "{}";
  // Default (0): HubOptions::run_lease. At most 366 days.
  std::chrono::milliseconds lease{0};
  // Called on the executor for each steering input addressed to the run. Inputs are also
  // queued for take_steering(), whether or not this is set.
  std::function<void(const std::string& input)> on_steer{};
};

// The handle of a running agent. Every write renews the run's lease; call renew() while the
// agent thinks without writing. Destroying the handle does not end the run: a run whose
// agent goes away without completing it ends as agent-lost when its lease expires.
// REQUIRES: the Hub outlives its Run handles (Subscriptions may outlive it).
class Run {
 public:
  virtual ~Run() = default;
  [[nodiscard]] virtual const std::string& id() const = 0;
  [[nodiscard]] virtual const std::string& session() const = 0;
  // Fires when the run is cancelled (by anyone, on any node sharing the store).
  [[nodiscard]] virtual CancellationToken token() const = 0;
  [[nodiscard]] virtual bool cancelled() const = 0;

  // Starts an assistant message (role default "assistant"); returns its id.
  // Every write fails with kCancelled once the run is cancelled, and kFailedPrecondition once
  // it has ended otherwise.
  virtual Result<std::string> begin_message(std::string_view role = "assistant",
                                            std::string_view message_id = {}) = 0;
  // Appends a token delta to a message this run began.
  virtual Result<Offset> delta(std::string_view message_id, std::string_view text) = 0;
  // Completes the message: writes message.completed carrying the whole text.
  virtual Result<Offset> end_message(std::string_view message_id) = 0;
  // Appends an application event (tool call, citation, ...) tagged with this run.
  virtual Result<Offset> emit(EventDraft draft) = 0;
  // Ends the run. `payload` is a JSON object merged into the terminal event.
  virtual Result<Offset> complete(std::string_view payload = "{}") = 0;
  virtual Result<Offset> fail(std::string_view error) = 0;
  virtual Status renew() = 0;
  // Pops the oldest steering input not yet taken (JSON text), if any.
  virtual std::optional<std::string> take_steering() = 0;
};

struct CancelOptions {
  std::string reason = "cancelled by user";
  // Who asked (client id). Default: "client".
  std::string requested_by = "client";
};

struct PresenceOptions {
  std::string client_id{};  // required
  std::string device{};     // free-form label
  std::string kind = "client";
  // Default (0): HubOptions::presence_lease. At most 366 days.
  std::chrono::milliseconds lease{0};
};

struct ReadOptions {
  Offset after = 0;
  std::size_t max_events = 1000;
  std::size_t max_bytes = 4 << 20;
};

struct MaintenanceReport {
  std::uint64_t runs_lost = 0;           // runs ended as agent-lost
  std::uint64_t presence_expired = 0;    // clients whose lease ran out
  std::uint64_t deltas_compacted = 0;    // message.delta events removed
  std::uint64_t events_trimmed = 0;      // events removed by ttl / size limits
  std::uint64_t sessions_evicted = 0;    // idle sessions dropped from memory
  std::vector<Status> errors{};            // per-session failures (the pass goes on)
};

class Hub {
 public:
  // Opens a hub over options.store (or the SQLite file at options.database_path) and starts
  // its commit thread and, unless disabled, its maintenance thread.
  static Result<std::unique_ptr<Hub>> open(HubOptions options);

  // Stops the background threads after completing every queued append; open subscriptions
  // are closed with kCancelled. Runs are left as they are (a run still going when its process
  // stops ends as agent-lost after its lease).
  virtual ~Hub() = default;

  // Creates the session if needed; returns its info.
  virtual Result<SessionInfo> create(std::string_view session) = 0;
  // kNotFound if absent.
  virtual Result<SessionInfo> info(std::string_view session) = 0;

  // Appends events atomically (all or none) and returns when they are durable.
  // Errors: kInvalidArgument (bad ids, type, payload JSON, event too large, empty batch),
  // kFailedPrecondition (fenced producer epoch, sequence gap), kAlreadyExists (a retried
  // sequence whose events retention has already removed), kResourceExhausted (too many
  // pending appends), kUnavailable/kDataLoss (store failures). Creates the session if needed.
  virtual Result<AppendResult> append(std::string_view session, EventDraft draft,
                                      const AppendOptions& options) = 0;
  virtual Result<AppendResult> append_batch(std::string_view session,
                                            std::vector<EventDraft> drafts,
                                            const AppendOptions& options) = 0;
  // The same, without waiting: `done` runs on the executor once the append is durable or
  // has failed. Errors found before queueing are also reported through `done`.
  virtual void append_async(std::string_view session, std::vector<EventDraft> drafts,
                            const AppendOptions& options,
                            std::function<void(Result<AppendResult>)> done) = 0;

  // Delivers every event after options.from, then follows live, with no gap and no duplicate
  // at the switch-over. Errors: kInvalidArgument, kNotFound (no such session), kDataLoss
  // (epoch changed, or events after `from` were removed by retention: take a snapshot),
  // kOutOfRange (`from` is beyond the session's head).
  virtual Result<std::unique_ptr<Subscription>> subscribe(std::string_view session,
                                                          const SubscribeOptions& options,
                                                          EventHandler on_event,
                                                          CloseHandler on_close = {}) = 0;
  // Resume: subscribe from the last (epoch, offset) a client saw, on any device or node.
  Result<std::unique_ptr<Subscription>> resume(std::string_view session, std::string epoch,
                                               Offset last_seen, EventHandler on_event,
                                               CloseHandler on_close = {}) {
    return subscribe(session, SubscribeOptions{last_seen, std::move(epoch), 0},
                     std::move(on_event), std::move(on_close));
  }
  // A page of history. Errors as for subscribe (without the live part).
  virtual Result<ReadResult> read(std::string_view session, const ReadOptions& options) = 0;
  // Completed messages whole, in-progress messages as text so far, run states, presence,
  // and the offset to follow live from.
  virtual Result<Snapshot> snapshot(std::string_view session) = 0;

  // Opens a run (run.started). Errors: kInvalidArgument, kAlreadyExists (run id in use),
  // kNotFound (parent run unknown).
  virtual Result<std::unique_ptr<Run>> start_run(std::string_view session,
                                                 RunOptions options) = 0;
  // Appends run.cancelled for the run and for its running descendants (sub-agents); every
  // subscriber sees it and the run's token fires on whichever node runs the agent. Returns
  // the offset of the run's cancel event. Errors: kNotFound (unknown run),
  // kFailedPrecondition (the run has already ended; the message says how).
  virtual Result<Offset> cancel(std::string_view session, std::string_view run_id,
                                const CancelOptions& options = {}) = 0;
  // Cancels every running run of the session; returns the ids it cancelled.
  virtual Result<std::vector<std::string>> cancel_all(std::string_view session,
                                                      const CancelOptions& options = {}) = 0;
  // Sends user input (JSON text) to a running run (run.steer). Errors: kNotFound,
  // kFailedPrecondition (run ended), kInvalidArgument (bad JSON).
  virtual Result<Offset> steer(std::string_view session, std::string_view run_id,
                               std::string_view input, std::string_view requested_by) = 0;

  // Presence with leases. join() appends presence.joined the first time a client id joins
  // (and again after it left); renewing an existing entry writes no event.
  virtual Status join(std::string_view session, const PresenceOptions& options) = 0;
  // kNotFound if the client is not present.
  virtual Status renew_presence(std::string_view session, std::string_view client_id) = 0;
  virtual Status leave(std::string_view session, std::string_view client_id) = 0;
  virtual Result<std::vector<PresenceEntry>> presence(std::string_view session) = 0;

  // Retention for one session (persisted in the store).
  virtual Status set_retention(std::string_view session, const RetentionPolicy& policy) = 0;
  // Deletes the session. Subscribers are closed with kNotFound; recreating it gives a new
  // epoch.
  virtual Status remove(std::string_view session) = 0;

  // One maintenance pass now: expire leases and presence, compact, apply retention.
  virtual MaintenanceReport run_maintenance() = 0;

  // Blocks until every append queued before the call is durable and published.
  virtual void flush() = 0;
};

}  // namespace strata::session
