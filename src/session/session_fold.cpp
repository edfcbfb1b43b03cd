#include "session_fold.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace strata::session {

std::string_view to_string(RunState state) noexcept {
  switch (state) {
    case RunState::kRunning: return "running";
    case RunState::kCompleted: return "completed";
    case RunState::kFailed: return "failed";
    case RunState::kCancelled: return "cancelled";
    case RunState::kAgentLost: return "agent_lost";
  }
  return "unknown";
}

std::string_view to_string(MessageState state) noexcept {
  switch (state) {
    case MessageState::kStreaming: return "streaming";
    case MessageState::kCompleted: return "completed";
    case MessageState::kInterrupted: return "interrupted";
  }
  return "unknown";
}

namespace detail {

std::string json_string_field(std::string_view payload, std::string_view field) {
  // Fast path for the payloads strata writes itself, e.g. {"text":"tok "}: one field, no
  // escapes, no whitespace. Anything else goes through the full parser.
  if (payload.size() >= field.size() + 7 && payload[0] == '{' && payload[1] == '"' &&
      payload.substr(2, field.size()) == field &&
      payload.substr(2 + field.size(), 3) == "\":\"" && payload.ends_with("\"}")) {
    const std::string_view value =
        payload.substr(field.size() + 5, payload.size() - field.size() - 7);
    if (value.find_first_of("\\\"") == std::string_view::npos) return std::string(value);
  }
  auto doc = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return {};
  auto it = doc.find(field);
  if (it == doc.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::string json_raw_field(std::string_view payload, std::string_view field) {
  auto doc = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return "null";
  auto it = doc.find(field);
  if (it == doc.end()) return "null";
  return it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string json_quote(std::string_view text) {
  return nlohmann::json(std::string(text)).dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace);
}

MessageSnapshot& SessionFold::message(const Event& event) {
  auto [it, inserted] = message_index_.try_emplace(event.message_id, messages_.size());
  if (inserted) {
    MessageSnapshot m;
    m.id = event.message_id;
    m.run_id = event.run_id;
    m.producer = event.producer;
    m.role = "assistant";
    m.started_at = event.offset;
    messages_.push_back(std::move(m));
  }
  return messages_[it->second];
}

RunSnapshot& SessionFold::run(const Event& event) {
  auto [it, inserted] = run_index_.try_emplace(event.run_id, runs_.size());
  if (inserted) {
    RunSnapshot r;
    r.id = event.run_id;
    r.parent_run_id = event.parent_run_id;
    r.agent = event.producer;
    r.started_at = event.offset;
    runs_.push_back(std::move(r));
  }
  return runs_[it->second];
}

void SessionFold::end_run(RunSnapshot& r, RunState state, const Event& event) {
  if (r.state != RunState::kRunning) return;  // the first terminal event decides
  r.state = state;
  r.ended_at = event.offset;
  if (state == RunState::kCancelled) r.reason = json_string_field(event.payload, "reason");
  if (state == RunState::kFailed) r.reason = json_string_field(event.payload, "error");
  if (state == RunState::kAgentLost) r.reason = "agent lease expired";
  if (state == RunState::kCompleted) return;
  for (auto& m : messages_) {
    if (m.run_id == r.id && m.state == MessageState::kStreaming) {
      m.state = MessageState::kInterrupted;
      m.updated_at = event.offset;
    }
  }
}

void SessionFold::apply(const Event& event) {
  const std::string_view type = event.type;
  if (type.starts_with("run.") && !event.run_id.empty()) {
    RunSnapshot& r = run(event);
    if (type == event_types::kRunCompleted) end_run(r, RunState::kCompleted, event);
    else if (type == event_types::kRunFailed) end_run(r, RunState::kFailed, event);
    else if (type == event_types::kRunCancelled) end_run(r, RunState::kCancelled, event);
    else if (type == event_types::kRunAgentLost) end_run(r, RunState::kAgentLost, event);
    return;
  }
  if (!type.starts_with("message.") || event.message_id.empty()) return;
  if (!event.run_id.empty()) {
    const RunSnapshot* r = find_run(event.run_id);
    const bool ended = r != nullptr && r->state != RunState::kRunning;
    if (ended && find_message(event.message_id) == nullptr) return;  // stray write after end
  }
  MessageSnapshot& m = message(event);
  if (m.state != MessageState::kStreaming) return;
  m.updated_at = event.offset;
  if (type == event_types::kMessageStarted) {
    if (auto role = json_string_field(event.payload, "role"); !role.empty()) m.role = role;
  } else if (type == event_types::kMessageDelta) {
    m.text += json_string_field(event.payload, "text");
  } else if (type == event_types::kMessageCompleted) {
    auto doc = nlohmann::json::parse(event.payload, nullptr, false);
    if (doc.is_object()) {
      if (auto it = doc.find("text"); it != doc.end() && it->is_string()) m.text = it->get<std::string>();
      if (auto it = doc.find("role"); it != doc.end() && it->is_string()) m.role = it->get<std::string>();
    }
    m.state = MessageState::kCompleted;
    compactable_.push_back(MessageSpan{m.id, m.started_at, event.offset});
  }
}

void SessionFold::forget_through(Offset through) {
  std::erase_if(messages_, [&](const MessageSnapshot& m) {
    return m.state != MessageState::kStreaming && m.updated_at <= through;
  });
  std::erase_if(runs_, [&](const RunSnapshot& r) {
    return r.state != RunState::kRunning && r.ended_at <= through;
  });
  reindex();
}

void SessionFold::reindex() {
  message_index_.clear();
  for (std::size_t i = 0; i < messages_.size(); ++i) message_index_[messages_[i].id] = i;
  run_index_.clear();
  for (std::size_t i = 0; i < runs_.size(); ++i) run_index_[runs_[i].id] = i;
}

const RunSnapshot* SessionFold::find_run(std::string_view id) const {
  auto it = run_index_.find(std::string(id));
  return it == run_index_.end() ? nullptr : &runs_[it->second];
}

const MessageSnapshot* SessionFold::find_message(std::string_view id) const {
  auto it = message_index_.find(std::string(id));
  return it == message_index_.end() ? nullptr : &messages_[it->second];
}

std::vector<std::string> SessionFold::running_descendants(std::string_view run_id) const {
  std::vector<std::string> out;
  for (const auto& r : runs_) {
    if (r.state != RunState::kRunning || r.id == run_id) continue;
    // Walk up the ancestry (bounded: a hostile log may contain a cycle).
    std::string parent = r.parent_run_id;
    for (std::size_t hops = 0; !parent.empty() && hops < runs_.size(); ++hops) {
      if (parent == run_id) {
        out.push_back(r.id);
        break;
      }
      const RunSnapshot* p = find_run(parent);
      if (p == nullptr) break;
      parent = p->parent_run_id;
    }
  }
  return out;
}

std::vector<std::string> SessionFold::running_runs() const {
  std::vector<std::string> out;
  for (const auto& r : runs_) {
    if (r.state == RunState::kRunning) out.push_back(r.id);
  }
  return out;
}

std::vector<MessageSpan> SessionFold::take_compactable() {
  std::vector<MessageSpan> out;
  out.swap(compactable_);
  return out;
}

}  // namespace detail
}  // namespace strata::session
