// strata/session/snapshot.h — what a late joiner needs instead of the whole log.
//
// A Snapshot is a pure function of a session's retained events (plus live presence): a
// client renders it, then subscribes from `offset` to follow live with no gap and no
// duplicate.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <strata/session/event.h>

namespace strata::session {

enum class RunState : std::uint8_t { kRunning, kCompleted, kFailed, kCancelled, kAgentLost };
std::string_view to_string(RunState state) noexcept;

enum class MessageState : std::uint8_t {
  kStreaming,    // deltas are still arriving
  kCompleted,    // message.completed seen: `text` is the whole message
  kInterrupted,  // its run ended (cancelled, failed, agent lost) before the message completed
};
std::string_view to_string(MessageState state) noexcept;

struct MessageSnapshot {
  std::string id{};
  std::string run_id{};
  std::string producer{};
  std::string role{};  // "assistant" unless the writer said otherwise
  std::string text{};  // whole message, or the text so far
  MessageState state = MessageState::kStreaming;
  Offset started_at = 0;  // offset of its first event
  Offset updated_at = 0;  // offset of its latest event
};

struct RunSnapshot {
  std::string id{};
  std::string parent_run_id{};
  std::string agent{};  // producer that started it
  RunState state = RunState::kRunning;
  std::string reason{};  // cancel reason or failure message, when ended that way
  Offset started_at = 0;
  Offset ended_at = 0;  // 0 while running
};

struct PresenceEntry {
  std::string client_id{};
  std::string device{};  // free-form label, e.g. "laptop/firefox"
  std::string kind{};    // "client" or "agent"
  std::int64_t since_ms = 0;
  std::int64_t expires_ms = 0;
  friend bool operator==(const PresenceEntry&, const PresenceEntry&) = default;
};

struct Snapshot {
  std::string session{};
  std::string epoch{};
  Offset offset = 0;  // subscribe from here to follow live
  std::vector<MessageSnapshot> messages{};  // in order of first appearance
  std::vector<RunSnapshot> runs{};          // in order of start
  std::vector<PresenceEntry> presence{};    // sorted by client id
};

}  // namespace strata::session
