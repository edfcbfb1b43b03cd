#include "net/wire.h"

#include <cctype>

namespace strata::net::detail {

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t run = 0;  // start of the pending run of characters that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

void append_event_json(std::string& out, const session::Event& e) {
  out += "{\"offset\":";
  out += std::to_string(e.offset);
  out += ",\"type\":";
  append_json_string(out, e.type);
  out += ",\"producer\":";
  append_json_string(out, e.producer);
  out += ",\"run_id\":";
  append_json_string(out, e.run_id);
  out += ",\"parent_run_id\":";
  append_json_string(out, e.parent_run_id);
  out += ",\"message_id\":";
  append_json_string(out, e.message_id);
  out += ",\"payload\":";
  out += e.payload.empty() ? std::string_view("{}") : std::string_view(e.payload);
  out += ",\"ts\":";
  out += std::to_string(e.timestamp_ms);
  out += '}';
}

namespace {
void field(std::string& out, std::string_view name, std::string_view value, bool first = false) {
  if (!first) out.push_back(',');
  append_json_string(out, name);
  out.push_back(':');
  append_json_string(out, value);
}
void number(std::string& out, std::string_view name, long long value) {
  out.push_back(',');
  append_json_string(out, name);
  out.push_back(':');
  out += std::to_string(value);
}
void append_presence(std::string& out, const std::vector<session::PresenceEntry>& presence) {
  out.push_back('[');
  for (std::size_t i = 0; i < presence.size(); ++i) {
    if (i) out.push_back(',');
    const auto& p = presence[i];
    out.push_back('{');
    field(out, "client_id", p.client_id, true);
    field(out, "device", p.device);
    field(out, "kind", p.kind);
    number(out, "since_ms", p.since_ms);
    number(out, "expires_ms", p.expires_ms);
    out.push_back('}');
  }
  out.push_back(']');
}
}  // namespace

std::string snapshot_json(const session::Snapshot& s) {
  std::string out = "{";
  field(out, "session", s.session, true);
  field(out, "epoch", s.epoch);
  number(out, "next_offset", static_cast<long long>(s.offset));
  out += ",\"messages\":[";
  for (std::size_t i = 0; i < s.messages.size(); ++i) {
    const auto& m = s.messages[i];
    if (i) out.push_back(',');
    out.push_back('{');
    field(out, "id", m.id, true);
    field(out, "run_id", m.run_id);
    field(out, "producer", m.producer);
    field(out, "role", m.role);
    field(out, "text", m.text);
    field(out, "state", session::to_string(m.state));
    number(out, "started_at", static_cast<long long>(m.started_at));
    number(out, "updated_at", static_cast<long long>(m.updated_at));
    out.push_back('}');
  }
  out += "],\"runs\":[";
  for (std::size_t i = 0; i < s.runs.size(); ++i) {
    const auto& r = s.runs[i];
    if (i) out.push_back(',');
    out.push_back('{');
    field(out, "id", r.id, true);
    field(out, "parent_run_id", r.parent_run_id);
    field(out, "agent", r.agent);
    field(out, "state", session::to_string(r.state));
    field(out, "reason", r.reason);
    number(out, "started_at", static_cast<long long>(r.started_at));
    number(out, "ended_at", static_cast<long long>(r.ended_at));
    out.push_back('}');
  }
  out += "],\"presence\":";
  append_presence(out, s.presence);
  out.push_back('}');
  return out;
}

std::string presence_json(const std::vector<session::PresenceEntry>& presence) {
  std::string out = "{\"presence\":";
  append_presence(out, presence);
  out.push_back('}');
  return out;
}

std::string session_info_json(const session::SessionInfo& info) {
  std::string out = "{";
  field(out, "id", info.id, true);
  field(out, "epoch", info.epoch);
  number(out, "head", static_cast<long long>(info.head));
  number(out, "trimmed_through", static_cast<long long>(info.trimmed_through));
  number(out, "event_count", static_cast<long long>(info.event_count));
  number(out, "bytes", static_cast<long long>(info.bytes));
  number(out, "created_ms", info.created_ms);
  out.push_back('}');
  return out;
}

std::string wire_code(StatusCode code) {
  std::string name(to_string(code));
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

int http_status(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kAborted: return 409;
    case StatusCode::kOutOfRange: return 416;
    case StatusCode::kDataLoss: return 410;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kCancelled: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kUnimplemented: return 501;
    default: return 500;
  }
}

std::string error_body(const Status& status) {
  std::string out = "{\"error\":{";
  field(out, "code", wire_code(status.code()), true);
  field(out, "message", status.message());
  out += "}}";
  return out;
}

}  // namespace strata::net::detail
