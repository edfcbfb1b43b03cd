// strata/context/connectors.h — Connectors over systems of record, reading saved data.
//
//   auto github = make_github_export_connector({.root = "dump/github", .repository = "acme/api",
//                                               .access = {{"team:api"}}});
//   engine->ingest(*github);   // pull requests, reviews, review comments, issues, comments
//
// Each connector reads what an API returned (saved as files) or a workspace export, and is
// incremental: its cursor records how far the last scan got, and the next scan offers only
// what changed since (the engine's unchanged() check drops the rest). Formats, cursors and the
// access mapping are described in docs/connectors.md.
//
// Bad input is per record: a truncated file, a record with wrong types, invalid UTF-8 or over
// the size limit, or a file the export should hold but does not, is reported to
// IngestSink::skipped() (kMalformed, kTooLarge, kMissing, kUnreadable) with a detail naming
// the file and record, and everything else ingests. Only a missing root fails the scan.
//
// Access lists come from the source; an item whose access cannot be established gets an empty
// list, which nobody may read (fail closed). Accounts are written "<system>:<id>"
// ("github:alice", "slack:U024BE7LH", "jira:5b10ac8d82e05b22cc7d4ef5"); a host gives a
// principal its accounts as Principal::groups (or uses strata/context/people.h).
//
// Thread safety: distinct objects: safe. Shared objects: unsafe.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <strata/context/connector.h>
#include <strata/status.h>

namespace strata::context {

// GitHub REST API responses saved under `root` (file names as in docs/connectors.md):
//   repo.json                      GET /repos/{o}/{r}            ("private" decides access)
//   pulls.json, pulls/page-*.json  GET /repos/{o}/{r}/pulls?state=all (arrays of pulls)
//   pulls/<n>/reviews.json         GET .../pulls/{n}/reviews
//   pulls/<n>/comments.json        GET .../pulls/{n}/comments   (review comments on lines)
//   pulls/<n>/files.json           GET .../pulls/{n}/files      (optional: changed paths)
//   issues.json, issues/page-*.json GET .../issues?state=all    (pull requests in it skipped)
//   issues/<n>/comments.json       GET .../issues/{n}/comments  (also a PR's conversation)
// Cursor: the greatest updated_at seen; items updated before it are not re-read.
struct GitHubExportOptions {
  // The directory holding the saved responses. Required.
  std::string root{};
  // "owner/name"; documents are "github:owner/name/pull/12" and so on. Required.
  std::string repository{};
  // Who may read this repository (collaborators, "team:..."): used when set. Default: unset,
  // which means kEveryone when repo.json says "private": false, and nobody otherwise.
  std::optional<std::vector<std::string>> access{};
  // Connector id. Default: "github".
  std::string id = "github";
  // Records (one JSON array element) larger than this are skipped (kTooLarge). Default: 1 MiB.
  std::size_t max_record_bytes = 1 << 20;
};
std::unique_ptr<Connector> make_github_export_connector(GitHubExportOptions options);

// A Slack workspace export unpacked under `root`: users.json, channels.json (public),
// groups.json (private channels, with members), mpims.json and dms.json (with members), and
// one folder per conversation (its name, or its id for DMs) of YYYY-MM-DD.json message files.
// Thread replies carry their thread as Document::parent; edited messages replace the earlier
// version (same path) with status "edited"; deleted ones are removed.
// Cursor: the last day ingested; days from that one on are re-read.
struct SlackExportOptions {
  std::string root{};  // Required.
  // Who may read public channels (a workspace group). Default: kEveryone.
  std::vector<std::string> public_access{std::string(kEveryone)};
  std::string id = "slack";  // Default: "slack".
  // Messages larger than this are skipped (kTooLarge). Default: 256 KiB.
  std::size_t max_record_bytes = 256 * 1024;
};
std::unique_ptr<Connector> make_slack_export_connector(SlackExportOptions options);

// Jira REST API v2 or v3 responses saved as *.json files anywhere under `root`: either one
// issue (GET /rest/api/{2,3}/issue/{key}?fields=*all) or a search page ({"issues": [...]}).
// v3 rich text (Atlassian Document Format) becomes plain text. Comments become their own
// documents; issue links, status and resolution are kept.
// Access: an issue with a security level is readable by security_level_access["PROJ/Level"]
// (else ["Level"]), else nobody; one without is readable by project_access["PROJ"], else nobody.
// Cursor: the greatest fields.updated seen (seconds), then ";acl=" and a digest of
// project_access and security_level_access; older issues are not re-read unless that
// configuration changed (then every issue is read again and a changed access list written).
struct JiraExportOptions {
  std::string root{};  // Required.
  std::map<std::string, std::vector<std::string>> project_access{};         // Default: none
  std::map<std::string, std::vector<std::string>> security_level_access{};  // Default: none
  std::string id = "jira";  // Default: "jira".
  // Issues larger than this are skipped (kTooLarge). Default: 4 MiB.
  std::size_t max_record_bytes = 4 << 20;
};
std::unique_ptr<Connector> make_jira_export_connector(JiraExportOptions options);

// A tree of Markdown documents (*.md, *.markdown). Architecture decision records — files in a
// folder named adr/, adrs/ or decisions/, or named NNNN-title.md — carry their status
// (proposed / accepted / rejected / deprecated / superseded) and, for "superseded by N", a
// link "adr:N". Every scan is complete (removed files leave the index).
struct DocsTreeOptions {
  std::string root{};  // Required.
  std::vector<std::string> access{std::string(kEveryone)};  // Default: kEveryone
  std::string id = "docs";  // Default: "docs".
  std::size_t max_file_bytes = 1 << 20;  // Default: 1 MiB (larger: kTooLarge)
};
std::unique_ptr<Connector> make_docs_tree_connector(DocsTreeOptions options);

// ADR status of a Markdown text: "proposed", "accepted", "rejected", "deprecated",
// "superseded" or "" when none is stated; *superseded_by gets N of "superseded by N" (0 if
// none). Recognises "Status: X" lines (also bold or list items) and a "## Status" section.
std::string adr_status(std::string_view markdown, int* superseded_by = nullptr);

// CODEOWNERS (GitHub's format: "pattern owner...", last matching line wins).
struct CodeOwnersRule {
  std::string pattern{};
  std::vector<std::string> owners{};  // "@alice", "@acme/team", "bob@example.com"
  int line = 0;
};
// Parses a CODEOWNERS file. Lines that are not rules (a pattern with an invalid owner, lines
// over 4 KiB) are left out and described in *errors ("line 3: ...").
std::vector<CodeOwnersRule> parse_codeowners(std::string_view text,
                                             std::vector<std::string>* errors = nullptr);
// The owners of `path` ('/'-separated, relative to the repository root): those of the last
// rule that matches it; empty when none does (or that rule names no owners).
std::vector<std::string> codeowners_of(const std::vector<CodeOwnersRule>& rules,
                                       std::string_view path);

// One CODEOWNERS file as a kOwnership document ("codeowners:<path>"); its participants are
// "owns:<owner>" per owner named. Cursor: none (unchanged content is not re-written).
struct CodeOwnersOptions {
  std::string path{};  // The CODEOWNERS file. Required.
  std::string id = "codeowners";  // Default: "codeowners".
  std::vector<std::string> access{std::string(kEveryone)};  // Default: kEveryone
};
std::unique_ptr<Connector> make_codeowners_connector(CodeOwnersOptions options);

}  // namespace strata::context
