// Connectors over saved systems-of-record data: GitHub, Slack, Jira, docs/ADRs, CODEOWNERS.
// Real formats, incremental cursors, access lists, and bad input per record.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <strata/context/connectors.h>

#include "context/connector_test_util.h"
#include "context/connectors/parsers.h"
#include "context/connectors/prefetch.h"
#include "context/connectors/records.h"
#include "context/context_test_util.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;
using strata::test::RecordingSink;

namespace {

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

void write_github(const ContextTempDir& t) {
  t.write("gh/repo.json", R"({"id": 1, "full_name": "acme/api", "private": true})");
  t.write("gh/pulls.json", R"([
    {"number": 12, "title": "Retry uploads on 503", "state": "closed",
     "merged_at": "2024-03-02T10:00:00Z", "created_at": "2024-03-01T09:00:00Z",
     "updated_at": "2024-03-02T10:00:00Z", "html_url": "https://github.com/acme/api/pull/12",
     "user": {"login": "alice", "id": 1}, "body": "Fixes #7 and closes acme/other#9.\nResolves: #8",
     "base": {"ref": "main"}, "head": {"ref": "retry"}, "merged_by": {"login": "carol"},
     "some_new_field": {"nested": [1, 2, 3]}},
    {"number": 13, "title": "Draft", "state": "open", "created_at": "2024-03-03T09:00:00Z",
     "updated_at": "2024-03-03T09:00:00Z", "user": {"login": "bob"}, "body": null},
    {"number": "fourteen", "title": "wrong type"},
    {"number": 15, "title": ["not", "a", "string"], "updated_at": "2024-03-03T09:00:00Z"}
  ])");
  t.write("gh/pulls/12/reviews.json", R"([
    {"id": 501, "user": {"login": "bob"}, "state": "CHANGES_REQUESTED", "body": "Please add a backoff cap",
     "submitted_at": "2024-03-01T12:00:00Z"},
    {"id": 502, "user": {"login": "bob"}, "state": "APPROVED", "body": "",
     "submitted_at": "2024-03-02T08:00:00Z"}
  ])");
  t.write("gh/pulls/12/comments.json", R"([
    {"id": 9001, "user": {"login": "bob"}, "path": "src/upload.cc", "line": 42,
     "diff_hunk": "@@ -40,3 +40,6 @@", "body": "This loops forever when the server keeps failing",
     "created_at": "2024-03-01T12:01:00Z", "pull_request_review_id": 501}
  ])");
  t.write("gh/pulls/12/files.json", R"([{"filename": "src/upload.cc"}, {"filename": "src/retry.h"}])");
  t.write("gh/issues.json", R"([
    {"number": 7, "title": "Uploads fail on 503", "state": "open", "user": {"login": "dave"},
     "body": "Seen in prod", "labels": [{"name": "bug"}], "assignees": [{"login": "alice"}],
     "created_at": "2024-02-01T00:00:00Z", "updated_at": "2024-03-02T10:00:00Z"},
    {"number": 12, "title": "Retry uploads on 503", "pull_request": {"url": "x"},
     "updated_at": "2024-03-02T10:00:00Z", "user": {"login": "alice"}},
    {"number": 8, "title": "Truncated next
  )");
  t.write("gh/issues/7/comments.json", R"([
    {"id": 77, "user": {"login": "erin"}, "body": "Me too", "created_at": "2024-02-02T00:00:00Z"}
  ])");
  t.write("gh/issues/12/comments.json", R"([
    {"id": 78, "user": {"login": "carol"}, "body": "Ship it", "created_at": "2024-03-02T09:00:00Z"}
  ])");
}

}  // namespace

TEST_CASE("github export: pull requests, reviews, line comments, issues, links", "[context][connectors]") {
  ContextTempDir t;
  write_github(t);
  auto c = make_github_export_connector({.root = t.path("gh"), .repository = "acme/api",
                                         .access = std::vector<std::string>{"team:api", "github:alice"}});
  RecordingSink sink;
  auto r = c->scan("", sink);
  REQUIRE(r.ok());
  CHECK(detail::split_acl_cursor(r->cursor).position == "2024-03-03T09:00:00Z");

  const auto& pr = sink.at("github:acme/api/pull/12");
  CHECK(pr.kind == DocumentKind::kPullRequest);
  CHECK(pr.status == "merged");
  CHECK(pr.authors == std::vector<std::string>{"github:alice"});
  CHECK(pr.links == std::vector<std::string>{"github:acme/api/issue/7", "github:acme/api/issue/8"});
  CHECK(pr.changed_paths == std::vector<std::string>{"src/upload.cc", "src/retry.h"});
  CHECK(pr.access == std::vector<std::string>{"team:api", "github:alice"});
  CHECK(contains(pr.participants, "merged:github:carol"));
  CHECK(pr.content.find("Retry uploads on 503") != std::string::npos);
  CHECK(sink.at("github:acme/api/pull/13").content.find("Draft") != std::string::npos);  // null body

  const auto& changes = sink.at("github:acme/api/pull/12/review/501");
  CHECK(changes.kind == DocumentKind::kReview);
  CHECK(changes.status == "changes_requested");
  CHECK(changes.parent == "github:acme/api/pull/12");
  CHECK(sink.at("github:acme/api/pull/12/review/502").status == "approved");

  const auto& line = sink.at("github:acme/api/pull/12/comment/9001");
  CHECK(line.kind == DocumentKind::kReviewComment);
  CHECK(line.title == "Comment on #12 src/upload.cc:42");
  CHECK(line.changed_paths == std::vector<std::string>{"src/upload.cc"});

  const auto& issue = sink.at("github:acme/api/issue/7");
  CHECK(issue.kind == DocumentKind::kIssue);
  CHECK(issue.status == "open");
  CHECK(issue.content.find("labels: bug") != std::string::npos);
  CHECK(sink.has("github:acme/api/issue/7/comment/77"));
  // The PR's conversation comes through the issues API; the PR itself is not an issue.
  CHECK(sink.has("github:acme/api/issue/12/comment/78"));
  CHECK_FALSE(sink.has("github:acme/api/issue/12"));

  // Bad records: a clear error each, the rest ingested.
  auto bad14 = sink.skips_for("pulls.json#2");
  REQUIRE(bad14.size() == 1);
  CHECK(bad14[0].reason == SkipReason::kMalformed);
  CHECK(bad14[0].detail.find("\"number\"") != std::string::npos);
  auto bad15 = sink.skips_for("pulls.json#3");
  REQUIRE(bad15.size() == 1);
  CHECK(bad15[0].detail.find("\"title\"") != std::string::npos);
  auto truncated = sink.skips_for("issues.json");
  REQUIRE_FALSE(truncated.empty());
  bool says_truncated = false;
  for (const auto& s : truncated) says_truncated |= s.detail.find("truncated") != std::string::npos;
  CHECK(says_truncated);
}

TEST_CASE("github and jira exports: a record over max_record_bytes is skipped as too large, the rest ingests",
          "[context][connectors]") {
  ContextTempDir t;
  const std::string big(3000, 'x');
  t.write("gh/repo.json", R"({"private": false})");
  t.write("gh/pulls.json", R"([{"number": 1, "title": "small", "updated_at": "2024-03-01T00:00:00Z", "user": {"login": "a"}},
    {"number": 2, "title": "huge", "updated_at": "2024-03-02T00:00:00Z", "user": {"login": "a"}, "body": ")" + big + R"("},
    {"number": 3, "title": "after it", "updated_at": "2024-03-03T00:00:00Z", "user": {"login": "a"}}])");
  auto gh = make_github_export_connector({.root = t.path("gh"), .repository = "acme/api", .max_record_bytes = 2048});
  RecordingSink sink;
  REQUIRE(gh->scan("", sink).ok());
  CHECK(sink.has("github:acme/api/pull/1"));
  CHECK(sink.has("github:acme/api/pull/3"));
  CHECK_FALSE(sink.has("github:acme/api/pull/2"));
  auto huge = sink.skips_for("pulls.json#1");
  REQUIRE(huge.size() == 1);
  CHECK(huge[0].reason == SkipReason::kTooLarge);

  t.write("jira/page.json", R"({"issues": [
    {"key": "OPS-1", "fields": {"summary": "small", "project": {"key": "OPS"}, "updated": "2024-01-05T10:00:00.000+0000"}},
    {"key": "OPS-2", "fields": {"summary": "huge", "description": ")" + big + R"(", "project": {"key": "OPS"},
     "updated": "2024-01-05T10:00:00.000+0000"}},
    {"key": "OPS-3", "fields": {"summary": "after it", "project": {"key": "OPS"}, "updated": "2024-01-05T10:00:00.000+0000"}}]})");
  auto jira = make_jira_export_connector({.root = t.path("jira"), .project_access = {{"OPS", {"*"}}}, .max_record_bytes = 2048});
  RecordingSink jira_sink;
  REQUIRE(jira->scan("", jira_sink).ok());
  CHECK(jira_sink.has("jira:OPS-1"));
  CHECK(jira_sink.has("jira:OPS-3"));
  CHECK_FALSE(jira_sink.has("jira:OPS-2"));
  REQUIRE(jira_sink.skips.size() == 1);
  CHECK(jira_sink.skips[0].reason == SkipReason::kTooLarge);
}

TEST_CASE("github export: access comes from the repository, unknown means nobody", "[context][connectors]") {
  ContextTempDir t;
  write_github(t);
  {
    auto c = make_github_export_connector({.root = t.path("gh"), .repository = "acme/api"});
    RecordingSink sink;
    REQUIRE(c->scan("", sink).ok());
    CHECK(sink.at("github:acme/api/pull/12").access.empty());  // private, no list configured
  }
  t.write("gh/repo.json", R"({"private": false})");
  {
    auto c = make_github_export_connector({.root = t.path("gh"), .repository = "acme/api"});
    RecordingSink sink;
    REQUIRE(c->scan("", sink).ok());
    CHECK(sink.at("github:acme/api/pull/12").access == std::vector<std::string>{"*"});
  }
  std::filesystem::remove(t.path("gh/repo.json"));
  {
    auto c = make_github_export_connector({.root = t.path("gh"), .repository = "acme/api"});
    RecordingSink sink;
    REQUIRE(c->scan("", sink).ok());
    CHECK(sink.at("github:acme/api/pull/12").access.empty());
  }
}

TEST_CASE("github export: the cursor skips what did not change", "[context][connectors]") {
  ContextTempDir t;
  write_github(t);
  auto c = make_github_export_connector({.root = t.path("gh"), .repository = "acme/api", .access = std::vector<std::string>{"*"}});
  RecordingSink sink;
  auto first = c->scan("", sink);
  REQUIRE(first.ok());
  const std::size_t puts = sink.puts;
  CHECK(puts == 8);  // 2 pulls, 2 reviews, 1 line comment, 1 issue, 2 comments
  // Same data from the cursor: only items updated at or after it are offered, and those are
  // unchanged.
  auto second = c->scan(first->cursor, sink);
  REQUIRE(second.ok());
  CHECK(sink.puts == puts);
  // A new review on #13 (updated later): only #13 and its review are written.
  t.write("gh/pulls.json", R"([
    {"number": 12, "title": "Retry uploads on 503", "state": "closed", "merged_at": "2024-03-02T10:00:00Z",
     "updated_at": "2024-03-02T10:00:00Z", "user": {"login": "alice"}, "body": "Fixes #7"},
    {"number": 13, "title": "Draft, ready now", "state": "open", "updated_at": "2024-03-05T09:00:00Z",
     "user": {"login": "bob"}, "body": ""}])");
  t.write("gh/pulls/13/reviews.json", R"([{"id": 601, "user": {"login": "alice"}, "state": "APPROVED",
     "submitted_at": "2024-03-05T09:00:00Z"}])");
  auto third = c->scan(second->cursor, sink);
  REQUIRE(third.ok());
  CHECK(detail::split_acl_cursor(third->cursor).position == "2024-03-05T09:00:00Z");
  CHECK(sink.puts == puts + 2);
  CHECK(sink.at("github:acme/api/pull/12/review/501").status == "changes_requested");  // kept
  CHECK(sink.at("github:acme/api/pull/13/review/601").status == "approved");
}

TEST_CASE("github export: a missing root fails, missing files are reported", "[context][connectors]") {
  ContextTempDir t;
  auto missing = make_github_export_connector({.root = t.path("nope"), .repository = "acme/api"});
  RecordingSink sink;
  CHECK(missing->scan("", sink).status().code() == StatusCode::kNotFound);
  auto bad_repo = make_github_export_connector({.root = t.path(), .repository = "noslash"});
  CHECK(bad_repo->scan("", sink).status().code() == StatusCode::kInvalidArgument);
  t.write("gh/pulls/page-1.json", R"([{"number": 1, "title": "x", "updated_at": "2024-01-01T00:00:00Z"}])");
  t.write("gh/pulls/page-2.json", "{\"message\": \"API rate limit exceeded\"}");
  auto c = make_github_export_connector({.root = t.path("gh"), .repository = "acme/api"});
  RecordingSink s2;
  REQUIRE(c->scan("", s2).ok());
  CHECK(s2.has("github:acme/api/pull/1"));
  auto page2 = s2.skips_for("page-2.json");
  REQUIRE(page2.size() == 1);
  CHECK(page2[0].detail.find("not a JSON array") != std::string::npos);

  // A FIFO where a pull request's reviews should be: reported, not waited on forever.
  std::filesystem::create_directories(t.path("gh/pulls/1"));
  REQUIRE(::mkfifo(t.path("gh/pulls/1/reviews.json").c_str(), 0600) == 0);
  RecordingSink s3;
  REQUIRE(c->scan("", s3).ok());
  auto fifo = s3.skips_for("pulls/1/reviews.json");
  REQUIRE(fifo.size() == 1);
  CHECK(fifo[0].reason == SkipReason::kUnreadable);
  CHECK(fifo[0].detail.find("not a regular file") != std::string::npos);
  CHECK(s3.has("github:acme/api/pull/1"));
}

namespace {

void write_slack(const ContextTempDir& t) {
  t.write("slack/users.json", R"([{"id": "U1", "name": "alice", "profile": {"email": "alice@acme.io"}},
                                  {"id": "U2", "name": "bob", "profile": {"email": "bob@acme.io"}}])");
  t.write("slack/channels.json", R"([{"id": "C1", "name": "general", "members": ["U1", "U2"]},
                                     {"id": "C9", "name": "gone", "members": []}])");
  t.write("slack/groups.json", R"([{"id": "G1", "name": "incident-42", "members": ["U1"], "is_private": true},
                                   {"id": "G2", "name": "secret-no-members"}])");
  t.write("slack/general/2024-01-01.json", R"([
    {"type": "message", "user": "U1", "text": "deploy at noon?", "ts": "1704103200.000100",
     "thread_ts": "1704103200.000100", "reply_count": 1},
    {"type": "message", "user": "U2", "text": "yes, after the migration", "ts": "1704103260.000200",
     "thread_ts": "1704103200.000100", "parent_user_id": "U1"},
    {"type": "message", "subtype": "channel_join", "user": "U2", "text": "<@U2> has joined", "ts": "1704103000.000001"},
    {"type": "message", "user": "U1", "text": "typo fixed", "ts": "1704103300.000300",
     "edited": {"user": "U1", "ts": "1704103400.000000"}},
    {"type": "message", "user": 42, "text": "user is a number", "ts": "1704103500.000000"},
    {"type": "message", "user": "U1", "text": "no timestamp"}
  ])");
  t.write("slack/general/2024-01-02.json", std::string("[{\"type\": \"message\", \"user\": \"U1\", \"text\": \"bad \xff\xfe bytes\", \"ts\": \"1704189600.000100\"},") +
                                           R"({"type": "message", "user": "U2", "text": ")" + std::string(300 * 1024, 'x') +
                                           R"(", "ts": "1704189601.000100"},
    {"type": "message", "user": "U2", "text": "still here", "ts": "1704189602.000100"}])");
  t.write("slack/incident-42/2024-01-01.json", R"([{"type": "message", "user": "U1", "text": "root cause: expired cert",
     "ts": "1704103200.000100"}])");
  t.write("slack/secret-no-members/2024-01-01.json", R"([{"type": "message", "user": "U1", "text": "hush",
     "ts": "1704103200.000100"}])");
}

}  // namespace

TEST_CASE("slack export: channels, private groups, threads, edits, bad records", "[context][connectors]") {
  ContextTempDir t;
  write_slack(t);
  auto c = make_slack_export_connector({.root = t.path("slack"), .public_access = {"slack-workspace:acme"}});
  RecordingSink sink;
  auto r = c->scan("", sink);
  REQUIRE(r.ok());
  CHECK(detail::split_acl_cursor(r->cursor).position == "2024-01-02");

  const auto& root = sink.at("slack:C1/1704103200.000100");
  CHECK(root.kind == DocumentKind::kChatMessage);
  CHECK(root.authors == std::vector<std::string>{"slack:U1"});
  CHECK(root.parent.empty());
  CHECK(root.timestamp == 1704103200);
  CHECK(root.access == std::vector<std::string>{"slack-workspace:acme"});
  CHECK(sink.at("slack:C1/1704103260.000200").parent == "slack:C1/1704103200.000100");
  CHECK(sink.at("slack:C1/1704103300.000300").status == "edited");
  CHECK_FALSE(sink.has("slack:C1/1704103000.000001"));  // joins are not messages worth indexing

  // Private channel: its members; private without a member list: nobody.
  CHECK(sink.at("slack:G1/1704103200.000100").access == std::vector<std::string>{"slack:U1"});
  CHECK(sink.at("slack:G2/1704103200.000100").access.empty());

  // Bad records each get an error; good ones around them ingest.
  CHECK(sink.skips_for("general/2024-01-01.json#4").at(0).detail.find("\"user\"") != std::string::npos);
  CHECK(sink.skips_for("general/2024-01-01.json#5").at(0).detail.find("\"ts\"") != std::string::npos);
  auto utf8 = sink.skips_for("general/2024-01-02.json#0");
  REQUIRE(utf8.size() == 1);
  CHECK(utf8[0].reason == SkipReason::kMalformed);
  CHECK(utf8[0].detail.find("UTF-8") != std::string::npos);
  auto huge = sink.skips_for("general/2024-01-02.json#1");
  REQUIRE(huge.size() == 1);
  CHECK(huge[0].reason == SkipReason::kTooLarge);
  CHECK(sink.has("slack:C1/1704189602.000100"));
  // A channel whose folder is missing from the export.
  auto gone = sink.skips_for("gone");
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].reason == SkipReason::kMissing);
}

TEST_CASE("slack export: incremental by day, edits replace, deletions remove", "[context][connectors]") {
  ContextTempDir t;
  write_slack(t);
  auto c = make_slack_export_connector({.root = t.path("slack")});
  RecordingSink sink;
  auto first = c->scan("", sink);
  REQUIRE(first.ok());
  const auto puts = sink.puts;
  t.write("slack/general/2024-01-03.json", R"J([
    {"type": "message", "user": "U2", "text": "new day", "ts": "1704276000.000100"},
    {"type": "message", "subtype": "message_changed", "ts": "1704276001.000000",
     "message": {"type": "message", "user": "U2", "text": "new day (edited)", "ts": "1704276000.000100",
                 "edited": {"user": "U2", "ts": "1704276001.000000"}}},
    {"type": "message", "subtype": "message_deleted", "deleted_ts": "1704189602.000100", "ts": "1704276002.000000"}])J");
  auto second = c->scan(first->cursor, sink);
  REQUIRE(second.ok());
  CHECK(detail::split_acl_cursor(second->cursor).position == "2024-01-03");
  CHECK(sink.puts == puts + 2);  // the new message and its edit; day 1 not re-read, day 2 unchanged
  CHECK(sink.at("slack:C1/1704276000.000100").content.find("(edited)") != std::string::npos);
  CHECK(sink.at("slack:C1/1704276000.000100").status == "edited");
  CHECK(contains(sink.removed, "slack:C1/1704189602.000100"));
}

TEST_CASE("slack export: missing users.json and channels.json are reported", "[context][connectors]") {
  ContextTempDir t;
  t.write("slack/groups.json", R"([{"id": "G1", "name": "g", "members": ["U1"]}])");
  t.write("slack/g/2024-01-01.json", R"([{"type": "message", "user": "U1", "text": "hi", "ts": "1.0"}])");
  auto c = make_slack_export_connector({.root = t.path("slack")});
  RecordingSink sink;
  REQUIRE(c->scan("", sink).ok());
  CHECK(sink.has("slack:G1/1.0"));
  REQUIRE(sink.skips_for("users.json").size() == 1);
  CHECK(sink.skips_for("users.json")[0].reason == SkipReason::kMissing);
  CHECK(sink.skips_for("channels.json")[0].reason == SkipReason::kMissing);
}

namespace {

const char* kJiraV2 = R"({"key": "OPS-1", "self": "https://jira.acme.io/rest/api/2/issue/10001",
  "fields": {"summary": "Rotate TLS certificates", "description": "The cert expires on Friday.",
    "status": {"name": "Done"}, "resolution": {"name": "Fixed"}, "project": {"key": "OPS"},
    "issuetype": {"name": "Task"}, "created": "2024-01-01T10:00:00.000+0100", "updated": "2024-01-05T10:00:00.000+0000",
    "reporter": {"name": "jdoe", "displayName": "J Doe"}, "assignee": {"name": "alice"},
    "issuelinks": [{"type": {"name": "Blocks", "outward": "blocks", "inward": "is blocked by"},
                    "outwardIssue": {"key": "OPS-2"}},
                   {"type": {"name": "Relates", "outward": "relates to", "inward": "relates to"},
                    "inwardIssue": {"key": "SEC-9"}}],
    "comment": {"comments": [{"id": "100", "author": {"name": "bob"}, "body": "Done in prod",
                              "created": "2024-01-05T09:00:00.000+0000"}]}}})";

const char* kJiraV3Page = R"({"startAt": 0, "maxResults": 50, "total": 3, "issues": [
  {"key": "SEC-9", "fields": {"summary": "Leaked key in CI logs",
    "description": {"type": "doc", "version": 1, "content": [
      {"type": "paragraph", "content": [{"type": "text", "text": "The deploy key "},
        {"type": "text", "text": "was printed", "marks": [{"type": "strong"}]},
        {"type": "hardBreak"}, {"type": "mention", "attrs": {"id": "abc", "text": "@Alice"}}]},
      {"type": "bulletList", "content": [{"type": "listItem", "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "rotate it"}]}]}]}]},
    "status": {"name": "In Progress"}, "project": {"key": "SEC"}, "security": {"name": "Internal"},
    "updated": "2024-02-01T00:00:00.000+0000",
    "reporter": {"accountId": "5b10ac8d82e05b22cc7d4ef5"},
    "comment": {"comments": [{"id": "200", "author": {"accountId": "5b10ac8d82e05b22cc7d4ef5"},
      "body": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [
        {"type": "text", "text": "rotated"}]}]}}, {"id": 7, "body": "id is a number"}]}}},
  {"key": "SEC-10", "fields": {"summary": "Unmapped level", "security": {"name": "Top"},
    "project": {"key": "SEC"}, "updated": "2024-02-01T00:00:00.000+0000"}},
  {"key": "SEC-11", "fields": {"summary": 5}},
  {"key": "SEC-12", "fields": {"summary": "cut off in the middle)";

}  // namespace

TEST_CASE("jira export: v2 and v3 (ADF) issues, comments, links, access by project and level", "[context][connectors]") {
  ContextTempDir t;
  t.write("jira/OPS-1.json", kJiraV2);
  t.write("jira/search/page-0.json", kJiraV3Page);
  t.write("jira/broken.json", "{\"key\": ");
  auto c = make_jira_export_connector({.root = t.path("jira"),
                                       .project_access = {{"OPS", {"jira-group:ops"}}},
                                       .security_level_access = {{"SEC/Internal", {"jira-group:security"}}}});
  RecordingSink sink;
  auto r = c->scan("", sink);
  REQUIRE(r.ok());
  const auto& ops = sink.at("jira:OPS-1");
  CHECK(ops.kind == DocumentKind::kIssue);
  CHECK(ops.status == "done");
  CHECK(ops.content.find("resolution: Fixed") != std::string::npos);
  CHECK(ops.content.find("blocks OPS-2") != std::string::npos);
  CHECK(ops.content.find("relates to SEC-9") != std::string::npos);
  CHECK(ops.links == std::vector<std::string>{"jira:OPS-2", "jira:SEC-9"});
  CHECK(ops.authors == std::vector<std::string>{"jira:jdoe"});
  CHECK(ops.access == std::vector<std::string>{"jira-group:ops"});
  CHECK(ops.timestamp == 1704099600);  // 10:00 at +01:00
  const auto& comment = sink.at("jira:OPS-1/comment/100");
  CHECK(comment.parent == "jira:OPS-1");
  CHECK(comment.access == ops.access);

  const auto& sec = sink.at("jira:SEC-9");
  CHECK(sec.content.find("The deploy key was printed\n@Alice\n- rotate it") != std::string::npos);
  CHECK(sec.access == std::vector<std::string>{"jira-group:security"});
  CHECK(sec.status == "in progress");
  CHECK(sink.at("jira:SEC-9/comment/200").content.find("rotated") != std::string::npos);
  CHECK(sink.at("jira:SEC-10").access.empty());  // a security level nobody mapped
  CHECK(sink.skips_for("page-0.json#2").at(0).detail.find("summary") != std::string::npos);
  CHECK_FALSE(sink.skips_for("page-0.json").empty());
  CHECK_FALSE(sink.skips_for("broken.json").empty());
  CHECK_FALSE(sink.skips_for("SEC-9/comment").empty());  // the comment whose id is a number

  // Incremental: nothing newer than the cursor -> nothing offered.
  CHECK(detail::split_acl_cursor(r->cursor).position == std::to_string(1706745600));
  const auto puts = sink.puts;
  auto same = c->scan(r->cursor, sink);
  REQUIRE(same.ok());
  CHECK(sink.puts == puts);
  CHECK(same->cursor == r->cursor);
  // A newer issue: only it is offered, and the cursor moves to its time.
  t.write("jira/OPS-7.json", R"({"key": "OPS-7", "fields": {"summary": "Renew the wildcard certificate",
    "status": {"name": "Open"}, "project": {"key": "OPS"}, "created": "2024-02-02T09:00:00.000+0000",
    "updated": "2024-02-02T10:00:00.000+0000", "reporter": {"name": "alice"}}})");
  auto newer = c->scan(r->cursor, sink);
  REQUIRE(newer.ok());
  CHECK(sink.puts == puts + 1);
  CHECK(sink.at("jira:OPS-7").access == std::vector<std::string>{"jira-group:ops"});
  CHECK(detail::split_acl_cursor(newer->cursor).position == std::to_string(1706868000));
}

TEST_CASE("docs tree: Markdown documents and ADR status", "[context][connectors]") {
  CHECK(adr_status("# 3. Use SQLite\n\nStatus: Accepted\n") == "accepted");
  CHECK(adr_status("# X\n\n## Status\n\nProposed\n\n## Context\n") == "proposed");
  CHECK(adr_status("- **Status**: Deprecated\n") == "deprecated");
  int by = 0;
  CHECK(adr_status("## Status\n\nSuperseded by [ADR-0007](0007-use-postgres.md)\n", &by) == "superseded");
  CHECK(by == 7);
  CHECK(adr_status("# Notes\n\nNo status here. The status quo.\n") == "");

  ContextTempDir t;
  t.write("docs/guide.md", "# Deploying\n\nRun the script.\n");
  t.write("docs/adr/0001-use-sqlite.md", "# Use SQLite\n\nStatus: superseded by 2\n");
  t.write("docs/adr/0002-use-postgres.md", "# Use Postgres\n\n## Status\nAccepted\n");
  t.write("docs/.hidden/x.md", "# hidden\n");
  t.write("docs/bad.md", "\xff\xfe not text");
  auto c = make_docs_tree_connector({.root = t.path("docs"), .access = {"team:eng"}});
  RecordingSink sink;
  auto r = c->scan("", sink);
  REQUIRE(r.ok());
  CHECK(r->complete);
  CHECK(sink.at("docs:guide.md").title == "Deploying");
  CHECK(sink.at("docs:guide.md").status.empty());
  const auto& adr1 = sink.at("docs:adr/0001-use-sqlite.md");
  CHECK(adr1.status == "superseded");
  CHECK(adr1.links == std::vector<std::string>{"adr:2"});
  CHECK(adr1.title == "ADR 1: Use SQLite");
  CHECK(sink.at("docs:adr/0002-use-postgres.md").status == "accepted");
  CHECK(sink.at("docs:guide.md").access == std::vector<std::string>{"team:eng"});
  CHECK_FALSE(sink.has("docs:.hidden/x.md"));
  CHECK(sink.skips_for("bad.md").at(0).reason == SkipReason::kMalformed);
  const auto puts = sink.puts;
  REQUIRE(c->scan(r->cursor, sink).ok());
  CHECK(sink.puts == puts);  // unchanged files are not re-written
}

TEST_CASE("codeowners: parse, last match wins, directories, errors", "[context][connectors]") {
  std::vector<std::string> errors;
  const auto rules = parse_codeowners(
      "# comment\n"
      "*            @acme/everyone\n"
      "*.py         @alice bob@acme.io   # trailing comment\n"
      "/src/net/    @carol\n"
      "docs/**      @dave\n"
      "/build/      not-an-owner\n"
      "src/net/legacy.cc\n",
      &errors);
  REQUIRE(rules.size() == 5);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("line 6") == 0);
  CHECK(codeowners_of(rules, "README") == std::vector<std::string>{"@acme/everyone"});
  CHECK(codeowners_of(rules, "tools/x.py") == std::vector<std::string>{"@alice", "bob@acme.io"});
  CHECK(codeowners_of(rules, "src/net/http.cc") == std::vector<std::string>{"@carol"});
  CHECK(codeowners_of(rules, "src/net/deep/x.py") == std::vector<std::string>{"@carol"});
  CHECK(codeowners_of(rules, "docs/a/b.md") == std::vector<std::string>{"@dave"});
  CHECK(codeowners_of(rules, "src/net/legacy.cc").empty());  // a rule with no owners
  CHECK(codeowners_of({}, "x").empty());

  ContextTempDir t;
  t.write("CODEOWNERS", "*.py @alice\n");
  auto c = make_codeowners_connector({.path = t.path("CODEOWNERS")});
  RecordingSink sink;
  REQUIRE(c->scan("", sink).ok());
  const auto& d = sink.at("codeowners:" + t.path("CODEOWNERS"));
  CHECK(d.kind == DocumentKind::kOwnership);
  CHECK(d.participants == std::vector<std::string>{"owns:@alice"});
}

TEST_CASE("records: JSON array splitting, times, closing references", "[context][connectors]") {
  using namespace strata::context::detail;
  std::vector<std::string> got;
  auto collect = [&](std::string_view r, std::size_t) { got.emplace_back(r); };
  CHECK(split_json_array(R"( [ {"a": "]},"}, [1,2] , 3, "x\"y" ] )", collect).ok());
  CHECK(got == std::vector<std::string>{R"({"a": "]},"})", "[1,2]", "3", R"("x\"y")"});
  got.clear();
  CHECK(split_json_array("[]", collect).ok());
  CHECK(got.empty());
  Status s = split_json_array(R"([{"a":1}, {"b":)", collect);
  CHECK_FALSE(s.ok());
  CHECK(got.size() == 1);
  CHECK_FALSE(split_json_array("", collect).ok());
  CHECK_FALSE(split_json_array("{}", collect).ok());
  CHECK_FALSE(split_json_array(std::string(600, '[') , collect).ok());
  CHECK(parse_iso8601("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_iso8601("2024-03-02T10:00:00Z") == 1709373600);
  CHECK(parse_iso8601("2024-03-02T11:00:00.123+01:00") == 1709373600);
  CHECK(parse_iso8601("2024-03-02") == 1709337600);
  CHECK(parse_iso8601("2024-13-02") == -1);
  CHECK(parse_iso8601("yesterday") == -1);
  CHECK(parse_slack_ts("1704103200.000100") == 1704103200);
  CHECK(parse_slack_ts("abc") == -1);
  CHECK(closing_references("Fixes #7, fixes #8 and prefixes #9. closes other/repo#3. Close acme/api#4", "acme/api") ==
        std::vector<long>{7, 8, 4});
  CHECK(closing_references("fixes#1 fix #x", "a/b").empty());
}

TEST_CASE("records: the Slack and GitHub parsers take the last of duplicate keys and name each bad record",
          "[context][connectors]") {
  using namespace strata::context::detail;
  std::vector<Document> puts;
  std::vector<std::pair<std::string, std::string>> skips;
  RecordSink sink;
  sink.put = [&](Document d) { puts.push_back(std::move(d)); };
  sink.remove = [](std::string_view) {};
  sink.skip = [&](std::string_view key, SkipReason, std::string_view detail) { skips.emplace_back(key, detail); };
  auto skip_of = [&](const std::string& key) {
    for (const auto& [k, detail] : skips) {
      if (k == key) return detail;
    }
    return std::string("(not skipped)");
  };

  SlackConversation conv;
  conv.id = "C1";
  conv.name = "general";
  SlackContext slack;
  slack.conversation = &conv;
  slack.access = {"*"};
  slack.file = "general/2024-01-01.json";
  parse_slack_day(R"([
    {"type": "message", "ts": "1.000001", "user": "U1", "text": "first", "text": "second"},
    {"type": "message", "ts": "2.000001", "user": "U1", "text": null, "files": "nope", "reactions": {"users": ["U9"]}},
    {"type": "message", "ts": "3.000001", "user": "U1", "text": 5},
    {"type": "message", "ts": "4.000001", "user": "U1", "text": "bad \u00zz escape"},
    {"type": "message", "ts": "4.000002", "user": "U1", "text": "huge", "n": 123456789012345678901234567890},
    7,
    {"type": "message", "ts": "5.000001", "user": "U1", "text": "ok", "reactions": [{"users": ["U2", 3]}, "x"],
     "files": [{"name": "a.txt"}, 1]}
  ])", slack, sink);
  REQUIRE(puts.size() == 3);
  CHECK(puts[0].path == "slack:C1/1.000001");
  CHECK(puts[0].content == "#general <@U1>\nsecond");  // the last "text"
  CHECK(puts[1].content == "#general <@U1>\n");         // null reads as absent
  CHECK(puts[1].participants.empty());                  // "reactions" that are not an array
  CHECK(skip_of("general/2024-01-01.json#2") == "\"text\" is a number, not a string");
  CHECK(skip_of("general/2024-01-01.json#3").rfind("invalid JSON: ", 0) == 0);
  CHECK(skip_of("general/2024-01-01.json#4").rfind("invalid JSON: ", 0) == 0);  // over 64 bits
  CHECK(skip_of("general/2024-01-01.json#5") == "a number, not an object");
  CHECK(puts[2].participants == std::vector<std::string>{"reacted:slack:U2"});
  CHECK(puts[2].content == "#general <@U1>\nok\nfile: a.txt");

  puts.clear();
  GitHubContext github;
  github.repository = "acme/api";
  github.file = "pulls.json";
  parse_github_pulls(R"([
    {"number": 1.5, "title": "float"},
    {"number": 18446744073709551615, "title": "over int64"},
    {"number": 3, "number": 4, "title": "Retry", "user": {"login": "al"}, "body": "Fixes #2",
     "state": "OPEN", "merged_at": null, "merged_by": null}
  ])", github, sink, {}, {});
  CHECK(skip_of("pulls.json#0") == "\"number\" is a number, not a positive integer");
  CHECK(skip_of("pulls.json#1") == "\"number\" is a number, not a positive integer");
  REQUIRE(puts.size() == 1);
  CHECK(puts[0].path == "github:acme/api/pull/4");
  CHECK(puts[0].status == "open");
  CHECK(puts[0].authors == std::vector<std::string>{"github:al"});
  CHECK(puts[0].links == std::vector<std::string>{"github:acme/api/issue/2"});
  CHECK(puts[0].participants.empty());

  puts.clear();
  parse_github_issues(R"([{"number": 9, "title": "t", "labels": "bug", "assignees": {"login": "x"}},
                          {"number": 10, "title": "u", "labels": ["bug", {"name": "p1"}, 3], "assignees": [{"login": "x"}, "y"]}])",
                      github, sink, {});
  REQUIRE(puts.size() == 2);
  CHECK(puts[0].content.find("labels:") == std::string::npos);
  CHECK(puts[0].participants.empty());
  CHECK(puts[1].content.find("\nlabels: bug, p1\n") != std::string::npos);
  CHECK(puts[1].participants == std::vector<std::string>{"assigned:github:x"});

  CHECK(parse_github_repo_private(R"({"private": false, "private": true})") == 1);
  CHECK(parse_github_repo_private(R"({"private": "yes"})") == -1);
  CHECK(parse_github_repo_private(R"({"private": tru)") == -1);
  CHECK(parse_github_pull_files(R"([{"filename": "a.cc"}, {"filename": 3}, {"filename": "b\u00e9.h"}, [)") ==
        std::vector<std::string>{"a.cc", "b\u00e9.h"});
}

TEST_CASE("prefetcher: warms files in order, at most `ahead` in front of the reader, and stops at once",
          "[context][connectors]") {
  using strata::context::detail::Prefetcher;
  ContextTempDir t;
  std::vector<std::string> paths;
  for (int i = 0; i < 12; ++i) {
    if (i % 3 != 2) t.write("d" + std::to_string(i) + "/f.json", "[]");  // every third is missing
    paths.push_back(t.path("d" + std::to_string(i) + "/f.json"));
  }
  auto wait_for = [](const Prefetcher& p, std::size_t n) {
    for (int i = 0; i < 500 && p.warmed() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return p.warmed();
  };
  {
    Prefetcher p(paths, 4);
    CHECK(wait_for(p, 4) == 4);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(p.warmed() == 4);  // a full lead: it waits for the reader
    p.reached(1);            // a quarter of the lead used: it goes on
    CHECK(wait_for(p, 5) == 5);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(p.warmed() == 5);
    p.reached(0);  // going back changes nothing
    p.reached(10);
    CHECK(wait_for(p, 12) == 12);  // missing files are passed over
  }
  {
    Prefetcher p(paths, 2);
    CHECK(wait_for(p, 2) == 2);
  }  // destroyed while it waits for the reader: returns at once
  Prefetcher none({}, 8);
  none.reached(3);
  CHECK(none.warmed() == 0);
}
