// strata/session/event.h — the unit of a durable session: the Event.
//
// A session is an ordered, append-only log of events named by a session id. Offsets start at
// 1, are strictly increasing per session and are never reused; offset 0 means "before the
// first event". Compaction may remove the token deltas of completed messages, so offsets seen
// by a reader are increasing but not always contiguous; nothing else is ever skipped.
//
// Payloads are JSON text, validated on append and stored and delivered verbatim, so the
// public headers need no JSON library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <strata/status.h>

namespace strata::session {

using Offset = std::uint64_t;

struct Event {
  Offset offset = 0;
  std::string type{};           // e.g. "message.delta", "run.started", or an application type.
  std::string producer{};       // who wrote it: an agent, sub-agent, client or "strata".
  std::string run_id{};         // the run it belongs to, or empty.
  std::string parent_run_id{};  // the parent of that run (sub-agents), or empty.
  std::string message_id{};     // the message it belongs to, or empty.
  std::string payload = "{}"; // JSON text.
  std::int64_t timestamp_ms = 0;  // milliseconds since the Unix epoch, from the hub's clock.

  // Bytes this event counts against size limits (all strings plus fixed overhead).
  [[nodiscard]] std::size_t byte_size() const noexcept;
  friend bool operator==(const Event&, const Event&) = default;
};

// What a writer supplies; the hub fills in offset, producer and timestamp.
struct EventDraft {
  std::string type{};
  std::string payload = "{}";
  std::string run_id{};
  std::string parent_run_id{};
  std::string message_id{};
};

// Event types strata itself writes and understands. Types under the reserved prefixes
// "run.", "message.", "presence." and "strata." are validated on append; any other type
// (for example "tool.call" or "app.notice") is the application's own.
namespace event_types {
inline constexpr std::string_view kRunStarted = "run.started";      // payload: {"agent",..}
inline constexpr std::string_view kRunCompleted = "run.completed";
inline constexpr std::string_view kRunFailed = "run.failed";        // payload: {"error"}
inline constexpr std::string_view kRunCancelled = "run.cancelled";  // payload: {"reason","by"}
inline constexpr std::string_view kRunAgentLost = "run.agent_lost";
inline constexpr std::string_view kRunSteer = "run.steer";          // payload: {"input","by"}
inline constexpr std::string_view kMessageStarted = "message.started";  // payload: {"role"}
inline constexpr std::string_view kMessageDelta = "message.delta";      // payload: {"text"}
inline constexpr std::string_view kMessageCompleted = "message.completed";  // {"role","text"}
inline constexpr std::string_view kPresenceJoined = "presence.joined";
inline constexpr std::string_view kPresenceLeft = "presence.left";
}  // namespace event_types

// True for the event types that end a run (completed, failed, cancelled, agent_lost).
[[nodiscard]] bool is_terminal_run_event(std::string_view type) noexcept;

// Validation of the names used in the API. Each returns kInvalidArgument with a message that
// names the field and the rule it broke.
//  - session ids: 1..200 bytes of [A-Za-z0-9._~:@/-], not starting or ending with '/', no
//    empty or "." or ".." path segment. Ids are case-sensitive.
//  - producer, run, message and client ids: 1..128 bytes of [A-Za-z0-9._~:@/-].
//  - event types: 1..64 bytes of [a-z0-9._-], starting with a letter.
[[nodiscard]] Status validate_session_id(std::string_view id);
[[nodiscard]] Status validate_name(std::string_view field, std::string_view value);
[[nodiscard]] Status validate_event_type(std::string_view type);
// Checks that `text` is one complete, well-formed JSON value (RFC 8259) nested at most 64
// deep. Does not build a document.
[[nodiscard]] Status validate_json(std::string_view text);

}  // namespace strata::session
