// Access that changes while the records do not: a member removed from a private Slack
// channel, a repository made private, a docs tree given a narrower access list. The next
// ingest must write the new access lists, so a revoked reader loses the documents at once.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <strata/context/connectors.h>
#include <strata/context/engine.h>

#include "context/connector_test_util.h"
#include "context/connectors/records.h"
#include "context/context_test_util.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;
using strata::test::open_engine;

namespace {

std::vector<std::string> found(ContextEngine& engine, const std::string& text, Principal who) {
  auto r = engine.retrieve({.text = text, .max_files = 50, .principal = std::move(who)});
  REQUIRE(r.ok());
  std::vector<std::string> out;
  for (const auto& f : r->files) out.push_back(f.path);
  return out;
}

}  // namespace

TEST_CASE("revocation: a member removed from a private Slack channel loses its messages",
          "[context][permissions][revocation]") {
  ContextTempDir t;
  t.write("slack/channels.json", R"([{"id": "C1", "name": "general", "members": ["U1", "U2"]}])");
  t.write("slack/groups.json", R"([{"id": "G1", "name": "hr", "members": ["U1", "U2"]}])");
  t.write("slack/general/2024-01-01.json", R"([{"type": "message", "user": "U1", "text": "lunch at noon", "ts": "1.0"}])");
  t.write("slack/hr/2024-01-01.json", R"([{"type": "message", "user": "U1", "text": "zephyr reorganisation plan", "ts": "2.0"}])");
  t.write("slack/hr/2024-01-02.json", R"([{"type": "message", "user": "U1", "text": "zephyr timeline", "ts": "3.0"}])");
  auto engine = open_engine(t.path("ctx.db"));
  auto slack = make_slack_export_connector({.root = t.path("slack"), .public_access = {"slack:workspace"}});
  const Principal bob{"bob", {"slack:workspace", "slack:U2"}};
  const Principal alice{"alice", {"slack:workspace", "slack:U1"}};
  REQUIRE(engine->ingest(*slack).ok());
  REQUIRE(found(*engine, "zephyr", bob).size() == 2);

  // Nothing changed: nothing is re-read past the cursor, nothing is written.
  auto same = engine->ingest(*slack);
  REQUIRE(same.ok());
  CHECK(same->added + same->updated + same->removed == 0);

  // Bob leaves the channel; no message changes (and the old day is behind the cursor).
  t.write("slack/groups.json", R"([{"id": "G1", "name": "hr", "members": ["U1"]}])");
  auto moved = engine->ingest(*slack);
  REQUIRE(moved.ok());
  CHECK(moved->updated == 2);  // both hr messages, with their new access list
  CHECK(found(*engine, "zephyr", bob).empty());
  CHECK(found(*engine, "zephyr", alice).size() == 2);
  CHECK(found(*engine, "lunch", bob) == std::vector<std::string>{"slack:C1/1.0"});  // untouched

  // And back: access is granted again the same way.
  t.write("slack/groups.json", R"([{"id": "G1", "name": "hr", "members": ["U1", "U2"]}])");
  REQUIRE(engine->ingest(*slack).ok());
  CHECK(found(*engine, "zephyr", bob).size() == 2);
}

TEST_CASE("revocation: a repository made private hides its pull requests from the public",
          "[context][permissions][revocation]") {
  ContextTempDir t;
  t.write("gh/repo.json", R"({"id": 1, "full_name": "acme/api", "private": false})");
  t.write("gh/pulls.json", R"([
    {"number": 12, "title": "Quokka retry uploads", "state": "open", "created_at": "2024-03-01T09:00:00Z",
     "updated_at": "2024-03-02T10:00:00Z", "user": {"login": "alice"}, "body": "quokka backoff"}])");
  auto engine = open_engine(t.path("ctx.db"));
  auto gh = make_github_export_connector({.root = t.path("gh"), .repository = "acme/api"});
  REQUIRE(engine->ingest(*gh).ok());
  REQUIRE(!found(*engine, "quokka", {}).empty());

  t.write("gh/repo.json", R"({"id": 1, "full_name": "acme/api", "private": true})");
  auto moved = engine->ingest(*gh);
  REQUIRE(moved.ok());
  CHECK(moved->updated >= 1);
  CHECK(found(*engine, "quokka", {}).empty());  // private, no configured list: nobody
}

TEST_CASE("revocation: a docs tree given a narrower access list", "[context][permissions][revocation]") {
  ContextTempDir t;
  t.write("docs/design.md", "# Narwhal storage\n\nThe narwhal layer keeps three copies.\n");
  auto engine = open_engine(t.path("ctx.db"));
  {
    auto docs = make_docs_tree_connector({.root = t.path("docs")});
    REQUIRE(engine->ingest(*docs).ok());
  }
  REQUIRE(!found(*engine, "narwhal", {}).empty());
  auto narrow = make_docs_tree_connector({.root = t.path("docs"), .access = {"group:storage"}});
  auto r = engine->ingest(*narrow);
  REQUIRE(r.ok());
  CHECK(r->updated == 1);
  CHECK(found(*engine, "narwhal", {}).empty());
  CHECK(!found(*engine, "narwhal", {"erin", {"group:storage"}}).empty());
}

TEST_CASE("revocation: a Jira project's readers changed in the configuration", "[context][permissions][revocation]") {
  ContextTempDir t;
  t.write("jira/OPS-1.json", R"({"key": "OPS-1", "fields": {"summary": "Rotate the walrus certificates",
    "status": {"name": "Open"}, "project": {"key": "OPS"}, "updated": "2024-01-05T10:00:00.000+0000"}})");
  t.write("jira/WEB-1.json", R"({"key": "WEB-1", "fields": {"summary": "Walrus banner on the home page",
    "status": {"name": "Open"}, "project": {"key": "WEB"}, "updated": "2024-01-06T10:00:00.000+0000"}})");
  auto engine = open_engine(t.path("ctx.db"));
  const Principal ops{"olga", {"jira-group:ops"}}, web{"will", {"jira-group:web"}};
  std::string cursor;
  {
    auto jira = make_jira_export_connector({.root = t.path("jira"),
                                            .project_access = {{"OPS", {"jira-group:ops"}}, {"WEB", {"jira-group:web"}}}});
    auto r = engine->ingest(*jira);
    REQUIRE(r.ok());
    cursor = r->cursor;
  }
  CHECK(found(*engine, "walrus", ops) == std::vector<std::string>{"jira:OPS-1"});
  // OPS is now readable by its leads only; no issue changed, so only the digest tells.
  auto narrow = make_jira_export_connector({.root = t.path("jira"),
                                            .project_access = {{"OPS", {"jira-group:ops-leads"}}, {"WEB", {"jira-group:web"}}}});
  auto r = engine->ingest(*narrow);
  REQUIRE(r.ok());
  CHECK(r->updated == 1);  // OPS-1 re-written; WEB-1 read again and skipped by its key
  CHECK(r->added == 0);
  CHECK(found(*engine, "walrus", ops).empty());
  CHECK(found(*engine, "walrus", {"lena", {"jira-group:ops-leads"}}) == std::vector<std::string>{"jira:OPS-1"});
  CHECK(found(*engine, "walrus", web) == std::vector<std::string>{"jira:WEB-1"});
  CHECK(detail::split_acl_cursor(r->cursor).acl != detail::split_acl_cursor(cursor).acl);
  // The same configuration again: the cursor holds; only the issue at the cursor's own time
  // is offered again (the bound is inclusive) and found unchanged.
  auto again = engine->ingest(*narrow);
  REQUIRE(again.ok());
  CHECK(again->updated + again->added == 0);
  CHECK(again->unchanged == 1);
  // A cursor an older version wrote (no digest) reads everything once.
  strata::test::RecordingSink sink;
  auto old = narrow->scan(detail::split_acl_cursor(r->cursor).position, sink);
  REQUIRE(old.ok());
  CHECK(sink.puts == 2);
}

TEST_CASE("revocation: access-aware cursors", "[context][connectors][revocation]") {
  using detail::split_acl_cursor;
  CHECK(split_acl_cursor("2024-01-02").position == "2024-01-02");
  CHECK(split_acl_cursor("2024-01-02").acl.empty());  // an older version's cursor
  CHECK(split_acl_cursor(detail::join_acl_cursor("2024-01-02", "abc")).position == "2024-01-02");
  CHECK(split_acl_cursor(detail::join_acl_cursor("2024-01-02", "abc")).acl == "abc");
  CHECK(split_acl_cursor(detail::join_acl_cursor("", "abc")).position.empty());
  detail::AccessDigest a, b, c;
  a.add("G1", {"slack:U1", "slack:U2"});
  b.add("G1", {"slack:U2", "slack:U1"});  // the order of a list does not matter
  c.add("G1", {"slack:U1"});
  CHECK(a.digest() == b.digest());
  CHECK(a.digest() != c.digest());
  detail::AccessDigest d, e;
  d.add("G1", {"ab"});
  e.add("G1a", {"b"});  // no two different inputs serialise alike
  CHECK(d.digest() != e.digest());
}
