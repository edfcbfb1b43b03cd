// The live Jira connector against a local stand-in of a Jira site
// (tests/context/jira_api_server.py): classic and token paging, comment pages, v2 and v3,
// 429 (seconds and HTTP date), 503, truncated and garbled bodies, credentials, access lists,
// the incremental cursor; and the pure helpers (cursor, times, Retry-After, base64).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <strata/context/engine.h>
#include <strata/context/live.h>

#include "context/api_server.h"
#include "context/connector_test_util.h"
#include "context/context_test_util.h"
#include "context/live/http_client.h"
#include "context/live/jira_pages.h"

using namespace strata;
using namespace strata::context;
using strata::test::ApiServer;
using strata::test::ContextTempDir;
using strata::test::count_of;
using strata::test::RecordingSink;
namespace d = strata::context::detail;

namespace {

struct Waits {
  std::vector<std::chrono::milliseconds> list;
  std::size_t count(std::chrono::milliseconds v) const { return static_cast<std::size_t>(std::count(list.begin(), list.end(), v)); }
};

JiraLiveOptions acme(const ApiServer& server, Waits& waits) {
  JiraLiveOptions o;
  o.http.base_url = server.base();
  o.http.credentials = [] { return jira_basic_credentials("me@acme.com", "api-token"); };
  o.http.initial_backoff = std::chrono::milliseconds(100);
  o.http.sleep = [&waits](std::chrono::milliseconds w) { waits.list.push_back(w); };
  o.projects = {"ACME"};
  o.project_access = {{"ACME", {"group:eng"}}};
  o.security_level_access = {{"ACME/Internal", {"group:hr"}}};
  return o;
}

const std::vector<std::string> kAcmeIssues = {"jira:ACME-1", "jira:ACME-2", "jira:ACME-3", "jira:ACME-4", "jira:ACME-5"};

void check_acme_documents(const RecordingSink& sink) {
  for (const auto& p : kAcmeIssues) {
    INFO(p);
    CHECK(sink.has(p));
  }
  CHECK_FALSE(sink.has("jira:OPS-1"));  // outside the project scope
  for (int n = 21; n <= 25; ++n) {       // two embedded, three from the comment endpoint
    INFO(n);
    REQUIRE(sink.has("jira:ACME-2/comment/" + std::to_string(n)));
    CHECK(sink.at("jira:ACME-2/comment/" + std::to_string(n)).parent == "jira:ACME-2");
  }
  CHECK(sink.at("jira:ACME-2/comment/25").content.find("Comment number 5 on retries.") != std::string::npos);
  // Access lists: the project's, and the security level's for the restricted issue.
  CHECK(sink.at("jira:ACME-1").access == std::vector<std::string>{"group:eng"});
  CHECK(sink.at("jira:ACME-3").access == std::vector<std::string>{"group:hr"});
  CHECK(sink.at("jira:ACME-3/comment/31").access == std::vector<std::string>{"group:hr"});
  CHECK(sink.at("jira:ACME-4").links == std::vector<std::string>{"jira:ACME-1"});
  CHECK(sink.at("jira:ACME-4").status == "done");
  CHECK(sink.at("jira:ACME-1").content.find("The SSO callback drops the session cookie.") != std::string::npos);
  CHECK(sink.at("jira:ACME-1").title == "Login fails with SSO");
}

}  // namespace

TEST_CASE("jira live: a search longer than max_pages fails the scan and keeps the cursor", "[context][live][jira]") {
  ContextTempDir t;
  ApiServer server(t, "jira_api_server.py");
  REQUIRE(server.port() > 0);
  Waits waits;
  JiraLiveOptions o = acme(server, waits);
  o.http.max_pages = 2;  // the search has three pages
  RecordingSink sink;
  auto r = make_jira_live_connector(o)->scan("", sink);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kResourceExhausted);
  CHECK(r.status().message().find("the issue search: more than max_pages (2)") != std::string::npos);
  o.http.max_pages = 3;
  RecordingSink all;
  CHECK(make_jira_live_connector(o)->scan("", all).ok());
}

TEST_CASE("jira live: full sync over several pages with 429, 503, truncated and garbled bodies (v3)", "[context][live][jira]") {
  ContextTempDir t;
  ApiServer server(t, "jira_api_server.py");
  REQUIRE(server.port() > 0);
  Waits waits;
  auto c = make_jira_live_connector(acme(server, waits));
  RecordingSink sink;
  auto r = c->scan("", sink);
  REQUIRE(r.ok());
  check_acme_documents(sink);
  CHECK(sink.at("jira:ACME-1").authors == std::vector<std::string>{"jira:acc-alice"});  // v3: accountId
  CHECK(sink.skips.empty());
  // Three search pages of two (the server caps maxResults); the page at startAt=2 after a 429
  // (Retry-After: 2), the one at 4 after a 503; ACME-2's comments at 2 after a truncated body
  // and at 4 after a garbled one.
  const std::string log = server.log();
  CHECK(count_of(log, "GET /rest/api/3/search?") == 5);
  CHECK(count_of(log, "&startAt=2 ") == 2);
  CHECK(count_of(log, "&startAt=4 ") == 2);
  CHECK(count_of(log, "GET /rest/api/3/issue/10002/comment?startAt=2&") == 2);
  CHECK(count_of(log, "GET /rest/api/3/issue/10002/comment?startAt=4&") == 2);
  CHECK(count_of(log, "/comment?") == 4);  // only ACME-2's embedded page was incomplete
  CHECK(count_of(log, "project%20in%20%28%22ACME%22%29") == 5);
  CHECK(count_of(log, "ORDER%20BY%20created%20ASC") == 5);
  CHECK(count_of(log, " Basic bWVAYWNtZS5jb206YXBpLXRva2Vu") == count_of(log, "GET "));
  CHECK(waits.count(std::chrono::milliseconds(2000)) == 1);
  CHECK(waits.count(std::chrono::milliseconds(100)) == 3);
  CHECK(waits.list.size() == 4);
  // The cursor: the newest `updated`, and every issue seen (all within the 24 h overlap).
  auto cursor = d::parse_jira_cursor(d::split_acl_cursor(r->cursor).position);
  REQUIRE(cursor);
  CHECK(cursor->high_water_ms == d::jira_time_ms("2024-03-05T10:05:30.000+0000"));
  CHECK(cursor->seen.size() == 5);
  CHECK(cursor->seen.at("10004") == d::jira_time_ms("2024-03-05T10:04:30.250+0000"));

  // Again from the cursor: the search asks from 24 h before it, recognises every issue and
  // writes nothing, and reads no comment page.
  const auto puts = sink.puts;
  const std::size_t comment_reads = count_of(server.log(), "/comment?");
  auto again = c->scan(r->cursor, sink);
  REQUIRE(again.ok());
  CHECK(sink.puts == puts);
  CHECK(count_of(server.log(), "/comment?") == comment_reads);
  CHECK(server.log().find("updated%20%3E%3D%20%222024%2F03%2F04%2010%3A05%22") != std::string::npos);
  CHECK(again->cursor == r->cursor);
}

TEST_CASE("jira live: incremental re-sync picks up changed and late issues only", "[context][live][jira]") {
  ContextTempDir t;
  ApiServer server(t, "jira_api_server.py");
  REQUIRE(server.port() > 0);
  Waits waits;
  auto options = acme(server, waits);
  options.overlap = std::chrono::minutes(0);  // only the minute rounding of JQL dates overlaps
  auto c = make_jira_live_connector(options);
  RecordingSink sink;
  auto r = c->scan("", sink);
  REQUIRE(r.ok());
  const auto puts = sink.puts;
  // ACME-2 changes (and gains a comment); ACME-6 appears with an `updated` before the cursor's
  // high-water mark (10:05:30) but in the same minute: JQL's minute precision still finds it.
  d::HttpClient control(options.http);
  REQUIRE(control.get("/_control/touch?key=ACME-2&updated=2024-03-06T08:00:00.000%2B0000&comment=26").ok());
  REQUIRE(control.get("/_control/new?key=ACME-6&id=10006&updated=2024-03-05T10:05:10.000%2B0000").ok());
  auto again = c->scan(r->cursor, sink);
  REQUIRE(again.ok());
  CHECK(server.log().find("updated%20%3E%3D%20%222024%2F03%2F05%2010%3A05%22") != std::string::npos);
  REQUIRE(sink.has("jira:ACME-6"));
  CHECK(sink.at("jira:ACME-2").title == "Retry storms on deploy (edited)");
  REQUIRE(sink.has("jira:ACME-2/comment/26"));
  // Written: ACME-6, ACME-2 and its six comments (they quote the changed summary). ACME-5,
  // returned again by the minute-rounded search, is recognised and not offered.
  CHECK(sink.puts == puts + 8);
  auto cursor = d::parse_jira_cursor(d::split_acl_cursor(again->cursor).position);
  REQUIRE(cursor);
  CHECK(cursor->high_water_ms == d::jira_time_ms("2024-03-06T08:00:00.000+0000"));
  // Only the issues the next search can return again are remembered.
  CHECK(cursor->seen == std::map<std::string, std::int64_t>{{"10002", d::jira_time_ms("2024-03-06T08:00:00.000+0000")}});
  // Nothing changed: nothing written.
  const auto puts2 = sink.puts;
  auto third = c->scan(again->cursor, sink);
  REQUIRE(third.ok());
  CHECK(sink.puts == puts2);
  CHECK(third->cursor == again->cursor);
}

TEST_CASE("jira live: v2 with a Data Center token, v3 token paging with an HTTP-date Retry-After", "[context][live][jira]") {
  ContextTempDir t;
  ApiServer server(t, "jira_api_server.py");
  REQUIRE(server.port() > 0);
  Waits waits;
  auto v2 = acme(server, waits);
  v2.api_version = 2;
  v2.http.credentials = [] { return std::string("Bearer pat-dc"); };
  RecordingSink s2;
  auto r2 = make_jira_live_connector(v2)->scan("", s2);
  REQUIRE(r2.ok());
  check_acme_documents(s2);
  CHECK(s2.at("jira:ACME-1").authors == std::vector<std::string>{"jira:alice"});  // v2: name
  CHECK(s2.at("jira:ACME-2/comment/21").content.find("Comment number 1 on retries.") != std::string::npos);
  // The server's one-off faults (429 at startAt=2, 503 at 4, ACME-2's cut and garbled comment
  // pages) hit this first scan: v2 recovers the same way.
  CHECK(count_of(server.log(), "GET /rest/api/2/search?") == 5);
  CHECK(count_of(server.log(), "GET /rest/api/2/issue/10002/comment?") == 4);
  CHECK(waits.list.size() == 4);
  CHECK(count_of(server.log(), " Bearer pat-dc") == count_of(server.log(), "GET "));

  Waits token_waits;
  auto v3 = acme(server, token_waits);
  v3.token_pagination = true;
  RecordingSink s3;
  auto r3 = make_jira_live_connector(v3)->scan("", s3);
  REQUIRE(r3.ok());
  check_acme_documents(s3);
  CHECK(count_of(server.log(), "GET /rest/api/3/search/jql?") == 4);  // 429, then three pages
  CHECK(count_of(server.log(), "&nextPageToken=tok-2 ") == 1);
  CHECK(count_of(server.log(), "&nextPageToken=tok-4 ") == 1);
  // Retry-After as an HTTP date 3 s ahead: between 1 and 4 s whatever the clocks' rounding.
  REQUIRE_FALSE(token_waits.list.empty());
  CHECK(token_waits.list[0] >= std::chrono::milliseconds(1000));
  CHECK(token_waits.list[0] <= std::chrono::milliseconds(4000));
  CHECK(r3->cursor == r2->cursor);

  // Token paging needs version 3.
  v2.token_pagination = true;
  RecordingSink bad;
  CHECK(make_jira_live_connector(v2)->scan("", bad).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("jira live: rejected credentials fail the ingest with kUnauthenticated and keep the cursor", "[context][live][jira]") {
  ContextTempDir t;
  ApiServer server(t, "jira_api_server.py");
  REQUIRE(server.port() > 0);
  Waits waits;
  auto options = acme(server, waits);
  options.http.credentials = [] { return jira_basic_credentials("me@acme.com", "wrong"); };
  auto engine = ContextEngine::open({.index_path = t.path("ctx.db")});
  REQUIRE(engine.ok());
  auto c = make_jira_live_connector(options);
  auto r = (*engine)->ingest(*c);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kUnauthenticated);
  CHECK(r.status().message().find("401") != std::string::npos);
  CHECK(waits.list.empty());                           // not retried
  CHECK(count_of(server.log(), "GET /rest/") == 1);
  auto stats = (*engine)->stats();
  REQUIRE(stats.ok());
  CHECK(stats->cursors.count("jira") == 0);
  // No credentials at all: the same.
  options.http.credentials = nullptr;
  RecordingSink sink;
  CHECK(make_jira_live_connector(options)->scan("", sink).status().code() == StatusCode::kUnauthenticated);
  CHECK(sink.puts == 0);
}

TEST_CASE("jira live: through the engine, restricted issues keep their access list", "[context][live][jira]") {
  ContextTempDir t;
  ApiServer server(t, "jira_api_server.py");
  REQUIRE(server.port() > 0);
  Waits waits;
  auto options = acme(server, waits);
  options.security_level_access.clear();  // nobody mapped for "Internal": ACME-3 is readable by nobody
  auto engine = ContextEngine::open({.index_path = t.path("ctx.db")});
  REQUIRE(engine.ok());
  auto c = make_jira_live_connector(options);
  auto r = (*engine)->ingest(*c);
  REQUIRE(r.ok());
  auto stats = (*engine)->stats();
  REQUIRE(stats.ok());
  REQUIRE(stats->cursors.count("jira") == 1);
  CHECK(stats->cursors.at("jira").rfind("jira-live:1;", 0) == 0);
  RecordingSink sink;
  REQUIRE(make_jira_live_connector(options)->scan("", sink).ok());
  CHECK(sink.at("jira:ACME-3").access.empty());
  CHECK(sink.at("jira:ACME-3/comment/31").access.empty());
  CHECK(sink.at("jira:ACME-5").access == std::vector<std::string>{"group:eng"});
}

TEST_CASE("jira live: a source that keeps answering garbage fails with kUnavailable", "[context][live][jira]") {
  // The GitHub stand-in answers /rest/... with a JSON object that is not a search page.
  ContextTempDir t;
  ApiServer server(t);
  REQUIRE(server.port() > 0);
  Waits waits;
  JiraLiveOptions o;
  o.http.base_url = server.base();
  o.http.max_attempts = 3;
  o.http.sleep = [&waits](std::chrono::milliseconds w) { waits.list.push_back(w); };
  RecordingSink sink;
  auto r = make_jira_live_connector(o)->scan("", sink);
  // /rest/api/3/search is a 404 there: not retried.
  CHECK(r.status().code() == StatusCode::kNotFound);
  o.http.base_url = server.base() + "/repos/acme/api/pulls";  // a JSON array: not a search page
  auto garbage = make_jira_live_connector(o)->scan("", sink);
  REQUIRE_FALSE(garbage.ok());
  CHECK(garbage.status().code() == StatusCode::kUnavailable);
  CHECK(garbage.status().message().find("garbled") != std::string::npos);
  CHECK(sink.puts == 0);
}

TEST_CASE("jira live: cursor, times, JQL literals, Retry-After and base64", "[context][live][jira]") {
  d::JiraCursor c;
  c.high_water_ms = 1709633130000;
  c.seen = {{"10001", 1709632800000}, {"10004", 1709633070250}};
  const std::string text = d::format_jira_cursor(c);
  CHECK(text == "jira-live:1;1709633130000;10001=1709632800000,10004=1709633070250");
  auto back = d::parse_jira_cursor(text);
  REQUIRE(back);
  CHECK(back->high_water_ms == c.high_water_ms);
  CHECK(back->seen == c.seen);
  CHECK(d::parse_jira_cursor("jira-live:1;5;")->seen.empty());
  for (const char* bad : {"", "1709633130", "jira-live:2;5;", "jira-live:1;", "jira-live:1;x;", "jira-live:1;-5;",
                          "jira-live:1;5;a", "jira-live:1;5;=3", "jira-live:1;5;a=", "jira-live:1;5;a=1,",
                          "jira-live:1;5;a=-1", "jira-live:1;99999999999999999999;"}) {
    INFO(bad);
    CHECK_FALSE(d::parse_jira_cursor(bad));
  }
  // Ids that would break the format are left out rather than corrupting it.
  c.seen["1,2"] = 1;
  CHECK(d::parse_jira_cursor(d::format_jira_cursor(c))->seen.size() == 2);

  CHECK(d::jira_time_ms("2024-03-05T10:05:30.000+0000") == 1709633130000);
  CHECK(d::jira_time_ms("2024-03-05T10:05:30.25+0000") == 1709633130250);
  CHECK(d::jira_time_ms("2024-03-05T11:05:30.123456+0100") == 1709633130123);
  CHECK(d::jira_time_ms("2024-03-05T10:05:30Z") == 1709633130000);
  CHECK(d::jira_time_ms("yesterday") == -1);
  CHECK(d::jql_date(1709633130999) == "2024/03/05 10:05");
  CHECK(d::jql_quote(R"(a "b" \c)") == R"("a \"b\" \\c")");
  CHECK(d::url_component("a b/=&\"") == "a%20b%2F%3D%26%22");

  CHECK(d::base64("") == "");
  CHECK(d::base64("f") == "Zg==");
  CHECK(d::base64("fo") == "Zm8=");
  CHECK(d::base64("foobar") == "Zm9vYmFy");
  CHECK(jira_basic_credentials("me@acme.com", "api-token") == "Basic bWVAYWNtZS5jb206YXBpLXRva2Vu");

  const std::int64_t now = 1445412480;  // Wed, 21 Oct 2015 07:28:00 GMT
  CHECK(d::retry_after_seconds("120", now) == 120);
  CHECK(d::retry_after_seconds("Wed, 21 Oct 2015 07:28:30 GMT", now) == 30);
  CHECK(d::retry_after_seconds("Wed, 21 Oct 2015 07:27:00 GMT", now) == 0);  // in the past
  CHECK(d::retry_after_seconds("soon", now) == -1);
  CHECK(d::retry_after_seconds("", now) == -1);
  CHECK(d::rate_limit_reset("1445412480") == now);
  CHECK(d::rate_limit_reset("2015-10-21T07:28:00Z") == now);
  CHECK(d::rate_limit_reset("later") == -1);
}

TEST_CASE("jira live: hostile search and comment pages", "[context][live][jira]") {
  d::JiraSearchPage page;
  CHECK_FALSE(d::parse_jira_search_page("", page).empty());
  CHECK_FALSE(d::parse_jira_search_page("<html>", page).empty());
  CHECK_FALSE(d::parse_jira_search_page("[]", page).empty());
  CHECK_FALSE(d::parse_jira_search_page(R"({"issues": {}})", page).empty());
  CHECK_FALSE(d::parse_jira_search_page(R"({"startAt": 0, "issues": [{"id": "1"})", page).empty());  // cut
  CHECK_FALSE(d::parse_jira_search_page(std::string(100000, '['), page).empty());
  REQUIRE(d::parse_jira_search_page(R"({"startAt": "x", "total": 1.5, "nextPageToken": 7, "isLast": "yes", "issues": [1, "a"]})", page).empty());
  CHECK(page.issues.size() == 2);  // not objects: the issue parser skips them
  CHECK(page.start_at == 0);
  CHECK(page.total == -1);
  CHECK(page.next_page_token.empty());
  CHECK_FALSE(page.is_last);
  REQUIRE(d::parse_jira_search_page(R"({"issues": [], "nextPageToken": "t2", "isLast": true})", page).empty());
  CHECK(page.next_page_token == "t2");
  CHECK(page.is_last);
  d::JiraCommentPage comments;
  CHECK_FALSE(d::parse_jira_comment_page(R"({"comments": null})", comments).empty());
  REQUIRE(d::parse_jira_comment_page(R"({"startAt": 2, "total": 5, "comments": [{"id": "3"}]})", comments).empty());
  CHECK(comments.start_at == 2);
  CHECK(comments.total == 5);
  CHECK(comments.comments.size() == 1);
}
