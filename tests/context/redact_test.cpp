// Secret redaction's one-pass pre-scan (src/context/redact.cpp): it may only skip text in
// which the full search finds nothing, so redact_secrets() and redact_secrets_exhaustive()
// agree on every input.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "context/redact.h"

using strata::context::detail::may_contain_secret;
using strata::context::detail::redact_secrets;
using strata::context::detail::redact_secrets_exhaustive;

namespace {

struct Outcome {
  std::string text;
  std::size_t count = 0;
  std::map<std::string, std::size_t> kinds;
  bool operator==(const Outcome&) const = default;
};

Outcome fast(std::string text) {
  Outcome o;
  o.count = redact_secrets(text, &o.kinds);
  o.text = std::move(text);
  return o;
}

Outcome full(std::string text) {
  Outcome o;
  o.count = redact_secrets_exhaustive(text, &o.kinds);
  o.text = std::move(text);
  return o;
}

}  // namespace

TEST_CASE("redaction pre-scan: every kind of secret still found", "[context][redact]") {
  const std::vector<std::string> secrets = {
      "AKIAIOSFODNN7EXAMPLE",
      "ASIAIOSFODNN7EXAMPLE",
      "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
      "gho_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
      "ghu_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
      "ghs_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
      "ghr_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
      "github_pat_11ABCDEFG0123456789_abcdefghij",
      "xoxb-123456789012-abcdefABCDEF",
      "xoxp-123456789012-abcdefABCDEF",
      "xoxa-123456789012-abcdefABCDEF",
      "xoxr-123456789012-abcdefABCDEF",
      "xoxs-123456789012-abcdefABCDEF",
      "xapp-123456789012-abcdefABCDEF",
      "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
      "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
      "sk_live_abcdefghijklmnop1234",
      "rk_live_abcdefghijklmnop1234",
      "sk-abcdefghijklmnopqrstuvwxyz0123456789AB",
      "glpat-abcdefghij0123456789",
      "npm_abcdefghijklmnopqrstuvwxyz0123456789",
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
      "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----",
      "API_KEY=abcd1234efgh5678ijkl",
      "apikey: \"abcd1234efgh5678ijkl\"",
      "Api-Key : abcd1234efgh5678ijkl",
      "SECRET_KEY='abcd1234efgh5678ijkl'",
      "client_secret=abcd1234efgh5678ijkl",
      "access_token: abcd1234efgh5678ijkl",
      "AUTH_TOKEN==abcd1234efgh5678ijkl",
      "Token\t=\tabcd1234efgh5678ijkl",
      "PASSWORD: abcd1234efgh5678ijkl",
      "db_passwd=abcd1234efgh5678ijkl",
      "private_key = abcd1234efgh5678ijkl",
      "aws_access_key: abcd1234efgh5678ijkl",
  };
  for (const auto& s : secrets) {
    const std::string text = "before " + s + " after";
    CAPTURE(s);
    CHECK(may_contain_secret(text));
    const Outcome f = fast(text);
    CHECK(f.count == 1);
    CHECK(f == full(text));
  }
}

TEST_CASE("redaction pre-scan: ordinary chat is skipped, and unchanged", "[context][redact]") {
  const std::vector<std::string> plain = {
      "",
      "Deploy went fine, see the dashboard",
      "merged the fix for the flaky test in ci",
      "anyone up for lunch at noon",
      "ship it",
      "https://github.com/acme/api/pull/12 looks good",
  };
  for (const auto& p : plain) {
    CAPTURE(p);
    CHECK_FALSE(may_contain_secret(p));
    std::string t = p;
    CHECK(redact_secrets(t, nullptr) == 0);
    CHECK(t == p);
  }
  // Conservative: a name and a colon, or a prefix alone, send the text to the full search,
  // which still finds nothing here.
  // The assignment may be the text's last byte, and the name may start it.
  for (const std::string p : {"the keyboard: broken", "sk-1", "AKIA is short", "token: short", "API_TOKEN=", "Key:",
                              "the Secret ="}) {
    CAPTURE(p);
    CHECK(may_contain_secret(p));
    CHECK(fast(p) == full(p));
    CHECK(full(p).count == 0);
  }
}

TEST_CASE("redaction pre-scan: agrees with the full search on generated text", "[context][redact]") {
  // Text built from pieces of every detector's patterns, in both cases, with separators and
  // long key-like runs: near misses and hits of every kind.
  const std::vector<std::string> pieces = {
      "AKIA", "ASIA", "AIza", "ghp_", "gho_", "gh", "_", "github_pat_", "glpat-", "xox", "xoxb-", "xapp-", "-",
      "https://hooks.slack.com/services/", "sk-", "sk_live_", "rk_live_", "npm_", "eyJ", ".", "-----BEGIN ",
      "-----END ", "-----", "PRIVATE KEY", "RSA ", "key", "KEY", "Key", "secret", "SECRET", "token", "Token",
      "passw", "PASSWORD", "passwd", "api_", "access_", "auth_", "client_", "private_", "=", "==", ":", " ", "\t",
      "\n", "\"", "'", "ABCDEFGHIJKLMNOP0123", "abcdefghijklmnopqrstuvwxyz0123456789", "0123456789012345",
      "Zz9", "words and more words", "\xC3\xA9", "[REDACTED:jwt]"};
  std::mt19937 rng(20261126);
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1), len(1, 14);
  std::size_t skipped = 0, found = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const std::size_t n = len(rng);
    for (std::size_t k = 0; k < n; ++k) text += pieces[pick(rng)];
    const Outcome f = fast(text), e = full(text);
    if (!(f == e)) {
      FAIL_CHECK("differs on: " << text);
      break;
    }
    if (!may_contain_secret(text)) {
      ++skipped;
      if (e.count != 0) {
        FAIL_CHECK("pre-scan skipped a secret in: " << text);
        break;
      }
    }
    found += e.count > 0;
  }
  // Both paths were exercised.
  CHECK(skipped > 100);
  CHECK(found > 100);
}
