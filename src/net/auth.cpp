// HS256 capability tokens: verification and signing (docs/protocol.md, "Authentication").
#include <strata/net/auth.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <nlohmann/json.hpp>

#include <strata/session/event.h>

#include "net/websocket.h"

namespace strata::net {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxTokenBytes = 8192;
constexpr std::size_t kMaxGrants = 64;
constexpr std::size_t kMaxPatterns = 256;

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

Status unauthenticated(std::string message) {
  return Status(StatusCode::kUnauthenticated, "token rejected: " + std::move(message));
}

// Parses base64url JSON into an object, refusing deep or malformed JSON without building it.
bool decode_object(std::string_view part, json& out) {
  std::string text;
  if (!detail::base64_decode(part, text, /*url=*/true)) return false;
  if (!session::validate_json(text).ok()) return false;
  out = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return out.is_object();
}

bool pattern_matches(std::string_view pattern, std::string_view session) {
  if (!pattern.empty() && pattern.back() == '*') {
    pattern.remove_suffix(1);
    return session.substr(0, pattern.size()) == pattern;
  }
  return pattern == session;
}

}  // namespace

std::string_view to_string(Operation op) noexcept {
  switch (op) {
    case Operation::kSubscribe: return "subscribe";
    case Operation::kHistory: return "history";
    case Operation::kAppend: return "append";
    case Operation::kCancel: return "cancel";
    case Operation::kSteer: return "steer";
    case Operation::kPresence: return "presence";
  }
  return "unknown";
}

std::optional<Operation> parse_operation(std::string_view name) noexcept {
  for (auto op : {Operation::kSubscribe, Operation::kHistory, Operation::kAppend,
                  Operation::kCancel, Operation::kSteer, Operation::kPresence}) {
    if (to_string(op) == name) return op;
  }
  return std::nullopt;
}

bool Capability::allows(Operation op, std::string_view session) const noexcept {
  for (const auto& grant : grants) {
    bool has_op = false;
    for (auto o : grant.ops) has_op = has_op || o == op;
    if (!has_op) continue;
    for (const auto& pattern : grant.sessions) {
      if (pattern_matches(pattern, session)) return true;
    }
  }
  return false;
}

Result<TokenVerifier> TokenVerifier::create(TokenOptions options) {
  if (options.hs256_key.size() < 32) {
    return invalid_argument_error("TokenOptions.hs256_key must be at least 32 bytes");
  }
  if (!options.clock) options.clock = system_clock();
  return TokenVerifier(std::move(options));
}

std::int64_t TokenVerifier::now_seconds() const { return options_.clock->now_ms() / 1000; }

Result<Capability> TokenVerifier::verify(std::string_view token) const {
  if (token.empty()) return unauthenticated("no token");
  if (token.size() > kMaxTokenBytes) return unauthenticated("token longer than 8192 bytes");
  auto dot1 = token.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return unauthenticated("not a JWS compact serialization (three dot-separated parts)");
  }
  json header;
  if (!decode_object(token.substr(0, dot1), header)) return unauthenticated("malformed header");
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() || alg->get<std::string>() != "HS256") {
    return unauthenticated("algorithm must be HS256");
  }
  if (header.contains("crit")) return unauthenticated("critical header extensions are not supported");
  std::string signature;
  if (!detail::base64_decode(token.substr(dot2 + 1), signature, /*url=*/true)) {
    return unauthenticated("malformed signature");
  }
  const std::string expected = hmac_sha256(options_.hs256_key, token.substr(0, dot2));
  if (signature.size() != expected.size() ||
      CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) != 0) {
    return unauthenticated("bad signature");
  }
  json claims;
  if (!decode_object(token.substr(dot1 + 1, dot2 - dot1 - 1), claims)) {
    return unauthenticated("malformed claims");
  }

  Capability cap;
  const std::int64_t now = now_seconds();
  const std::int64_t leeway = options_.leeway.count();
  auto exp = claims.find("exp");
  if (exp == claims.end() || !exp->is_number_integer()) return unauthenticated("exp claim missing");
  cap.expires_at = exp->get<std::int64_t>();
  if (now >= cap.expires_at + leeway) return unauthenticated("expired");
  if (auto nbf = claims.find("nbf"); nbf != claims.end()) {
    if (!nbf->is_number_integer()) return unauthenticated("nbf claim is not an integer");
    cap.not_before = nbf->get<std::int64_t>();
    if (now + leeway < cap.not_before) return unauthenticated("not valid yet");
  }
  if (auto sub = claims.find("sub"); sub != claims.end()) {
    if (!sub->is_string()) return unauthenticated("sub claim is not a string");
    cap.subject = sub->get<std::string>();
  }
  if (auto iss = claims.find("iss"); iss != claims.end() && iss->is_string()) {
    cap.issuer = iss->get<std::string>();
  }
  if (!options_.issuer.empty() && cap.issuer != options_.issuer) {
    return unauthenticated("wrong issuer");
  }
  if (auto aud = claims.find("aud"); aud != claims.end()) {
    if (aud->is_string()) {
      cap.audience = aud->get<std::string>();
    } else if (aud->is_array() && !options_.audience.empty()) {
      for (const auto& a : *aud) {
        if (a.is_string() && a.get<std::string>() == options_.audience) cap.audience = options_.audience;
      }
    }
  }
  if (!options_.audience.empty() && cap.audience != options_.audience) {
    return unauthenticated("wrong audience");
  }
  auto grants = claims.find("grants");
  if (grants == claims.end() || !grants->is_array() || grants->size() > kMaxGrants) {
    return unauthenticated("grants claim missing or malformed");
  }
  std::size_t patterns = 0;
  for (const auto& g : *grants) {
    if (!g.is_object()) return unauthenticated("a grant is not an object");
    auto sessions = g.find("sessions");
    auto ops = g.find("ops");
    if (sessions == g.end() || !sessions->is_array() || ops == g.end() || !ops->is_array()) {
      return unauthenticated("a grant needs sessions and ops arrays");
    }
    Grant grant;
    for (const auto& s : *sessions) {
      if (!s.is_string() || ++patterns > kMaxPatterns) return unauthenticated("bad session pattern");
      grant.sessions.push_back(s.get<std::string>());
    }
    for (const auto& o : *ops) {
      auto op = o.is_string() ? parse_operation(o.get<std::string>()) : std::nullopt;
      // Fail closed: a token naming an operation this server does not know is refused.
      if (!op) return unauthenticated("unknown operation in grant");
      grant.ops.push_back(*op);
    }
    cap.grants.push_back(std::move(grant));
  }
  return cap;
}

Result<std::string> sign_token(const Capability& capability, const TokenOptions& options) {
  if (options.hs256_key.size() < 32) {
    return invalid_argument_error("TokenOptions.hs256_key must be at least 32 bytes");
  }
  if (capability.expires_at <= 0) return invalid_argument_error("capability needs expires_at");
  if (capability.grants.empty()) return invalid_argument_error("capability needs grants");
  json claims = json::object();
  claims["exp"] = capability.expires_at;
  if (capability.not_before > 0) claims["nbf"] = capability.not_before;
  if (!capability.subject.empty()) claims["sub"] = capability.subject;
  if (!capability.issuer.empty()) claims["iss"] = capability.issuer;
  if (!capability.audience.empty()) claims["aud"] = capability.audience;
  json grants = json::array();
  for (const auto& g : capability.grants) {
    json ops = json::array();
    for (auto op : g.ops) ops.push_back(std::string(to_string(op)));
    grants.push_back({{"sessions", g.sessions}, {"ops", ops}});
  }
  claims["grants"] = std::move(grants);
  std::string signing_input = detail::base64_encode(R"({"alg":"HS256","typ":"JWT"})", true);
  signing_input += '.';
  signing_input += detail::base64_encode(claims.dump(), true);
  std::string signature = hmac_sha256(options.hs256_key, signing_input);
  return signing_input + "." + detail::base64_encode(signature, true);
}

}  // namespace strata::net
