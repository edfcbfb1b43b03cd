// Routing and the plain-HTTP endpoints of docs/protocol.md; streams are in channels.cpp.
#include <strata/net/handler.h>

#include <charconv>

#include <nlohmann/json.hpp>

#include "net/channels.h"
#include "net/handler_core.h"
#include "net/http_parser.h"
#include "net/wire.h"

namespace strata::net {
namespace detail {

using nlohmann::json;

Status permission_denied(Operation op) {
  return permission_denied_error("the token does not allow " + std::string(to_string(op)) +
                                 " on this session");
}

Status parse_json_object(std::string_view text, json& out) {
  if (Status s = session::validate_json(text); !s.ok()) {
    return invalid_argument_error("request is not valid JSON: " + s.message());
  }
  out = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!out.is_object()) return invalid_argument_error("request must be a JSON object");
  return ok_status();
}

namespace {
Status optional_string(const json& object, const char* name, std::string& out) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return ok_status();
  if (!it->is_string()) return invalid_argument_error(std::string(name) + " must be a string");
  out = it->get<std::string>();
  return ok_status();
}
}  // namespace

Status parse_draft(const json& value, session::EventDraft& draft) {
  if (!value.is_object()) return invalid_argument_error("each event must be a JSON object");
  STRATA_RETURN_IF_ERROR(optional_string(value, "type", draft.type));
  if (draft.type.empty()) return invalid_argument_error("each event needs a type");
  if (auto payload = value.find("payload"); payload != value.end()) {
    draft.payload = payload->dump();
  }
  STRATA_RETURN_IF_ERROR(optional_string(value, "run_id", draft.run_id));
  STRATA_RETURN_IF_ERROR(optional_string(value, "parent_run_id", draft.parent_run_id));
  STRATA_RETURN_IF_ERROR(optional_string(value, "message_id", draft.message_id));
  return ok_status();
}

Status parse_append_options(const json& request, const Principal& principal,
                            session::AppendOptions& options) {
  options.producer = principal.subject();
  STRATA_RETURN_IF_ERROR(optional_string(request, "producer", options.producer));
  if (options.producer.empty()) options.producer = "client";
  if (auto it = request.find("producer_epoch"); it != request.end() && !it->is_null()) {
    if (!it->is_number_unsigned()) return invalid_argument_error("producer_epoch must be a non-negative integer");
    options.producer_epoch = it->get<std::uint64_t>();
  }
  if (auto it = request.find("seq"); it != request.end() && !it->is_null()) {
    if (!it->is_number_unsigned()) return invalid_argument_error("seq must be a non-negative integer");
    options.producer_seq = it->get<std::uint64_t>();
  }
  return ok_status();
}

Result<Principal> HandlerCore::authenticate(const HttpRequest& request, const Target& target) const {
  if (!verifier) return Principal{};
  std::string_view token;
  if (auto auth = request.header("authorization")) {
    constexpr std::string_view kBearer = "Bearer ";
    if (auth->size() <= kBearer.size() || auth->substr(0, kBearer.size()) != kBearer) {
      return Status(StatusCode::kUnauthenticated, "Authorization must be \"Bearer <token>\"");
    }
    token = auth->substr(kBearer.size());
  } else if (auto param = target.param("access_token")) {
    token = *param;
  } else {
    return Status(StatusCode::kUnauthenticated, "a capability token is required");
  }
  auto capability = verifier->verify(token);
  if (!capability.ok()) return capability.status();
  return Principal{std::move(*capability)};
}

bool HandlerCore::expired(const Principal& principal) const {
  if (!principal.capability || !verifier) return false;
  return verifier->now_seconds() >= principal.capability->expires_at + options.auth->leeway.count();
}

namespace {

HttpResponse json_response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse error(const Status& status) {
  return json_response(http_status(status.code()), error_body(status));
}

// "/v1/sessions/<id>[/<action>]"
struct Route {
  std::string session;
  std::string action;  // "", "events", "snapshot", "cancel", "steer", "presence"
};

Status parse_route(std::string_view path, Route& route) {
  constexpr std::string_view kPrefix = "/v1/sessions/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return not_found_error("no such route");
  path.remove_prefix(kPrefix.size());
  auto slash = path.find('/');
  std::string_view encoded = path.substr(0, slash);
  if (slash != std::string_view::npos) {
    route.action.assign(path.substr(slash + 1));
    if (route.action.find('/') != std::string::npos) return not_found_error("no such route");
  }
  if (!percent_decode(encoded, route.session, false)) {
    return invalid_argument_error("malformed percent-encoding in the session id");
  }
  return session::validate_session_id(route.session);
}

bool parse_offset(std::string_view text, session::Offset& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

bool wants_event_stream(const HttpRequest& request, const Target& target) {
  if (auto stream = target.param("stream"); stream && *stream == "sse") return true;
  auto accept = request.header("accept");
  return accept && accept->find("text/event-stream") != std::string_view::npos;
}

class ProtocolHandlerImpl final : public ProtocolHandler {
 public:
  explicit ProtocolHandlerImpl(std::shared_ptr<HandlerCore> core) : core_(std::move(core)) {}

  bool is_websocket_path(const HttpRequest& request) const override {
    Target target;
    return request.method == "GET" && parse_target(request.target, target) && target.path == "/v1/ws";
  }

  bool is_event_stream(const HttpRequest& request) const override {
    Target target;
    if (request.method != "GET" || !parse_target(request.target, target)) return false;
    Route route;
    if (!parse_route(target.path, route).ok() || route.action != "events") return false;
    return wants_event_stream(request, target);
  }

  HttpResponse handle(const HttpRequest& request) override {
    Target target;
    if (!parse_target(request.target, target)) {
      return error(invalid_argument_error("malformed query string"));
    }
    if (target.path == "/healthz") {
      if (request.method != "GET" && request.method != "HEAD") return method_not_allowed("GET");
      return json_response(200, R"({"status":"ok"})");
    }
    auto principal = core_->authenticate(request, target);
    if (!principal.ok()) return error(principal.status());
    Route route;
    if (Status s = parse_route(target.path, route); !s.ok()) return error(s);
    const std::string& method = request.method;
    if (route.action.empty()) {
      if (method != "GET") return method_not_allowed("GET");
      if (!principal->allows(Operation::kSubscribe, route.session)) return error(permission_denied(Operation::kSubscribe));
      auto info = core_->hub.info(route.session);
      if (!info.ok()) return error(info.status());
      return json_response(200, session_info_json(*info));
    }
    if (route.action == "events") {
      if (method == "GET") return history(*principal, route, target);
      if (method == "POST") return append(*principal, route, request);
      return method_not_allowed("GET, POST");
    }
    if (route.action == "snapshot") {
      if (method != "GET") return method_not_allowed("GET");
      if (!principal->allows(Operation::kSubscribe, route.session)) return error(permission_denied(Operation::kSubscribe));
      auto snapshot = core_->hub.snapshot(route.session);
      if (!snapshot.ok()) return error(snapshot.status());
      return json_response(200, snapshot_json(*snapshot));
    }
    if (route.action == "cancel") {
      if (method != "POST") return method_not_allowed("POST");
      return cancel(*principal, route, request);
    }
    if (route.action == "steer") {
      if (method != "POST") return method_not_allowed("POST");
      return steer(*principal, route, request);
    }
    if (route.action == "presence") {
      if (method == "GET") {
        if (!principal->allows(Operation::kPresence, route.session)) return error(permission_denied(Operation::kPresence));
        auto presence = core_->hub.presence(route.session);
        if (!presence.ok()) return error(presence.status());
        return json_response(200, presence_json(*presence));
      }
      if (method == "POST") return presence(*principal, route, request);
      return method_not_allowed("GET, POST");
    }
    return error(not_found_error("no such route"));
  }

  Result<std::shared_ptr<Channel>> open_websocket(const HttpRequest& request,
                                                  std::shared_ptr<OutputSink> sink) override {
    Target target;
    if (!parse_target(request.target, target)) return invalid_argument_error("malformed query string");
    auto principal = core_->authenticate(request, target);
    if (!principal.ok()) return principal.status();
    return make_websocket_channel(core_, std::move(*principal), std::move(sink));
  }

  Result<std::shared_ptr<Channel>> open_event_stream(const HttpRequest& request,
                                                     std::shared_ptr<OutputSink> sink) override {
    Target target;
    if (!parse_target(request.target, target)) return invalid_argument_error("malformed query string");
    auto principal = core_->authenticate(request, target);
    if (!principal.ok()) return principal.status();
    Route route;
    STRATA_RETURN_IF_ERROR(parse_route(target.path, route));
    if (!principal->allows(Operation::kSubscribe, route.session)) return permission_denied(Operation::kSubscribe);
    session::Offset from = 0;
    if (auto last = request.header("last-event-id")) {
      if (!parse_offset(*last, from)) return invalid_argument_error("Last-Event-ID must be an offset");
    } else if (auto param = target.param("from")) {
      if (!parse_offset(*param, from)) return invalid_argument_error("from must be an offset");
    }
    std::string epoch(target.param("epoch").value_or(""));
    return make_event_stream_channel(core_, std::move(*principal), std::move(sink), route.session,
                                     from, std::move(epoch));
  }

 private:
  static HttpResponse method_not_allowed(std::string allow) {
    auto r = json_response(405, error_body(invalid_argument_error("method not allowed")));
    r.headers.emplace_back("Allow", std::move(allow));
    return r;
  }

  HttpResponse history(const Principal& principal, const Route& route, const Target& target) {
    if (!principal.allows(Operation::kHistory, route.session)) return error(permission_denied(Operation::kHistory));
    session::ReadOptions options;
    options.max_events = 100;
    if (auto after = target.param("after"); after && !parse_offset(*after, options.after)) {
      return error(invalid_argument_error("after must be an offset"));
    }
    if (auto limit = target.param("limit")) {
      session::Offset n = 0;
      if (!parse_offset(*limit, n) || n == 0 || n > 1000) {
        return error(invalid_argument_error("limit must be between 1 and 1000"));
      }
      options.max_events = static_cast<std::size_t>(n);
    }
    auto page = core_->hub.read(route.session, options);
    if (!page.ok()) return error(page.status());
    auto info = core_->hub.info(route.session);
    std::string body = "{\"events\":[";
    for (std::size_t i = 0; i < page->events.size(); ++i) {
      if (i) body.push_back(',');
      append_event_json(body, page->events[i]);
    }
    session::Offset next = page->events.empty() ? options.after : page->events.back().offset;
    body += "],\"head\":" + std::to_string(page->head) +
            ",\"trimmed_through\":" + std::to_string(page->trimmed_through) + ",\"epoch\":";
    append_json_string(body, info.ok() ? info->epoch : "");
    body += ",\"next\":" + std::to_string(next) + "}";
    return json_response(200, std::move(body));
  }

  HttpResponse append(const Principal& principal, const Route& route, const HttpRequest& request) {
    if (!principal.allows(Operation::kAppend, route.session)) return error(permission_denied(Operation::kAppend));
    json body;
    if (Status s = parse_json_object(request.body, body); !s.ok()) return error(s);
    std::vector<session::EventDraft> drafts;
    if (auto events = body.find("events"); events != body.end()) {
      if (!events->is_array() || events->empty()) {
        return error(invalid_argument_error("events must be a non-empty array"));
      }
      for (const auto& e : *events) {
        session::EventDraft draft;
        if (Status s = parse_draft(e, draft); !s.ok()) return error(s);
        drafts.push_back(std::move(draft));
      }
    } else {
      session::EventDraft draft;
      if (Status s = parse_draft(body, draft); !s.ok()) return error(s);
      drafts.push_back(std::move(draft));
    }
    session::AppendOptions options;
    if (Status s = parse_append_options(body, principal, options); !s.ok()) return error(s);
    auto result = core_->hub.append_batch(route.session, std::move(drafts), options);
    if (!result.ok()) return error(result.status());
    std::string out = "{\"first\":" + std::to_string(result->first_offset) +
                      ",\"last\":" + std::to_string(result->last_offset) +
                      ",\"duplicate\":" + (result->duplicate ? "true" : "false") + ",\"epoch\":";
    append_json_string(out, result->epoch);
    out += '}';
    return json_response(200, std::move(out));
  }

  std::string requester(const Principal& principal, const json& body) {
    if (auto it = body.find("client_id"); it != body.end() && it->is_string()) return it->get<std::string>();
    std::string subject = principal.subject();
    return subject.empty() ? "client" : subject;
  }

  HttpResponse cancel(const Principal& principal, const Route& route, const HttpRequest& request) {
    if (!principal.allows(Operation::kCancel, route.session)) return error(permission_denied(Operation::kCancel));
    json body = json::object();
    if (!request.body.empty()) {
      if (Status s = parse_json_object(request.body, body); !s.ok()) return error(s);
    }
    session::CancelOptions options;
    options.requested_by = requester(principal, body);
    if (auto it = body.find("reason"); it != body.end() && it->is_string()) {
      options.reason = it->get<std::string>().substr(0, 1024);
    }
    if (auto run = body.find("run_id"); run != body.end() && run->is_string()) {
      auto r = core_->hub.cancel(route.session, run->get<std::string>(), options);
      if (!r.ok()) return error(r.status());
      return json_response(200, "{\"offset\":" + std::to_string(*r) + "}");
    }
    auto r = core_->hub.cancel_all(route.session, options);
    if (!r.ok()) return error(r.status());
    return json_response(200, "{\"cancelled\":" + json(*r).dump() + "}");
  }

  HttpResponse steer(const Principal& principal, const Route& route, const HttpRequest& request) {
    if (!principal.allows(Operation::kSteer, route.session)) return error(permission_denied(Operation::kSteer));
    json body;
    if (Status s = parse_json_object(request.body, body); !s.ok()) return error(s);
    auto run = body.find("run_id");
    auto input = body.find("input");
    if (run == body.end() || !run->is_string() || input == body.end()) {
      return error(invalid_argument_error("steer needs run_id and input"));
    }
    auto r = core_->hub.steer(route.session, run->get<std::string>(), input->dump(),
                              requester(principal, body));
    if (!r.ok()) return error(r.status());
    return json_response(200, "{\"offset\":" + std::to_string(*r) + "}");
  }

  HttpResponse presence(const Principal& principal, const Route& route, const HttpRequest& request) {
    if (!principal.allows(Operation::kPresence, route.session)) return error(permission_denied(Operation::kPresence));
    json body;
    if (Status s = parse_json_object(request.body, body); !s.ok()) return error(s);
    std::string action;
    std::string client_id = requester(principal, body);
    if (auto it = body.find("action"); it != body.end() && it->is_string()) action = it->get<std::string>();
    Status s;
    if (action == "join") {
      session::PresenceOptions options;
      options.client_id = client_id;
      if (auto it = body.find("device"); it != body.end() && it->is_string()) options.device = it->get<std::string>().substr(0, 128);
      s = core_->hub.join(route.session, options);
    } else if (action == "renew") {
      s = core_->hub.renew_presence(route.session, client_id);
    } else if (action == "leave") {
      s = core_->hub.leave(route.session, client_id);
    } else {
      s = invalid_argument_error("action must be join, renew or leave");
    }
    if (!s.ok()) return error(s);
    return json_response(200, "{}");
  }

  HandlerStats stats() const override {
    HandlerStats s;
    s.subscriptions_paused = core_->paused.load();
    s.subscriptions_resumed = core_->resumed.load();
    s.slow_clients_closed = core_->slow_closed.load();
    return s;
  }

  std::shared_ptr<HandlerCore> core_;
};

}  // namespace
}  // namespace detail

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() != name.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < key.size() && same; ++i) {
      same = std::tolower(static_cast<unsigned char>(key[i])) ==
             std::tolower(static_cast<unsigned char>(name[i]));
    }
    if (same) return std::string_view(value);
  }
  return std::nullopt;
}

Result<std::shared_ptr<ProtocolHandler>> ProtocolHandler::create(session::Hub& hub,
                                                                 HandlerOptions options) {
  std::optional<TokenVerifier> verifier;
  if (options.auth) {
    auto v = TokenVerifier::create(*options.auth);
    if (!v.ok()) return v.status();
    verifier.emplace(std::move(*v));
  }
  auto core = std::make_shared<detail::HandlerCore>(hub, std::move(options), std::move(verifier),
                                                    system_clock());
  return std::shared_ptr<ProtocolHandler>(std::make_shared<detail::ProtocolHandlerImpl>(std::move(core)));
}

HttpResponse ProtocolHandler::error_response(const Status& status) { return detail::error(status); }

std::vector<std::pair<std::string, std::string>> ProtocolHandler::event_stream_headers() {
  return {{"Content-Type", "text/event-stream"},
          {"Cache-Control", "no-store"},
          {"X-Accel-Buffering", "no"}};
}

}  // namespace strata::net
