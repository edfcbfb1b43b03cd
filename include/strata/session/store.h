// strata/session/store.h — the pluggable storage under a session hub.
//
// A SessionStore keeps each session's log, its epoch, the idempotency state of its
// producers, and short-lived leased entries (presence, agent leases). It is deliberately
// narrow: ordering, fan-out, snapshots, runs and maintenance live in the Hub, so a new store
// (the Redis store, your own) implements only storage and passes the conformance suite in
// tests/session/store_conformance_test.cpp unchanged.
//
// Built-in stores: open_memory_store() (tests, nothing persisted) and open_sqlite_store()
// (the embedded default, strata/session/sqlite_store.h).
//
// Thread safety: implementations must be safe for concurrent calls on one object. The hub
// calls append() from one thread at a time and everything else from any thread.
// Implementations must not throw; errors are returned as Status.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <strata/session/event.h>
#include <strata/status.h>

namespace strata::session {

// How much of a session's history is kept. Zero means "no limit".
struct RetentionPolicy {
  // Events older than this are removed (the session's TTL). Default: keep forever.
  std::chrono::milliseconds ttl{0};
  // At most this many events are kept; the oldest go first. Default: no limit.
  std::uint64_t max_events = 0;
  // At most this many bytes (Event::byte_size) are kept; the oldest go first. Default: none.
  std::uint64_t max_bytes = 0;
  // Remove the message.delta events of completed messages (their message.completed event
  // carries the whole text). Default: true.
  bool compact_completed_messages = true;

  friend bool operator==(const RetentionPolicy&, const RetentionPolicy&) = default;
};

struct SessionInfo {
  std::string id{};
  // Changes whenever the session's history is lost or reset (created anew, removed and
  // recreated, a new store file). Resuming with an old epoch is refused with kDataLoss.
  std::string epoch{};
  Offset head = 0;             // highest offset ever assigned (0: no events yet)
  Offset trimmed_through = 0;  // retention removed every event with offset <= this
  std::uint64_t event_count = 0;  // events currently retained
  std::uint64_t bytes = 0;        // their byte_size() total
  std::int64_t created_ms = 0;
  RetentionPolicy retention{};
};

// One atomic append to one session: all of `events` are written with consecutive offsets,
// or none is.
struct StoreAppend {
  std::string session{};
  std::string producer{};
  // Idempotency and fencing (see Hub::append): a producer epoch lower than the highest seen
  // for (session, producer) is fenced; with a sequence, (producer, epoch, sequence) is
  // written at most once.
  std::uint64_t producer_epoch = 0;
  std::optional<std::uint64_t> producer_seq{};
  // On success the store sets each event's offset, and its producer to `producer`.
  std::vector<Event> events{};
  std::int64_t now_ms = 0;    // creation time if the session does not exist yet

  // Filled in by SessionStore::append.
  Status status{};
  Offset first_offset = 0;
  Offset last_offset = 0;
  bool duplicate = false;  // an earlier append with this sequence was found; nothing written
  std::string epoch{};       // the session's epoch after the append
};

struct ReadResult {
  std::vector<Event> events{};
  Offset head = 0;
  Offset trimmed_through = 0;
};

// A completed message and the offsets its events lie between (for compaction).
struct MessageSpan {
  std::string message_id{};
  Offset first = 0;  // offset of its first event
  Offset last = 0;   // offset of its message.completed event
  friend bool operator==(const MessageSpan&, const MessageSpan&) = default;
};

// Where a hub follows one session in a shared store: the events after `after`.
struct TailCursor {
  std::string session{};
  Offset after = 0;
};

// New events of one session, in offset order.
struct TailBatch {
  std::string session{};
  std::vector<Event> events{};
};

// A leased, short-lived entry: presence of a client, the lease of an agent's run.
struct LeasedEntry {
  std::string key{};
  std::string value{};  // JSON text
  std::int64_t expires_ms = 0;
  friend bool operator==(const LeasedEntry&, const LeasedEntry&) = default;
};

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  // "memory", "sqlite", ...
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;

  // Creates the session if it does not exist (with a new epoch); returns its info either way.
  virtual Result<SessionInfo> create(std::string_view session, std::int64_t now_ms) = 0;

  // Performs every request in `batch` (one group commit); each gets its own outcome in its
  // status/first_offset/last_offset/duplicate fields. Requests for sessions that do not
  // exist create them. A request that fails writes nothing and does not affect the others.
  // Durable when it returns, per the store's documented durability.
  virtual void append(std::span<StoreAppend> batch) = 0;

  // Up to `max_events` retained events with offset > `after`, in offset order, stopping early
  // once `max_bytes` is reached (at least one event is returned if any exists).
  // kNotFound if the session does not exist.
  virtual Result<ReadResult> read(std::string_view session, Offset after,
                                  std::size_t max_events, std::size_t max_bytes) = 0;

  // kNotFound if the session does not exist.
  virtual Result<SessionInfo> info(std::string_view session) = 0;
  virtual Result<std::vector<std::string>> list_sessions() = 0;

  // Persists the session's retention policy (applied by the hub's maintenance).
  virtual Status set_retention(std::string_view session, const RetentionPolicy& policy) = 0;

  // Removes the message.delta events of the given messages, each of which lies within its
  // span's offsets. Returns how many were removed.
  virtual Result<std::uint64_t> compact_messages(std::string_view session,
                                                 std::span<const MessageSpan> messages) = 0;
  // Removes every event with offset <= `through` and records it in trimmed_through.
  // Returns how many were removed.
  virtual Result<std::uint64_t> trim(std::string_view session, Offset through) = 0;

  // Deletes the session, its events, producers and leased entries. kNotFound if absent.
  virtual Status remove(std::string_view session) = 0;

  // Leased entries, grouped by `kind` ("presence", "lease"). Expired entries are still
  // returned by list_leased (the hub decides what expiry means and removes them).
  virtual Status put_leased(std::string_view session, std::string_view kind,
                            const LeasedEntry& entry) = 0;
  // Returns false if there was no such entry.
  virtual Result<bool> remove_leased(std::string_view session, std::string_view kind,
                                     std::string_view key) = 0;
  virtual Result<std::vector<LeasedEntry>> list_leased(std::string_view session,
                                                       std::string_view kind) = 0;

  // --- Shared stores (several hubs, on several nodes, write the same sessions) ---
  //
  // A shared store (Redis) returns true. The hub then learns of every event — its own and
  // those other hubs wrote — by following the store with wait_for_events, and publishes
  // events to subscribers only in the order the store returns them. Default: false.
  [[nodiscard]] virtual bool shared() const noexcept { return false; }
  // Blocks until some cursor's session has events after its offset, `timeout` passes, or
  // interrupt_wait() is called; returns up to `max_events` events per session that has new
  // ones (an empty vector on timeout or interrupt). Sessions that do not exist are left out.
  // Only one thread calls it at a time. Default: kUnimplemented.
  virtual Result<std::vector<TailBatch>> wait_for_events(std::span<const TailCursor> cursors,
                                                         std::chrono::milliseconds timeout,
                                                         std::size_t max_events) {
    (void)cursors, (void)timeout, (void)max_events;
    return Status(StatusCode::kUnimplemented, "wait_for_events: not a shared store");
  }
  // Makes a wait_for_events call in progress (or the next one) return early. Safe from any
  // thread. Default: does nothing.
  virtual void interrupt_wait() {}
};

// A store that keeps everything in memory: fast, nothing persisted. Each instance has its
// own epochs, so a new memory store looks to resuming clients like lost history.
std::shared_ptr<SessionStore> open_memory_store();

}  // namespace strata::session
