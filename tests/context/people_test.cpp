// People: one identity per person (mapping + conservative heuristics) and the social graph
// queries (owners, experts, reviewers for a change, collaboration), all under permissions.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include <strata/context/connectors.h>
#include <strata/context/engine.h>
#include <strata/context/people.h>

#include "context/context_test_util.h"
#include "context/index.h"
#include "context/people/edges.h"
#include "context/sqlite_util.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;

namespace {

class DocsConnector final : public Connector {
 public:
  DocsConnector(std::string id, std::vector<Document> docs) : id_(std::move(id)), docs_(std::move(docs)) {}
  std::string id() const override { return id_; }
  Result<ScanResult> scan(std::string_view, IngestSink& sink) override {
    for (auto& d : docs_) STRATA_RETURN_IF_ERROR(sink.put(d));
    return ScanResult{};
  }

 private:
  std::string id_;
  std::vector<Document> docs_;
};

const char* kMapping = R"({"people": [
  {"id": "alice", "name": "Alice A", "accounts": ["github:alice", "git:Alice@Acme.io"]},
  {"id": "bob", "name": "Bob B", "accounts": ["github:bob", "slack:U2"]},
  {"id": "carol", "accounts": ["github:carol"]}]})";

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kNow = 1'750'000'000;

Document make(DocumentKind kind, std::string path, std::string author, std::int64_t t, std::vector<std::string> access,
              std::string content = "") {
  Document d;
  d.kind = kind;
  d.path = std::move(path);
  if (!author.empty()) d.authors.push_back(std::move(author));
  d.timestamp = t;
  d.access = std::move(access);
  d.content = content.empty() ? d.path : std::move(content);
  return d;
}

std::vector<Document> graph_docs() {
  const std::vector<std::string> repo = {"team:api"};
  std::vector<Document> docs;
  // Commits: alice mostly and recently on src/upload.cc; dave long ago.
  for (int i = 0; i < 6; ++i) {
    auto c = make(DocumentKind::kCommit, "c" + std::to_string(i), "Alice <alice@acme.io>", kNow - i * kDay, {"*"},
                  "upload retry change " + std::to_string(i));
    c.changed_paths = {"src/upload.cc"};
    docs.push_back(c);
  }
  for (int i = 0; i < 6; ++i) {
    auto c = make(DocumentKind::kCommit, "d" + std::to_string(i), "Dave <dave@acme.io>", kNow - 1000 * kDay, {"*"},
                  "old upload work " + std::to_string(i));
    c.changed_paths = {"src/upload.cc", "src/net/http.cc"};
    docs.push_back(c);
  }
  // A pull request by alice, reviewed by bob (changes requested, then approved), a comment by erin.
  auto pr = make(DocumentKind::kPullRequest, "github:acme/api/pull/12", "github:alice", kNow - 2 * kDay, repo,
                 "Retry uploads on 503 with exponential backoff");
  pr.changed_paths = {"src/upload.cc", "src/retry.h"};
  docs.push_back(pr);
  auto r1 = make(DocumentKind::kReview, "github:acme/api/pull/12/review/1", "github:bob", kNow - 2 * kDay, repo, "cap the backoff");
  r1.status = "changes_requested";
  r1.parent = pr.path;
  docs.push_back(r1);
  auto r2 = make(DocumentKind::kReview, "github:acme/api/pull/12/review/2", "github:bob", kNow - kDay, repo, "lgtm");
  r2.status = "approved";
  r2.parent = pr.path;
  docs.push_back(r2);
  auto cm = make(DocumentKind::kReviewComment, "github:acme/api/pull/12/comment/3", "github:erin", kNow - kDay, repo,
                 "nit: name the constant");
  cm.parent = pr.path;
  docs.push_back(cm);
  // A Slack thread on the same topic: bob (as slack:U2) and alice.
  auto m1 = make(DocumentKind::kChatMessage, "slack:C1/1.0", "slack:U2", kNow, {"*"}, "is the backoff retry fix deployed");
  docs.push_back(m1);
  auto m2 = make(DocumentKind::kChatMessage, "slack:C1/2.0", "slack:U1", kNow, {"*"}, "yes the backoff retry shipped");
  m2.parent = m1.path;
  docs.push_back(m2);
  return docs;
}

std::vector<std::string> persons(const std::vector<PersonScore>& v) {
  std::vector<std::string> out;
  for (const auto& p : v) out.push_back(p.person);
  return out;
}

}  // namespace

TEST_CASE("identities: mapping file and strong signals only", "[context][people]") {
  auto ids = Identities::from_mapping(kMapping);
  REQUIRE(ids.ok());
  ids->observe("slack:U1", "alice@acme.io", "Alice");             // same email as a mapped git account
  ids->observe("jira:5b10", "ALICE@acme.io ");                     // case and spaces do not matter
  ids->observe("git:12345+carol@users.noreply.github.com");        // GitHub noreply names github:carol
  ids->observe("slack:U7", "noreply@acme.io");                     // a role address: never merged
  ids->observe("slack:U8", "noreply@acme.io");
  ids->observe("slack:U9", "", "Bob B");                           // same display name as bob: not merged
  ids->observe("slack:U10", "frank@acme.io");                      // unmapped people link to each other
  ids->observe("jira:frank", "frank@acme.io");
  CHECK(ids->person_of("github:alice") == "alice");
  CHECK(ids->person_of("git:alice@acme.io") == "alice");
  CHECK(ids->person_of("slack:U1") == "alice");
  CHECK(ids->reason("slack:U1") == "email alice@acme.io");
  CHECK(ids->person_of("jira:5b10") == "alice");
  CHECK(ids->person_of("git:12345+carol@users.noreply.github.com") == "carol");
  CHECK(ids->reason("git:12345+carol@users.noreply.github.com") == "github noreply");
  CHECK(ids->person_of("slack:U7") == "slack:U7");
  CHECK(ids->person_of("slack:U8") == "slack:U8");
  CHECK(ids->person_of("slack:U9") == "slack:U9");
  CHECK(ids->person_of("slack:U10") == ids->person_of("jira:frank"));
  CHECK(ids->person_of("github:unknown") == "github:unknown");
  CHECK(ids->accounts_of("alice") ==
        std::vector<std::string>{"git:alice@acme.io", "github:alice", "jira:5b10", "slack:U1"});
  const Principal p = ids->principal_for("bob");
  CHECK(p.id == "bob");
  CHECK(p.groups == std::vector<std::string>{"github:bob", "slack:U2"});
  CHECK(ids->name_of("alice") == "Alice A");
  CHECK(Identities::weak_email("ci@acme.io"));
  CHECK(Identities::weak_email("dependabot[bot]@users.noreply.github.com"));
  CHECK(Identities::weak_email("root@localhost"));
  CHECK_FALSE(Identities::weak_email("alice@acme.io"));

  // An email shared by accounts of two mapped people links nobody else to either.
  ids->observe("github:bob", "shared@acme.io");
  ids->observe("github:carol", "shared@acme.io");
  ids->observe("slack:U11", "shared@acme.io");
  CHECK(ids->person_of("github:bob") == "bob");
  CHECK(ids->person_of("github:carol") == "carol");
  CHECK(ids->person_of("slack:U11") == "slack:U11");

  CHECK_FALSE(Identities::from_mapping("{").ok());
  CHECK_FALSE(Identities::from_mapping(R"({"people": [{"accounts": []}]})").ok());
  CHECK_FALSE(Identities::from_mapping(R"({"people": [{"id": "a", "accounts": ["x:1"]}, {"id": "b", "accounts": ["x:1"]}]})").ok());
  CHECK_FALSE(Identities::from_mapping(R"({"people": [{"id": "a", "accounts": ["nocolon"]}]})").ok());
}

TEST_CASE("identities: Slack's users.json and Jira's user objects supply the emails that join accounts",
          "[context][people]") {
  Identities ids;
  auto slack = ids.observe_slack_users(R"([
    {"id": "U1", "name": "alice", "real_name": "Alice A", "profile": {"email": "Alice@Acme.io"}},
    {"id": "U7", "name": "deploybot", "is_bot": true, "profile": {"email": "carol@acme.io"}},
    {"id": "U8", "name": "ops", "profile": {"email": "team@acme.io"}},
    {"name": "no id"}, 42])");
  REQUIRE(slack.ok());
  CHECK(*slack == 2);  // U1 and U8 came with an email; the bot's is not taken
  // A Jira Cloud search page: the reporter, an assignee whose email is hidden, a commenter.
  // The project object ("key" and "name", no email or display name) sits beside them.
  auto cloud = ids.observe_jira_users(R"({"issues": [{"key": "OPS-1", "fields": {
    "project": {"key": "OPS", "name": "Operations"},
    "reporter": {"accountId": "5b10a", "emailAddress": "alice@acme.io", "displayName": "Alice A"},
    "assignee": {"accountId": "5b10c", "displayName": "Carol"},
    "comment": {"comments": [{"author": {"accountId": "5b10d", "emailAddress": "carol@acme.io"}}]}}}]})");
  REQUIRE(cloud.ok());
  CHECK(*cloud == 2);
  // A Server (v2) user search result: accounts by name, as the v2 connector names them.
  auto server = ids.observe_jira_users(R"([{"name": "bob", "key": "JIRAUSER10", "emailAddress": "bob@acme.io",
                                           "displayName": "Bob B"}])");
  REQUIRE(server.ok());
  CHECK(*server == 1);
  ids.observe("slack:U2", "BOB@acme.io");
  ids.observe("git:alice@acme.io");
  ids.observe("git:team@acme.io");  // U8's role address on another account

  // One person across Slack, Jira and git, by the same address.
  const std::string alice = ids.person_of("slack:U1");
  CHECK(ids.person_of("jira:5b10a") == alice);
  CHECK(ids.person_of("git:alice@acme.io") == alice);
  CHECK(ids.reason("jira:5b10a").rfind("email", 0) == 0);
  CHECK(ids.person_of("jira:bob") == ids.person_of("slack:U2"));
  // The bot's address was not taken, the hidden email joins nothing, a role address merges nobody.
  CHECK(ids.person_of("slack:U7") == "slack:U7");
  CHECK(ids.person_of("jira:5b10d") == "jira:5b10d");
  CHECK(ids.person_of("jira:5b10c") == "jira:5b10c");
  CHECK(ids.name_of("jira:5b10c") == "Carol");
  CHECK(ids.person_of("slack:U8") == "slack:U8");

  // Bad input: an error, and nothing observed.
  Identities empty;
  CHECK(empty.observe_slack_users("[{\"id\": \"U1\"").status().code() == StatusCode::kInvalidArgument);
  CHECK(empty.observe_slack_users(R"({"ok": true})").status().code() == StatusCode::kInvalidArgument);
  CHECK(empty.observe_jira_users("{\"issues\": [").status().code() == StatusCode::kInvalidArgument);
  CHECK(empty.observe_jira_users("\xff\xfe").status().code() == StatusCode::kInvalidArgument);
  CHECK(empty.accounts_of("slack:U1") == std::vector<std::string>{"slack:U1"});
}

TEST_CASE("people: owners, experts, reviewers for a change, collaboration", "[context][people]") {
  ContextTempDir t;
  t.write("CODEOWNERS", "*  @acme/everyone\n/src/net/ @carol\n");
  {
    auto engine = ContextEngine::open({.index_path = t.path("ctx.db")});
    REQUIRE(engine.ok());
    DocsConnector docs("sor", graph_docs());
    REQUIRE((*engine)->ingest(docs).ok());
    auto owners = make_codeowners_connector({.path = t.path("CODEOWNERS")});
    REQUIRE((*engine)->ingest(*owners).ok());
  }
  auto ids = Identities::from_mapping(kMapping);
  REQUIRE(ids.ok());
  ids->observe("slack:U1", "alice@acme.io");
  auto people = People::open({.index_path = t.path("ctx.db"), .identities = *ids, .now = kNow});
  REQUIRE(people.ok());
  Principal insider = ids->principal_for("alice");
  insider.groups.push_back("team:api");  // a member of the private repository
  const Principal outsider{"guest", {}};

  SECTION("owners of a path: CODEOWNERS, then recency-weighted commit share") {
    auto net = (*people)->owners_of_path("src/net/http.cc", outsider);
    REQUIRE(net.ok());
    REQUIRE_FALSE(net->empty());
    CHECK(net->front().person == "carol");
    CHECK(net->front().why.front().name == "codeowners");
    auto upload = (*people)->owners_of_path("src/upload.cc", insider);
    REQUIRE(upload.ok());
    const auto names = persons(*upload);
    REQUIRE(names.size() >= 3);
    // The team from CODEOWNERS, then alice (recent commits, the pull request) above dave (old).
    const auto pos = [&](const std::string& p) { return std::find(names.begin(), names.end(), p) - names.begin(); };
    CHECK(pos("alice") < pos("git:dave@acme.io"));
    CHECK(pos("github-team:acme/everyone") < static_cast<long>(names.size()));
    // The directory: its files' commits count.
    auto dir = (*people)->owners_of_path("src", insider);
    REQUIRE(dir.ok());
    const auto dir_names = persons(*dir);
    CHECK(std::find(dir_names.begin(), dir_names.end(), "alice") != dir_names.end());
  }
  SECTION("who reviewed changes like this one") {
    auto r = (*people)->reviewers_for({"src/upload.cc"}, insider);
    REQUIRE(r.ok());
    REQUIRE_FALSE(r->empty());
    CHECK(r->front().person == "bob");
    CHECK(persons(*r) == std::vector<std::string>{"bob", "github:erin"});
    // Same directory, different file: still found, with less weight.
    auto near = (*people)->reviewers_for({"src/other.cc"}, insider);
    REQUIRE(near.ok());
    REQUIRE_FALSE(near->empty());
    CHECK(near->front().person == "bob");
    CHECK(near->front().score < r->front().score);
    // The repository is private to team:api members: nothing for an outsider.
    auto hidden = (*people)->reviewers_for({"src/upload.cc"}, outsider);
    REQUIRE(hidden.ok());
    CHECK(hidden->empty());
    CHECK_FALSE((*people)->reviewers_for({}, insider).ok());
  }
  SECTION("experts on a topic, from readable documents only") {
    const Principal member{"alice", {"team:api", "github:alice", "git:alice@acme.io", "slack:U1"}};
    auto e = (*people)->experts_on("backoff retry", member);
    REQUIRE(e.ok());
    const auto names = persons(*e);
    CHECK(std::find(names.begin(), names.end(), "alice") != names.end());
    CHECK(std::find(names.begin(), names.end(), "bob") != names.end());
    auto outside = (*people)->experts_on("exponential backoff 503", outsider);
    REQUIRE(outside.ok());
    for (const auto& p : *outside) CHECK(p.person != "github:erin");  // erin only appears in the private repo
  }
  SECTION("collaboration strength") {
    const Principal member{"x", {"team:api"}};
    auto ab = (*people)->collaboration("alice", "bob", member);
    auto ae = (*people)->collaboration("alice", "github:erin", member);
    auto ad = (*people)->collaboration("alice", "git:dave@acme.io", member);
    REQUIRE(ab.ok());
    REQUIRE(ae.ok());
    REQUIRE(ad.ok());
    CHECK(ab->by_kind["reviewed"] > 0);     // bob reviewed alice's pull request
    CHECK(ab->by_kind["same_thread"] > 0);  // and they talked in the same Slack thread
    CHECK(ab->strength > ae->strength);
    CHECK(ad->by_kind["same_files"] > 0);
    auto sym = (*people)->collaboration("bob", "alice", member);
    REQUIRE(sym.ok());
    CHECK(sym->strength == Approx(ab->strength));
    auto hidden = (*people)->collaboration("alice", "bob", Principal{"guest", {}});
    REQUIRE(hidden.ok());
    CHECK(hidden->by_kind["reviewed"] == 0);
  }
}

TEST_CASE("people: every query is audited, and an unwritable log answers nothing", "[context][people]") {
  ContextTempDir t;
  {
    auto engine = ContextEngine::open({.index_path = t.path("ctx.db")});
    REQUIRE(engine.ok());
    DocsConnector docs("sor", graph_docs());
    REQUIRE((*engine)->ingest(docs).ok());
  }
  auto ids = Identities::from_mapping(kMapping);
  REQUIRE(ids.ok());
  std::vector<AuditRecord> records;
  auto people = People::open({.index_path = t.path("ctx.db"), .identities = *ids, .now = kNow,
                              .audit = [&](const AuditRecord& r) { records.push_back(r); },
                              .audit_log_path = t.path("audit.jsonl")});
  REQUIRE(people.ok());
  const Principal member{"alice", {"team:api"}};
  auto owners = (*people)->owners_of_path("src/upload.cc", member);
  REQUIRE(owners.ok());
  REQUIRE((*people)->experts_on("backoff retry", member).ok());
  auto reviewers = (*people)->reviewers_for({"src/upload.cc", "src/retry.h"}, member);
  REQUIRE(reviewers.ok());
  REQUIRE((*people)->collaboration("alice", "bob", Principal{"guest", {}}).ok());
  REQUIRE(records.size() == 4);
  CHECK(records[0].operation == "owners_of_path");
  CHECK(records[0].principal == "alice");
  CHECK(records[0].groups == std::vector<std::string>{"team:api"});
  CHECK(records[0].query == "src/upload.cc");
  CHECK(records[0].served == persons(*owners));
  CHECK_FALSE(records[0].served.empty());
  CHECK(records[1].operation == "experts_on");
  CHECK(records[1].query == "backoff retry");
  CHECK(records[2].operation == "reviewers_for");
  CHECK(records[2].query == "src/upload.cc\nsrc/retry.h");
  CHECK(records[2].served == persons(*reviewers));
  CHECK(records[3].operation == "collaboration");
  CHECK(records[3].principal == "guest");
  CHECK(records[3].served == std::vector<std::string>{"alice", "bob"});
  std::ifstream in(t.path("audit.jsonl"));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].find("\"operation\":\"owners_of_path\"") != std::string::npos);
  CHECK(lines[3].find("\"served\":[\"alice\",\"bob\"]") != std::string::npos);

  // The log cannot be written: each query fails with kUnavailable and returns no one.
  auto closed = People::open({.index_path = t.path("ctx.db"), .identities = *ids, .now = kNow,
                              .audit_log_path = t.path("no/such/dir/audit.jsonl")});
  REQUIRE(closed.ok());
  CHECK((*closed)->owners_of_path("src/upload.cc", member).status().code() == StatusCode::kUnavailable);
  CHECK((*closed)->experts_on("backoff retry", member).status().code() == StatusCode::kUnavailable);
  CHECK((*closed)->reviewers_for({"src/upload.cc"}, member).status().code() == StatusCode::kUnavailable);
  CHECK((*closed)->collaboration("alice", "bob", member).status().code() == StatusCode::kUnavailable);
}

// A fresh index file with the edges table, for EdgeWriter's own tests.
class EdgeIndex {
 public:
  EdgeIndex() : db_(detail::open_index_db(dir_.path("ctx.db"), true)) {
    REQUIRE(db_.ok());
    REQUIRE(detail::ensure_edges_schema(raw()).ok());
  }
  sqlite3* raw() { return db_->get(); }
  // The first column of the first row of `sql`.
  std::int64_t scalar(const std::string& sql) {
    detail::Stmt st(raw(), sql);
    REQUIRE(st.ok());
    REQUIRE(st.step() == SQLITE_ROW);
    return st.int64(0);
  }

 private:
  ContextTempDir dir_;
  Result<detail::DbPtr> db_;
};

TEST_CASE("people: a path's owners come from it and the tree under it exactly, recent commits weighing more",
          "[context][people]") {
  ContextTempDir t;
  std::vector<Document> docs;
  auto commit = [&](const std::string& id, const std::string& author, std::int64_t time, const std::string& path) {
    auto c = make(DocumentKind::kCommit, id, author, time, {"*"}, "change " + id);
    c.changed_paths = {path};
    docs.push_back(c);
  };
  // Three commits each under src/a_b: ann's this week, ben's a year ago (about two half-lives).
  for (int i = 0; i < 3; ++i) {
    commit("n" + std::to_string(i), "Ann <ann@acme.io>", kNow - i * kDay, "src/a_b/x.py");
    commit("o" + std::to_string(i), "Ben <ben@acme.io>", kNow - 365 * kDay - i * kDay, "src/a_b/y.py");
  }
  commit("e", "Eve <eve@acme.io>", kNow, "src/a_b");  // the path itself
  // Paths a LIKE 'src/a_b/%' would also have matched ('_' is any character, ASCII case is
  // ignored), and a sibling that shares the prefix.
  commit("w", "Wil <wil@acme.io>", kNow, "src/aXb/z.py");
  commit("u", "Uma <uma@acme.io>", kNow, "SRC/A_B/z.py");
  commit("s", "Sid <sid@acme.io>", kNow, "src/a_b2/z.py");
  {
    auto engine = ContextEngine::open({.index_path = t.path("ctx.db")});
    REQUIRE(engine.ok());
    DocsConnector connector("git", docs);
    REQUIRE((*engine)->ingest(connector).ok());
  }
  auto people = People::open({.index_path = t.path("ctx.db"), .now = kNow});
  REQUIRE(people.ok());
  const Principal anyone{"guest", {}};
  for (const char* path : {"src/a_b", "src/a_b/"}) {
    INFO(path);
    auto owners = (*people)->owners_of_path(path, anyone);
    REQUIRE(owners.ok());
    // Ann's recent commits outweigh Ben's old ones, as many; Eve's one recent commit is between.
    CHECK(persons(*owners) == std::vector<std::string>{"git:ann@acme.io", "git:eve@acme.io", "git:ben@acme.io"});
    REQUIRE(owners->size() == 3);
    CHECK((*owners)[0].score > 2.5 * (*owners)[2].score);
  }
  auto other = (*people)->owners_of_path("src/aXb", anyone);
  REQUIRE(other.ok());
  CHECK(persons(*other) == std::vector<std::string>{"git:wil@acme.io"});
}

// A bulk import builds the edge indexes with SQLite's sorter on helper threads and a small
// cache (EdgeWriter::end_bulk): the indexes must be complete and the connection's settings
// as they were.
TEST_CASE("edges: end of a bulk import builds complete indexes and restores the connection's cache and threads",
          "[context][people]") {
  EdgeIndex index;
  sqlite3* raw = index.raw();
  auto pragma = [&](const char* sql) { return index.scalar(sql); };
  REQUIRE(detail::exec(raw, "PRAGMA cache_size=-12345").ok());
  REQUIRE(detail::exec(raw, "BEGIN").ok());
  detail::EdgeWriter edges(raw);
  REQUIRE(edges.begin_bulk().ok());
  CHECK(pragma("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'edges'") == 0);
  for (int i = 0; i < 30'000; ++i) {
    Document d;
    d.kind = DocumentKind::kChatMessage;
    d.path = "slack:C1/" + std::to_string(i);
    d.parent = "slack:C1/" + std::to_string(i - i % 10);
    d.authors = {"slack:U" + std::to_string(i % 97)};
    d.timestamp = kNow + i;
    REQUIRE(edges.replace("slack", d, "\n*\n", /*is_new=*/true).ok());
  }
  REQUIRE(edges.end_bulk().ok());
  REQUIRE(detail::exec(raw, "COMMIT").ok());
  CHECK(pragma("PRAGMA cache_size") == -12345);
  CHECK(pragma("PRAGMA threads") == 0);
  CHECK(pragma("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'edges'") == 3);
  {
    detail::Stmt check(raw, "PRAGMA integrity_check");
    REQUIRE(check.step() == SQLITE_ROW);
    CHECK(check.text(0) == "ok");
  }
  // Each index answers from its own entries (INDEXED BY fails if the index is missing).
  CHECK(pragma("SELECT count(*) FROM edges INDEXED BY edges_account WHERE account = 'slack:U5'") == 310);
  CHECK(pragma("SELECT count(*) FROM edges INDEXED BY edges_target WHERE target = 'slack:C1/29990'") == 10);
  CHECK(pragma("SELECT count(*) FROM edges INDEXED BY edges_doc WHERE source = 'slack' AND doc = 'slack:C1/7'") == 1);
}

// Message i of channel C1 by `author`, in the thread of message i - i % 10.
namespace {
Document edge_test_message(int i, const std::string& author) {
  Document d;
  d.kind = DocumentKind::kChatMessage;
  d.path = "slack:C1/" + std::to_string(i);
  d.parent = "slack:C1/" + std::to_string(i - i % 10);
  d.authors = {author};
  d.timestamp = kNow + i;
  return d;
}
}  // namespace

// EdgeWriter inserts edges kBatch at a time: what is pending is written by flush(), before a
// remove() of any document, and never twice; a failed batch reports the error and is dropped.
TEST_CASE("edges: batched inserts are written by flush and before a remove, and a failed batch is reported",
          "[context][people]") {
  EdgeIndex index;
  sqlite3* raw = index.raw();
  auto count = [&](const std::string& sql) { return index.scalar(sql); };
  auto message = edge_test_message;
  constexpr int kBatch = static_cast<int>(detail::EdgeWriter::kBatch);
  REQUIRE(detail::exec(raw, "BEGIN").ok());
  detail::EdgeWriter edges(raw);
  const int n = 2 * kBatch + 6;
  for (int i = 0; i < n; ++i) REQUIRE(edges.replace("slack", message(i, "slack:U" + std::to_string(i % 7)), "\n*\n", true).ok());
  // Two full batches are in the table, six edges wait.
  CHECK(count("SELECT count(*) FROM edges") == 2 * kBatch);
  CHECK(edges.pending() == 6);
  REQUIRE(edges.flush().ok());
  CHECK(edges.pending() == 0);
  CHECK(count("SELECT count(*) FROM edges") == n);
  REQUIRE(edges.flush().ok());  // nothing pending: nothing written twice
  CHECK(count("SELECT count(*) FROM edges") == n);
  // Every column as given, in order.
  {
    detail::Stmt row(raw, "SELECT source, doc, relation, account, target, time, ord, access FROM edges ORDER BY rowid LIMIT 1 OFFSET 67");
    REQUIRE(row.step() == SQLITE_ROW);
    CHECK(row.text(0) == "slack");
    CHECK(row.text(1) == "slack:C1/67");
    CHECK(row.text(2) == "discussed");
    CHECK(row.text(3) == "slack:U4");
    CHECK(row.text(4) == "slack:C1/60");
    CHECK(row.int64(5) == kNow + 67);
    CHECK(row.int64(6) == 0);
    CHECK(row.text(7) == "\n*\n");
  }
  CHECK(count("SELECT count(DISTINCT doc) FROM edges") == n);

  // A document replaced while its first edges are still pending: they are written, then
  // deleted with the document's other edges; only the new one stays.
  REQUIRE(edges.replace("slack", message(1000, "slack:U1"), "\n*\n", true).ok());
  REQUIRE(edges.replace("slack", message(1001, "slack:U1"), "\n*\n", true).ok());
  CHECK(edges.pending() == 2);
  REQUIRE(edges.replace("slack", message(1000, "slack:U9"), "\n*\n", /*is_new=*/false).ok());
  CHECK(count("SELECT count(*) FROM edges WHERE doc = 'slack:C1/1000'") + static_cast<std::int64_t>(edges.pending()) == 1);
  REQUIRE(edges.remove("slack", "slack:C1/1001").ok());
  CHECK(edges.pending() == 0);
  CHECK(count("SELECT count(*) FROM edges WHERE doc = 'slack:C1/1001'") == 0);
  CHECK(count("SELECT count(*) FROM edges WHERE doc = 'slack:C1/1000' AND account = 'slack:U9'") == 1);
  CHECK(count("SELECT count(*) FROM edges WHERE doc = 'slack:C1/1000' AND account = 'slack:U1'") == 0);

  // A batch the database refuses: the add that filled it reports the error, no edge of the
  // batch is in the table, and nothing stays pending.
  REQUIRE(detail::exec(raw, "CREATE TEMP TRIGGER refuse BEFORE INSERT ON edges WHEN NEW.account = 'slack:BAD'"
                            " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;").ok());
  const std::int64_t before = count("SELECT count(*) FROM edges");
  Status last = ok_status();
  for (int i = 0; i < kBatch && last.ok(); ++i) {
    last = edges.replace("slack", message(2000 + i, i == 5 ? "slack:BAD" : "slack:U2"), "\n*\n", true);
  }
  CHECK_FALSE(last.ok());
  CHECK(last.message().find("refused by the test") != std::string::npos);
  CHECK(edges.pending() == 0);
  CHECK(count("SELECT count(*) FROM edges") == before);
  REQUIRE(edges.flush().ok());
  REQUIRE(detail::exec(raw, "COMMIT").ok());
}

// While held (a first ingest's files rows are queued), edges wait for flush() however many
// there are; remove_written() deletes a document's written edges and leaves its pending ones,
// which belong to the version that replaces it. In bulk mode it builds the indexes first.
TEST_CASE("edges: held edges wait for flush, and remove_written keeps the pending version", "[context][people]") {
  EdgeIndex index;
  sqlite3* raw = index.raw();
  auto count = [&](const std::string& sql) { return index.scalar(sql); };
  auto message = edge_test_message;
  REQUIRE(detail::exec(raw, "BEGIN").ok());
  detail::EdgeWriter edges(raw);
  edges.hold(true);
  const int n = static_cast<int>(detail::EdgeWriter::kBatch) + 8;
  for (int i = 0; i < n; ++i) REQUIRE(edges.replace("slack", message(i, "slack:U1"), "\n*\n", true).ok());
  CHECK(edges.pending() == static_cast<std::size_t>(n));  // more than a batch, none written
  CHECK(count("SELECT count(*) FROM edges") == 0);
  REQUIRE(edges.remove_written("slack", "slack:C1/3").ok());  // nothing written: nothing goes
  CHECK(edges.pending() == static_cast<std::size_t>(n));
  edges.hold(false);
  REQUIRE(edges.flush().ok());  // a batch of 32 and one of 8
  CHECK(edges.pending() == 0);
  CHECK(count("SELECT count(*) FROM edges") == n);
  CHECK(count("SELECT count(DISTINCT doc) FROM edges") == n);

  // A second version of slack:C1/3 while held, after bulk mode began: the first version's
  // edge goes, the second's is written by the flush, and the indexes are back.
  REQUIRE(edges.begin_bulk().ok());
  edges.hold(true);
  REQUIRE(edges.replace("slack", message(3, "slack:U9"), "\n*\n", true).ok());
  REQUIRE(edges.remove_written("slack", "slack:C1/3").ok());
  CHECK_FALSE(edges.bulk());
  CHECK(edges.pending() == 1);
  CHECK(count("SELECT count(*) FROM edges WHERE doc = 'slack:C1/3'") == 0);
  edges.hold(false);
  REQUIRE(edges.flush().ok());
  CHECK(count("SELECT count(*) FROM edges WHERE doc = 'slack:C1/3' AND account = 'slack:U9'") == 1);
  CHECK(count("SELECT count(*) FROM edges WHERE doc = 'slack:C1/3'") == 1);
  CHECK(count("SELECT count(*) FROM edges") == n);
  CHECK(count("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'edges'") == 3);
  REQUIRE(detail::exec(raw, "COMMIT").ok());
}
