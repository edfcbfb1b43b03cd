// The system-of-record parsers, each in its own translation unit, callable on bytes (the
// connectors read files and call them; tests and fuzzers call them directly).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "context/connectors/records.h"

namespace strata::context::detail {

// ---- GitHub (github.cpp) ----
struct GitHubContext {
  std::string repository;           // "owner/name"
  std::vector<std::string> access;  // given to every document
  std::size_t max_record_bytes = 1 << 20;
  std::string since;                // items with updated_at < since are not offered
  std::string* max_updated = nullptr;  // raised to the greatest updated_at seen
  std::string file;                 // for error messages
};
// pulls: each pull request offered calls want_details(number) (to read its reviews,
// comments and files); changed_paths(number) supplies its changed paths.
void parse_github_pulls(std::string_view text, const GitHubContext& context, RecordSink& sink,
                        const std::function<std::vector<std::string>(long)>& changed_paths,
                        const std::function<void(long)>& want_details);
void parse_github_reviews(std::string_view text, long pull, const GitHubContext& context, RecordSink& sink);
void parse_github_review_comments(std::string_view text, long pull, const GitHubContext& context,
                                  RecordSink& sink);
// issues: entries that are pull requests are left out; each issue offered calls want_details.
void parse_github_issues(std::string_view text, const GitHubContext& context, RecordSink& sink,
                         const std::function<void(long)>& want_details);
void parse_github_issue_comments(std::string_view text, long issue, const GitHubContext& context,
                                 RecordSink& sink);
// pulls/<n>/files.json -> the file names (errors: none; a damaged file gives what it has).
std::vector<std::string> parse_github_pull_files(std::string_view text);
// repo.json -> true/false for "private"; -1 when absent or not a boolean.
int parse_github_repo_private(std::string_view text);

// ---- Slack (slack.cpp) ----
struct SlackConversation {
  std::string id;
  std::string name;
  bool is_private = false;
  bool members_known = false;
  std::vector<std::string> members;  // user ids
};
// channels.json / groups.json / mpims.json / dms.json. Records that do not parse are skipped.
std::vector<SlackConversation> parse_slack_conversations(std::string_view text, bool is_private,
                                                         const std::string& file, RecordSink& sink);
struct SlackUser {
  std::string id, name, real_name, email;
  bool bot = false;
};
std::vector<SlackUser> parse_slack_users(std::string_view text, const std::string& file, RecordSink& sink);
struct SlackContext {
  const SlackConversation* conversation = nullptr;
  std::vector<std::string> access;
  std::size_t max_record_bytes = 256 * 1024;
  std::string file;  // "general/2024-01-02.json"
};
void parse_slack_day(std::string_view text, const SlackContext& context, RecordSink& sink);

// ---- Jira (jira.cpp, adf.cpp) ----
struct JiraContext {
  const std::map<std::string, std::vector<std::string>>* project_access = nullptr;
  const std::map<std::string, std::vector<std::string>>* security_level_access = nullptr;
  std::size_t max_record_bytes = 4 << 20;
  std::int64_t since = 0;                // issues updated before are not offered
  std::int64_t* max_updated = nullptr;   // raised to the greatest fields.updated seen
  std::string file;
};
// One issue object or a search page {"issues": [...]}.
void parse_jira_file(std::string_view text, const JiraContext& context, RecordSink& sink);

}  // namespace strata::context::detail
