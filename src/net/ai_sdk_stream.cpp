// The AI SDK UI message stream over strata sessions (see ai_sdk_stream.h, docs/ai-sdk.md).
#include "net/ai_sdk_stream.h"

#include <charconv>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>

#include <strata/session/hub.h>

#include "net/http_parser.h"
#include "net/route_auth.h"
#include "net/wire.h"

namespace strata::net::detail {

using nlohmann::json;

namespace {

std::string chunk(json value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

json payload_of(const session::Event& e) {
  auto p = json::parse(e.payload, nullptr, false);
  return p.is_object() ? p : json::object();
}

std::string string_field(const json& j, const char* name) {
  auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

HttpResponse plain(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

void add_cors(std::vector<std::pair<std::string, std::string>>& h) {
  h.emplace_back("Access-Control-Allow-Origin", "*");
  h.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  h.emplace_back("Access-Control-Allow-Headers", "content-type, authorization, last-event-id");
  h.emplace_back("Access-Control-Expose-Headers", "x-vercel-ai-ui-message-stream");
}

}  // namespace

Status parse_chat_request(std::string_view body, ChatRequest& out) {
  out = {};
  if (Status s = session::validate_json(body); !s.ok()) return invalid_argument_error("request is not valid JSON");
  auto j = json::parse(body, nullptr, false);
  if (!j.is_object()) return invalid_argument_error("request must be a JSON object");
  out.chat_id = string_field(j, "id");
  if (Status s = session::validate_session_id(out.chat_id); !s.ok()) {
    return invalid_argument_error("id must be a valid chat (session) id: " + s.message());
  }
  auto messages = j.find("messages");
  if (messages == j.end() || !messages->is_array() || messages->empty()) {
    return invalid_argument_error("messages must be a non-empty array");
  }
  const json& last = messages->back();
  if (!last.is_object() || string_field(last, "role") != "user") {
    return invalid_argument_error("the last message must be the user's");
  }
  auto parts = last.find("parts");
  if (parts != last.end() && parts->is_array()) {
    for (const auto& p : *parts) {
      if (p.is_object() && string_field(p, "type") == "text") out.text += string_field(p, "text");
    }
  }
  if (out.text.empty()) return invalid_argument_error("the last message has no text part");
  out.last_message = chunk(last);
  return ok_status();
}

void UiChunkMapper::resume_preamble(std::vector<std::string>& out) {
  if (started_) return;
  started_ = true;
  out.push_back(chunk({{"type", "start"}, {"messageId", run_id_}}));
  // Parts the client saw open: a resumed stream re-opens them (as new parts of the message).
  for (const auto& id : open_order_) {
    const Part& p = parts_[id];
    if (!p.open) continue;
    out.push_back(chunk({{"type", p.kind == Kind::kText ? "text-start" : "reasoning-start"}, {"id", id}}));
  }
}

std::vector<std::string> UiChunkMapper::map(const session::Event& e, bool emit) {
  std::vector<std::string> out;
  if (finished_) return out;
  if (!emit) suppressed_ = true;
  const std::string& type = e.type;
  const json p = payload_of(e);
  auto send = [&](json value) {
    if (emit) out.push_back(chunk(std::move(value)));
  };
  if (emit && (suppressed_ || type != session::event_types::kRunStarted)) resume_preamble(out);

  if (type == session::event_types::kRunStarted) {
    if (emit && !started_) {
      started_ = true;
      out.push_back(chunk({{"type", "start"}, {"messageId", run_id_}}));
    }
  } else if (type == session::event_types::kMessageStarted) {
    const std::string role = p.contains("role") ? string_field(p, "role") : "assistant";
    Part part;
    part.kind = role == "assistant" ? Kind::kText : role == "reasoning" ? Kind::kReasoning : Kind::kSkip;
    part.open = part.kind != Kind::kSkip;
    parts_[e.message_id] = part;
    if (part.open) {
      open_order_.push_back(e.message_id);
      send({{"type", part.kind == Kind::kText ? "text-start" : "reasoning-start"}, {"id", e.message_id}});
    }
  } else if (type == session::event_types::kMessageDelta) {
    auto it = parts_.find(e.message_id);
    if (it != parts_.end() && it->second.open) {
      const std::string text = string_field(p, "text");
      it->second.emitted += text.size();
      send({{"type", it->second.kind == Kind::kText ? "text-delta" : "reasoning-delta"},
            {"id", e.message_id},
            {"delta", text}});
    }
  } else if (type == session::event_types::kMessageCompleted) {
    auto it = parts_.find(e.message_id);
    if (it == parts_.end()) {
      // Its start was compacted or predates the replay: the whole message at once.
      const std::string role = p.contains("role") ? string_field(p, "role") : "assistant";
      Part part;
      part.kind = role == "assistant" ? Kind::kText : role == "reasoning" ? Kind::kReasoning : Kind::kSkip;
      part.open = part.kind != Kind::kSkip;
      it = parts_.emplace(e.message_id, part).first;
      if (part.open) send({{"type", part.kind == Kind::kText ? "text-start" : "reasoning-start"}, {"id", e.message_id}});
    }
    Part& part = it->second;
    if (part.open) {
      const std::string whole = string_field(p, "text");
      // Deltas compaction removed: what the client has not been sent yet.
      if (whole.size() > part.emitted) {
        send({{"type", part.kind == Kind::kText ? "text-delta" : "reasoning-delta"},
              {"id", e.message_id},
              {"delta", whole.substr(part.emitted)}});
        part.emitted = whole.size();
      }
      send({{"type", part.kind == Kind::kText ? "text-end" : "reasoning-end"}, {"id", e.message_id}});
      part.open = false;
    }
  } else if (type == "tool.call") {
    send({{"type", "tool-input-available"},
          {"toolCallId", string_field(p, "tool_call_id")},
          {"toolName", string_field(p, "tool_name")},
          {"input", p.contains("input") ? p["input"] : json::object()}});
  } else if (type == "tool.result") {
    send({{"type", "tool-output-available"},
          {"toolCallId", string_field(p, "tool_call_id")},
          {"output", p.contains("output") ? p["output"] : json(nullptr)}});
  } else if (type == "tool.error") {
    send({{"type", "tool-output-error"}, {"toolCallId", string_field(p, "tool_call_id")}, {"errorText", string_field(p, "error")}});
  } else if (session::is_terminal_run_event(type)) {
    finished_ = true;
    // Close what is still open so the client's parts end in a final state.
    for (const auto& id : open_order_) {
      Part& part = parts_[id];
      if (!part.open) continue;
      part.open = false;
      send({{"type", part.kind == Kind::kText ? "text-end" : "reasoning-end"}, {"id", id}});
    }
    if (type == session::event_types::kRunCompleted) {
      send({{"type", "finish"}, {"finishReason", "stop"}});
    } else if (type == session::event_types::kRunCancelled) {
      send({{"type", "abort"}, {"reason", string_field(p, "reason")}});
    } else {
      std::string why = string_field(p, "error");
      if (why.empty()) why = type == session::event_types::kRunAgentLost ? "the agent was lost" : "the run failed";
      send({{"type", "error"}, {"errorText", why}});
    }
  }
  return out;
}

namespace {

class Streams;

// One UI message stream: a subscription to the session, mapped through UiChunkMapper.
class AiChannel final : public Channel, public std::enable_shared_from_this<AiChannel> {
 public:
  AiChannel(std::shared_ptr<OutputSink> sink, std::chrono::milliseconds heartbeat)
      : sink_(std::move(sink)), heartbeat_(heartbeat), last_sent_(std::chrono::steady_clock::now()) {}

  // POST: follows the first run that starts after `after`. Resume: `run_id` from its start.
  std::string run_id;
  session::Offset after = 0;       // POST: only runs started after this offset
  session::Offset resume_after = 0;  // resume: events up to here are the client's already

  Status start(session::Hub& hub, const std::string& session, session::Offset from) {
    std::weak_ptr<AiChannel> weak = weak_from_this();
    session::SubscribeOptions so;
    so.from = from;
    auto sub = hub.subscribe(
        session, so,
        [weak](const session::Event& e) {
          if (auto self = weak.lock()) self->on_event(e);
        },
        [weak](const Status&) {
          if (auto self = weak.lock()) self->end(true);
        });
    if (!sub.ok()) return sub.status();
    std::lock_guard lock(mu_);
    if (done_) {
      (*sub)->close();
      return ok_status();
    }
    sub_ = std::move(*sub);
    return ok_status();
  }

  void on_message(std::string_view) override {}
  void on_writable() override {}
  void on_tick() override {
    std::lock_guard lock(mu_);
    if (done_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_sent_ >= heartbeat_) {
      last_sent_ = now;
      sink_->send(": keep-alive\n\n");
    }
  }
  void close() override {
    std::unique_ptr<session::Subscription> sub;
    {
      std::lock_guard lock(mu_);
      done_ = true;
      sub = std::move(sub_);
    }
    if (sub) sub->close();
  }
  void close_for_restart() override { end(false); }

 private:
  void on_event(const session::Event& e) {
    std::lock_guard lock(mu_);
    if (done_) return;
    if (!mapper_) {
      if (e.type != session::event_types::kRunStarted || e.offset <= after) return;
      if (!run_id.empty() && e.run_id != run_id) return;
      run_id = e.run_id;
      mapper_.emplace(run_id);
    }
    if (e.run_id != run_id) return;
    std::string out;
    for (auto& c : mapper_->map(e, e.offset > resume_after)) {
      out += "id: " + std::to_string(e.offset) + "\ndata: " + c + "\n\n";
    }
    if (mapper_->finished()) out += "data: [DONE]\n\n";
    if (!out.empty()) {
      last_sent_ = std::chrono::steady_clock::now();
      sink_->send(std::move(out));
    }
    if (mapper_->finished()) {
      done_ = true;
      sink_->close(1000, "");
    }
  }

  // The session went away or the server restarts: the client reconnects and resumes.
  void end(bool from_handler) {
    std::lock_guard lock(mu_);
    if (done_) return;
    done_ = true;
    (void)from_handler;
    sink_->close(1000, "");
  }

  const std::shared_ptr<OutputSink> sink_;
  const std::chrono::milliseconds heartbeat_;
  std::mutex mu_;
  bool done_ = false;
  std::optional<UiChunkMapper> mapper_;
  std::unique_ptr<session::Subscription> sub_;
  std::chrono::steady_clock::time_point last_sent_;
};

class Streams final : public AiSdkStreams {
 public:
  Streams(session::Hub& hub, AiSdkOptions options, RouteAuth auth)
      : hub_(hub), options_(std::move(options)), auth_(std::move(auth)) {}

  bool matches(std::string_view target) const override {
    if (options_.prefix.empty() || target.substr(0, options_.prefix.size()) != options_.prefix) return false;
    const std::string_view rest = target.substr(options_.prefix.size());
    return rest.empty() || rest.front() == '/' || rest.front() == '?';
  }

  RouteOutcome handle(const HttpRequest& request, const std::shared_ptr<OutputSink>& sink) override {
    RouteOutcome out = route(request, sink);
    add_cors(out.response.headers);
    return out;
  }

  void shutdown() override {}

 private:
  RouteOutcome route(const HttpRequest& request, const std::shared_ptr<OutputSink>& sink) {
    Target target;
    if (!parse_target(request.target, target)) return {plain(400, "malformed request target")};
    if (request.method == "OPTIONS") {
      HttpResponse r = plain(204, "");
      r.content_type.clear();
      return {r};
    }
    std::string_view rest = std::string_view(target.path).substr(options_.prefix.size());
    if (rest.empty() || rest == "/") {
      if (request.method != "POST") return {plain(405, "POST a chat request here")};
      return send_message(request, target, sink);
    }
    rest.remove_prefix(1);
    auto slash = rest.rfind('/');
    if (slash == std::string_view::npos) return {plain(404, "no such route")};
    std::string chat;
    if (!percent_decode(rest.substr(0, slash), chat, false) || !session::validate_session_id(chat).ok()) {
      return {plain(400, "invalid chat id")};
    }
    const std::string_view action = rest.substr(slash + 1);
    if (action == "stream" && request.method == "GET") {
      if (auto denied = auth_.check(request, target, Operation::kSubscribe, chat)) return {*denied};
      return resume(request, target, chat, sink);
    }
    if (action == "stop" && request.method == "POST") {
      if (auto denied = auth_.check(request, target, Operation::kCancel, chat)) return {*denied};
      return stop(chat);
    }
    return {plain(404, "no such route")};
  }

  RouteOutcome stream_outcome(const std::shared_ptr<AiChannel>& channel, const std::shared_ptr<OutputSink>& sink,
                              std::string session, session::Offset from) {
    std::vector<std::pair<std::string, std::string>> headers;
    add_cors(headers);
    std::string head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "x-vercel-ai-ui-message-stream: v1\r\nX-Accel-Buffering: no\r\n";
    for (const auto& [n, v] : headers) head += n + ": " + v + "\r\n";
    head += "Connection: close\r\n\r\n";
    RouteOutcome out;
    out.channel = channel;
    out.start = [this, channel, sink, head = std::move(head), session = std::move(session), from]() mutable {
      sink->send(std::move(head));
      if (Status s = channel->start(hub_, session, from); !s.ok()) {
        sink->send("data: " + chunk({{"type", "error"}, {"errorText", s.message()}}) + "\n\ndata: [DONE]\n\n");
        sink->close(1000, "");
      }
    };
    return out;
  }

  // POST <prefix>: the user's message becomes a `user.message` event (what agents listen
  // for); the response streams the first run that starts after it.
  RouteOutcome send_message(const HttpRequest& request, const Target& target, const std::shared_ptr<OutputSink>& sink) {
    ChatRequest chat;
    if (Status s = parse_chat_request(request.body, chat); !s.ok()) {
      // Unauthenticated clients learn nothing about the request's shape either.
      if (auth_.enabled()) {
        if (auto denied = auth_.check(request, target, Operation::kAppend, "")) return {*denied};
      }
      return {plain(400, s.message())};
    }
    if (auto denied = auth_.check(request, target, Operation::kAppend, chat.chat_id)) return {*denied};
    json payload = {{"text", chat.text}, {"ui_message", json::parse(chat.last_message)}};
    auto appended = hub_.append(chat.chat_id, {.type = "user.message", .payload = payload.dump()},
                                {.producer = "ai-sdk-client"});
    if (!appended.ok()) return {plain(http_status(appended.status().code()), appended.status().message())};
    auto channel = std::make_shared<AiChannel>(sink, options_.heartbeat);
    channel->after = appended->last_offset;
    return stream_outcome(channel, sink, chat.chat_id, appended->last_offset);
  }

  // GET <prefix>/<chat>/stream: the run in progress (the latest running one), from its start,
  // or after Last-Event-ID / ?after= when the client has part of it. 204 when none runs.
  RouteOutcome resume(const HttpRequest& request, const Target& target, const std::string& chat,
                      const std::shared_ptr<OutputSink>& sink) {
    auto snap = hub_.snapshot(chat);
    if (!snap.ok()) {
      if (snap.status().code() == StatusCode::kNotFound) {
        HttpResponse r = plain(204, "");
        r.content_type.clear();
        return {r};
      }
      return {plain(http_status(snap.status().code()), snap.status().message())};
    }
    const session::RunSnapshot* active = nullptr;
    for (const auto& run : snap->runs) {
      if (run.state == session::RunState::kRunning && run.parent_run_id.empty()) active = &run;
    }
    if (!active) {
      HttpResponse r = plain(204, "");
      r.content_type.clear();
      return {r};
    }
    session::Offset after = 0;
    std::optional<std::string_view> last = request.header("last-event-id");
    if (!last) last = target.param("after");
    if (last) {
      auto [p, ec] = std::from_chars(last->data(), last->data() + last->size(), after);
      if (ec != std::errc() || p != last->data() + last->size()) return {plain(400, "Last-Event-ID must be an offset")};
    }
    auto channel = std::make_shared<AiChannel>(sink, options_.heartbeat);
    channel->run_id = active->id;
    channel->after = active->started_at - 1;
    channel->resume_after = after;
    return stream_outcome(channel, sink, chat, active->started_at - 1);
  }

  // POST <prefix>/<chat>/stop: cancels the chat's running runs (strata cancel). Streams
  // following them end with `abort`; a resume afterwards answers 204.
  RouteOutcome stop(const std::string& chat) {
    auto cancelled = hub_.cancel_all(chat, {.reason = "stopped by user", .requested_by = "ai-sdk-client"});
    if (!cancelled.ok()) return {plain(http_status(cancelled.status().code()), cancelled.status().message())};
    HttpResponse r;
    r.body = json({{"cancelled", *cancelled}}).dump();
    return {r};
  }

  session::Hub& hub_;
  const AiSdkOptions options_;
  const RouteAuth auth_;
};

}  // namespace

Result<std::shared_ptr<AiSdkStreams>> AiSdkStreams::create(session::Hub& hub, AiSdkOptions options,
                                                           const std::optional<TokenOptions>& auth) {
  auto checker = RouteAuth::create(auth);
  if (!checker.ok()) return checker.status();
  return std::shared_ptr<AiSdkStreams>(std::make_shared<Streams>(hub, std::move(options), std::move(*checker)));
}

}  // namespace strata::net::detail
