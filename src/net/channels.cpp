#include "net/channels.h"

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "net/websocket.h"
#include "net/wire.h"

namespace strata::net::detail {
namespace {

using nlohmann::json;
using session::Event;
using session::Offset;

enum class Format { kWebSocket, kEventStream };

// Encodes an event for the wire. Every subscriber of a session gets the same bytes, so each
// delivery thread remembers the last encodings it made: with 1,000 subscribers an event is
// encoded about once per thread instead of 1,000 times. Entries are matched on the whole
// event and the session, so a hit is always the right bytes.
void encode_event(std::string& out, Format format, const std::string& session, const Event& e) {
  struct Entry {
    std::string session;
    Event event;
    std::string bytes;
    bool used = false;
  };
  thread_local std::array<Entry, 64> cache[2];
  Entry& slot = cache[static_cast<int>(format)][e.offset % 64];
  if (slot.used && slot.event.offset == e.offset && slot.session == session && slot.event == e) {
    out = slot.bytes;
    return;
  }
  out.clear();
  if (format == Format::kWebSocket) {
    out += "{\"op\":\"event\",\"session\":";
    append_json_string(out, session);
    out += ",\"event\":";
    append_event_json(out, e);
    out += '}';
  } else {
    out += "id: ";
    out += std::to_string(e.offset);
    out += "\nevent: ";
    out += e.type;  // event types are [a-z0-9._-]: safe in an SSE field
    out += "\ndata: ";
    append_event_json(out, e);  // JSON text escapes newlines: one data line
    out += "\n\n";
  }
  slot.session = session;
  slot.event = e;
  slot.bytes = out;
  slot.used = true;
}

std::string reply(std::string_view op, const std::string& id, std::string_view fields = {}) {
  std::string out = "{\"op\":";
  append_json_string(out, op);
  if (!id.empty()) {
    out += ",\"id\":";
    append_json_string(out, id);
  }
  if (!fields.empty()) {
    out += ',';
    out += fields;
  }
  out += '}';
  return out;
}

std::string error_reply(const std::string& id, const Status& status) {
  std::string fields = "\"code\":";
  append_json_string(fields, wire_code(status.code()));
  fields += ",\"message\":";
  append_json_string(fields, status.message());
  return reply("error", id, fields);
}

// Follows one session for one connection.
class Tap : public std::enable_shared_from_this<Tap> {
 public:
  using ClosedHandler = std::function<void(const Status&)>;

  Tap(std::shared_ptr<HandlerCore> core, std::shared_ptr<OutputSink> sink, std::string session,
      Format format, ClosedHandler on_closed)
      : core_(std::move(core)),
        sink_(std::move(sink)),
        session_(std::move(session)),
        format_(format),
        on_closed_(std::move(on_closed)) {}

  // Subscribes from `from`; `announce` runs (under the delivery lock) once subscribed, before
  // any event is delivered, with the subscription's epoch and the session head.
  Status start(Offset from, const std::string& epoch,
               const std::function<void(const std::string&)>& announce) {
    std::lock_guard delivery(mu_);
    last_queued_ = from;
    auto sub = subscribe(from, epoch);
    if (!sub.ok()) return sub.status();
    epoch_ = (*sub)->epoch();
    if (announce) announce(epoch_);
    std::lock_guard lock(sub_mu_);
    sub_ = std::move(*sub);
    return ok_status();
  }

  // Stops for good. Not from inside a delivery.
  void stop() {
    stopped_.store(true);
    std::unique_ptr<session::Subscription> sub;
    {
      std::lock_guard lock(sub_mu_);
      sub = std::move(sub_);
    }
    if (sub) sub->close();
  }

  [[nodiscard]] bool paused() const { return paused_.load(); }
  [[nodiscard]] std::chrono::steady_clock::time_point paused_since() const {
    std::lock_guard delivery(mu_);
    return paused_since_;
  }

  // A paused tap resubscribes from the last offset it queued: the hub serves what was
  // missed from its store, then live again.
  void resume() {
    if (!paused_.load() || stopped_.load()) return;
    std::unique_ptr<session::Subscription> old;
    {
      std::lock_guard lock(sub_mu_);
      old = std::move(sub_);
    }
    if (old) old->close();
    std::lock_guard delivery(mu_);
    if (stopped_.load()) return;
    auto sub = subscribe(last_queued_, epoch_);
    if (!sub.ok()) {
      stopped_.store(true);
      if (on_closed_) on_closed_(sub.status());
      return;
    }
    paused_.store(false);
    core_->resumed.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(sub_mu_);
    sub_ = std::move(*sub);
  }

 private:
  Result<std::unique_ptr<session::Subscription>> subscribe(Offset from, const std::string& epoch) {
    std::weak_ptr<Tap> weak = weak_from_this();
    session::SubscribeOptions options;
    options.from = from;
    options.epoch = epoch;
    return core_->hub.subscribe(
        session_, options,
        [weak](const Event& e) {
          if (auto tap = weak.lock()) tap->deliver(e);
        },
        [weak](const Status& why) {
          if (auto tap = weak.lock()) tap->hub_closed(why);
        });
  }

  void deliver(const Event& e) {
    std::lock_guard delivery(mu_);
    if (stopped_.load(std::memory_order_relaxed) || paused_.load(std::memory_order_relaxed)) return;
    if (e.offset <= last_queued_) return;  // already queued before a resubscribe
    encode_event(scratch_, format_, session_, e);
    sink_->send(std::move(scratch_));
    scratch_ = std::string();
    last_queued_ = e.offset;
    if (sink_->queued_bytes() > core_->options.max_send_queue_bytes) {
      paused_.store(true);
      paused_since_ = std::chrono::steady_clock::now();
      core_->paused.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void hub_closed(const Status& why) {
    if (stopped_.exchange(true)) return;
    if (on_closed_) on_closed_(why);
  }

  const std::shared_ptr<HandlerCore> core_;
  const std::shared_ptr<OutputSink> sink_;
  const std::string session_;
  const Format format_;
  const ClosedHandler on_closed_;

  mutable std::mutex mu_;  // serializes deliveries with start/resume
  Offset last_queued_ = 0;
  std::string epoch_;
  std::string scratch_;
  std::chrono::steady_clock::time_point paused_since_{};
  std::atomic<bool> paused_{false};
  std::atomic<bool> stopped_{false};

  std::mutex sub_mu_;
  std::unique_ptr<session::Subscription> sub_;
};

// Shared tick logic: resume drained taps, close clients stuck over the limit.
// Returns false if the channel should close as a slow client.
bool tick_taps(HandlerCore& core, OutputSink& sink, const std::vector<std::shared_ptr<Tap>>& taps) {
  const auto now = std::chrono::steady_clock::now();
  const bool drained = sink.queued_bytes() <= core.options.max_send_queue_bytes / 2;
  for (const auto& tap : taps) {
    if (!tap->paused()) continue;
    if (drained) {
      tap->resume();
    } else if (now - tap->paused_since() > core.options.slow_client_timeout) {
      core.slow_closed.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

class WebSocketChannel final : public Channel,
                               public std::enable_shared_from_this<WebSocketChannel> {
 public:
  WebSocketChannel(std::shared_ptr<HandlerCore> core, Principal principal,
                   std::shared_ptr<OutputSink> sink)
      : core_(std::move(core)), principal_(std::move(principal)), sink_(std::move(sink)) {}

  ~WebSocketChannel() override { close(); }

  void on_message(std::string_view text) override {
    if (closed_.load()) return;
    if (core_->expired(principal_)) {
      close_with(ws_close::kTokenExpired, "token expired");
      return;
    }
    json request;
    if (Status s = parse_json_object(text, request); !s.ok()) {
      sink_->send(error_reply("", s));
      return;
    }
    std::string id;
    if (auto it = request.find("id"); it != request.end()) {
      if (it->is_string() && it->get_ref<const std::string&>().size() <= 64) {
        id = it->get<std::string>();
      } else if (it->is_number_unsigned()) {
        id = std::to_string(it->get<std::uint64_t>());
      } else {
        sink_->send(error_reply("", invalid_argument_error("id must be a string of at most 64 bytes")));
        return;
      }
    }
    auto op = request.find("op");
    if (op == request.end() || !op->is_string()) {
      sink_->send(error_reply(id, invalid_argument_error("request needs an \"op\" string")));
      return;
    }
    const std::string& name = op->get_ref<const std::string&>();
    if (name == "ping") {
      sink_->send(reply("pong", id));
      return;
    }
    std::string session;
    if (auto it = request.find("session"); it != request.end() && it->is_string()) {
      session = it->get<std::string>();
    }
    if (Status s = session::validate_session_id(session); !s.ok()) {
      sink_->send(error_reply(id, s));
      return;
    }
    if (name == "subscribe") return subscribe(id, session, request);
    if (name == "unsubscribe") return unsubscribe(id, session);
    if (name == "append") return append(id, session, request);
    if (name == "cancel") return cancel(id, session, request);
    if (name == "steer") return steer(id, session, request);
    if (name == "presence") return presence(id, session, request);
    if (name == "snapshot") return snapshot(id, session);
    sink_->send(error_reply(id, invalid_argument_error("unknown op \"" + name.substr(0, 32) + "\"")));
  }

  void on_writable() override {
    if (closed_.load()) return;
    for (const auto& tap : taps_snapshot()) tap->resume();
  }

  void on_tick() override {
    if (closed_.load()) return;
    if (core_->expired(principal_)) {
      close_with(ws_close::kTokenExpired, "token expired");
      return;
    }
    if (!tick_taps(*core_, *sink_, taps_snapshot())) {
      close_with(ws_close::kTryAgainLater, "client too slow; reconnect and resume");
    }
  }

  void close() override {
    if (closed_.exchange(true)) return;
    std::map<std::string, std::shared_ptr<Tap>> taps;
    {
      std::lock_guard lock(mu_);
      taps.swap(taps_);
    }
    for (auto& [name, tap] : taps) tap->stop();
  }

  void close_for_restart() override { close_with(ws_close::kServiceRestart, "server restarting; resume"); }

 private:
  void close_with(int code, std::string_view reason) {
    if (closed_.load()) return;
    close();
    sink_->close(code, reason);
  }

  std::vector<std::shared_ptr<Tap>> taps_snapshot() {
    std::lock_guard lock(mu_);
    std::vector<std::shared_ptr<Tap>> out;
    out.reserve(taps_.size());
    for (auto& [name, tap] : taps_) out.push_back(tap);
    return out;
  }

  bool check(const std::string& id, Operation op, const std::string& session) {
    if (principal_.allows(op, session)) return true;
    sink_->send(error_reply(id, permission_denied(op)));
    return false;
  }

  void subscribe(const std::string& id, const std::string& session, const json& request) {
    if (!check(id, Operation::kSubscribe, session)) return;
    Offset from = 0;
    std::string epoch;
    if (auto it = request.find("from"); it != request.end()) {
      if (!it->is_number_unsigned()) {
        sink_->send(error_reply(id, invalid_argument_error("from must be a non-negative integer")));
        return;
      }
      from = it->get<Offset>();
    }
    if (auto it = request.find("epoch"); it != request.end() && !it->is_null()) {
      if (!it->is_string()) {
        sink_->send(error_reply(id, invalid_argument_error("epoch must be a string")));
        return;
      }
      epoch = it->get<std::string>();
    }
    std::shared_ptr<Tap> previous;
    {
      std::lock_guard lock(mu_);
      auto it = taps_.find(session);
      if (it != taps_.end()) {
        previous = it->second;
        taps_.erase(it);
      } else if (taps_.size() >= core_->options.max_subscriptions_per_connection) {
        sink_->send(error_reply(id, resource_exhausted_error("too many subscriptions on this connection")));
        return;
      }
    }
    if (previous) previous->stop();
    std::weak_ptr<WebSocketChannel> weak = weak_from_this();
    std::weak_ptr<OutputSink> weak_sink = sink_;
    auto tap = std::make_shared<Tap>(core_, sink_, session, Format::kWebSocket,
                                     [weak, weak_sink, session](const Status& why) {
                                       auto sink = weak_sink.lock();
                                       if (!sink) return;
                                       std::string fields = "\"session\":";
                                       append_json_string(fields, session);
                                       fields += ",\"code\":";
                                       append_json_string(fields, wire_code(why.code()));
                                       fields += ",\"message\":";
                                       append_json_string(fields, why.message());
                                       sink->send(reply("closed", "", fields));
                                       if (auto self = weak.lock()) self->forget(session);
                                     });
    Status started = tap->start(from, epoch, [&](const std::string& tap_epoch) {
      auto info = core_->hub.info(session);
      std::string fields = "\"session\":";
      append_json_string(fields, session);
      fields += ",\"epoch\":";
      append_json_string(fields, tap_epoch);
      fields += ",\"head\":";
      fields += std::to_string(info.ok() ? info->head : 0);
      sink_->send(reply("subscribed", id, fields));
    });
    if (!started.ok()) {
      sink_->send(error_reply(id, started));
      return;
    }
    std::lock_guard lock(mu_);
    if (closed_.load()) {
      tap->stop();
      return;
    }
    taps_[session] = std::move(tap);
  }

  void forget(const std::string& session) {
    std::lock_guard lock(mu_);
    taps_.erase(session);
  }

  void unsubscribe(const std::string& id, const std::string& session) {
    std::shared_ptr<Tap> tap;
    {
      std::lock_guard lock(mu_);
      auto it = taps_.find(session);
      if (it != taps_.end()) {
        tap = it->second;
        taps_.erase(it);
      }
    }
    if (tap) tap->stop();
    std::string fields = "\"session\":";
    append_json_string(fields, session);
    sink_->send(reply("unsubscribed", id, fields));
  }

  void append(const std::string& id, const std::string& session, const json& request) {
    if (!check(id, Operation::kAppend, session)) return;
    auto events = request.find("events");
    if (events == request.end() || !events->is_array() || events->empty()) {
      sink_->send(error_reply(id, invalid_argument_error("append needs a non-empty events array")));
      return;
    }
    std::vector<session::EventDraft> drafts;
    for (const auto& e : *events) {
      session::EventDraft draft;
      if (Status s = parse_draft(e, draft); !s.ok()) {
        sink_->send(error_reply(id, s));
        return;
      }
      drafts.push_back(std::move(draft));
    }
    session::AppendOptions options;
    if (Status s = parse_append_options(request, principal_, options); !s.ok()) {
      sink_->send(error_reply(id, s));
      return;
    }
    std::weak_ptr<OutputSink> weak_sink = sink_;
    core_->hub.append_async(session, std::move(drafts), options,
                            [weak_sink, id](Result<session::AppendResult> r) {
                              auto sink = weak_sink.lock();
                              if (!sink) return;
                              if (!r.ok()) {
                                sink->send(error_reply(id, r.status()));
                                return;
                              }
                              std::string fields = "\"first\":" + std::to_string(r->first_offset) +
                                                   ",\"last\":" + std::to_string(r->last_offset) +
                                                   ",\"duplicate\":" + (r->duplicate ? "true" : "false") +
                                                   ",\"epoch\":";
                              append_json_string(fields, r->epoch);
                              sink->send(reply("ack", id, fields));
                            });
  }

  void cancel(const std::string& id, const std::string& session, const json& request) {
    if (!check(id, Operation::kCancel, session)) return;
    session::CancelOptions options;
    options.requested_by = requester(request);
    if (auto it = request.find("reason"); it != request.end() && it->is_string()) {
      options.reason = it->get<std::string>().substr(0, 1024);
    }
    auto run = request.find("run_id");
    if (run != request.end() && run->is_string()) {
      auto r = core_->hub.cancel(session, run->get<std::string>(), options);
      if (!r.ok()) return sink_->send(error_reply(id, r.status()));
      return sink_->send(reply("ack", id, "\"offset\":" + std::to_string(*r)));
    }
    auto r = core_->hub.cancel_all(session, options);
    if (!r.ok()) return sink_->send(error_reply(id, r.status()));
    sink_->send(reply("ack", id, "\"cancelled\":" + json(*r).dump()));
  }

  void steer(const std::string& id, const std::string& session, const json& request) {
    if (!check(id, Operation::kSteer, session)) return;
    auto run = request.find("run_id");
    auto input = request.find("input");
    if (run == request.end() || !run->is_string() || input == request.end()) {
      return sink_->send(error_reply(id, invalid_argument_error("steer needs run_id and input")));
    }
    auto r = core_->hub.steer(session, run->get<std::string>(), input->dump(), requester(request));
    if (!r.ok()) return sink_->send(error_reply(id, r.status()));
    sink_->send(reply("ack", id, "\"offset\":" + std::to_string(*r)));
  }

  void presence(const std::string& id, const std::string& session, const json& request) {
    if (!check(id, Operation::kPresence, session)) return;
    std::string action = "list";
    if (auto it = request.find("action"); it != request.end() && it->is_string()) action = it->get<std::string>();
    if (action == "list") {
      auto r = core_->hub.presence(session);
      if (!r.ok()) return sink_->send(error_reply(id, r.status()));
      std::string body = presence_json(*r);
      return sink_->send(reply("ack", id, std::string_view(body).substr(1, body.size() - 2)));
    }
    std::string client_id = requester(request);
    if (auto it = request.find("client_id"); it != request.end() && it->is_string()) {
      client_id = it->get<std::string>();
    }
    Status s;
    if (action == "join") {
      session::PresenceOptions options;
      options.client_id = client_id;
      if (auto it = request.find("device"); it != request.end() && it->is_string()) {
        options.device = it->get<std::string>().substr(0, 128);
      }
      if (auto it = request.find("kind"); it != request.end() && it->is_string()) {
        options.kind = it->get<std::string>().substr(0, 32);
      }
      s = core_->hub.join(session, options);
    } else if (action == "renew") {
      s = core_->hub.renew_presence(session, client_id);
    } else if (action == "leave") {
      s = core_->hub.leave(session, client_id);
    } else {
      s = invalid_argument_error("presence action must be join, renew, leave or list");
    }
    sink_->send(s.ok() ? reply("ack", id) : error_reply(id, s));
  }

  void snapshot(const std::string& id, const std::string& session) {
    if (!check(id, Operation::kSubscribe, session)) return;
    auto r = core_->hub.snapshot(session);
    if (!r.ok()) return sink_->send(error_reply(id, r.status()));
    std::string fields = "\"session\":";
    append_json_string(fields, session);
    fields += ",\"snapshot\":";
    fields += snapshot_json(*r);
    sink_->send(reply("snapshot", id, fields));
  }

  std::string requester(const json& request) const {
    if (auto it = request.find("client_id"); it != request.end() && it->is_string()) {
      return it->get<std::string>();
    }
    std::string subject = principal_.subject();
    return subject.empty() ? "client" : subject;
  }

  const std::shared_ptr<HandlerCore> core_;
  const Principal principal_;
  const std::shared_ptr<OutputSink> sink_;
  std::atomic<bool> closed_{false};
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Tap>> taps_;
};

// ---------------------------------------------------------------------------------------------

class EventStreamChannel final : public Channel,
                                 public std::enable_shared_from_this<EventStreamChannel> {
 public:
  EventStreamChannel(std::shared_ptr<HandlerCore> core, Principal principal,
                     std::shared_ptr<OutputSink> sink)
      : core_(std::move(core)), principal_(std::move(principal)), sink_(std::move(sink)),
        last_heartbeat_(std::chrono::steady_clock::now()) {}
  ~EventStreamChannel() override { close(); }

  Status start(std::string session, Offset from, std::string epoch) {
    std::weak_ptr<OutputSink> weak_sink = sink_;
    tap_ = std::make_shared<Tap>(core_, sink_, std::move(session), Format::kEventStream,
                                 [weak_sink](const Status& why) {
                                   if (auto sink = weak_sink.lock()) {
                                     sink->send(closed_event(why));
                                     sink->close(0, "");
                                   }
                                 });
    return tap_->start(from, epoch, [this](const std::string&) {
      sink_->send("retry: 1000\n\n");
    });
  }

  void on_message(std::string_view) override {}
  void on_writable() override {
    if (tap_ && !closed_.load()) tap_->resume();
  }
  void on_tick() override {
    if (closed_.load()) return;
    if (core_->expired(principal_)) {
      sink_->send(closed_event(Status(StatusCode::kUnauthenticated, "token expired")));
      close();
      sink_->close(0, "");
      return;
    }
    if (!tick_taps(*core_, *sink_, {tap_})) {
      close();
      sink_->close(0, "");
      return;
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_heartbeat_ >= core_->options.sse_heartbeat) {
      last_heartbeat_ = now;
      sink_->send(": keep-alive\n\n");
    }
  }
  void close() override {
    if (closed_.exchange(true)) return;
    if (tap_) tap_->stop();
  }
  void close_for_restart() override {
    if (closed_.load()) return;
    close();
    sink_->send(closed_event(unavailable_error("server restarting; reconnect and resume")));
    sink_->close(0, "");
  }

 private:
  static std::string closed_event(const Status& why) {
    std::string out = "event: strata.closed\ndata: {\"code\":";
    append_json_string(out, wire_code(why.code()));
    out += ",\"message\":";
    append_json_string(out, why.message());
    out += "}\n\n";
    return out;
  }

  const std::shared_ptr<HandlerCore> core_;
  const Principal principal_;
  const std::shared_ptr<OutputSink> sink_;
  std::shared_ptr<Tap> tap_;
  std::atomic<bool> closed_{false};
  std::chrono::steady_clock::time_point last_heartbeat_;
};

}  // namespace

std::shared_ptr<Channel> make_websocket_channel(std::shared_ptr<HandlerCore> core,
                                                Principal principal,
                                                std::shared_ptr<OutputSink> sink) {
  return std::make_shared<WebSocketChannel>(std::move(core), std::move(principal), std::move(sink));
}

Result<std::shared_ptr<Channel>> make_event_stream_channel(std::shared_ptr<HandlerCore> core,
                                                           Principal principal,
                                                           std::shared_ptr<OutputSink> sink,
                                                           std::string session, Offset from,
                                                           std::string epoch) {
  auto channel =
      std::make_shared<EventStreamChannel>(std::move(core), std::move(principal), std::move(sink));
  STRATA_RETURN_IF_ERROR(channel->start(std::move(session), from, std::move(epoch)));
  return std::shared_ptr<Channel>(std::move(channel));
}

}  // namespace strata::net::detail
