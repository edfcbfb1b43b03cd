// What the protocol handler and its channels share: the hub, the options, token checks and
// request parsing helpers.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include <strata/clock.h>
#include <strata/net/auth.h>
#include <strata/net/handler.h>
#include <strata/session/hub.h>

#include "net/http_parser.h"

namespace strata::net::detail {

// Who is asking: no capability when the server runs without auth (everything allowed).
struct Principal {
  std::optional<Capability> capability;
  [[nodiscard]] bool allows(Operation op, std::string_view session) const {
    return !capability || capability->allows(op, session);
  }
  [[nodiscard]] std::string subject() const { return capability ? capability->subject : ""; }
};

struct HandlerCore {
  HandlerCore(session::Hub& h, HandlerOptions o, std::optional<TokenVerifier> v, std::shared_ptr<Clock> c)
      : hub(h), options(std::move(o)), verifier(std::move(v)), clock(std::move(c)) {}
  session::Hub& hub;
  HandlerOptions options;
  std::optional<TokenVerifier> verifier;
  std::shared_ptr<Clock> clock;
  std::atomic<std::uint64_t> paused{0};
  std::atomic<std::uint64_t> resumed{0};
  std::atomic<std::uint64_t> slow_closed{0};

  // Authenticates from `Authorization: Bearer` or ?access_token=. kUnauthenticated on failure.
  Result<Principal> authenticate(const HttpRequest& request, const Target& target) const;
  // Re-checks expiry of an already verified capability (long-lived connections).
  [[nodiscard]] bool expired(const Principal& principal) const;
};

// kPermissionDenied worded the same whether or not the session exists.
Status permission_denied(Operation op);

// Parses a request body / WebSocket message into a JSON object; kInvalidArgument when it is
// not one (deeply nested or malformed JSON is refused before nlohmann builds anything).
Status parse_json_object(std::string_view text, nlohmann::json& out);
// One event of an append request: {"type","payload","run_id","parent_run_id","message_id"}.
Status parse_draft(const nlohmann::json& value, session::EventDraft& draft);
// "producer" (default: the token's subject, else "client"), "producer_epoch", "seq".
Status parse_append_options(const nlohmann::json& request, const Principal& principal,
                            session::AppendOptions& options);

}  // namespace strata::net::detail
