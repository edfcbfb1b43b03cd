#include "net/route_auth.h"

namespace strata::net::detail {

Result<RouteAuth> RouteAuth::create(const std::optional<TokenOptions>& options) {
  RouteAuth auth;
  if (options) {
    auto verifier = TokenVerifier::create(*options);
    if (!verifier.ok()) return verifier.status();
    auth.verifier_ = std::move(*verifier);
  }
  return auth;
}

std::optional<HttpResponse> RouteAuth::check(const HttpRequest& request, const Target& target, Operation op,
                                             std::string_view session) const {
  if (!verifier_) return std::nullopt;
  auto deny = [](int status, std::string message) {
    HttpResponse r;
    r.status = status;
    r.content_type = "text/plain";
    r.body = std::move(message);
    if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return r;
  };
  std::string_view token;
  if (auto header = request.header("authorization")) {
    constexpr std::string_view kBearer = "Bearer ";
    if (header->size() <= kBearer.size() || header->substr(0, kBearer.size()) != kBearer) {
      return deny(401, "Authorization must be \"Bearer <token>\"");
    }
    token = header->substr(kBearer.size());
  } else if (auto param = target.param("access_token")) {
    token = *param;
  } else {
    return deny(401, "a capability token is required");
  }
  auto capability = verifier_->verify(token);
  if (!capability.ok()) return deny(401, capability.status().message());
  if (!session.empty() && !capability->allows(op, session)) {
    return deny(403, "the token does not allow " + std::string(to_string(op)) + " on this stream");
  }
  return std::nullopt;
}

}  // namespace strata::net::detail
