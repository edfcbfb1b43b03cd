#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <strata/net/auth.h>
#include <strata/testing/fake_clock.h>

#include "net/websocket.h"

using namespace strata;
using namespace strata::net;
namespace nd = strata::net::detail;

namespace {

const std::string kKey = "0123456789abcdef0123456789abcdef-test-key";

struct Fixture {
  std::shared_ptr<testing::FakeClock> clock = std::make_shared<testing::FakeClock>();
  TokenOptions options;
  Fixture() {
    options.hs256_key = kKey;
    options.clock = clock;
  }
  std::int64_t now() const { return clock->now_ms() / 1000; }
  Capability cap(std::int64_t ttl = 60) const {
    Capability c;
    c.subject = "user-1";
    c.grants = {{{"chat-1", "team/*"}, {Operation::kSubscribe, Operation::kAppend}}};
    c.expires_at = now() + ttl;
    return c;
  }
};

// Signs arbitrary claims the way an issuer would (HMAC-SHA256 from OpenSSL directly).
std::string sign_raw(const std::string& claims, const std::string& key) {
  std::string input = nd::base64_encode(R"({"alg":"HS256","typ":"JWT"})", true) + "." +
                      nd::base64_encode(claims, true);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  return input + "." + nd::base64_encode(std::string_view(reinterpret_cast<char*>(mac), length), true);
}

std::string forge(std::string_view header_json, std::string_view claims_json, std::string_view key) {
  (void)key;
  return nd::base64_encode(header_json, true) + "." + nd::base64_encode(claims_json, true) + ".";
}

}  // namespace

TEST_CASE("tokens: sign and verify round trip with grants", "[net][auth]") {
  Fixture f;
  auto verifier = TokenVerifier::create(f.options).value();
  auto token = sign_token(f.cap(), f.options).value();
  auto cap = verifier.verify(token);
  REQUIRE(cap.ok());
  CHECK(cap->subject == "user-1");
  CHECK(cap->allows(Operation::kSubscribe, "chat-1"));
  CHECK(cap->allows(Operation::kAppend, "team/42"));
  CHECK(cap->allows(Operation::kAppend, "team/"));
  CHECK_FALSE(cap->allows(Operation::kAppend, "team"));
  CHECK_FALSE(cap->allows(Operation::kSubscribe, "chat-10"));  // exact, not a prefix
  CHECK_FALSE(cap->allows(Operation::kCancel, "chat-1"));
}

TEST_CASE("tokens: every failure is kUnauthenticated with a reason, never the token", "[net][auth]") {
  Fixture f;
  auto verifier = TokenVerifier::create(f.options).value();
  auto token = sign_token(f.cap(), f.options).value();
  auto rejects = [&](const std::string& t, std::string_view why) {
    auto r = verifier.verify(t);
    INFO(why);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kUnauthenticated);
    CHECK(r.status().message().find(why) != std::string::npos);
    if (t.size() > 20) CHECK(r.status().message().find(t) == std::string::npos);
  };
  rejects("", "no token");
  rejects("abc", "three");
  rejects("a.b.c.d", "three");
  rejects(std::string(9000, 'a'), "8192");
  rejects(token.substr(0, token.size() - 2) + (token.back() == 'A' ? "BB" : "AA"), "signature");
  // Tampered claims: change a byte in the payload part.
  auto dot = token.find('.');
  std::string tampered = token;
  tampered[dot + 5] = tampered[dot + 5] == 'x' ? 'y' : 'x';
  rejects(tampered, "");
  // Signed with another key.
  TokenOptions other = f.options;
  other.hs256_key = std::string(40, 'z');
  rejects(sign_token(f.cap(), other).value(), "bad signature");
  // alg "none" and other algorithms are never accepted.
  rejects(forge(R"({"alg":"none"})", R"({"exp":99999999999,"grants":[]})", kKey), "HS256");
  rejects(forge(R"({"alg":"RS256"})", R"({"exp":99999999999,"grants":[]})", kKey), "HS256");
  rejects(forge(R"([1,2])", R"({})", kKey), "malformed header");
  rejects(forge(std::string(100, '['), R"({})", kKey), "malformed header");
  // Expiry and not-before.
  auto expired = sign_token(f.cap(10), f.options).value();
  CHECK(verifier.verify(expired).ok());
  f.clock->advance(std::chrono::seconds(10));
  rejects(expired, "expired");
  Capability future = f.cap();
  future.not_before = f.now() + 30;
  rejects(sign_token(future, f.options).value(), "not valid yet");
}

TEST_CASE("tokens: validly signed claims of the wrong shape fail closed", "[net][auth]") {
  Fixture f;
  auto verifier = TokenVerifier::create(f.options).value();
  const std::string exp = std::to_string(f.now() + 60);
  struct Case {
    std::string claims;
    std::string why;
  };
  std::vector<Case> cases = {
      {R"({"grants":[]})", "exp"},
      {R"({"exp":"soon","grants":[]})", "exp"},
      {R"({"exp":)" + exp + "}", "grants"},
      {R"({"exp":)" + exp + R"(,"grants":{}})", "grants"},
      {R"({"exp":)" + exp + R"(,"grants":[1]})", "not an object"},
      {R"({"exp":)" + exp + R"(,"grants":[{"sessions":["a"]}]})", "sessions and ops"},
      {R"({"exp":)" + exp + R"(,"grants":[{"sessions":[1],"ops":["append"]}]})", "pattern"},
      {R"({"exp":)" + exp + R"(,"grants":[{"sessions":["a"],"ops":["admin"]}]})", "unknown operation"},
      {R"({"exp":)" + exp + R"(,"sub":7,"grants":[]})", "sub"},
      {R"({"exp":)" + exp + R"(,"nbf":"x","grants":[]})", "nbf"},
      {"[1]", "malformed claims"},
      {"{\"exp\":" + exp + ",\"grants\":" + std::string(80, '[') + std::string(80, ']') + "}", "malformed claims"},
  };
  for (const auto& c : cases) {
    INFO(c.claims);
    auto r = verifier.verify(sign_raw(c.claims, kKey));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kUnauthenticated);
    CHECK(r.status().message().find(c.why) != std::string::npos);
  }
  CHECK(verifier.verify(sign_raw(R"({"exp":)" + exp + R"(,"grants":[]})", kKey)).ok());
  Capability no_grants = f.cap();
  no_grants.grants.clear();
  CHECK(sign_token(no_grants, f.options).status().code() == StatusCode::kInvalidArgument);
  Capability no_exp = f.cap();
  no_exp.expires_at = 0;
  CHECK(sign_token(no_exp, f.options).status().code() == StatusCode::kInvalidArgument);
  TokenOptions short_key = f.options;
  short_key.hs256_key = "short";
  CHECK(TokenVerifier::create(short_key).status().code() == StatusCode::kInvalidArgument);
  CHECK(sign_token(f.cap(), short_key).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("tokens: issuer and audience are enforced when configured", "[net][auth]") {
  Fixture f;
  TokenOptions strict = f.options;
  strict.issuer = "strata-demo";
  strict.audience = "chat";
  auto verifier = TokenVerifier::create(strict).value();
  Capability c = f.cap();
  CHECK(verifier.verify(sign_token(c, f.options).value()).status().code() == StatusCode::kUnauthenticated);
  c.issuer = "strata-demo";
  CHECK(verifier.verify(sign_token(c, f.options).value()).status().message().find("audience") != std::string::npos);
  c.audience = "chat";
  CHECK(verifier.verify(sign_token(c, f.options).value()).ok());
}

TEST_CASE("tokens: leeway tolerates small clock skew", "[net][auth]") {
  Fixture f;
  TokenOptions lenient = f.options;
  lenient.leeway = std::chrono::seconds(5);
  auto verifier = TokenVerifier::create(lenient).value();
  auto token = sign_token(f.cap(1), f.options).value();
  f.clock->advance(std::chrono::seconds(3));
  CHECK(verifier.verify(token).ok());
  f.clock->advance(std::chrono::seconds(3));
  CHECK_FALSE(verifier.verify(token).ok());
}

TEST_CASE("operations have stable names", "[net][auth]") {
  for (auto op : {Operation::kSubscribe, Operation::kHistory, Operation::kAppend, Operation::kCancel,
                  Operation::kSteer, Operation::kPresence}) {
    CHECK(parse_operation(to_string(op)) == op);
  }
  CHECK_FALSE(parse_operation("admin"));
}
