// Capability checks for the interop routes (Durable Streams, AI SDK), the same tokens and
// grants as strata's own protocol (docs/protocol.md, "Authentication and authorization").
#pragma once

#include <optional>
#include <string_view>

#include <strata/net/auth.h>
#include <strata/net/handler.h>

#include "net/http_parser.h"

namespace strata::net::detail {

class RouteAuth {
 public:
  // No options: every request is allowed (as HandlerOptions without auth).
  // kInvalidArgument for bad token options.
  static Result<RouteAuth> create(const std::optional<TokenOptions>& options);

  // nullopt when the request's token (Authorization: Bearer, or ?access_token=) allows `op` on
  // `session`; otherwise the 401 (no or bad token) or 403 response, worded the same whether
  // or not the session exists. An empty `session` only authenticates (a valid token).
  [[nodiscard]] std::optional<HttpResponse> check(const HttpRequest& request, const Target& target, Operation op,
                                                  std::string_view session) const;
  [[nodiscard]] bool enabled() const noexcept { return verifier_.has_value(); }

 private:
  std::optional<TokenVerifier> verifier_;
};

}  // namespace strata::net::detail
