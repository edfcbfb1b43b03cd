// Live connectors against a local HTTP server that answers in GitHub's formats
// (tests/context/github_api_server.py): pagination, 429 + Retry-After, 5xx, a truncated body,
// rate-limit headers, credentials, and a source that keeps failing.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
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

TEST_CASE("http: credentials and links stay on the configured site", "[context][live]") {
  using detail::same_site;
  CHECK(same_site("https://api.github.com", "https://api.github.com/repos/a/b/pulls?page=2"));
  CHECK(same_site("https://api.github.com", "https://API.github.com:443/x"));  // the default port
  CHECK(same_site("https://jira.example.com/jira", "https://jira.example.com/jira/rest/api/2/search"));
  CHECK(same_site("https://jira.example.com/jira/", "https://jira.example.com/jira"));
  // A prefix of the base is not enough: another host, a user name, another scheme or port.
  CHECK_FALSE(same_site("https://api.github.com", "https://api.github.com.evil.net/x"));
  CHECK_FALSE(same_site("https://api.github.com", "https://api.github.com@evil.net/x"));
  CHECK_FALSE(same_site("https://api.github.com", "https://user:pw@api.github.com/x"));
  CHECK_FALSE(same_site("https://api.github.com", "http://api.github.com/x"));
  CHECK_FALSE(same_site("https://api.github.com", "https://api.github.com:8443/x"));
  CHECK_FALSE(same_site("http://127.0.0.1:80", "http://127.0.0.1:8000/x"));
  // Outside the base path, also through dot segments.
  CHECK_FALSE(same_site("https://jira.example.com/jira", "https://jira.example.com/jiraX/rest"));
  CHECK_FALSE(same_site("https://jira.example.com/jira", "https://jira.example.com/jira/../admin"));
  CHECK_FALSE(same_site("https://jira.example.com/jira", "https://jira.example.com/other"));
  CHECK_FALSE(same_site("", "https://api.github.com/x"));
  CHECK_FALSE(same_site("https://api.github.com", "not a url"));
  // A NUL hides the rest from libcurl (found by fuzz_live_http): refused.
  CHECK_FALSE(same_site("https://api.github.com", std::string("https://api.github.com\0@evil.net/x", 33)));
  CHECK_FALSE(same_site(std::string("https://api.github.com\0x", 24), "https://api.github.com/x"));

  // Through the local server: its next link names its own address as a user name and
  // "localhost" as the host. The scan stops there with kInvalidArgument; that URL is never
  // requested, and every request made carried the token.
  ContextTempDir t;
  ApiServer server(t);
  REQUIRE(server.port() > 0);
  LiveHttpOptions http{.base_url = server.base(),
                       .credentials = [] { return std::string("Bearer test-token"); },
                       .sleep = [](std::chrono::milliseconds) {}};
  auto c = make_github_live_connector({.http = http, .repository = "acme/elsewhere", .access = std::vector<std::string>{"*"}});
  RecordingSink sink;
  auto r = c->scan("", sink);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("not under the configured base_url") != std::string::npos);
  const std::string log = server.log();
  CHECK(count(log, "GET /repos/acme/elsewhere/pulls?") == 1);  // the first page only
  CHECK(count(log, "page=2") == 0);
  CHECK(count(log, "Bearer test-token") == count(log, "GET "));
  detail::HttpClient client(http);
  auto direct = client.get("http://localhost:" + std::to_string(server.port()) + "/repos/acme/api");
  CHECK(direct.status().code() == StatusCode::kInvalidArgument);
  CHECK(count(server.log(), "GET /repos/acme/api ") == 0);
  CHECK(client.get(server.base() + "/repos/acme/api").ok());  // the same site, absolute
  // A "path" that turns base_url into a user name: base_url + "@localhost:P/..." names localhost.
  auto sneaky = client.get("@localhost:" + std::to_string(server.port()) + "/repos/acme/api");
  CHECK(sneaky.status().code() == StatusCode::kInvalidArgument);
  CHECK(count(server.log(), "GET /repos/acme/api ") == 1);  // only the same-site request above
}

TEST_CASE("http: rate limits by header, waits too long, oversized bodies and refusals", "[context][live]") {
  ContextTempDir t;
  ApiServer server(t);
  REQUIRE(server.port() > 0);
  std::vector<std::chrono::milliseconds> waits;
  detail::HttpClient client({.base_url = server.base(),
                             .max_wait = std::chrono::seconds(60),
                             .sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); },
                             .max_response_bytes = 100000});
  auto within = [](std::chrono::milliseconds d, int lo_s, int hi_s) {
    return d >= std::chrono::seconds(lo_s) && d <= std::chrono::seconds(hi_s);
  };
  // A 403 that says the rate limit is exhausted, and a 429 with only X-RateLimit-Reset (two
  // seconds ahead): both wait for the reset, then succeed.
  REQUIRE(client.get("/_test/limited403").ok());
  REQUIRE(waits.size() == 1);
  CHECK(within(waits[0], 1, 3));
  REQUIRE(client.get("/_test/reset429").ok());
  REQUIRE(waits.size() == 2);
  CHECK(within(waits[1], 1, 3));
  // Retry-After: 1000 is longer than max_wait: no wait, kUnavailable at once.
  auto too_long = client.get("/_test/long429");
  CHECK(too_long.status().code() == StatusCode::kUnavailable);
  CHECK(too_long.status().message().find("longer than max_wait") != std::string::npos);
  CHECK(waits.size() == 2);
  // A body over max_response_bytes, and the answers that are not retried.
  auto big = client.get("/_test/big");
  CHECK(big.status().code() == StatusCode::kResourceExhausted);
  CHECK(big.status().message().find("over 100000 bytes") != std::string::npos);
  CHECK(client.get("/_test/unauthorized").status().code() == StatusCode::kUnauthenticated);
  CHECK(client.get("/_test/forbidden").status().code() == StatusCode::kPermissionDenied);
  CHECK(client.get("/_test/teapot").status().code() == StatusCode::kInvalidArgument);
  CHECK(client.get("/_test/nothing").status().code() == StatusCode::kNotFound);
  CHECK(waits.size() == 2);
  const std::string log = server.log();
  for (const char* once : {"long429", "big", "unauthorized", "forbidden", "teapot", "nothing"}) {
    INFO(once);
    CHECK(count(log, std::string("GET /_test/") + once + " ") == 1);
  }
  CHECK(count(log, "GET /_test/limited403 ") == 2);
  CHECK(count(log, "GET /_test/reset429 ") == 2);
}

TEST_CASE("http: HTTPS verifies the server against the system's or the given authorities", "[context][live]") {
  // A test authority and a certificate for 127.0.0.1 it signed, made with openssl.
  ContextTempDir t;
  const std::string d = t.path("");
  const std::string make =
      "cd '" + d + "' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=strata-test-ca"
      " >/dev/null 2>&1 && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1"
      " >/dev/null 2>&1 && printf 'subjectAltName=IP:127.0.0.1\n' > ext.cnf && openssl x509 -req -in server.csr -CA ca.pem"
      " -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile ext.cnf >/dev/null 2>&1";
  REQUIRE(std::system(make.c_str()) == 0);
  ApiServer server(t, "github_api_server.py", t.path("server.pem"), t.path("server.key"));
  REQUIRE(server.port() > 0);
  REQUIRE(server.base().rfind("https://", 0) == 0);
  int sleeps = 0;
  LiveHttpOptions http{.base_url = server.base(),
                       .credentials = [] { return std::string("Bearer test-token"); },
                       .sleep = [&](std::chrono::milliseconds) { ++sleeps; }};
  // The system's store does not know the test authority: refused at once, not retried, and
  // the token never sent.
  detail::HttpClient untrusted(http);
  auto refused = untrusted.get("/repos/acme/api");
  CHECK(refused.status().code() == StatusCode::kFailedPrecondition);
  CHECK(refused.status().message().find("ca_file") != std::string::npos);
  CHECK(sleeps == 0);
  CHECK(server.log().empty());
  // Trusting it: the live connector reads the repository over TLS.
  http.ca_file = t.path("ca.pem");
  auto c = make_github_live_connector({.http = http, .repository = "acme/api", .access = std::vector<std::string>{"*"}});
  RecordingSink sink;
  auto r = c->scan("", sink);
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(sink.has("github:acme/api/pull/3"));
  CHECK(count(server.log(), "Bearer test-token") == count(server.log(), "GET "));
  // A certificate for another name than the host is refused even with the authority trusted.
  http.base_url = "https://localhost:" + std::to_string(server.port());
  detail::HttpClient wrong_name(http);
  CHECK(wrong_name.get("/repos/acme/api").status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("live: a listing longer than max_pages fails the scan and keeps the cursor", "[context][live]") {
  ContextTempDir t;
  ApiServer server(t);
  REQUIRE(server.port() > 0);
  LiveHttpOptions http{.base_url = server.base(), .sleep = [](std::chrono::milliseconds) {}, .max_pages = 1};
  auto engine = ContextEngine::open({.index_path = t.path("ctx.db")});
  REQUIRE(engine.ok());
  auto github = make_github_live_connector({.http = http, .repository = "acme/api", .access = std::vector<std::string>{"*"}});
  auto r = (*engine)->ingest(*github);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kResourceExhausted);
  CHECK(r.status().message().find("more than max_pages (1)") != std::string::npos);
  auto slack = make_slack_live_connector({.http = http, .public_access = {"slack:acme"}});
  auto s = (*engine)->ingest(*slack);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == StatusCode::kResourceExhausted);
  auto stats = (*engine)->stats();
  REQUIRE(stats.ok());
  CHECK(stats->cursors.empty());
  CHECK(stats->files == 0);
  // With room for every page both succeed.
  http.max_pages = 100;
  auto github_ok = make_github_live_connector({.http = http, .repository = "acme/api", .access = std::vector<std::string>{"*"}});
  CHECK((*engine)->ingest(*github_ok).ok());
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
