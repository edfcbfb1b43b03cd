// strata/context/live.h — connectors that read a system of record's live API over HTTPS.
//
//   auto gh = make_github_live_connector({.http = {.base_url = "https://api.github.com",
//                                                  .credentials = [] { return "Bearer " + token(); }},
//                                         .repository = "acme/api"});
//   engine->ingest(*gh);
//
// Requests go through libcurl with TLS verification on. Pagination follows Link headers
// (rel="next") on the configured site only (same scheme, host, port and base path; a link
// elsewhere ends the scan with kInvalidArgument, so credentials never leave it); 429 and 403-with-rate-limit answers wait for Retry-After (or until
// X-RateLimit-Reset) and retry; 5xx answers, dropped connections and truncated bodies are
// retried with exponential backoff (a 5xx with Retry-After waits that long); a response saying
// X-RateLimit-Remaining: 0 delays the next request until the reset. Retry-After may be seconds
// or an HTTP date; X-RateLimit-Reset epoch seconds (GitHub) or an ISO 8601 time (Jira). A 401
// ends the scan with kUnauthenticated (the credentials were rejected), a 403 with
// kPermissionDenied. A request that still fails ends the scan with kUnavailable, so the
// engine keeps the old cursor and nothing is half-ingested. The documents are those of the
// saved-data connector (strata/context/connectors.h), parsed by the same code.
//
// Jira (Cloud or Data Center) reads JQL search pages (startAt or nextPageToken paging) and
// incomplete comment pages; see make_jira_live_connector.
//
// Thread safety: distinct objects: safe. Shared objects: unsafe.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
  // A PEM file of the certificate authorities to trust instead of the system's (a Jira Data
  // Center or GitHub Enterprise behind an internal CA). Verification is never turned off.
  // Default: "" (the system's store).
  std::string ca_file{};
  // Pages followed per listing. A listing with more fails the scan with kResourceExhausted,
  // and the cursor stays where it was (records on the pages not read would otherwise fall
  // under it and never be read). Default: 10,000.
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
  // How far before the cursor history is re-read to find older threads with new replies
  // (their roots' latest_reply). Zero: only threads whose root is newer than the cursor.
  // Default: 7 days.
  std::chrono::hours thread_window{24 * 7};
  std::string id = "slack";  // Default: "slack" (the export connector's id: same documents)
  std::size_t max_record_bytes = 256 * 1024;  // Default: 256 KiB
};
// GET /api/conversations.list (cursor-paginated), conversations.members for private ones,
// conversations.history?oldest=<cursor> per conversation and conversations.replies for each
// thread with replies. A conversation the token cannot read ("ok": false) is reported as
// kUnreadable and skipped.
// Cursor: {"v":2,"channels":{"<conversation id>":"<ts>",...}}, one high-water mark per
// conversation listed (the greatest ts its history and replies showed, but not past the
// server's Date, less a second, when its history was read); each conversation is read from
// its own mark, one without a mark from the start, and a conversation that could not be read
// keeps its mark. An older cursor that is a bare ts means that ts for every conversation; any
// other cursor fails the scan with kInvalidArgument before any request (the engine keeps it).
// About 40 bytes per conversation.
// Threads: conversations.history is asked from `thread_window` before the mark, so a thread
// root older than the mark whose latest_reply is newer has its replies re-read
// (conversations.replies?oldest=<mark>); messages at or before the mark are not offered
// again. Replies to roots older than the window are missed until a full scan.
std::unique_ptr<Connector> make_slack_live_connector(SlackLiveOptions options);

// ---- Jira (Cloud or Server/Data Center) ----
struct JiraLiveOptions {
  // base_url: the site, with its context path if any ("https://acme.atlassian.net",
  // "https://jira.example.com/jira"). credentials: jira_basic_credentials(email, api_token) on
  // Cloud, "Bearer <personal access token>" on Data Center.
  LiveHttpOptions http{};
  // REST API version: 2 (plain-text bodies; Server/DC and Cloud) or 3 (Cloud, Atlassian
  // Document Format bodies, turned into text). Default: 3.
  int api_version = 3;
  // false: GET /rest/api/{v}/search with startAt/maxResults/total (Server/DC and older Cloud).
  // true: GET /rest/api/3/search/jql with nextPageToken (Cloud's newer search; needs
  // api_version 3). Default: false.
  bool token_pagination = false;
  // Project keys the scan covers (JQL `project in (...)`). Default: every project the
  // credentials can browse.
  std::vector<std::string> projects{};
  // An extra JQL condition ANDed to the scope, e.g. "issuetype != Epic". Default: none.
  std::string jql{};
  // As JiraExportOptions: an issue with a security level is readable by
  // security_level_access["PROJ/Level"] (else ["Level"]), else nobody; one without by
  // project_access["PROJ"], else nobody. Default: none (nobody can read anything).
  std::map<std::string, std::vector<std::string>> project_access{};
  std::map<std::string, std::vector<std::string>> security_level_access{};
  // How far before the cursor an incremental scan asks (`updated >= cursor - overlap`). JQL
  // dates have minute precision and are read in the Jira account's time zone; issues seen in
  // the window with the same `updated` are recognised (by id) and not offered again. The
  // default covers any account time zone. Default: 24 h.
  std::chrono::minutes overlap{24 * 60};
  // maxResults asked per search page and per comment page (the server may give fewer).
  // Default: 100.
  std::size_t page_size = 100;
  std::string id = "jira";  // Default: "jira" (the saved-data connector's id: same documents)
  // Issues larger than this (with all their comments) are skipped (kTooLarge). Default: 4 MiB.
  std::size_t max_record_bytes = 4 << 20;
};
// Searches `project in (...) AND updated >= "<cursor - overlap>" ORDER BY created ASC, key ASC`
// (created order keeps startAt paging stable while issues change) with the fields the
// documents need, and reads the remaining comments of an issue whose embedded comment page is
// incomplete from /rest/api/{v}/issue/{id}/comment?startAt=. Documents: those of
// make_jira_export_connector, parsed by the same code. A page whose body is not JSON is
// retried like a 5xx, then fails the scan (kUnavailable). Cursor: "jira-live:1;<ms>;<id>=<ms>,...;acl=<digest>"
// — the high-water mark (the greatest `updated` ingested, but never later than the server's
// Date at the start of the scan, so issues changed during the scan are read again next time)
// and the issues seen within `overlap` of it, then a digest of project_access and
// security_level_access; any other cursor, or another digest, means a full scan.
// REQUIRES: http.base_url set; api_version 2 or 3; token_pagination only with version 3.
std::unique_ptr<Connector> make_jira_live_connector(JiraLiveOptions options);

// "Basic " + base64(email ":" api_token): the Authorization value for Jira Cloud.
std::string jira_basic_credentials(std::string_view email, std::string_view api_token);

}  // namespace strata::context
