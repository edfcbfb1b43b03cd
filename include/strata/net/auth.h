// strata/net/auth.h — capability tokens: which sessions a client may do what with.
//
// A capability token is a JWT (RFC 7519) signed with HMAC-SHA256 (HS256). Its `grants` claim
// names session patterns and operations; `exp` bounds its life. The server checks the token
// of every request before it asks the hub anything, so a client without the right learns
// nothing — not even whether a session exists. The claims are described in docs/protocol.md.
//
//   strata::net::TokenOptions keys{.hs256_key = secret};
//   strata::net::Capability cap{.subject = "user-7",
//                               .grants = {{{"chat-7-*"}, {Operation::kSubscribe}}},
//                               .expires_at = now + 3600};
//   std::string token = strata::net::sign_token(cap, keys).value();
//
// Thread safety: TokenVerifier is immutable after construction; concurrent verify() calls on
// one object are safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <strata/clock.h>
#include <strata/status.h>

namespace strata::net {

enum class Operation : std::uint8_t {
  kSubscribe,  // WebSocket subscribe, SSE streams, snapshots, session info
  kHistory,    // history pages
  kAppend,
  kCancel,
  kSteer,
  kPresence,
};

// "subscribe", "history", "append", "cancel", "steer", "presence".
[[nodiscard]] std::string_view to_string(Operation op) noexcept;
[[nodiscard]] std::optional<Operation> parse_operation(std::string_view name) noexcept;

// Sessions are exact ids, or prefixes ending in '*' ("chat-*" matches "chat-1" and
// "chat-1/sub"; "*" matches every session).
struct Grant {
  std::vector<std::string> sessions{};
  std::vector<Operation> ops{};
};

struct Capability {
  std::string subject{};          // `sub`: the client, used as its presence id by default
  std::vector<Grant> grants{};
  std::int64_t expires_at = 0;    // `exp`, seconds since the Unix epoch
  std::int64_t not_before = 0;    // `nbf`, 0 = none
  std::string issuer{};           // `iss`, optional
  std::string audience{};         // `aud`, optional

  // True if some grant names `op` and a pattern matching `session`.
  [[nodiscard]] bool allows(Operation op, std::string_view session) const noexcept;
};

struct TokenOptions {
  // The HMAC-SHA256 key. Required (at least 32 bytes, as RFC 7518 asks for HS256).
  std::string hs256_key{};
  // If set, tokens must carry exactly this `iss` / have this `aud`. Default: not checked.
  std::string issuer{};
  std::string audience{};
  // Tolerated clock skew for exp / nbf. Default: 0.
  std::chrono::seconds leeway{0};
  // Default: strata::system_clock().
  std::shared_ptr<Clock> clock{};
};

class TokenVerifier {
 public:
  // kInvalidArgument if the key is shorter than 32 bytes.
  static Result<TokenVerifier> create(TokenOptions options);

  // Checks signature (constant time), algorithm (only HS256 is accepted; "none" never),
  // expiry, not-before, issuer, audience and the shape of every claim.
  // Errors: kUnauthenticated, with a message saying which check failed (never echoing the
  // token).
  [[nodiscard]] Result<Capability> verify(std::string_view token) const;
  // Seconds since the Unix epoch by the verifier's clock.
  [[nodiscard]] std::int64_t now_seconds() const;

 private:
  explicit TokenVerifier(TokenOptions options) : options_(std::move(options)) {}
  TokenOptions options_;
};

// Signs `capability` as an HS256 JWT. kInvalidArgument for a short key or a capability
// without grants or expiry.
Result<std::string> sign_token(const Capability& capability, const TokenOptions& options);

}  // namespace strata::net
