// Live connectors against a local HTTP server that answers in GitHub's formats
// (tests/context/github_api_server.py): pagination, 429 + Retry-After, 5xx, a truncated body,
// rate-limit headers, credentials, and a source that keeps failing.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <strata/context/engine.h>
#include <strata/context/live.h>

#include "context/api_server.h"
#include "context/connector_test_util.h"
#include "context/connectors/records.h"
#include "context/context_test_util.h"
#include "context/live/http_client.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;
using strata::test::RecordingSink;

namespace {

using strata::test::ApiServer;

std::size_t count(const std::string& s, const std::string& what) { return strata::test::count_of(s, what); }

}  // namespace

TEST_CASE("http: Link headers", "[context][live]") {
  using strata::context::detail::next_link;
  CHECK(next_link(R"(<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last")") ==
        "https://api.github.com/x?page=2");
  CHECK(next_link(R"(<https://a/x?page=1>; rel="prev", <https://a/x?page=3>; rel="next")") == "https://a/x?page=3");
  CHECK(next_link(R"(<https://a/x?page=5>; rel="last")").empty());
  CHECK(next_link("").empty());
  CHECK(next_link("<unterminated").empty());
}

TEST_CASE("github live: pagination, 429, 5xx, truncated bodies, rate limits, credentials", "[context][live]") {
  ContextTempDir t;
  ApiServer server(t);
  REQUIRE(server.port() > 0);
  std::vector<std::chrono::milliseconds> waits;
  LiveHttpOptions http{.base_url = server.base(),
                       .credentials = [] { return std::string("Bearer test-token"); },
                       .initial_backoff = std::chrono::milliseconds(100),
                       .sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); }};
  auto c = make_github_live_connector({.http = http, .repository = "acme/api"});
  RecordingSink sink;
  auto r = c->scan("", sink);
  REQUIRE(r.ok());
  CHECK(detail::split_acl_cursor(r->cursor).position == "2024-03-05T00:00:00Z");
  // Both pages of pull requests, both pages of #2's reviews, #1's review after a 503, #3's
  // comment after a truncated body, the issue and its comment.
  for (const char* path : {"github:acme/api/pull/1", "github:acme/api/pull/2", "github:acme/api/pull/3",
                           "github:acme/api/pull/1/review/11", "github:acme/api/pull/2/review/21",
                           "github:acme/api/pull/2/review/22", "github:acme/api/pull/3/comment/31",
                           "github:acme/api/issue/4", "github:acme/api/issue/4/comment/41"}) {
    INFO(path);
    CHECK(sink.has(path));
  }
  CHECK(sink.at("github:acme/api/pull/3").links == std::vector<std::string>{"github:acme/api/issue/4"});
  CHECK(sink.at("github:acme/api/pull/3").changed_paths == std::vector<std::string>{"src/a.cc"});
  CHECK(sink.at("github:acme/api/pull/2/review/22").status == "approved");
  CHECK(sink.at("github:acme/api/pull/1").access.empty());  // private, no access configured
  CHECK(sink.skips.empty());
  // Waits: Retry-After 3 s for the 429; backoff for the 503 and the truncated body; the
  // exhausted rate limit delays the request after the issues listing.
  REQUIRE(waits.size() >= 4);
  CHECK(std::count(waits.begin(), waits.end(), std::chrono::milliseconds(3000)) == 1);
  CHECK(std::count(waits.begin(), waits.end(), std::chrono::milliseconds(100)) >= 2);
  const std::string log = server.log();
  CHECK(count(log, "Bearer test-token") == count(log, "GET "));
  CHECK(count(log, "GET /repos/acme/api/pulls?page=2") == 2);       // retried after the 429
  CHECK(count(log, "GET /repos/acme/api/pulls/1/reviews") == 2);   // retried after the 503
  CHECK(count(log, "GET /repos/acme/api/pulls/3/comments") == 2);  // retried after truncation

  // Incremental: from the cursor, the issues listing asks with since= and the pulls listing stops
  // at the first page; nothing changed, so nothing is written.
  const auto puts = sink.puts;
  auto again = c->scan(r->cursor, sink);
  REQUIRE(again.ok());
  CHECK(sink.puts == puts);
  CHECK(server.log().find("since=2024-03-05T00:00:00Z") != std::string::npos);
}

TEST_CASE("github live: a pull request edited while the scan runs is read by the next scan", "[context][live]") {
  ContextTempDir t;
  ApiServer server(t);
  REQUIRE(server.port() > 0);
  LiveHttpOptions http{.base_url = server.base(), .sleep = [](std::chrono::milliseconds) {}};
  detail::HttpClient control(http);
  // The server's clock reads 2024-03-06 00:00:00 for the whole scan; while it runs (when the
  // issues listing is read, after the pulls listing) pull 2 is edited at 00:00:05 and issue 4
  // at 00:00:10.
  REQUIRE(control.get("/_control/slack_date?value=Wed,%2006%20Mar%202024%2000:00:00%20GMT").ok());
  REQUIRE(control.get("/_control/github_edit_during_scan").ok());
  auto c = make_github_live_connector({.http = http, .repository = "acme/api", .access = std::vector<std::string>{"*"}});
  RecordingSink sink;
  auto first = c->scan("", sink);
  REQUIRE(first.ok());
  CHECK(sink.at("github:acme/api/pull/2").content.find("edited during the scan") == std::string::npos);
  // Not issue 4's 00:00:10 (which would pass the edit of pull 2 by): the server's clock at
  // the first listing page, minus a second.
  CHECK(detail::split_acl_cursor(first->cursor).position == "2024-03-05T23:59:59Z");
  auto second = c->scan(first->cursor, sink);
  REQUIRE(second.ok());
  CHECK(sink.at("github:acme/api/pull/2").content.find("edited during the scan") != std::string::npos);
  CHECK(detail::split_acl_cursor(second->cursor).position == "2024-03-05T23:59:59Z");
  // With the real clock again, the cursor is the newest record read.
  REQUIRE(control.get("/_control/slack_date?value=").ok());
  auto third = c->scan(second->cursor, sink);
  REQUIRE(third.ok());
  CHECK(detail::split_acl_cursor(third->cursor).position == "2024-03-06T00:00:10Z");
}

TEST_CASE("github live: a source that keeps failing fails the ingest and keeps the cursor", "[context][live]") {
  ContextTempDir t;
  ApiServer server(t);
  REQUIRE(server.port() > 0);
  std::vector<std::chrono::milliseconds> waits;
  LiveHttpOptions http{.base_url = server.base(), .max_attempts = 3,
                       .sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); }};
  auto engine = ContextEngine::open({.index_path = t.path("ctx.db")});
  REQUIRE(engine.ok());
  auto broken = make_github_live_connector({.http = http, .repository = "broken/api", .access = std::vector<std::string>{"*"}});
  auto r = (*engine)->ingest(*broken);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kUnavailable);
  CHECK(r.status().message().find("after 3 attempts") != std::string::npos);
  CHECK(waits.size() == 2);
  CHECK(waits[1] == 2 * waits[0]);  // exponential backoff
  auto stats = (*engine)->stats();
  REQUIRE(stats.ok());
  CHECK(stats->cursors.count("github") == 0);
  // A connection refused is a transport error, retried the same way.
  LiveHttpOptions refused{.base_url = "http://127.0.0.1:1", .max_attempts = 2, .sleep = [](std::chrono::milliseconds) {}};
  RecordingSink sink;
  auto nothing = make_github_live_connector({.http = refused, .repository = "acme/api", .access = std::vector<std::string>{"*"}});
  CHECK(nothing->scan("", sink).status().code() == StatusCode::kUnavailable);
  // A 404 is not retried.
  LiveHttpOptions ok_http{.base_url = server.base(), .sleep = [](std::chrono::milliseconds) {}};
  RecordingSink s2;
  auto missing = make_github_live_connector({.http = ok_http, .repository = "nobody/here"});
  CHECK(missing->scan("", s2).status().code() == StatusCode::kNotFound);
}

TEST_CASE("slack live: cursor pagination, private members, threads, 429, unreadable channels", "[context][live][slack]") {
  ContextTempDir t;
  ApiServer server(t);
  REQUIRE(server.port() > 0);
  std::vector<std::chrono::milliseconds> waits;
  LiveHttpOptions http{.base_url = server.base(),
                       .credentials = [] { return std::string("Bearer xoxb-test"); },
                       .sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); }};
  auto c = make_slack_live_connector({.http = http, .public_access = {"slack:acme"}});
  RecordingSink sink;
  auto r = c->scan("", sink);
  REQUIRE(r.ok());
  CHECK(detail::split_acl_cursor(r->cursor).position == R"({"v":2,"channels":{"C1":"102.000000","G1":"200.000000"}})");  // one mark per channel
  CHECK(sink.at("slack:C1/100.000100").access == std::vector<std::string>{"slack:acme"});
  CHECK(sink.has("slack:C1/101.000000"));
  CHECK(sink.has("slack:C1/102.000000"));                                       // second history page
  CHECK(sink.at("slack:C1/100.500000").parent == "slack:C1/100.000100");        // from conversations.replies
  CHECK(sink.at("slack:G1/200.000000").access == std::vector<std::string>{"slack:U1", "slack:U2"});
  CHECK(std::count(waits.begin(), waits.end(), std::chrono::milliseconds(2000)) == 1);  // Retry-After
  auto unreadable = sink.skips_for("slack:C2");
  REQUIRE(unreadable.size() == 1);
  CHECK(unreadable[0].detail.find("not_in_channel") != std::string::npos);
  CHECK(count(server.log(), "Bearer xoxb-test") == count(server.log(), "GET "));
  // From the cursor: history is re-read from thread_window before it (here from 0, the
  // window reaches past the epoch); nothing new is written and the old thread (latest_reply
  // 100.5, before the cursor) is not re-read.
  const auto puts = sink.puts;
  const std::size_t replies_before = count(server.log(), "conversations.replies");
  auto again = c->scan(r->cursor, sink);
  REQUIRE(again.ok());
  CHECK(again->cursor == r->cursor);
  CHECK(sink.puts == puts);
  CHECK(server.log().find("conversations.history?limit=200&channel=C1&oldest=0.000000") != std::string::npos);
  CHECK(count(server.log(), "conversations.replies") == replies_before);
}

TEST_CASE("slack live: a reply after the cursor to a thread whose root is older is picked up", "[context][live][slack]") {
  ContextTempDir t;
  ApiServer server(t);
  REQUIRE(server.port() > 0);
  LiveHttpOptions http{.base_url = server.base(), .sleep = [](std::chrono::milliseconds) {}};
  auto c = make_slack_live_connector({.http = http, .public_access = {"slack:acme"}});
  RecordingSink sink;
  auto r = c->scan("", sink);
  REQUIRE(r.ok());
  REQUIRE(detail::split_acl_cursor(r->cursor).position == R"({"v":2,"channels":{"C1":"102.000000","G1":"200.000000"}})");
  // A reply at 300 to the thread rooted at 100.000100 (older than the cursor).
  strata::context::detail::HttpClient control(http);
  REQUIRE(control.get("/_control/slack_reply?ts=300.000000").ok());
  const auto puts = sink.puts;
  auto again = c->scan(r->cursor, sink);
  REQUIRE(again.ok());
  CHECK(detail::split_acl_cursor(again->cursor).position == R"({"v":2,"channels":{"C1":"300.000000","G1":"200.000000"}})");
  REQUIRE(sink.has("slack:C1/300.000000"));
  CHECK(sink.at("slack:C1/300.000000").parent == "slack:C1/100.000100");
  CHECK(sink.at("slack:C1/300.000000").access == std::vector<std::string>{"slack:acme"});
  CHECK(sink.puts == puts + 1);  // only the new reply: the root and older messages are not re-offered
  CHECK(server.log().find("conversations.replies?limit=200&channel=C1&ts=100.000100&oldest=102.000000") !=
        std::string::npos);

  // With the window off, the old behaviour (from an old single-ts cursor, still accepted): history from the cursor only, the reply is missed.
  RecordingSink fresh;
  auto narrow = make_slack_live_connector({.http = http, .public_access = {"slack:acme"},
                                           .thread_window = std::chrono::hours(0)});
  REQUIRE(control.get("/_control/slack_reply?ts=400.000000").ok());
  // (The access digests of the conversations as they are: an old cursor has none, and without
  // them every conversation is read from its start.)
  const std::string old_cursor = "300.000000;acl=" + detail::split_acl_cursor(again->cursor).acl;
  auto missed = narrow->scan(old_cursor, fresh);
  REQUIRE(missed.ok());
  CHECK_FALSE(fresh.has("slack:C1/400.000000"));
  // ... and with it on, found.
  auto found = c->scan(old_cursor, fresh);
  REQUIRE(found.ok());
  CHECK(fresh.has("slack:C1/400.000000"));
  CHECK(detail::split_acl_cursor(found->cursor).position ==
        R"({"v":2,"channels":{"C1":"400.000000","C2":"300.000000","G1":"300.000000"}})");
}
