// The live Slack connector's per-conversation cursor: the parser and formatter on their own,
// then scans against the local Slack stand-in (tests/context/github_api_server.py) where a
// message lands in one channel while another is read, an old single-ts cursor is resumed, a
// damaged cursor is refused, and a channel that fails in one scan is read in the next.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include <strata/context/engine.h>
#include <strata/context/live.h>

#include "context/api_server.h"
#include "context/connector_test_util.h"
#include "context/connectors/records.h"
#include "context/context_test_util.h"
#include "context/live/http_client.h"
#include "context/live/slack_cursor.h"

using namespace strata;
using namespace strata::context;
using strata::context::detail::format_slack_cursor;
using strata::context::detail::parse_slack_cursor;
using strata::context::detail::SlackCursor;
using strata::context::detail::slack_ts_less;
using strata::context::detail::slack_ts_valid;
using strata::test::ApiServer;
using strata::test::ContextTempDir;
using strata::test::RecordingSink;

namespace {

// The marks of a cursor a scan returned (an empty map, and a failed check, when it does not
// parse).
std::map<std::string, std::string> marks_of(const std::string& cursor) {
  auto c = parse_slack_cursor(strata::context::detail::split_acl_cursor(cursor).position);
  CHECK(c.ok());
  return c.ok() ? c->marks : std::map<std::string, std::string>{};
}

struct Slack {
  ContextTempDir dir;
  ApiServer server{dir};
  LiveHttpOptions http{.base_url = server.base(), .sleep = [](std::chrono::milliseconds) {}};
  // Changes the server's Slack state (/_control/slack_<what>?<query>).
  void control(const std::string& what, const std::string& query) {
    strata::context::detail::HttpClient client(http);
    auto r = client.get("/_control/slack_" + what + "?" + query);
    REQUIRE(r.ok());
  }
  std::unique_ptr<Connector> connector() { return make_slack_live_connector({.http = http, .public_access = {"slack:acme"}}); }
};

// Stores a fixed cursor under the connector id "slack" (as an earlier ingest would have).
class CursorWriter final : public Connector {
 public:
  explicit CursorWriter(std::string cursor) : cursor_(std::move(cursor)) {}
  std::string id() const override { return "slack"; }
  Result<ScanResult> scan(std::string_view, IngestSink&) override { return ScanResult{.cursor = cursor_}; }

 private:
  std::string cursor_;
};

}  // namespace

TEST_CASE("slack cursor: ts order, parsing, formatting, round trips", "[context][live][slack]") {
  CHECK(slack_ts_less("100.000100", "100.5"));
  CHECK(slack_ts_less("99.999999", "100.000000"));
  CHECK(slack_ts_less("9", "10"));
  CHECK_FALSE(slack_ts_less("0100.5", "100.50"));  // leading and trailing zeros do not count
  CHECK_FALSE(slack_ts_less("100.50", "0100.5"));
  CHECK(slack_ts_less("", "0"));
  CHECK_FALSE(slack_ts_less("0", ""));
  CHECK(slack_ts_valid("1700000000.000100"));
  CHECK(slack_ts_valid("1700000000"));
  CHECK_FALSE(slack_ts_valid("1700000000."));
  CHECK_FALSE(slack_ts_valid(".5"));
  CHECK_FALSE(slack_ts_valid("-1"));

  auto empty = parse_slack_cursor("");
  REQUIRE(empty.ok());
  CHECK(empty->marks.empty());
  CHECK(empty->fallback.empty());
  // The cursor of earlier versions: one ts standing for every conversation.
  auto old = parse_slack_cursor("1700000000.000100");
  REQUIRE(old.ok());
  CHECK(old->marks.empty());
  CHECK(old->fallback == "1700000000.000100");

  SlackCursor c;
  c.marks = {{"C024BE91L", "1700000000.000100"}, {"G1", "5"}, {"D0\"quoted\\", "1.5"}};
  const std::string text = format_slack_cursor(c);
  CHECK(text.rfind(R"({"v":2,"channels":{)", 0) == 0);
  auto back = parse_slack_cursor(text);
  REQUIRE(back.ok());
  CHECK(back->marks == c.marks);
  CHECK(back->fallback.empty());
  // Members in any order; a channel map may be empty.
  auto reordered = parse_slack_cursor(R"({"channels":{"C1":"1.000001"},"v":2})");
  REQUIRE(reordered.ok());
  CHECK(reordered->marks == std::map<std::string, std::string>{{"C1", "1.000001"}});
  CHECK(parse_slack_cursor(R"({"v":2,"channels":{}})").ok());
  // Entries the parser would refuse are not written.
  SlackCursor odd;
  odd.marks = {{"C 1", "1.0"}, {"", "1.0"}, {"C2", "not a ts"}, {"C3", "3.0"}};
  odd.fallback = "9.0";
  auto kept = parse_slack_cursor(format_slack_cursor(odd));
  REQUIRE(kept.ok());
  CHECK(kept->marks == std::map<std::string, std::string>{{"C3", "3.0"}});
  CHECK(kept->fallback.empty());

  // Thousands of channels stay small: about 40 bytes each.
  SlackCursor many;
  for (int i = 0; i < 10000; ++i) many.marks["C" + std::to_string(100000000 + i)] = "1700000000.000100";
  const std::string big = format_slack_cursor(many);
  CHECK(big.size() < 10000 * 40);
  auto big_back = parse_slack_cursor(big);
  REQUIRE(big_back.ok());
  CHECK(big_back->marks == many.marks);
}

TEST_CASE("slack cursor: malformed, hostile and oversized cursors are kInvalidArgument", "[context][live][slack]") {
  const std::vector<std::string> bad = {
      "{", "[]", "{}", "null", "2024-01-02", " 100.0", "100.0 ", "100.", ".5", "1.2.3", "-1", "1e9",
      "100.0000000001", "123456789012345678901", std::string("1\0", 2), "\xff\xfe",
      R"({"v":1,"channels":{}})", R"({"v":3,"channels":{}})", R"({"v":"2","channels":{}})",
      R"({"v":2.0,"channels":{}})", R"({"v":2})", R"({"v":2,"channels":[]})", R"({"v":2,"channels":{"C1":5}})",
      R"({"v":2,"channels":{"C1":"x"}})", R"({"v":2,"channels":{"C1":null}})", R"({"v":2,"channels":{"":"1.0"}})",
      R"({"v":2,"channels":{"C 1":"1.0"}})", "{\"v\":2,\"channels\":{\"C\\u00e91\":\"1.0\"}}",
      R"({"v":2,"channels":{},"extra":1})", R"({"v":2,"channels":{"C1":"1.0"}} trailing)",
      "{\"v\":2,\"channels\":{\"" + std::string(256, 'C') + "\":\"1.0\"}}",
      std::string(detail::kMaxSlackCursorBytes + 1, '1')};
  for (const auto& text : bad) {
    INFO(text.substr(0, 80));
    auto r = parse_slack_cursor(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message().find("Slack live cursor") != std::string::npos);
    CHECK(r.status().message().size() < 400);  // the cursor is quoted, not copied
  }
}

TEST_CASE("slack live: a message posted into one channel while another is read is ingested next time",
          "[context][live][slack]") {
  Slack s;
  REQUIRE(s.server.port() > 0);
  // C1 is listed first; when G1's history is asked for (C1 already read), a message lands in
  // C1 at 150 — older than G1's newest message (200).
  s.control("post", "channel=C1&ts=150.000000&when=G1");
  auto c = s.connector();
  RecordingSink sink;
  auto first = c->scan("", sink);
  REQUIRE(first.ok());
  CHECK_FALSE(sink.has("slack:C1/150.000000"));  // posted after C1 was read
  CHECK(sink.has("slack:G1/200.000000"));
  CHECK(marks_of(first->cursor) == std::map<std::string, std::string>{{"C1", "102.000000"}, {"G1", "200.000000"}});

  const auto puts = sink.puts;
  auto second = c->scan(first->cursor, sink);
  REQUIRE(second.ok());
  REQUIRE(sink.has("slack:C1/150.000000"));
  CHECK(sink.at("slack:C1/150.000000").access == std::vector<std::string>{"slack:acme"});
  CHECK(sink.puts == puts + 1);  // only that message
  CHECK(marks_of(second->cursor) == std::map<std::string, std::string>{{"C1", "150.000000"}, {"G1", "200.000000"}});

  // Nothing new: nothing written, the cursor stays.
  auto third = c->scan(second->cursor, sink);
  REQUIRE(third.ok());
  CHECK(sink.puts == puts + 1);
  CHECK(third->cursor == second->cursor);
}

TEST_CASE("slack live: an old single-ts cursor means that ts for every channel", "[context][live][slack]") {
  Slack s;
  REQUIRE(s.server.port() > 0);
  auto c = s.connector();
  // As an older version wrote it (no access digests): every conversation is read from its
  // start once, so that each message is offered with the access list it has now.
  {
    RecordingSink all;
    auto r = c->scan("101.000000", all);
    REQUIRE(r.ok());
    CHECK(all.has("slack:C1/100.000100"));
    CHECK(all.has("slack:G1/200.000000"));
    CHECK_FALSE(strata::context::detail::split_acl_cursor(r->cursor).acl.empty());
  }
  // With the access digests of the conversations as they are, the ts is every channel's mark.
  RecordingSink first;
  auto fresh = c->scan("", first);
  REQUIRE(fresh.ok());
  const std::string acl = strata::context::detail::split_acl_cursor(fresh->cursor).acl;
  RecordingSink sink;
  auto r = c->scan("101.000000;acl=" + acl, sink);
  REQUIRE(r.ok());
  CHECK_FALSE(sink.has("slack:C1/100.000100"));
  CHECK_FALSE(sink.has("slack:C1/101.000000"));
  CHECK(sink.has("slack:C1/102.000000"));
  CHECK(sink.has("slack:G1/200.000000"));
  CHECK(sink.puts == 2);
  // Upgraded to per-channel marks; the unreadable C2 keeps the old cursor's ts.
  CHECK(marks_of(r->cursor) ==
        std::map<std::string, std::string>{{"C1", "102.000000"}, {"C2", "101.000000"}, {"G1", "200.000000"}});
  CHECK(s.server.log().find("conversations.history?limit=200&channel=C1&oldest=0.000000") != std::string::npos);
}

TEST_CASE("slack live: a malformed cursor fails the scan, writes nothing and keeps the cursor", "[context][live][slack]") {
  Slack s;
  REQUIRE(s.server.port() > 0);
  auto engine = ContextEngine::open({.index_path = s.dir.path("ctx.db")});
  REQUIRE(engine.ok());
  const std::string damaged = R"({"v":2,"channels":{"C1":17}})";
  CursorWriter writer(damaged);
  REQUIRE((*engine)->ingest(writer).ok());

  auto c = s.connector();
  auto r = (*engine)->ingest(*c);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("the mark of C1 is not a ts") != std::string::npos);
  auto stats = (*engine)->stats();
  REQUIRE(stats.ok());
  CHECK(stats->cursors.at("slack") == damaged);
  CHECK(stats->files == 0);
  CHECK(s.server.log().find("GET /api/") == std::string::npos);  // refused before any request

  // Directly: nothing reaches the sink.
  RecordingSink sink;
  for (const char* text : {"garbage", "{\"v\":9,\"channels\":{}}", "{\"v\":2,\"channels\":{\"C1\":\"1.0\"}"}) {
    INFO(text);
    CHECK(c->scan(text, sink).status().code() == StatusCode::kInvalidArgument);
  }
  CHECK(sink.puts == 0);
  CHECK(sink.skips.empty());
}

TEST_CASE("slack live: a channel that fails in one scan is read from its own mark in the next", "[context][live][slack]") {
  Slack s;
  REQUIRE(s.server.port() > 0);
  auto c = s.connector();
  RecordingSink sink;
  auto first = c->scan("", sink);
  REQUIRE(first.ok());
  REQUIRE(sink.skips_for("slack:C2").size() == 1);  // not_in_channel
  CHECK(marks_of(first->cursor).count("C2") == 0);

  // Joined later: C2's messages, one older than every other mark, all arrive.
  s.control("post", "channel=C2&ts=50.000000");
  s.control("post", "channel=C2&ts=250.000000");
  s.control("join", "channel=C2");
  auto second = c->scan(first->cursor, sink);
  REQUIRE(second.ok());
  CHECK(sink.has("slack:C2/50.000000"));
  CHECK(sink.has("slack:C2/250.000000"));
  CHECK(marks_of(second->cursor).at("C2") == "250.000000");

  // C1 fails for a scan; a message lands in it meanwhile (older than G1's and C2's marks).
  s.control("fail", "channel=C1&on=1");
  s.control("post", "channel=C1&ts=120.000000");
  const auto skips = sink.skips_for("slack:C1").size();
  auto third = c->scan(second->cursor, sink);
  INFO(third.status().message());
  REQUIRE(third.ok());
  CHECK(sink.skips_for("slack:C1").size() == skips + 1);
  CHECK(marks_of(third->cursor).at("C1") == "102.000000");  // kept, not advanced or dropped
  CHECK_FALSE(sink.has("slack:C1/120.000000"));

  s.control("fail", "channel=C1&on=0");
  const auto puts = sink.puts;
  auto fourth = c->scan(third->cursor, sink);
  REQUIRE(fourth.ok());
  CHECK(sink.has("slack:C1/120.000000"));
  CHECK(sink.puts == puts + 1);
  CHECK(marks_of(fourth->cursor) == std::map<std::string, std::string>{
                                        {"C1", "120.000000"}, {"C2", "250.000000"}, {"G1", "200.000000"}});

  // A channel created later with an old message starts from scratch.
  s.control("post", "channel=C3&ts=10.000000");
  s.control("channel", "id=C3");
  auto fifth = c->scan(fourth->cursor, sink);
  REQUIRE(fifth.ok());
  CHECK(sink.has("slack:C3/10.000000"));
  CHECK(marks_of(fifth->cursor).at("C3") == "10.000000");
}

TEST_CASE("slack live: a channel's mark stops at the server's clock when its history was read", "[context][live][slack]") {
  Slack s;
  REQUIRE(s.server.port() > 0);
  // Every answer says it is 151 s after the epoch: G1's message at 200 may be followed by
  // others posted before it, so G1's mark stops at 150; C1 (newest 102) is not held back.
  s.control("date", "value=Thu,%2001%20Jan%201970%2000:02:31%20GMT");
  auto c = s.connector();
  RecordingSink sink;
  auto first = c->scan("", sink);
  REQUIRE(first.ok());
  CHECK(sink.has("slack:G1/200.000000"));
  CHECK(marks_of(first->cursor) == std::map<std::string, std::string>{{"C1", "102.000000"}, {"G1", "150.000000"}});
  // The next scan offers G1's message again; it is unchanged, so nothing is written.
  const auto puts = sink.puts;
  auto second = c->scan(first->cursor, sink);
  REQUIRE(second.ok());
  CHECK(sink.puts == puts);
  CHECK(second->cursor == first->cursor);
  // With the real time again, the mark moves on.
  s.control("date", "value=");
  auto third = c->scan(second->cursor, sink);
  REQUIRE(third.ok());
  CHECK(marks_of(third->cursor).at("G1") == "200.000000");
}

TEST_CASE("slack live: a member removed from a private channel loses its older messages",
          "[context][live][slack][revocation]") {
  Slack s;
  REQUIRE(s.server.port() > 0);
  auto engine = ContextEngine::open({.index_path = s.dir.path("ctx.db")});
  REQUIRE(engine.ok());
  auto c = s.connector();
  auto visible_to = [&](const std::string& user) {
    auto r = (*engine)->retrieve({.text = "secret plan", .max_files = 50,
                                  .principal = {user, {"slack:acme", "slack:" + user}}});
    REQUIRE(r.ok());
    std::size_t g1 = 0;
    for (const auto& f : r->files) g1 += f.path.rfind("slack:G1/", 0) == 0;
    return g1;
  };
  REQUIRE((*engine)->ingest(*c).ok());
  const std::size_t before = visible_to("U2");
  REQUIRE(before > 0);
  CHECK(visible_to("U1") == before);

  // Nothing changed: the cursor holds, nothing is re-offered.
  auto same = (*engine)->ingest(*c);
  REQUIRE(same.ok());
  CHECK(same->added + same->updated == 0);

  // U2 leaves G1. Its messages are all older than G1's mark, and none of them changed.
  s.control("members", "users=U1");
  auto moved = (*engine)->ingest(*c);
  REQUIRE(moved.ok());
  CHECK(moved->updated == before);
  CHECK(visible_to("U2") == 0);
  CHECK(visible_to("U1") == before);

  // Back in: granted again the same way; a further scan writes nothing.
  s.control("members", "users=U1,U2");
  REQUIRE((*engine)->ingest(*c).ok());
  CHECK(visible_to("U2") == before);
  auto settled = (*engine)->ingest(*c);
  REQUIRE(settled.ok());
  CHECK(settled->added + settled->updated == 0);
}
