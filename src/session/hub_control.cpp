// Hub: runs, cancel, steer, presence and the maintenance pass.
#include <algorithm>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "hub_impl.h"
#include "producer_rules.h"
#include "run_impl.h"

namespace strata::session::detail {
namespace {

constexpr std::string_view kLeaseKind = "lease";
constexpr std::string_view kPresenceKind = "presence";

Status check_json_object(std::string_view field, std::string_view text) {
  if (auto s = validate_json(text); !s.ok()) {
    return invalid_argument_error(std::string(field) + ": " + s.message());
  }
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || text[first] != '{') {
    return invalid_argument_error(std::string(field) + " must be a JSON object");
  }
  return {};
}

Status check_lease(std::string_view what, std::chrono::milliseconds lease) {
  if (lease.count() < 0 || lease > kMaxLease) {
    return invalid_argument_error(std::string(what) + " must be between 0 and 366 days");
  }
  return {};
}

// Reads an optional field of a JSON object of unknown provenance without throwing.
template <typename T>
T field_or(const nlohmann::json& doc, const char* name, T fallback) {
  auto it = doc.find(name);
  if (it == doc.end()) return fallback;
  if constexpr (std::is_same_v<T, std::string>) {
    return it->is_string() ? it->get<std::string>() : fallback;
  } else {
    return it->is_number_integer() ? it->get<T>() : fallback;
  }
}

// kNotFound / kFailedPrecondition unless `run_id` names a running run. REQUIRES: live.mu.
Status check_running(const LiveSession& live, std::string_view run_id) {
  const RunSnapshot* run = live.fold.find_run(run_id);
  if (run == nullptr) {
    return not_found_error("run " + std::string(run_id) + " not found in session " + live.id);
  }
  if (run->state != RunState::kRunning) {
    return failed_precondition_error("run " + run->id + " has already ended (" +
                                     std::string(to_string(run->state)) + ")");
  }
  return {};
}

}  // namespace

Status HubImpl::put_run_lease(const std::string& session, const std::string& run_id,
                              std::chrono::milliseconds lease) {
  return store().put_leased(session, kLeaseKind,
                            LeasedEntry{run_id, "{}", clock().now_ms() + lease.count()});
}

void HubImpl::forget_local_run(const std::shared_ptr<LiveSession>& live,
                               const std::string& run_id) {
  std::lock_guard lock(live->mu);
  live->local_runs.erase(run_id);
}

Result<Offset> HubImpl::append_control(const std::string& session, Event event) {
  AppendOptions options;
  options.producer = event.producer;
  std::vector<Event> events;
  events.push_back(std::move(event));
  auto result = append_built(session, std::move(events), options);
  if (!result.ok()) return result.status();
  return result->first_offset;
}

Result<std::unique_ptr<Run>> HubImpl::start_run(std::string_view session, RunOptions options) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  STRATA_RETURN_IF_ERROR(validate_name("agent", options.agent));
  if (options.run_id.empty()) {
    options.run_id = "run-" + new_epoch().substr(0, 16);
  } else {
    STRATA_RETURN_IF_ERROR(validate_name("run id", options.run_id));
  }
  if (!options.parent_run_id.empty()) {
    STRATA_RETURN_IF_ERROR(validate_name("parent run id", options.parent_run_id));
  }
  STRATA_RETURN_IF_ERROR(check_json_object("run payload", options.payload));
  STRATA_RETURN_IF_ERROR(check_lease("run lease", options.lease));
  const auto lease = options.lease.count() > 0 ? options.lease : options_.run_lease;

  auto l = live(session, /*create=*/true);
  if (!l.ok()) return l.status();
  auto control = std::make_shared<RunControl>();
  control->on_steer = std::move(options.on_steer);
  {
    std::lock_guard lock((*l)->mu);
    if ((*l)->fold.find_run(options.run_id) != nullptr ||
        (*l)->local_runs.count(options.run_id) != 0) {
      return already_exists_error("run " + options.run_id + " already exists in session " +
                                  std::string(session));
    }
    if (!options.parent_run_id.empty() && (*l)->fold.find_run(options.parent_run_id) == nullptr) {
      return not_found_error("parent run " + options.parent_run_id + " not found in session " +
                             std::string(session));
    }
    (*l)->local_runs[options.run_id] = control;  // before run.started: no cancel can be missed
  }
  const std::string session_id(session);
  auto undo = [&] {
    forget_local_run(*l, options.run_id);
    (void)store().remove_leased(session_id, kLeaseKind, options.run_id);
  };
  if (auto s = put_run_lease(session_id, options.run_id, lease); !s.ok()) {
    undo();
    return s;
  }
  std::vector<EventDraft> drafts(1);
  drafts[0].type = std::string(event_types::kRunStarted);
  drafts[0].run_id = options.run_id;
  drafts[0].parent_run_id = options.parent_run_id;
  drafts[0].payload = options.payload;
  AppendOptions append_options;
  append_options.producer = options.agent;
  auto events = build_events(session, drafts, append_options);
  if (!events.ok()) {
    undo();
    return events.status();
  }
  auto appended = append_built(session_id, std::move(*events), append_options);
  if (!appended.ok()) {
    undo();
    return appended.status();
  }
  return std::unique_ptr<Run>(std::make_unique<RunImpl>(
      this, *l, options.run_id, options.parent_run_id, options.agent, lease, std::move(control)));
}

Status HubImpl::sync_if_unknown(const std::shared_ptr<LiveSession>& live,
                                std::string_view run_id) {
  if (!shared_) return {};
  {
    std::lock_guard lock(live->mu);
    if (check_running(*live, run_id).ok()) return {};
  }
  // Another node may have started it a moment ago: look at the store before refusing.
  return sync_with_store(live);
}

Result<Offset> HubImpl::cancel(std::string_view session, std::string_view run_id,
                               const CancelOptions& options) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  STRATA_RETURN_IF_ERROR(validate_name("run id", run_id));
  STRATA_RETURN_IF_ERROR(validate_name("requested_by", options.requested_by));
  auto l = live(session, /*create=*/false);
  if (!l.ok()) return l.status();
  STRATA_RETURN_IF_ERROR(sync_if_unknown(*l, run_id));
  std::vector<std::string> targets;
  {
    std::lock_guard lock((*l)->mu);
    STRATA_RETURN_IF_ERROR(check_running(**l, run_id));
    targets.emplace_back(run_id);
    auto descendants = (*l)->fold.running_descendants(run_id);
    targets.insert(targets.end(), descendants.begin(), descendants.end());
  }
  std::vector<Event> events;
  const std::int64_t now = clock().now_ms();
  for (const auto& target : targets) {
    Event e;
    e.type = std::string(event_types::kRunCancelled);
    e.producer = options.requested_by;
    e.run_id = target;
    nlohmann::json payload = {{"reason", options.reason}, {"by", options.requested_by}};
    if (target != run_id) payload["cascaded_from"] = std::string(run_id);
    e.payload = payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    e.timestamp_ms = now;
    events.push_back(std::move(e));
  }
  AppendOptions append_options;
  append_options.producer = options.requested_by;
  auto result = append_built(std::string(session), std::move(events), append_options);
  if (!result.ok()) return result.status();
  return result->first_offset;
}

Result<std::vector<std::string>> HubImpl::cancel_all(std::string_view session,
                                                     const CancelOptions& options) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  auto l = live(session, /*create=*/false);
  if (!l.ok()) return l.status();
  STRATA_RETURN_IF_ERROR(sync_with_store(*l));  // runs other nodes started count too
  std::vector<std::string> running;
  {
    std::lock_guard lock((*l)->mu);
    running = (*l)->fold.running_runs();
  }
  std::vector<std::string> cancelled;
  for (const auto& id : running) {
    auto r = cancel(session, id, options);
    if (r.ok()) {
      cancelled.push_back(id);
    } else if (r.status().code() != StatusCode::kFailedPrecondition) {
      return r.status();  // FailedPrecondition: ended meanwhile, or cancelled with its parent
    }
  }
  // Runs cancelled through their parent are cancelled too.
  {
    std::lock_guard lock((*l)->mu);
    for (const auto& id : running) {
      const RunSnapshot* run = (*l)->fold.find_run(id);
      if (run != nullptr && run->state == RunState::kCancelled &&
          std::find(cancelled.begin(), cancelled.end(), id) == cancelled.end()) {
        cancelled.push_back(id);
      }
    }
  }
  return cancelled;
}

Result<Offset> HubImpl::steer(std::string_view session, std::string_view run_id,
                              std::string_view input, std::string_view requested_by) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  STRATA_RETURN_IF_ERROR(validate_name("run id", run_id));
  STRATA_RETURN_IF_ERROR(validate_name("requested_by", requested_by));
  if (auto s = validate_json(input); !s.ok()) {
    return invalid_argument_error("steering input: " + s.message());
  }
  auto l = live(session, /*create=*/false);
  if (!l.ok()) return l.status();
  STRATA_RETURN_IF_ERROR(sync_if_unknown(*l, run_id));
  {
    std::lock_guard lock((*l)->mu);
    STRATA_RETURN_IF_ERROR(check_running(**l, run_id));
  }
  Event e;
  e.type = std::string(event_types::kRunSteer);
  e.producer = std::string(requested_by);
  e.run_id = std::string(run_id);
  e.payload = "{\"input\":" + std::string(input) + ",\"by\":" + json_quote(requested_by) + "}";
  e.timestamp_ms = clock().now_ms();
  if (e.byte_size() > options_.max_event_bytes) {
    return invalid_argument_error("steering input exceeds the event size limit");
  }
  return append_control(std::string(session), std::move(e));
}

// ---- presence -------------------------------------------------------------------------------

Result<std::vector<PresenceEntry>> HubImpl::read_presence(const std::string& session) {
  auto entries = store().list_leased(session, kPresenceKind);
  if (!entries.ok()) return entries.status();
  const std::int64_t now = clock().now_ms();
  std::vector<PresenceEntry> out;
  for (const auto& entry : *entries) {
    if (entry.expires_ms <= now) continue;
    PresenceEntry p;
    p.client_id = entry.key;
    p.expires_ms = entry.expires_ms;
    auto doc = nlohmann::json::parse(entry.value, nullptr, false);
    if (doc.is_object()) {
      p.device = field_or<std::string>(doc, "device", "");
      p.kind = field_or<std::string>(doc, "kind", "client");
      p.since_ms = field_or<std::int64_t>(doc, "since_ms", 0);
    }
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(),
            [](const PresenceEntry& a, const PresenceEntry& b) { return a.client_id < b.client_id; });
  return out;
}

Status HubImpl::join(std::string_view session, const PresenceOptions& options) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  STRATA_RETURN_IF_ERROR(validate_name("client id", options.client_id));
  STRATA_RETURN_IF_ERROR(validate_name("presence kind", options.kind));
  if (options.device.size() > 256) return invalid_argument_error("device label is longer than 256 bytes");
  STRATA_RETURN_IF_ERROR(check_lease("presence lease", options.lease));
  const auto lease = options.lease.count() > 0 ? options.lease : options_.presence_lease;
  auto l = live(session, /*create=*/true);
  if (!l.ok()) return l.status();
  const std::string id(session);
  auto current = read_presence(id);
  if (!current.ok()) return current.status();
  const auto it = std::find_if(current->begin(), current->end(), [&](const PresenceEntry& p) {
    return p.client_id == options.client_id;
  });
  const bool already = it != current->end();
  const std::int64_t now = clock().now_ms();
  nlohmann::json value = {{"device", options.device},
                          {"kind", options.kind},
                          {"since_ms", already ? it->since_ms : now},
                          {"lease_ms", lease.count()}};
  const std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  STRATA_RETURN_IF_ERROR(
      store().put_leased(id, kPresenceKind, LeasedEntry{options.client_id, text, now + lease.count()}));
  if (already) return {};
  Event e;
  e.type = std::string(event_types::kPresenceJoined);
  e.producer = options.client_id;
  nlohmann::json payload = {{"client_id", options.client_id},
                            {"device", options.device},
                            {"kind", options.kind}};
  e.payload = payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  e.timestamp_ms = now;
  auto appended = append_control(id, std::move(e));
  return appended.ok() ? Status() : appended.status();
}

Status HubImpl::renew_presence(std::string_view session, std::string_view client_id) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  STRATA_RETURN_IF_ERROR(validate_name("client id", client_id));
  const std::string id(session);
  auto entries = store().list_leased(id, kPresenceKind);
  if (!entries.ok()) {
    if (entries.status().code() == StatusCode::kNotFound) {
      return not_found_error("session " + id + " not found");
    }
    return entries.status();
  }
  const std::int64_t now = clock().now_ms();
  for (auto entry : *entries) {
    if (entry.key != client_id || entry.expires_ms <= now) continue;
    auto doc = nlohmann::json::parse(entry.value, nullptr, false);
    std::int64_t lease_ms = options_.presence_lease.count();
    if (doc.is_object()) lease_ms = field_or<std::int64_t>(doc, "lease_ms", lease_ms);
    lease_ms = std::clamp<std::int64_t>(lease_ms, 1, kMaxLease.count());
    entry.expires_ms = now + lease_ms;
    return store().put_leased(id, kPresenceKind, entry);
  }
  return not_found_error("client " + std::string(client_id) + " is not present in session " + id);
}

Status HubImpl::leave(std::string_view session, std::string_view client_id) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  STRATA_RETURN_IF_ERROR(validate_name("client id", client_id));
  const std::string id(session);
  auto removed = store().remove_leased(id, kPresenceKind, client_id);
  if (!removed.ok()) {
    if (removed.status().code() == StatusCode::kNotFound) {
      return not_found_error("session " + id + " not found");
    }
    return removed.status();
  }
  if (!*removed) {
    return not_found_error("client " + std::string(client_id) + " is not present in session " + id);
  }
  Event e;
  e.type = std::string(event_types::kPresenceLeft);
  e.producer = std::string(client_id);
  e.payload = "{\"client_id\":" + json_quote(client_id) + ",\"reason\":\"left\"}";
  e.timestamp_ms = clock().now_ms();
  auto appended = append_control(id, std::move(e));
  return appended.ok() ? Status() : appended.status();
}

Result<std::vector<PresenceEntry>> HubImpl::presence(std::string_view session) {
  STRATA_RETURN_IF_ERROR(validate_session_id(session));
  auto result = read_presence(std::string(session));
  if (!result.ok() && result.status().code() == StatusCode::kNotFound) {
    return not_found_error("session " + std::string(session) + " not found");
  }
  return result;
}

// ---- maintenance -----------------------------------------------------------------------------

MaintenanceReport HubImpl::run_maintenance() {
  std::vector<std::shared_ptr<LiveSession>> sessions;
  {
    std::lock_guard lock(sessions_mu_);
    for (auto& [id, l] : sessions_) sessions.push_back(l);
  }
  MaintenanceReport report;
  for (auto& l : sessions) {
    if (!l->loaded) continue;
    maintain_session(l, report);
  }
  sessions.clear();
  evict_idle_sessions(report);
  return report;
}

void HubImpl::evict_idle_sessions(MaintenanceReport& report) {
  const std::int64_t idle_before = clock().now_ms() - options_.idle_session_ttl.count();
  std::lock_guard lock(sessions_mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto& l = it->second;
    // Only this map holds it (no subscriber, run handle or queued append can, and none can
    // take a new reference while sessions_mu_ is held), so dropping it loses nothing.
    bool evict = l.use_count() == 1 && l->loaded &&
                 l->last_used_ms.load(std::memory_order_relaxed) <= idle_before;
    if (evict) {
      std::lock_guard live_lock(l->mu);
      evict = l->subscribers.empty() && l->local_runs.empty() && l->fold.running_runs().empty();
    }
    if (evict) {
      ++report.sessions_evicted;
      it = sessions_.erase(it);
    } else {
      ++it;
    }
  }
}

void HubImpl::maintain_session(const std::shared_ptr<LiveSession>& live,
                               MaintenanceReport& report) {
  const std::int64_t now = clock().now_ms();
  const std::string& id = live->id;
  auto note = [&](const Status& s) {
    if (!s.ok() && s.code() != StatusCode::kNotFound) {
      report.errors.push_back(Status(s.code(), "maintenance of " + id + ": " + s.message()));
    }
  };
  if (shared_) {
    // Another node may have removed the session, or the store lost it: find out here, so
    // this node's subscribers are told even when nobody on it appends.
    if (auto s = sync_with_store(live); !s.ok()) {
      note(s);
      return;
    }
  }
  // Agent leases: a running run whose lease ran out ends as agent-lost. Taking the lease out
  // of the store is the lock: when several nodes notice, only the one whose removal succeeds
  // writes agent-lost.
  if (auto leases = store().list_leased(id, kLeaseKind); leases.ok()) {
    for (const auto& lease : *leases) {
      RunState state = RunState::kRunning;
      bool known = false;
      {
        std::lock_guard lock(live->mu);
        if (live->removed) return;
        if (const RunSnapshot* run = live->fold.find_run(lease.key); run != nullptr) {
          known = true;
          state = run->state;
        }
      }
      const bool expired = lease.expires_ms <= now;
      if (!known || state != RunState::kRunning) {
        // A run that ended, or one whose start this node has not seen (it may be starting
        // on another node right now): its lease goes once it is no use to anyone.
        if (known || expired) note(store().remove_leased(id, kLeaseKind, lease.key).status());
        continue;
      }
      if (!expired) continue;
      auto removed = store().remove_leased(id, kLeaseKind, lease.key);
      note(removed.status());
      if (!removed.ok() || !*removed) continue;  // another node took it (or the agent ended)
      Event e;
      e.type = std::string(event_types::kRunAgentLost);
      e.producer = std::string(kSystemProducer);
      e.run_id = lease.key;
      e.payload = "{\"reason\":\"agent lease expired\"}";
      e.timestamp_ms = now;
      auto appended = append_control(id, std::move(e));
      note(appended.status());
      if (appended.ok()) {
        ++report.runs_lost;
      } else {
        // Put the expired lease back so the next pass tries again.
        note(store().put_leased(id, kLeaseKind, lease));
      }
    }
  } else {
    note(leases.status());
  }

  RetentionPolicy policy;
  {
    std::lock_guard lock(live->mu);
    if (live->removed) return;
    policy = live->retention == RetentionPolicy{} ? options_.default_retention : live->retention;
  }

  // Presence leases.
  if (auto entries = store().list_leased(id, kPresenceKind); entries.ok()) {
    for (const auto& entry : *entries) {
      if (entry.expires_ms > now) continue;
      auto removed = store().remove_leased(id, kPresenceKind, entry.key);
      note(removed.status());
      if (!removed.ok() || !*removed) continue;
      Event e;
      e.type = std::string(event_types::kPresenceLeft);
      e.producer = std::string(kSystemProducer);
      e.payload = "{\"client_id\":" + json_quote(entry.key) + ",\"reason\":\"expired\"}";
      e.timestamp_ms = now;
      auto appended = append_control(id, std::move(e));
      note(appended.status());
      if (appended.ok()) ++report.presence_expired;
    }
  } else {
    note(entries.status());
  }

  // Compaction of completed messages.
  if (policy.compact_completed_messages) {
    std::vector<MessageSpan> spans;
    {
      std::lock_guard lock(live->mu);
      spans = live->fold.take_compactable();
    }
    if (!spans.empty()) {
      auto removed = store().compact_messages(id, spans);
      note(removed.status());
      if (removed.ok()) report.deltas_compacted += *removed;
    }
  }

  // Retention: ttl and size limits drop the oldest events.
  if (policy.ttl.count() > 0 || policy.max_events > 0 || policy.max_bytes > 0) {
    auto info = store().info(id);
    if (!info.ok()) {
      note(info.status());
      return;
    }
    const std::uint64_t drop_count =
        policy.max_events > 0 && info->event_count > policy.max_events
            ? info->event_count - policy.max_events : 0;
    const std::uint64_t drop_bytes =
        policy.max_bytes > 0 && info->bytes > policy.max_bytes ? info->bytes - policy.max_bytes : 0;
    const std::int64_t cutoff =
        policy.ttl.count() > 0 ? now - policy.ttl.count() : std::numeric_limits<std::int64_t>::min();
    Offset through = 0;
    std::uint64_t dropped = 0, dropped_bytes = 0;
    Offset after = info->trimmed_through;
    bool done = false;
    while (!done) {
      auto page = store().read(id, after, 1000, 8 << 20);
      if (!page.ok()) {
        note(page.status());
        return;
      }
      if (page->events.empty()) break;
      if (page->events.front().offset <= after) {  // a damaged store; never loop on it
        note(data_loss_error("the store returned offsets out of order"));
        return;
      }
      for (const auto& e : page->events) {
        if (dropped < drop_count || dropped_bytes < drop_bytes || e.timestamp_ms < cutoff) {
          through = e.offset;
          ++dropped;
          dropped_bytes += e.byte_size();
        } else {
          done = true;
          break;
        }
      }
      after = page->events.back().offset;
    }
    if (through > 0) {
      auto trimmed = store().trim(id, through);
      note(trimmed.status());
      if (trimmed.ok()) {
        report.events_trimmed += *trimmed;
        std::lock_guard lock(live->mu);
        live->trimmed_through = std::max(live->trimmed_through, through);
        live->fold.forget_through(through);
        while (!live->recent.empty() && live->recent.front()->offset <= through) {
          live->recent.pop_front();
        }
      }
    }
  }
}

void HubImpl::maintenance_loop() {
  std::unique_lock lock(maintenance_mu_);
  while (!maintenance_stopping_) {
    maintenance_cv_.wait_for(lock, options_.maintenance_interval,
                             [this] { return maintenance_stopping_; });
    if (maintenance_stopping_) return;
    lock.unlock();
    (void)run_maintenance();
    lock.lock();
  }
}

}  // namespace strata::session::detail
