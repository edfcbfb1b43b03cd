// strata/context/people.h — one identity per person, and the social graph of the index.
//
//   auto ids = Identities::from_mapping(read("people.json")).value();   // explicit mapping
//   ids.observe("slack:U1", "alice@acme.io");                             // what exports say
//   ids.observe_slack_users(read_file("export/users.json"));                 // or whole files
//   auto people = People::open({.index_path = "ctx.db", .identities = ids}).value();
//   auto owners = people->owners_of_path("src/net/http.cc", ids.principal_for("bob"));
//
// Identities: accounts are "<system>:<id>" ("github:alice", "slack:U1", "jira:5b10...",
// "git:alice@acme.io" for a commit author's email). A person is named by the mapping file, or
// else by the smallest account id of its group. Accounts are merged only on strong signals:
//   1. the mapping file (authoritative; it also keeps people apart),
//   2. the same email address (case-insensitive) on two accounts, unless it is a shared or
//      role address (noreply, bots, ci, admin, support, team lists, ...) or it would join two
//      people the mapping names differently,
//   3. a GitHub noreply address ("123+alice@users.noreply.github.com") names github:alice.
// Display names, logins that look alike, or anything else never merge two accounts.
//
// The social graph is kept in the index by ContextEngine::ingest (an `edges` table written
// from every document: authored, reviewed, approved, requested_changes, commented, discussed,
// merged, assigned, owns via CODEOWNERS, and commit authorship of paths). People answers
// queries over it for a principal: only edges from documents the principal may read count.
//
// Thread safety: Identities: distinct objects safe, shared objects const access only.
// People: may be shared by threads (queries serialise on one connection).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <strata/context/engine.h>
#include <strata/status.h>

namespace strata::context {

class Identities {
 public:
  // Parses a mapping file: {"people": [{"id": "alice", "name": "Alice Smith",
  //   "accounts": ["github:alice", "slack:U1", "git:alice@acme.io"]}, ...]}.
  // kInvalidArgument for bad JSON, a person without an id, or an account given to two people.
  static Result<Identities> from_mapping(std::string_view json);

  // Records what a source says about an account: its email (Slack profile, Jira
  // emailAddress, a git author) and display name (kept for display only, never merged on).
  // Accounts written "git:<email>" carry their email themselves.
  void observe(std::string_view account, std::string_view email = {}, std::string_view name = {});
  // Observes every Slack user of a workspace export's users.json (an array) or a Web API
  // users.list page ({"members": [...]}) as "slack:<id>" with its profile email and name; a
  // bot (is_bot) gets its name only. Returns how many accounts came with an email.
  // kInvalidArgument (nothing observed) when the JSON is bad or neither shape.
  Result<std::size_t> observe_slack_users(std::string_view json);
  // Observes every Jira user object found anywhere in `json` — a user search result (an
  // array), an issue search page, an issue, a comment page — with "emailAddress" and an
  // "accountId" (Cloud), else "name" or "key" (Server/Data Center), as the Jira connectors name
  // accounts: "jira:<accountId>". Users whose email the site hides are observed by name only.
  // Returns how many accounts came with an email; kInvalidArgument (nothing observed) for bad
  // JSON.
  Result<std::size_t> observe_jira_users(std::string_view json);

  // The person an account belongs to (the account itself when nothing links it).
  [[nodiscard]] std::string person_of(std::string_view account) const;
  // Every account known to belong to `person` (the mapping's and the merged ones), sorted.
  [[nodiscard]] std::vector<std::string> accounts_of(std::string_view person) const;
  // Why `account` belongs to its person: "mapping", "email <addr>", "github noreply", "self".
  [[nodiscard]] std::string reason(std::string_view account) const;
  // The Principal a person queries as: id = person, groups = its accounts.
  [[nodiscard]] Principal principal_for(std::string_view person) const;
  // Display name (mapping first, then an observed name); "" when none.
  [[nodiscard]] std::string name_of(std::string_view person) const;
  // True when `email` is never used to merge (shared, role or bot addresses).
  static bool weak_email(std::string_view email);

 private:
  void resolve() const;
  std::map<std::string, std::string> mapped_;        // account -> person (mapping file)
  std::map<std::string, std::string> names_;         // person or account -> display name
  std::map<std::string, std::string> emails_;        // account -> lowercase email
  mutable bool dirty_ = true;
  mutable std::map<std::string, std::string> person_;  // account -> person
  mutable std::map<std::string, std::string> why_;     // account -> reason
};

struct PeopleOptions {
  // The index file a ContextEngine writes. Required.
  std::string index_path{};
  // How accounts map to people. Default: none (every account is its own person).
  Identities identities{};
  // Half-life of a commit's or review's weight. Default: 180 days.
  double half_life_days = 180;
  // "Now" for recency, seconds since the epoch. Default: 0 = the newest time in the graph
  // (deterministic for a given index).
  std::int64_t now = 0;
  // The audit log, as EngineOptions::audit and audit_log_path: every query below is recorded
  // (AuditRecord::operation names it; `served` holds the people returned), and a line that
  // cannot be written fails the query with kUnavailable and returns nothing. Default: none.
  std::function<void(const AuditRecord&)> audit{};
  std::string audit_log_path{};
};

// A person with a score and the reasons for it (signal names: "codeowners", "commits",
// "reviews", "approvals", "comments", "discussion", "authored").
struct PersonScore {
  std::string person{};
  std::string name{};
  double score = 0;
  std::vector<Signal> why{};
};

struct Collaboration {
  double strength = 0;  // a weighted sum of the interactions below, recency-weighted
  std::map<std::string, double> by_kind{};  // "reviewed", "commented_on", "same_thread", "same_files"
};

class People {
 public:
  // Opens the index read-only. kNotFound when there is no index, kDataLoss when it has no
  // social graph (written by a version without one).
  static Result<std::unique_ptr<People>> open(PeopleOptions options);
  virtual ~People() = default;

  // Owners of a path: CODEOWNERS (the last matching rule; team owners stay teams), then a
  // recency-weighted share of the commits and reviewed pull requests touching the path or
  // the directory it names. Best first, at most `max`.
  virtual Result<std::vector<PersonScore>> owners_of_path(std::string_view path, const Principal& principal,
                                                          std::size_t max = 10) const = 0;
  // Experts on a topic: people who authored, reviewed, commented on or discussed the
  // documents readable by `principal` that best match `topic` (full-text).
  virtual Result<std::vector<PersonScore>> experts_on(std::string_view topic, const Principal& principal,
                                                      std::size_t max = 10) const = 0;
  // Who reviewed changes like this one: reviewers (approvals count more) of pull requests
  // that changed the same files, or files in the same directories.
  virtual Result<std::vector<PersonScore>> reviewers_for(const std::vector<std::string>& changed_paths,
                                                         const Principal& principal,
                                                         std::size_t max = 10) const = 0;
  // How strongly two people collaborate (symmetric).
  virtual Result<Collaboration> collaboration(std::string_view person_a, std::string_view person_b,
                                              const Principal& principal) const = 0;
};

}  // namespace strata::context
