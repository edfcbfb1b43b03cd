// Pure parts of the subscription APIs (see ds_subscriptions.h): request bodies, ids, paths,
// glob patterns, the webhook URL policy and base64url.
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include <strata/session/event.h>

#include "net/ds_subscriptions.h"

namespace strata::net::detail::subs {
namespace {

constexpr std::size_t kMaxBodyBytes = 64 * 1024;
constexpr std::size_t kMaxPathBytes = 1024;
constexpr std::size_t kMaxListItems = 1000;
constexpr std::size_t kMaxDescriptionBytes = 1024;
constexpr std::size_t kMaxUrlBytes = 2048;
constexpr std::size_t kMaxWorkerBytes = 256;
constexpr std::int64_t kMinLeaseMs = 1000;
constexpr std::int64_t kMaxLeaseMs = 600000;

// Parses a request body into a JSON object. Nesting is bounded (validate_json) before
// nlohmann builds anything.
Status parse_object(std::string_view body, nlohmann::json& out, bool empty_is_object) {
  if (body.size() > kMaxBodyBytes) return invalid_argument_error("request body too large (at most 64 KiB)");
  if (empty_is_object && body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    out = nlohmann::json::object();
    return ok_status();
  }
  if (Status s = session::validate_json(body); !s.ok()) return invalid_argument_error("request body is not valid JSON");
  out = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (out.is_discarded()) return invalid_argument_error("request body is not valid JSON");
  if (!out.is_object()) return invalid_argument_error("request body must be a JSON object");
  return ok_status();
}

// A string member: absent is fine (out untouched); any other type is an error.
Status get_string(const nlohmann::json& obj, const char* key, std::size_t max_bytes, std::string& out, bool& present) {
  present = false;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return ok_status();
  if (!it->is_string()) return invalid_argument_error(std::string(key) + " must be a string");
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max_bytes) return invalid_argument_error(std::string(key) + " is too long");
  out = s;
  present = true;
  return ok_status();
}

Status get_path_list(const nlohmann::json& value, const char* key, std::vector<std::string>& out) {
  if (!value.is_array()) return invalid_argument_error(std::string(key) + " must be an array of stream paths");
  if (value.size() > kMaxListItems) return invalid_argument_error(std::string(key) + " has too many entries");
  std::set<std::string> seen;
  for (const auto& v : value) {
    if (!v.is_string()) return invalid_argument_error(std::string(key) + " must be an array of stream paths");
    const auto& p = v.get_ref<const std::string&>();
    if (!valid_stream_path(p)) return invalid_argument_error(std::string(key) + " holds an invalid stream path");
    seen.insert(p);
  }
  out.assign(seen.begin(), seen.end());
  return ok_status();
}

bool valid_pattern(std::string_view pattern) {
  if (pattern.empty() || pattern.size() > kMaxPathBytes || pattern.front() == '/') return false;
  std::size_t start = 0;
  while (true) {
    const auto slash = pattern.find('/', start);
    const auto seg = pattern.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (seg.empty() || seg == "." || seg == "..") return false;
    if (seg.find("**") != std::string_view::npos && seg != "**") return false;
    for (char c : seg) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return pattern.substr(0, 5) != "__ds/";
}

// '*' matches any run of characters within one segment.
bool segment_match(std::string_view p, std::string_view s) {
  // Iterative wildcard match with single backtrack point: O(|p|*|s|) worst case.
  std::size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (pi < p.size() && p[pi] == s[si]) {
      ++pi;
      ++si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const auto slash = s.find('/', start);
    out.push_back(s.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

struct Ipv4 {
  std::array<unsigned char, 4> b{};
};

// Classifies an IPv4 address for the policy: "" when public, else the reason.
std::string_view ipv4_class(const unsigned char* b) {
  const unsigned a = b[0], c = b[1];
  if (a == 127) return "loopback";
  if (a == 169 && c == 254) return "link-local";
  if (a == 0) return "unspecified";
  if (a >= 224) return "multicast or reserved";
  if (a == 10 || (a == 172 && c >= 16 && c <= 31) || (a == 192 && c == 168) || (a == 100 && c >= 64 && c <= 127)) {
    return "private";
  }
  return "";
}

std::string_view ipv6_class(const unsigned char* b) {
  static constexpr unsigned char kZero[16] = {};
  static constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(b, kZero, 15) == 0 && b[15] == 1) return "loopback";
  if (std::memcmp(b, kZero, 16) == 0) return "unspecified";
  if (std::memcmp(b, kMappedPrefix, 12) == 0) return ipv4_class(b + 12);
  if (std::memcmp(b, kZero, 12) == 0) return "IPv4-compatible";  // deprecated ::a.b.c.d
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "site-local";
  if (b[0] == 0xff) return "multicast or reserved";
  if ((b[0] & 0xfe) == 0xfc) return "private";
  // 64:ff9b::/96 (NAT64) embeds an IPv4 address.
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) return ipv4_class(b + 12);
  return "";
}

Status apply_policy(std::string_view what, const DurableStreamsSubscriptionOptions& policy) {
  if (what.empty()) return ok_status();
  if (what == "loopback" && policy.allow_loopback_webhooks) return ok_status();
  if (what == "private" && policy.allow_private_webhooks) return ok_status();
  return invalid_argument_error("webhook.url targets a " + std::string(what) + " address, which this server refuses");
}

bool lower_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

}  // namespace

bool valid_id(std::string_view id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

bool valid_stream_path(std::string_view path) {
  if (path.empty() || path.size() > kMaxPathBytes || path.front() == '/') return false;
  if (path.substr(0, 5) == "__ds/" || path == "__ds") return false;
  for (auto seg : split(path)) {
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (char c : seg) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    }
  }
  return true;
}

bool glob_match(std::string_view pattern, std::string_view path) {
  const auto ps = split(pattern);
  const auto ss = split(path);
  // reach[j]: the first i pattern segments can match the first j path segments.
  std::vector<char> reach(ss.size() + 1, 0), next(ss.size() + 1, 0);
  reach[0] = 1;
  for (const auto& p : ps) {
    std::fill(next.begin(), next.end(), 0);
    if (p == "**") {
      char any = 0;
      for (std::size_t j = 0; j <= ss.size(); ++j) {
        any = static_cast<char>(any | reach[j]);
        next[j] = any;
      }
    } else {
      for (std::size_t j = 0; j < ss.size(); ++j) {
        if (reach[j] && segment_match(p, ss[j])) next[j + 1] = 1;
      }
    }
    reach.swap(next);
  }
  return reach[ss.size()] != 0;
}

Status parse_spec(std::string_view body, Spec& out) {
  out = Spec{};
  nlohmann::json j;
  if (Status s = parse_object(body, j, false); !s.ok()) return s;
  std::string type;
  bool present = false;
  if (Status s = get_string(j, "type", 32, type, present); !s.ok()) return s;
  if (!present) return invalid_argument_error("type is required (webhook or pull-wake)");
  if (type == "webhook") {
    out.type = Type::kWebhook;
  } else if (type == "pull-wake") {
    out.type = Type::kPullWake;
  } else {
    return invalid_argument_error("unknown subscription type (expected webhook or pull-wake)");
  }
  if (Status s = get_string(j, "pattern", kMaxPathBytes, out.pattern, present); !s.ok()) return s;
  if (present && !valid_pattern(out.pattern)) return invalid_argument_error("pattern is not a valid stream glob");
  if (auto it = j.find("streams"); it != j.end() && !it->is_null()) {
    if (Status s = get_path_list(*it, "streams", out.streams); !s.ok()) return s;
  }
  if (out.pattern.empty() && out.streams.empty()) return invalid_argument_error("pattern or streams is required");
  if (Status s = get_string(j, "description", kMaxDescriptionBytes, out.description, present); !s.ok()) return s;
  if (auto it = j.find("lease_ttl_ms"); it != j.end() && !it->is_null()) {
    if (!it->is_number_integer()) return invalid_argument_error("lease_ttl_ms must be an integer");
    if (!it->is_number_unsigned() || it->get<std::uint64_t>() < static_cast<std::uint64_t>(kMinLeaseMs) ||
        it->get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxLeaseMs)) {
      return invalid_argument_error("lease_ttl_ms must be between 1000 and 600000");
    }
    out.lease_ttl_ms = static_cast<std::int64_t>(it->get<std::uint64_t>());
  }
  if (out.type == Type::kWebhook) {
    auto it = j.find("webhook");
    if (it == j.end() || !it->is_object()) return invalid_argument_error("webhook subscriptions require webhook.url");
    if (Status s = get_string(*it, "url", kMaxUrlBytes, out.webhook_url, present); !s.ok()) {
      return invalid_argument_error("webhook.url must be a string");
    }
    if (!present || out.webhook_url.empty()) return invalid_argument_error("webhook subscriptions require webhook.url");
    if (j.contains("wake_stream")) return invalid_argument_error("wake_stream is for pull-wake subscriptions");
  } else {
    if (Status s = get_string(j, "wake_stream", kMaxPathBytes, out.wake_stream, present); !s.ok()) return s;
    if (!present) return invalid_argument_error("pull-wake subscriptions require wake_stream");
    if (!valid_stream_path(out.wake_stream)) return invalid_argument_error("wake_stream is not a valid stream path");
    if (j.contains("webhook")) return invalid_argument_error("webhook is for webhook subscriptions");
  }
  return ok_status();
}

Status parse_ack_request(std::string_view body, AckRequest& out) {
  out = AckRequest{};
  nlohmann::json j;
  if (Status s = parse_object(body, j, true); !s.ok()) return s;
  bool present = false;
  if (Status s = get_string(j, "wake_id", 256, out.wake_id, present); !s.ok()) return s;
  if (auto it = j.find("generation"); it != j.end() && !it->is_null()) {
    if (!it->is_number_unsigned()) return invalid_argument_error("generation must be a non-negative integer");
    out.generation = it->get<std::uint64_t>();
  }
  if (auto it = j.find("done"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) return invalid_argument_error("done must be a boolean");
    out.done = it->get<bool>();
  }
  if (auto it = j.find("acks"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return invalid_argument_error("acks must be an array");
    if (it->size() > kMaxListItems) return invalid_argument_error("acks has too many entries");
    for (const auto& a : *it) {
      if (!a.is_object()) return invalid_argument_error("each ack must be an object");
      Ack ack;
      if (Status s = get_string(a, "stream", kMaxPathBytes, ack.stream, present); !s.ok()) return s;
      if (!present) {
        if (Status s = get_string(a, "path", kMaxPathBytes, ack.stream, present); !s.ok()) return s;
      }
      if (!present || !valid_stream_path(ack.stream)) return invalid_argument_error("each ack needs a valid stream");
      std::string offset;
      if (Status s = get_string(a, "offset", 64, offset, present); !s.ok()) return s;
      if (!present) return invalid_argument_error("each ack needs an offset");
      auto parsed = ds::parse_offset(offset);
      if (!parsed) return invalid_argument_error("ack offset is not a stream offset");
      ack.offset = *parsed;
      out.acks.push_back(std::move(ack));
    }
  }
  return ok_status();
}

Status parse_claim_request(std::string_view body, std::string& worker) {
  worker.clear();
  nlohmann::json j;
  if (Status s = parse_object(body, j, false); !s.ok()) return s;
  bool present = false;
  if (Status s = get_string(j, "worker", kMaxWorkerBytes, worker, present); !s.ok()) return s;
  if (!present || worker.empty()) return invalid_argument_error("worker is required");
  return ok_status();
}

Status parse_stream_list(std::string_view body, std::vector<std::string>& out) {
  out.clear();
  nlohmann::json j;
  if (Status s = parse_object(body, j, false); !s.ok()) return s;
  auto it = j.find("streams");
  if (it == j.end()) return invalid_argument_error("streams is required");
  if (Status s = get_path_list(*it, "streams", out); !s.ok()) return s;
  if (out.empty()) return invalid_argument_error("streams must not be empty");
  return ok_status();
}

Status check_webhook_address(std::string_view ip, const DurableStreamsSubscriptionOptions& policy) {
  const std::string text(ip);
  unsigned char buf[16];
  if (inet_pton(AF_INET, text.c_str(), buf) == 1) return apply_policy(ipv4_class(buf), policy);
  if (inet_pton(AF_INET6, text.c_str(), buf) == 1) return apply_policy(ipv6_class(buf), policy);
  return invalid_argument_error("not an IP address");
}

Status check_webhook_url(std::string_view url, const DurableStreamsSubscriptionOptions& policy, WebhookTarget& out) {
  out = WebhookTarget{};
  if (url.size() > kMaxUrlBytes) return invalid_argument_error("webhook.url is too long");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return invalid_argument_error("webhook.url must not contain spaces or control characters");
    }
  }
  constexpr std::string_view kHttp = "http://";
  if (url.size() >= 8 && lower_equal(url.substr(0, 8), "https://")) {
    return invalid_argument_error(
        "https webhook URLs are not delivered by this server (plain HTTP only; use a TLS egress proxy)");
  }
  if (url.size() < kHttp.size() || !lower_equal(url.substr(0, kHttp.size()), kHttp)) {
    return invalid_argument_error("webhook.url must be an http:// URL");
  }
  std::string_view rest = url.substr(kHttp.size());
  const auto end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (tail.find('#') != std::string_view::npos) tail = tail.substr(0, tail.find('#'));
  if (authority.find('@') != std::string_view::npos) return invalid_argument_error("webhook.url must not carry credentials");
  if (authority.empty()) return invalid_argument_error("webhook.url has no host");
  std::string_view host;
  std::string_view port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid_argument_error("webhook.url has a malformed IPv6 host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid_argument_error("webhook.url has a malformed host");
      port = after.substr(1);
    }
    unsigned char buf[16];
    if (inet_pton(AF_INET6, std::string(host).c_str(), buf) != 1) {
      return invalid_argument_error("webhook.url has a malformed IPv6 host");  // zone ids too
    }
    out.host_is_ip = true;
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (host.empty()) return invalid_argument_error("webhook.url has no host");
  if (!port.empty() || authority.back() == ':') {
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value == 0 || value > 65535) {
      return invalid_argument_error("webhook.url has an invalid port");
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  out.host.assign(host);
  for (auto& c : out.host) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  out.path_and_query = tail.empty() ? "/" : std::string(tail);
  if (out.path_and_query.front() == '?') out.path_and_query.insert(0, "/");
  if (!out.host_is_ip) {
    for (char c : out.host) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) {
        return invalid_argument_error("webhook.url has an invalid host name");
      }
    }
    // Only dotted-quad IPv4 literals count as addresses; inet_aton's other forms ("0x7f.1",
    // "2130706433") are refused rather than resolved by surprise.
    unsigned char buf[4];
    if (inet_pton(AF_INET, out.host.c_str(), buf) == 1) {
      out.host_is_ip = true;
    } else if (std::all_of(out.host.begin(), out.host.end(),
                           [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'x'; }) ||
               out.host.substr(0, 2) == "0x") {
      return invalid_argument_error("webhook.url has a numeric host that is not a dotted-quad address");
    }
  }
  if (out.host_is_ip) return check_webhook_address(out.host, policy);
  std::string_view h = out.host;
  if (!h.empty() && h.back() == '.') h.remove_suffix(1);
  if (h == "localhost" || (h.size() > 10 && h.substr(h.size() - 10) == ".localhost")) {
    return apply_policy("loopback", policy);
  }
  if (h == "metadata.google.internal" || h == "metadata") return invalid_argument_error("webhook.url must not target a metadata endpoint");
  return ok_status();
}

std::string base64url(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto n = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (const auto left = bytes.size() - i; left > 0) {
    auto n = static_cast<unsigned>(static_cast<unsigned char>(bytes[i]) << 16);
    if (left == 2) n |= static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    if (left == 2) out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
  };
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

}  // namespace strata::net::detail::subs
