// The memory store: every session in a std::deque under one mutex.
#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <unordered_map>

#include <strata/session/store.h>

#include "producer_rules.h"

namespace strata::session {
namespace detail {

std::string new_epoch() {
  static thread_local std::mt19937_64 rng{std::random_device{}() ^
                                          (static_cast<std::uint64_t>(std::random_device{}()) << 32)};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int half = 0; half < 2; ++half) {
    std::uint64_t bits = rng();
    for (int i = 0; i < 16; ++i) {
      out[half * 16 + i] = kHex[bits & 15];
      bits >>= 4;
    }
  }
  return out;
}

}  // namespace detail

namespace {

struct StoredEvent {
  Event event;
  std::uint64_t producer_epoch = 0;
  std::optional<std::uint64_t> producer_seq;
};

struct MemorySession {
  SessionInfo info;
  std::deque<StoredEvent> events;
  std::unordered_map<std::string, detail::ProducerState> producers;
  std::map<std::string, std::map<std::string, LeasedEntry, std::less<>>, std::less<>> leased;
};

class MemoryStore final : public SessionStore {
 public:
  std::string_view name() const noexcept override { return "memory"; }

  Result<SessionInfo> create(std::string_view session, std::int64_t now_ms) override {
    std::lock_guard lock(mu_);
    return get_or_create(session, now_ms).info;
  }

  void append(std::span<StoreAppend> batch) override {
    std::lock_guard lock(mu_);
    for (auto& request : batch) append_one(request);
  }

  Result<ReadResult> read(std::string_view session, Offset after, std::size_t max_events,
                          std::size_t max_bytes) override {
    std::lock_guard lock(mu_);
    auto* s = find(session);
    if (s == nullptr) return not_found_error("session not found");
    ReadResult out;
    out.head = s->info.head;
    out.trimmed_through = s->info.trimmed_through;
    auto it = std::upper_bound(s->events.begin(), s->events.end(), after,
                               [](Offset o, const StoredEvent& e) { return o < e.event.offset; });
    std::size_t bytes = 0;
    for (; it != s->events.end() && out.events.size() < max_events; ++it) {
      if (!out.events.empty() && bytes + it->event.byte_size() > max_bytes) break;
      bytes += it->event.byte_size();
      out.events.push_back(it->event);
    }
    return out;
  }

  Result<SessionInfo> info(std::string_view session) override {
    std::lock_guard lock(mu_);
    auto* s = find(session);
    if (s == nullptr) return not_found_error("session not found");
    return s->info;
  }

  Result<std::vector<std::string>> list_sessions() override {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    out.reserve(sessions_.size());
    for (auto& [id, s] : sessions_) out.push_back(id);
    std::sort(out.begin(), out.end());
    return out;
  }

  Status set_retention(std::string_view session, const RetentionPolicy& policy) override {
    std::lock_guard lock(mu_);
    auto* s = find(session);
    if (s == nullptr) return not_found_error("session not found");
    s->info.retention = policy;
    return {};
  }

  Result<std::uint64_t> compact_messages(std::string_view session,
                                         std::span<const MessageSpan> messages) override {
    std::lock_guard lock(mu_);
    auto* s = find(session);
    if (s == nullptr) return not_found_error("session not found");
    std::uint64_t removed = 0;
    for (const auto& m : messages) {
      // Only the span's offsets can hold its deltas.
      auto first = std::lower_bound(s->events.begin(), s->events.end(), m.first,
                                    [](const StoredEvent& e, Offset o) { return e.event.offset < o; });
      auto last = std::upper_bound(first, s->events.end(), m.last,
                                   [](Offset o, const StoredEvent& e) { return o < e.event.offset; });
      auto kept = std::remove_if(first, last, [&](const StoredEvent& e) {
        const bool doomed = e.event.type == event_types::kMessageDelta && e.event.message_id == m.message_id;
        if (doomed) s->info.bytes -= e.event.byte_size();
        return doomed;
      });
      removed += static_cast<std::uint64_t>(last - kept);
      s->events.erase(kept, last);
    }
    s->info.event_count = s->events.size();
    return removed;
  }

  Result<std::uint64_t> trim(std::string_view session, Offset through) override {
    std::lock_guard lock(mu_);
    auto* s = find(session);
    if (s == nullptr) return not_found_error("session not found");
    through = std::min(through, s->info.head);
    const auto removed = erase_if(*s, [&](const StoredEvent& e) { return e.event.offset <= through; });
    s->info.trimmed_through = std::max(s->info.trimmed_through, through);
    return removed;
  }

  Status remove(std::string_view session) override {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(std::string(session));
    if (it == sessions_.end()) return not_found_error("session not found");
    sessions_.erase(it);
    return {};
  }

  Status put_leased(std::string_view session, std::string_view kind,
                    const LeasedEntry& entry) override {
    std::lock_guard lock(mu_);
    auto* s = find(session);
    if (s == nullptr) return not_found_error("session not found");
    s->leased[std::string(kind)][entry.key] = entry;
    return {};
  }

  Result<bool> remove_leased(std::string_view session, std::string_view kind,
                             std::string_view key) override {
    std::lock_guard lock(mu_);
    auto* s = find(session);
    if (s == nullptr) return not_found_error("session not found");
    auto kit = s->leased.find(kind);
    if (kit == s->leased.end()) return false;
    auto it = kit->second.find(key);
    if (it == kit->second.end()) return false;
    kit->second.erase(it);
    return true;
  }

  Result<std::vector<LeasedEntry>> list_leased(std::string_view session,
                                               std::string_view kind) override {
    std::lock_guard lock(mu_);
    auto* s = find(session);
    if (s == nullptr) return not_found_error("session not found");
    std::vector<LeasedEntry> out;
    auto kit = s->leased.find(kind);
    if (kit != s->leased.end()) {
      for (auto& [key, entry] : kit->second) out.push_back(entry);
    }
    return out;
  }

 private:
  MemorySession* find(std::string_view session) {
    auto it = sessions_.find(std::string(session));
    return it == sessions_.end() ? nullptr : &it->second;
  }

  MemorySession& get_or_create(std::string_view session, std::int64_t now_ms) {
    auto [it, inserted] = sessions_.try_emplace(std::string(session));
    if (inserted) {
      it->second.info.id = it->first;
      it->second.info.epoch = detail::new_epoch();
      it->second.info.created_ms = now_ms;
    }
    return it->second;
  }

  template <typename Pred>
  std::uint64_t erase_if(MemorySession& s, Pred pred) {
    std::uint64_t removed = 0;
    std::deque<StoredEvent> kept;
    for (auto& e : s.events) {
      if (pred(e)) {
        ++removed;
        s.info.bytes -= e.event.byte_size();
      } else {
        kept.push_back(std::move(e));
      }
    }
    s.events.swap(kept);
    s.info.event_count = s.events.size();
    return removed;
  }

  void append_one(StoreAppend& request) {
    if (request.events.empty()) {
      request.status = invalid_argument_error("append of no events");
      return;
    }
    MemorySession& s = get_or_create(request.session, request.now_ms);
    request.epoch = s.info.epoch;
    auto pit = s.producers.find(request.producer);
    const detail::ProducerState* state = pit == s.producers.end() ? nullptr : &pit->second;
    const auto decision =
        detail::decide(state, request.producer, request.producer_epoch, request.producer_seq);
    switch (decision.verdict) {
      case detail::ProducerVerdict::kReject:
        request.status = decision.error;
        return;
      case detail::ProducerVerdict::kDuplicateLast:
        request.duplicate = true;
        request.first_offset = state->last_first;
        request.last_offset = state->last_last;
        return;
      case detail::ProducerVerdict::kDuplicateOlder: {
        request.duplicate = true;
        for (const auto& e : s.events) {
          if (e.event.producer == request.producer && e.producer_seq == request.producer_seq &&
              e.producer_epoch == request.producer_epoch) {
            if (request.first_offset == 0) request.first_offset = e.event.offset;
            request.last_offset = e.event.offset;
          }
        }
        if (request.first_offset == 0) {
          request.status = detail::duplicate_removed_error(request.producer, *request.producer_seq);
        }
        return;
      }
      case detail::ProducerVerdict::kWrite:
        break;
    }
    request.first_offset = s.info.head + 1;
    for (auto& event : request.events) {
      event.producer = request.producer;
      event.offset = ++s.info.head;
      s.info.bytes += event.byte_size();
      s.events.push_back(StoredEvent{event, request.producer_epoch, request.producer_seq});
    }
    request.last_offset = s.info.head;
    s.info.event_count = s.events.size();
    detail::record(s.producers[request.producer], request.producer_epoch, request.producer_seq,
                   request.first_offset, request.last_offset);
  }

  std::mutex mu_;
  std::unordered_map<std::string, MemorySession> sessions_;
};

}  // namespace

std::shared_ptr<SessionStore> open_memory_store() { return std::make_shared<MemoryStore>(); }

}  // namespace strata::session
