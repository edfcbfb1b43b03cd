// Fail-closed permissions: the principal filter is inside the index query (before ranking,
// the top-k LIMIT, term statistics, snippets and packing); the audit log; secret redaction.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include <strata/context/connectors.h>
#include <strata/context/engine.h>
#include <strata/context/people.h>

#include "context/context_test_util.h"
#include "context/redact.h"

using namespace strata;
using namespace strata::context;
using strata::test::ContextTempDir;

namespace {

class VectorConnector final : public Connector {
 public:
  VectorConnector(std::string id, std::vector<Document> docs) : id_(std::move(id)), docs_(std::move(docs)) {}
  std::string id() const override { return id_; }
  Result<ScanResult> scan(std::string_view, IngestSink& sink) override {
    for (auto& d : docs_) {
      if (sink.unchanged(d.path, content_hash(d.content))) continue;
      STRATA_RETURN_IF_ERROR(sink.put(d));
    }
    return ScanResult{};
  }

 private:
  std::string id_;
  std::vector<Document> docs_;
};

Document doc(std::string path, std::string content, std::vector<std::string> access,
             DocumentKind kind = DocumentKind::kChatMessage) {
  Document d;
  d.kind = kind;
  d.path = std::move(path);
  d.content = std::move(content);
  d.access = std::move(access);
  return d;
}

std::unique_ptr<ContextEngine> open_engine(EngineOptions o) {
  auto e = ContextEngine::open(std::move(o));
  REQUIRE(e.ok());
  return std::move(*e);
}

Principal as(std::string id, std::vector<std::string> groups = {}) { return Principal{std::move(id), std::move(groups)}; }

bool mentions(const RetrieveResult& r, const std::string& word) {
  for (const auto& f : r.files) {
    if (f.path.find(word) != std::string::npos) return true;
    for (const auto& w : f.why) {
      if (w.detail.find(word) != std::string::npos) return true;
    }
  }
  for (const auto& s : r.spans) {
    if (s.path.find(word) != std::string::npos || s.symbol.find(word) != std::string::npos) return true;
  }
  for (const auto& t : r.terms) {
    if (t.find(word) != std::string::npos) return true;
  }
  return false;
}

std::vector<Document> corpus() {
  std::vector<Document> docs;
  docs.push_back(doc("slack:C1/1.0", "deploy the billing service after lunch", {"*"}));
  docs.push_back(doc("slack:C1/2.0", "the billing dashboard is slow today", {"*"}));
  docs.push_back(doc("slack:G1/1.0", "zanzibar quokka acquisition closes friday, billing unaffected",
                     {"slack:U1", "group:board"}));
  docs.push_back(doc("jira:SEC-1", "nobody-may-read xylophone marmalade", {}));
  docs.push_back(doc("jira:OPS-1", "billing outage postmortem", {"group:ops"}));
  return docs;
}

}  // namespace

TEST_CASE("permissions: a principal never sees a forbidden document", "[context][permissions]") {
  ContextTempDir t;
  auto engine = open_engine({.index_path = t.path("ctx.db")});
  VectorConnector c("chat", corpus());
  REQUIRE(engine->ingest(c).ok());

  SECTION("a query of a secret's unique words returns nothing to others") {
    for (const auto& who : {as(""), as("slack:U2"), as("mallory", {"group:ops"})}) {
      auto r = engine->retrieve({.text = "zanzibar quokka acquisition", .principal = who});
      REQUIRE(r.ok());
      CHECK(r->files.empty());
      CHECK(r->spans.empty());
      CHECK(r->terms.empty());  // the words are not even known to exist
      CHECK_FALSE(mentions(*r, "zanzibar"));
      CHECK_FALSE(mentions(*r, "G1"));
      auto p = engine->pack({.text = "zanzibar quokka acquisition", .principal = who}, {});
      REQUIRE(p.ok());
      CHECK(p->items.empty());
      CHECK(p->omitted.empty());
      // The task is echoed; nothing of the document is.
      CHECK(p->render().find("friday") == std::string::npos);
      CHECK(p->render().find("G1") == std::string::npos);
    }
  }
  SECTION("members and groups see it, in results, spans and packets") {
    for (const auto& who : {as("slack:U1"), as("someone", {"group:board"})}) {
      auto r = engine->retrieve({.text = "zanzibar quokka acquisition", .principal = who});
      REQUIRE(r.ok());
      REQUIRE(r->files.size() == 1);
      CHECK(r->files[0].path == "slack:G1/1.0");
      auto p = engine->pack({.text = "zanzibar quokka acquisition", .principal = who}, {});
      REQUIRE(p.ok());
      CHECK(p->render().find("zanzibar quokka") != std::string::npos);
    }
  }
  SECTION("naming a forbidden document's path, as a path or a stack frame, finds nothing") {
    for (const char* text : {"what is in slack:G1/1.0", "File \"slack:G1/1.0\", line 1, in secret\nError",
                             "G1 1.0 zanzibar"}) {
      auto r = engine->retrieve({.text = text, .principal = as("slack:U2")});
      REQUIRE(r.ok());
      for (const auto& f : r->files) CHECK(f.path.rfind("slack:C1/", 0) == 0);  // public ones only
      CHECK_FALSE(mentions(*r, "G1/1.0"));
    }
  }
  SECTION("an empty access list is readable by nobody") {
    for (const auto& who : {as(""), as("slack:U1", {"group:board", "group:ops"}), as("*")}) {
      auto r = engine->retrieve({.text = "xylophone marmalade", .principal = who});
      REQUIRE(r.ok());
      CHECK(r->files.empty());
      CHECK_FALSE(mentions(*r, "xylophone"));
    }
  }
  SECTION("shared words: only the readable documents rank, and counts do not include the rest") {
    auto r = engine->retrieve({.text = "billing", .principal = as("")});
    REQUIRE(r.ok());
    std::vector<std::string> paths;
    for (const auto& f : r->files) paths.push_back(f.path);
    std::sort(paths.begin(), paths.end());
    CHECK(paths == std::vector<std::string>{"slack:C1/1.0", "slack:C1/2.0"});
    auto ops = engine->retrieve({.text = "billing", .principal = as("x", {"group:ops"})});
    REQUIRE(ops.ok());
    CHECK(ops->files.size() == 3);
  }
}

namespace {

// Everything a caller can observe of a query's outcome, as text: the error's code and
// message, or every field of the result (scores to 12 significant digits).
std::string outcome(const Result<RetrieveResult>& r) {
  if (!r.ok()) return "error " + std::to_string(static_cast<int>(r.status().code())) + ": " + r.status().message();
  std::string out = "terms:";
  for (const auto& t : r->terms) out += " " + t;
  char score[32];
  auto signals = [&](const std::vector<Signal>& why) {
    for (const auto& w : why) {
      std::snprintf(score, sizeof score, "%.12g", w.score);
      out += " [" + w.name + " " + score + " " + w.detail + "]";
    }
  };
  for (const auto& f : r->files) {
    std::snprintf(score, sizeof score, "%.12g", f.score);
    out += "\nfile " + f.path + " " + score + " " + std::to_string(f.bytes);
    signals(f.why);
  }
  for (const auto& sp : r->spans) {
    std::snprintf(score, sizeof score, "%.12g", sp.score);
    out += "\nspan " + sp.path + " " + sp.symbol + " " + std::to_string(sp.start_line) + "-" +
           std::to_string(sp.end_line) + " " + score;
    signals(sp.why);
  }
  return out;
}

template <typename T>
std::string people_outcome(const Result<T>& r) {
  if (!r.ok()) return "error " + std::to_string(static_cast<int>(r.status().code())) + ": " + r.status().message();
  std::string out;
  char score[32];
  if constexpr (std::is_same_v<T, Collaboration>) {
    std::snprintf(score, sizeof score, "%.12g", r->strength);
    out += score;
    for (const auto& [kind, v] : r->by_kind) {
      std::snprintf(score, sizeof score, "%.12g", v);
      out += " " + kind + "=" + score;
    }
  } else {
    for (const auto& p : *r) {
      std::snprintf(score, sizeof score, "%.12g", p.score);
      out += p.person + " " + score + ";";
      for (const auto& w : p.why) out += " " + w.name;
      out += "\n";
    }
  }
  return out;
}

}  // namespace

TEST_CASE("permissions: what a principal observes is the same with or without the documents it may not read",
          "[context][permissions]") {
  // Two indexes: one with every document, one with only those the outsider may read. For the
  // outsider every outcome — results, scores, reasons, spans, packets, the people queries and
  // every error message — must be the same byte for byte; a difference would tell the
  // outsider that a forbidden document exists.
  ContextTempDir t;
  std::vector<Document> all = corpus();
  all[0].authors = {"slack:U2"};
  all[2].authors = {"slack:U9"};  // the private board channel
  all[2].parent = "slack:G1/0.5";
  all.push_back(doc("slack:G1/2.0", "zanzibar quokka terms agreed", {"slack:U1", "group:board"}));
  all.back().authors = {"slack:U1"};
  all.back().parent = "slack:G1/0.5";
  std::vector<Document> readable;
  for (const auto& d : all) {
    if (d.access == std::vector<std::string>{"*"}) readable.push_back(d);
  }
  REQUIRE(readable.size() == 2);
  auto full = open_engine({.index_path = t.path("full.db"), .substring_index = true});
  auto bare = open_engine({.index_path = t.path("bare.db"), .substring_index = true});
  VectorConnector everything("chat", all), visible("chat", readable);
  REQUIRE(full->ingest(everything).ok());
  REQUIRE(bare->ingest(visible).ok());
  const Principal outsider = as("dave");

  const std::vector<Query> queries = {
      {.text = "zanzibar quokka acquisition closes friday"},
      {.text = "billing"},
      {.text = "what did slack:G1/1.0 and jira:SEC-1 say about the billing service"},
      {.text = "xylophone marmalade", .substrings = {"xylophone"}},
      {.text = "billing", .substrings = {"zanzibar"}},
      {.text = "billing", .substrings = {"bi"}},  // too short: an error
      {.text = ""},
      {.text = "billing", .max_files = 1, .max_spans = 1},
      {.text = std::string(5000, 'z') + " quokka"},
  };
  for (Query q : queries) {
    q.principal = outsider;
    INFO(q.text.substr(0, 80));
    const auto a = full->retrieve(q);
    CHECK(outcome(a) == outcome(bare->retrieve(q)));
    CHECK(outcome(a).find("zanzibar quokka") == std::string::npos);
    const auto pa = full->pack(q, {.budget = 2000});
    const auto pb = bare->pack(q, {.budget = 2000});
    REQUIRE(pa.ok() == pb.ok());
    if (pa.ok()) {
      CHECK(pa->render() == pb->render());
    } else {
      CHECK(pa.status().message() == pb.status().message());
    }
  }
  // The secret's words do reach a member: the comparison above is not vacuous.
  CHECK(outcome(full->retrieve({.text = "zanzibar quokka", .principal = as("slack:U1")})).find("slack:G1/1.0") !=
        std::string::npos);

  auto full_people = People::open({.index_path = t.path("full.db")});
  auto bare_people = People::open({.index_path = t.path("bare.db")});
  REQUIRE(full_people.ok());
  REQUIRE(bare_people.ok());
  const auto& fp = **full_people;
  const auto& bp = **bare_people;
  for (const char* topic : {"zanzibar quokka", "billing", "!!!", ""}) {
    INFO(topic);
    CHECK(people_outcome(fp.experts_on(topic, outsider)) == people_outcome(bp.experts_on(topic, outsider)));
  }
  for (const char* path : {"slack:G1/1.0", "slack:G1", "slack:C1/1.0", ""}) {
    INFO(path);
    CHECK(people_outcome(fp.owners_of_path(path, outsider)) == people_outcome(bp.owners_of_path(path, outsider)));
    CHECK(people_outcome(fp.reviewers_for({path}, outsider)) == people_outcome(bp.reviewers_for({path}, outsider)));
  }
  CHECK(people_outcome(fp.collaboration("slack:U9", "slack:U1", outsider)) ==
        people_outcome(bp.collaboration("slack:U9", "slack:U1", outsider)));
  CHECK(people_outcome(fp.collaboration("slack:U2", "slack:U9", outsider)) ==
        people_outcome(bp.collaboration("slack:U2", "slack:U9", outsider)));
  // A member does see the private thread's people.
  CHECK(people_outcome(fp.experts_on("zanzibar quokka", as("slack:U1"))).find("slack:U9") != std::string::npos);
}

TEST_CASE("permissions: commits a principal may not read leave no trace in the history signal",
          "[context][permissions]") {
  // Two public commits credit two public files. A second index also holds private commits
  // full of one of the query's words: a principal without access must get the same files,
  // scores and reasons from both (their document frequency would otherwise lower that
  // word's weight for everyone).
  auto commit = [](std::string hash, std::string message, std::string file, std::vector<std::string> access) {
    Document d = doc(std::move(hash), message, std::move(access), DocumentKind::kCommit);
    d.title = std::move(message);
    d.changed_paths = {std::move(file)};
    d.authors = {"Dev <dev@acme.io>"};
    d.timestamp = 1700000000;
    return d;
  };
  std::vector<Document> public_docs{
      doc("src/a.py", "def handle():\n    # parser crash handling\n    return 1\n", {"*"}, DocumentKind::kFile),
      doc("src/b.py", "def other():\n    # parser zebra handling\n    return 2\n", {"*"}, DocumentKind::kFile),
      commit("c1", "fix parser crash in the tokenizer", "src/a.py", {"*"}),
      commit("c2", "parser cleanup for zebra input", "src/b.py", {"*"}),
  };
  std::vector<Document> with_private = public_docs;
  for (int i = 0; i < 20; ++i) {
    with_private.push_back(commit("p" + std::to_string(i), "crash crash report from the vault " + std::to_string(i),
                                  "src/a.py", {"group:secret"}));
  }
  ContextTempDir t;
  auto plain = open_engine({.index_path = t.path("plain.db")});
  auto mixed = open_engine({.index_path = t.path("mixed.db")});
  VectorConnector a("repo", public_docs), b("repo", with_private);
  REQUIRE(plain->ingest(a).ok());
  REQUIRE(mixed->ingest(b).ok());

  const Query query{.text = "parser crash zebra", .principal = as("dev")};
  auto x = plain->retrieve(query);
  auto y = mixed->retrieve(query);
  REQUIRE(x.ok());
  REQUIRE(y.ok());
  bool history = false;
  REQUIRE(x->files.size() == y->files.size());
  for (std::size_t i = 0; i < x->files.size(); ++i) {
    CHECK(x->files[i].path == y->files[i].path);
    CHECK(x->files[i].score == Approx(y->files[i].score).epsilon(1e-9));
    REQUIRE(x->files[i].why.size() == y->files[i].why.size());
    for (std::size_t k = 0; k < x->files[i].why.size(); ++k) {
      const Signal& u = x->files[i].why[k];
      const Signal& v = y->files[i].why[k];
      CHECK(u.name == v.name);
      CHECK(u.score == Approx(v.score).epsilon(1e-9));
      CHECK(u.detail == v.detail);
      history |= u.name == "history";
    }
  }
  CHECK(history);  // the commits did count
  CHECK_FALSE(mentions(*y, "vault"));

  // A member of the group is scored with every commit, and sees them.
  auto member = mixed->retrieve({.text = "parser crash zebra", .principal = as("dev", {"group:secret"})});
  REQUIRE(member.ok());
  CHECK(mentions(*member, "vault"));
}

TEST_CASE("permissions: the filter runs before the top-k, not after it", "[context][permissions]") {
  // 450 documents only alice may read outrank bob's single document; a filter applied after a
  // top-400 candidate query would leave bob with nothing.
  ContextTempDir t;
  auto engine = open_engine({.index_path = t.path("ctx.db")});
  std::vector<Document> docs;
  for (int i = 0; i < 450; ++i) {
    docs.push_back(doc("slack:A/" + std::to_string(i), "widget widget widget widget tag" + std::string(1, static_cast<char>('a' + i % 26)) +
                           std::string(1, static_cast<char>('a' + i / 26)),
                       {"alice"}));
  }
  docs.push_back(doc("slack:B/1", "a long message that mentions a widget once among many other ordinary words "
                                  "about lunch plans and the weather and the train timetable",
                     {"bob"}));
  VectorConnector c("chat", docs);
  REQUIRE(engine->ingest(c).ok());
  auto r = engine->retrieve({.text = "widget", .principal = as("bob")});
  REQUIRE(r.ok());
  REQUIRE(r->files.size() == 1);
  CHECK(r->files[0].path == "slack:B/1");
  // And the other way round: bob's words are unknown to alice.
  auto a = engine->retrieve({.text = "lunch plans weather timetable", .max_files = 1000, .principal = as("alice")});
  REQUIRE(a.ok());
  CHECK(a->files.empty());
  CHECK(a->terms.empty());
  auto a2 = engine->retrieve({.text = "tagra", .principal = as("alice")});
  REQUIRE(a2.ok());
  REQUIRE_FALSE(a2->files.empty());
  CHECK(a2->files[0].path == "slack:A/17");
}

TEST_CASE("permissions: connectors' access lists end to end", "[context][permissions]") {
  ContextTempDir t;
  t.write("slack/channels.json", R"([{"id": "C1", "name": "general", "members": ["U1", "U2"]}])");
  t.write("slack/groups.json", R"([{"id": "G1", "name": "hr", "members": ["U1"]}])");
  t.write("slack/general/2024-01-01.json", R"([{"type": "message", "user": "U2", "text": "offsite in lisbon", "ts": "1.0"}])");
  t.write("slack/hr/2024-01-01.json", R"([{"type": "message", "user": "U1", "text": "salary review for lisbon office", "ts": "2.0"}])");
  auto engine = open_engine({.index_path = t.path("ctx.db")});
  auto slack = make_slack_export_connector({.root = t.path("slack"), .public_access = {"slack:workspace"}});
  REQUIRE(engine->ingest(*slack).ok());
  auto outsider = engine->retrieve({.text = "lisbon", .principal = as("guest")});
  REQUIRE(outsider.ok());
  CHECK(outsider->files.empty());
  auto u2 = engine->retrieve({.text = "lisbon salary", .principal = as("bob", {"slack:workspace", "slack:U2"})});
  REQUIRE(u2.ok());
  REQUIRE(u2->files.size() == 1);
  CHECK(u2->files[0].path == "slack:C1/1.0");
  CHECK_FALSE(mentions(*u2, "salary"));
  auto u1 = engine->retrieve({.text = "lisbon salary", .principal = as("alice", {"slack:workspace", "slack:U1"})});
  REQUIRE(u1.ok());
  CHECK(u1->files.size() == 2);
  CHECK(u1->files[0].path == "slack:G1/2.0");
}

TEST_CASE("audit log: what was served to whom, an unwritable log serves nothing", "[context][permissions]") {
  ContextTempDir t;
  std::mutex mu;
  std::vector<AuditRecord> records;
  auto engine = open_engine({.index_path = t.path("ctx.db"),
                             .audit = [&](const AuditRecord& r) {
                               std::lock_guard lock(mu);
                               records.push_back(r);
                             },
                             .audit_log_path = t.path("audit.jsonl")});
  VectorConnector c("chat", corpus());
  REQUIRE(engine->ingest(c).ok());
  REQUIRE(engine->retrieve({.text = "billing", .principal = as("carol", {"group:ops"})}).ok());
  REQUIRE(engine->pack({.text = "zanzibar", .principal = as("dave")}, {}).ok());
  REQUIRE(records.size() == 2);
  CHECK(records[0].operation == "retrieve");
  CHECK(records[0].principal == "carol");
  CHECK(records[0].groups == std::vector<std::string>{"group:ops"});
  CHECK(records[0].query == "billing");
  CHECK(records[0].served.size() == 3);
  CHECK(records[1].principal == "dave");
  CHECK(records[1].served.empty());
  std::ifstream in(t.path("audit.jsonl"));
  std::string line1, line2, line3;
  REQUIRE(std::getline(in, line1));
  REQUIRE(std::getline(in, line2));
  CHECK_FALSE(std::getline(in, line3));
  CHECK(line1.find("\"principal\":\"carol\"") != std::string::npos);
  CHECK(line1.find("\"operation\":\"retrieve\"") != std::string::npos);
  CHECK(line1.find("jira:OPS-1") != std::string::npos);
  CHECK(line2.find("\"served\":[]") != std::string::npos);

  // The log cannot be written: the query fails and serves nothing.
  auto closed = open_engine({.index_path = t.path("ctx2.db"), .audit_log_path = t.path("no/such/dir/audit.jsonl")});
  REQUIRE(closed->ingest(c).ok());
  auto r = closed->retrieve({.text = "billing", .principal = as("")});
  CHECK(r.status().code() == StatusCode::kUnavailable);
}

TEST_CASE("secrets: redacted at ingest and counted", "[context][permissions]") {
  using strata::context::detail::redact_secrets;
  std::map<std::string, std::size_t> kinds;
  std::string text =
      "aws AKIAIOSFODNN7EXAMPLE here\n"
      "token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 end\n"
      "slack xoxb-123456789012-abcdefABCDEF\n"
      "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabcdef\n-----END RSA PRIVATE KEY-----\n"
      "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n"
      "DB_PASSWORD = \"s3cr3tPassw0rdValue\"\n"
      "password = get_password_from_vault()\n"
      "AKIA is a prefix, so is ghp_ short\n";
  const auto lines_before = std::count(text.begin(), text.end(), '\n');
  const std::size_t n = redact_secrets(text, &kinds);
  CHECK(n == 6);
  CHECK(kinds["aws_access_key"] == 1);
  CHECK(kinds["github_token"] == 1);
  CHECK(kinds["slack_token"] == 1);
  CHECK(kinds["private_key"] == 1);
  CHECK(kinds["jwt"] == 1);
  CHECK(kinds["assigned_secret"] == 1);
  CHECK(std::count(text.begin(), text.end(), '\n') == lines_before);  // line numbers stay
  CHECK(text.find("AKIAIOSFODNN7EXAMPLE") == std::string::npos);
  CHECK(text.find("MIIEowIBAAKCAQEA") == std::string::npos);
  CHECK(text.find("s3cr3tPassw0rdValue") == std::string::npos);
  CHECK(text.find("get_password_from_vault()") != std::string::npos);  // code, not a secret
  CHECK(text.find("AKIA is a prefix, so is ghp_ short") != std::string::npos);
  CHECK(text.find("[REDACTED:private_key]") != std::string::npos);

  ContextTempDir t;
  auto engine = open_engine({.index_path = t.path("ctx.db")});
  VectorConnector c("chat", {doc("slack:C1/9.0", "here is the key AKIAIOSFODNN7EXAMPLE for the bucket", {"*"})});
  auto report = engine->ingest(c);
  REQUIRE(report.ok());
  CHECK(report->redacted == 1);
  CHECK(report->redacted_by_kind["aws_access_key"] == 1);
  auto r = engine->retrieve({.text = "AKIAIOSFODNN7EXAMPLE", .principal = as("")});
  REQUIRE(r.ok());
  CHECK(r->files.empty());
  auto p = engine->pack({.text = "key for the bucket", .principal = as("")}, {});
  REQUIRE(p.ok());
  CHECK(p->render().find("bucket") != std::string::npos);
  CHECK(p->render().find("AKIAIOSFODNN7EXAMPLE") == std::string::npos);
  // Re-ingest of the same bytes is "unchanged" (the hash is of the bytes as read).
  auto again = engine->ingest(c);
  REQUIRE(again.ok());
  CHECK(again->unchanged == 1);
  CHECK(again->added + again->updated == 0);
}

TEST_CASE("redaction: a secret overlapping a private key never leaves the key's tail in the clear",
          "[context][redact]") {
  // A token value that runs into a PEM header: the two spans overlap, and the redaction must
  // cover both (found by fuzz_redact; its input is a seed).
  std::string text =
      "auth_token= \"abcdefgh12345678-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretbody\n"
      "-----END RSA PRIVATE KEY-----\nafter\n";
  const std::string before = text;
  const std::size_t n = detail::redact_secrets(text, nullptr);
  CHECK(n >= 1);
  CHECK(text.find("MIIEsecretbody") == std::string::npos);
  CHECK(text.find("PRIVATE KEY") == std::string::npos);
  CHECK(std::count(text.begin(), text.end(), '\n') == std::count(before.begin(), before.end(), '\n'));
  CHECK(text.find("after") != std::string::npos);
}
