// The fold of a session's events into its snapshot state (runs, messages), kept current by
// the hub as events are published, and rebuilt from the store when a session is loaded.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <strata/session/event.h>
#include <strata/session/snapshot.h>
#include <strata/session/store.h>

namespace strata::session::detail {

// Reads a string field of a JSON object payload; empty if absent, not a string, or the
// payload is not a JSON object.
std::string json_string_field(std::string_view payload, std::string_view field);
// The JSON text of a field of a JSON object payload; "null" if absent.
std::string json_raw_field(std::string_view payload, std::string_view field);
// `text` as a JSON string literal, quotes included.
std::string json_quote(std::string_view text);

class SessionFold {
 public:
  // Applies one event. Any sequence of events is accepted: unknown runs and messages are
  // created on first sight; events for runs that have ended change nothing; the first
  // terminal event of a run decides its final state.
  void apply(const Event& event);

  // Forgets runs and messages that ended at or before `through` (retention trimmed them).
  void forget_through(Offset through);

  [[nodiscard]] const RunSnapshot* find_run(std::string_view id) const;
  [[nodiscard]] const MessageSnapshot* find_message(std::string_view id) const;
  // Running runs whose ancestry includes `run_id` (not `run_id` itself).
  [[nodiscard]] std::vector<std::string> running_descendants(std::string_view run_id) const;
  [[nodiscard]] std::vector<std::string> running_runs() const;
  // Completed messages whose deltas have not been handed out for compaction yet.
  std::vector<MessageSpan> take_compactable();

  [[nodiscard]] const std::vector<MessageSnapshot>& messages() const { return messages_; }
  [[nodiscard]] const std::vector<RunSnapshot>& runs() const { return runs_; }

 private:
  MessageSnapshot& message(const Event& event);
  RunSnapshot& run(const Event& event);
  void end_run(RunSnapshot& run, RunState state, const Event& event);
  void reindex();

  std::vector<MessageSnapshot> messages_;
  std::unordered_map<std::string, std::size_t> message_index_;
  std::vector<RunSnapshot> runs_;
  std::unordered_map<std::string, std::size_t> run_index_;
  std::vector<MessageSpan> compactable_;
};

}  // namespace strata::session::detail
