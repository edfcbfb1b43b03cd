#include "run_impl.h"

#include <nlohmann/json.hpp>

#include "producer_rules.h"

namespace strata::session::detail {
namespace {

// `text` as a JSON string; kInvalidArgument if it is not valid UTF-8.
Result<std::string> quote_utf8(std::string_view field, std::string_view text) {
  try {
    return nlohmann::json(std::string(text)).dump();
  } catch (const nlohmann::json::exception&) {
    return invalid_argument_error(std::string(field) + " is not valid UTF-8");
  }
}

}  // namespace

RunImpl::RunImpl(HubImpl* hub, std::shared_ptr<LiveSession> live, std::string run_id,
                 std::string parent_run_id, std::string agent, std::chrono::milliseconds lease,
                 std::shared_ptr<RunControl> control)
    : hub_(hub),
      live_(std::move(live)),
      run_id_(std::move(run_id)),
      parent_run_id_(std::move(parent_run_id)),
      agent_(std::move(agent)),
      lease_(lease),
      control_(std::move(control)),
      last_renewed_ms_(hub_->clock().now_ms()) {}

Status RunImpl::check_writable() const {
  if (control_->cancel.cancelled()) {
    return cancelled_error("run " + run_id_ + " was cancelled: " + control_->cancel.token().reason());
  }
  std::lock_guard lock(control_->mu);
  if (control_->ended && control_->end_reason == event_types::kRunCancelled) {
    // The cancel event is published; the token fires on the executor a moment later.
    return cancelled_error("run " + run_id_ + " was cancelled: " + control_->cancel_reason);
  }
  if (control_->ended) {
    return failed_precondition_error("run " + run_id_ + " has already ended (" +
                                     control_->end_reason + ")");
  }
  return {};
}

Status RunImpl::check_own_streaming_message(std::string_view message_id) const {
  std::lock_guard lock(live_->mu);
  const MessageSnapshot* m = live_->fold.find_message(message_id);
  if (m == nullptr || m->run_id != run_id_) {
    return not_found_error("message " + std::string(message_id) + " was not begun by run " + run_id_);
  }
  if (m->state == MessageState::kInterrupted) {
    // Its run ended: report how (kCancelled after a stop).
    STRATA_RETURN_IF_ERROR(check_writable());
  }
  if (m->state != MessageState::kStreaming) {
    return failed_precondition_error("message " + std::string(message_id) + " is " +
                                     std::string(to_string(m->state)));
  }
  return {};
}

Result<Offset> RunImpl::write(EventDraft draft) {
  STRATA_RETURN_IF_ERROR(check_writable());
  draft.run_id = run_id_;
  draft.parent_run_id = parent_run_id_;
  AppendOptions options;
  options.producer = agent_;
  std::vector<EventDraft> drafts;
  drafts.push_back(std::move(draft));
  auto events = hub_->build_events(live_->id, drafts, options);
  if (!events.ok()) return events.status();
  auto result = hub_->append_built(live_->id, std::move(*events), options);
  if (!result.ok()) return result.status();
  // Writes renew the lease, at most every third of its length.
  const std::int64_t now = hub_->clock().now_ms();
  if (now - last_renewed_ms_.load(std::memory_order_relaxed) >= lease_.count() / 3) {
    (void)renew();
  }
  return result->first_offset;
}

Result<std::string> RunImpl::begin_message(std::string_view role, std::string_view message_id) {
  std::string id(message_id);
  if (id.empty()) {
    id = "msg-" + new_epoch().substr(0, 16);
  } else {
    STRATA_RETURN_IF_ERROR(validate_name("message id", id));
  }
  {
    std::lock_guard lock(live_->mu);
    if (live_->fold.find_message(id) != nullptr) {
      return already_exists_error("message " + id + " already exists");
    }
  }
  auto quoted = quote_utf8("role", role.empty() ? std::string_view("assistant") : role);
  if (!quoted.ok()) return quoted.status();
  EventDraft d;
  d.type = std::string(event_types::kMessageStarted);
  d.message_id = id;
  d.payload = "{\"role\":" + *quoted + "}";
  auto written = write(std::move(d));
  if (!written.ok()) return written.status();
  return id;
}

Result<Offset> RunImpl::delta(std::string_view message_id, std::string_view text) {
  STRATA_RETURN_IF_ERROR(check_writable());
  STRATA_RETURN_IF_ERROR(check_own_streaming_message(message_id));
  auto quoted = quote_utf8("delta text", text);
  if (!quoted.ok()) return quoted.status();
  EventDraft d;
  d.type = std::string(event_types::kMessageDelta);
  d.message_id = std::string(message_id);
  d.payload = "{\"text\":" + *quoted + "}";
  return write(std::move(d));
}

Result<Offset> RunImpl::end_message(std::string_view message_id) {
  STRATA_RETURN_IF_ERROR(check_writable());
  STRATA_RETURN_IF_ERROR(check_own_streaming_message(message_id));
  nlohmann::json payload;
  {
    std::lock_guard lock(live_->mu);
    const MessageSnapshot* m = live_->fold.find_message(message_id);
    payload = {{"role", m->role}, {"text", m->text}};
  }
  EventDraft d;
  d.type = std::string(event_types::kMessageCompleted);
  d.message_id = std::string(message_id);
  d.payload = payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return write(std::move(d));
}

Result<Offset> RunImpl::emit(EventDraft draft) {
  if (draft.type.starts_with("run.")) {
    return invalid_argument_error("use complete(), fail() or the hub to write " + draft.type);
  }
  return write(std::move(draft));
}

Result<Offset> RunImpl::complete(std::string_view payload) {
  const auto first = payload.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || payload[first] != '{') {
    return invalid_argument_error("completion payload must be a JSON object");
  }
  EventDraft d;
  d.type = std::string(event_types::kRunCompleted);
  d.payload = std::string(payload);
  auto result = write(std::move(d));
  if (result.ok()) end_lease();
  return result;
}

Result<Offset> RunImpl::fail(std::string_view error) {
  auto quoted = quote_utf8("error", error);
  if (!quoted.ok()) return quoted.status();
  EventDraft d;
  d.type = std::string(event_types::kRunFailed);
  d.payload = "{\"error\":" + *quoted + "}";
  auto result = write(std::move(d));
  if (result.ok()) end_lease();
  return result;
}

Status RunImpl::renew() {
  STRATA_RETURN_IF_ERROR(check_writable());
  last_renewed_ms_.store(hub_->clock().now_ms(), std::memory_order_relaxed);
  return hub_->put_run_lease(live_->id, run_id_, lease_);
}

void RunImpl::end_lease() { (void)hub_->store().remove_leased(live_->id, "lease", run_id_); }

std::optional<std::string> RunImpl::take_steering() {
  std::lock_guard lock(control_->mu);
  if (control_->steering.empty()) return std::nullopt;
  auto input = std::move(control_->steering.front());
  control_->steering.pop_front();
  return input;
}

}  // namespace strata::session::detail
