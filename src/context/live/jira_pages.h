// Jira REST responses and the live Jira cursor, as data (jira_pages.cpp): search pages (classic
// startAt/total and token nextPageToken styles), comment pages, times, JQL literals. Callable
// on bytes, so tests and fuzz_jira_live drive them directly.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "context/connectors/json_util.h"

namespace strata::context::detail {

struct JiraSearchPage {
  std::vector<Json> issues;      // the issue objects, in order
  std::int64_t start_at = 0;     // classic paging
  std::int64_t total = -1;       // classic paging; -1 when absent
  std::string next_page_token;   // token paging; "" when absent
  bool is_last = false;          // token paging
};
// Parses a search response ({"issues": [...], ...}); returns a problem ("" = parsed) when the
// body is not JSON, not an object, or has no "issues" array.
std::string parse_jira_search_page(std::string_view body, JiraSearchPage& page);

struct JiraCommentPage {
  std::vector<Json> comments;
  std::int64_t start_at = 0;
  std::int64_t total = -1;
};
// Parses GET /rest/api/{v}/issue/{id}/comment; a problem as above ("comments" must be an array).
std::string parse_jira_comment_page(std::string_view body, JiraCommentPage& page);

// "2024-03-05T10:00:00.123+0000" -> milliseconds since the epoch (UTC); -1 when it does not
// parse. Digits of the fraction past the third are ignored.
std::int64_t jira_time_ms(std::string_view text);

// The live connector's cursor: the high-water mark and the issues (id -> updated, ms) seen
// within the overlap window before it.
struct JiraCursor {
  std::int64_t high_water_ms = -1;  // -1: none (full scan)
  std::map<std::string, std::int64_t> seen;
};
// "jira-live:1;<ms>;<id>=<ms>,<id>=<ms>" <-> JiraCursor. nullopt for anything else (a foreign
// or damaged cursor: the caller then scans in full).
std::optional<JiraCursor> parse_jira_cursor(std::string_view text);
std::string format_jira_cursor(const JiraCursor& cursor);

// Epoch ms -> "2024/03/05 10:00" (UTC, rounded down to the minute; JQL's date precision).
std::string jql_date(std::int64_t ms);
// A JQL string literal: "..." with \ and " escaped.
std::string jql_quote(std::string_view text);
// Standard base64 with padding.
std::string base64(std::string_view bytes);

}  // namespace strata::context::detail
