// Secret redaction at ingest (docs/connectors.md, "Secrets"): PEM private keys, cloud and
// SaaS API keys and tokens, JSON Web Tokens and `secret = "..."` style assignments are
// replaced by "[REDACTED:<kind>]". Line breaks inside a redacted span are kept, so line
// numbers (chunks, spans) do not move.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace strata::context::detail {

// Redacts `text` in place; returns how many secrets were replaced and adds them to
// *by_kind ("private_key", "aws_access_key", "github_token", "slack_token", "slack_webhook",
// "google_api_key", "stripe_key", "openai_key", "jwt", "assigned_secret").
std::size_t redact_secrets(std::string& text, std::map<std::string, std::size_t>* by_kind);

// False only when redact_secrets() finds nothing in `text`: one pass over the bytes that
// redact_secrets() takes first (it then skips its full search, ~40 passes and a lowercase
// copy).
bool may_contain_secret(std::string_view text);
// redact_secrets() without that pre-scan (the same result; tests compare the two).
std::size_t redact_secrets_exhaustive(std::string& text, std::map<std::string, std::size_t>* by_kind);

}  // namespace strata::context::detail
