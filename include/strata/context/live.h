// strata/context/live.h — connectors that read a system of record's live API over HTTPS.
//
//   auto gh = make_github_live_connector({.http = {.base_url = "https://api.github.com",
//                                                  .credentials = [] { return "Bearer " + token(); }},
//                                         .repository = "acme/api"});
//   engine->ingest(*gh);
//
// Requests go through libcurl with TLS verification on. Pagination follows Link headers
// (rel="next"); 429 and 403-with-rate-limit answers wait for Retry-After (or until
// X-RateLimit-Reset) and retry; 5xx answers, dropped connections and truncated bodies are
// retried with exponential backoff; a response saying X-RateLimit-Remaining: 0 delays the next
// request until the reset. A request that still fails ends the scan with kUnavailable, so the
// engine keeps the old cursor and nothing is half-ingested. The documents are those of the
// saved-data connector (strata/context/connectors.h), parsed by the same code.
//
// Thread safety: distinct objects: safe. Shared objects: unsafe.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <strata/context/connector.h>

namespace strata::context {

struct LiveHttpOptions {
  // Scheme, host and optional port, no trailing '/': "https://api.github.com". Required.
  std::string base_url{};
  // Returns the Authorization header value for a request ("Bearer <token>"); called before
  // every request, so the host may rotate credentials. Default: none (anonymous).
  std::function<std::string()> credentials{};
  // Attempts per request (the first included). Default: 5.
  int max_attempts = 5;
  // First backoff after a 5xx or a transport error; doubles per attempt. Default: 500 ms.
  std::chrono::milliseconds initial_backoff{500};
  // Longest single wait (Retry-After, rate-limit reset or backoff); a longer demanded wait
  // fails the request. Default: 120 s.
  std::chrono::milliseconds max_wait{120000};
  // Per-request timeout. Default: 30 s.
  std::chrono::milliseconds timeout{30000};
  // How the connector waits. Default: std::this_thread::sleep_for (tests record instead).
  std::function<void(std::chrono::milliseconds)> sleep{};
  // Responses larger than this fail the request. Default: 64 MiB.
  std::size_t max_response_bytes = std::size_t{64} << 20;
  // Pages followed per listing. Default: 10,000.
  std::size_t max_pages = 10000;
};

struct GitHubLiveOptions {
  LiveHttpOptions http{};
  std::string repository{};  // "owner/name". Required.
  // As GitHubExportOptions::access: unset = public repositories are kEveryone, others nobody.
  std::optional<std::vector<std::string>> access{};
  std::string id = "github";  // Default: "github" (the saved-data connector's id: same documents)
  std::size_t max_record_bytes = 1 << 20;  // Default: 1 MiB
};
// GET /repos/{r}, /repos/{r}/pulls?state=all&sort=updated&direction=desc, per pull request its
// reviews, review comments and files, /repos/{r}/issues?state=all&since=<cursor> and the
// comments of each issue. Cursor: the greatest updated_at seen.
std::unique_ptr<Connector> make_github_live_connector(GitHubLiveOptions options);

struct SlackLiveOptions {
  LiveHttpOptions http{};  // base_url e.g. "https://slack.com"; credentials "Bearer xoxb-..."
  // As SlackExportOptions::public_access. Default: kEveryone.
  std::vector<std::string> public_access{std::string(kEveryone)};
  // conversations.list types. Default: public and private channels.
  std::string types = "public_channel,private_channel";
  std::string id = "slack";  // Default: "slack" (the export connector's id: same documents)
  std::size_t max_record_bytes = 256 * 1024;  // Default: 256 KiB
};
// GET /api/conversations.list (cursor-paginated), conversations.members for private ones,
// conversations.history?oldest=<cursor> per conversation and conversations.replies for each
// thread with replies. A conversation the token cannot read ("ok": false) is reported as
// kUnreadable and skipped. Cursor: the greatest message ts seen.
std::unique_ptr<Connector> make_slack_live_connector(SlackLiveOptions options);

}  // namespace strata::context
