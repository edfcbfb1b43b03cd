// Social-graph queries (strata/context/people.h) over the index's edges table.
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <set>

#include <strata/context/connectors.h>
#include <strata/context/people.h>

#include "context/access_filter.h"
#include "context/index.h"
#include "context/sqlite_util.h"
#include "context/text.h"

namespace strata::context {

namespace {

using namespace detail;

constexpr double kSecondsPerDay = 86400.0;

std::string fts_or_query(std::string_view text) {
  std::string q;
  const std::string terms = index_terms(text);
  std::size_t s = 0, n = 0;
  while (s < terms.size() && n < 32) {
    std::size_t e = terms.find(' ', s);
    if (e == std::string::npos) e = terms.size();
    if (e > s) {
      if (!q.empty()) q += " OR ";
      q += '"' + terms.substr(s, e - s) + '"';
      ++n;
    }
    s = e + 1;
  }
  return q;
}

std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      if (static_cast<unsigned char>(c) < 0x20) continue;
      out += c;
    }
    out += '"';
  }
  return out + "]";
}

std::string parent_dir(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

// Accumulates scores per person with reasons.
class Tally {
 public:
  explicit Tally(const Identities& ids) : ids_(ids) {}
  void add(const std::string& account, const std::string& signal, double v) {
    if (account.empty() || v <= 0) return;
    auto& e = by_person_[ids_.person_of(account)];
    e.total += v;
    e.signals[signal] += v;
  }
  std::vector<PersonScore> top(std::size_t max, const std::map<std::string, std::string>& details = {}) const {
    std::vector<PersonScore> out;
    for (const auto& [person, e] : by_person_) {
      PersonScore p;
      p.person = person;
      p.name = ids_.name_of(person);
      p.score = e.total;
      for (const auto& [sig, v] : e.signals) {
        auto d = details.find(sig);
        p.why.push_back({sig, v, d == details.end() ? "" : d->second});
      }
      std::sort(p.why.begin(), p.why.end(), [](const Signal& a, const Signal& b) { return a.score > b.score; });
      out.push_back(std::move(p));
    }
    std::sort(out.begin(), out.end(), [](const PersonScore& a, const PersonScore& b) {
      return a.score != b.score ? a.score > b.score : a.person < b.person;
    });
    if (out.size() > max) out.resize(max);
    return out;
  }

 private:
  struct Entry {
    double total = 0;
    std::map<std::string, double> signals;
  };
  const Identities& ids_;
  std::map<std::string, Entry> by_person_;
};

class PeopleImpl final : public People {
 public:
  PeopleImpl(PeopleOptions o, DbPtr db) : options_(std::move(o)), db_(std::move(db)) {}

  Result<std::vector<PersonScore>> owners_of_path(std::string_view path, const Principal& principal,
                                                  std::size_t max) const override {
    std::lock_guard lock(mu_);
    const std::string names = principal_names_json(principal);
    const double now = now_seconds();
    Tally tally(options_.identities);
    // CODEOWNERS: rules per CODEOWNERS document, in line order; the last match wins.
    {
      Stmt st(db_.get(), "SELECT doc, target, ord, account FROM edges e WHERE relation = 'owns' AND " +
                             access_clause("e", 1) + " ORDER BY doc, ord");
      if (!st.ok()) return sqlite_error(db_.get(), "read owners");
      st.bind(1, names);
      std::map<std::string, std::vector<CodeOwnersRule>> files;
      while (st.step() == SQLITE_ROW) {
        auto& rules = files[st.text(0)];
        const int line = static_cast<int>(st.int64(2));
        if (rules.empty() || rules.back().line != line) rules.push_back({st.text(1), {}, line});
        rules.back().owners.push_back(st.text(3));
      }
      for (const auto& [doc, rules] : files) {
        for (const auto& owner : codeowners_of(rules, path)) tally.add(owner, "codeowners", 1.0);
      }
    }
    // Recency-weighted share of the commits touching the path (or the tree under it).
    std::string p(path);
    while (p.size() > 1 && p.back() == '/') p.pop_back();  // "src/" is the tree "src"
    auto share = [&](const char* sql, const char* signal, double weight) -> Status {
      Stmt st(db_.get(), std::string(sql) + " AND " + access_clause("e", 3));
      if (!st.ok()) return sqlite_error(db_.get(), "read edges");
      // The tree under the path as a range of exact strings ('0' follows '/'): no LIKE, whose
      // '_' and '%' in a path would match other names, and which ignores ASCII case.
      st.bind(1, p).bind(2, p + "/").bind(3, names).bind(4, p + "0");
      std::map<std::string, double> w;
      double total = 0;
      while (st.step() == SQLITE_ROW) {
        const double v = decay(now, static_cast<double>(st.int64(1)));
        w[st.text(0)] += v;
        total += v;
      }
      for (const auto& [acct, v] : w) tally.add(acct, signal, weight * v / total);
      return ok_status();
    };
    STRATA_RETURN_IF_ERROR(share("SELECT account, time FROM edges e WHERE relation = 'commit'"
                                 " AND (target = ?1 OR (target >= ?2 AND target < ?4))", "commits", 1.0));
    STRATA_RETURN_IF_ERROR(share("SELECT e.account, e.time FROM edges f JOIN edges e ON e.target = f.account"
                                 " WHERE f.relation = 'pr_file' AND (f.target = ?1 OR (f.target >= ?2 AND f.target < ?4))"
                                 " AND e.relation = 'authored'", "authored", 0.7));
    STRATA_RETURN_IF_ERROR(share("SELECT e.account, e.time FROM edges f JOIN edges e ON e.target = f.account"
                                 " WHERE f.relation = 'pr_file' AND (f.target = ?1 OR (f.target >= ?2 AND f.target < ?4))"
                                 " AND e.relation IN ('approved', 'requested_changes', 'reviewed')", "reviews", 0.5));
    return served("owners_of_path", principal, path, tally.top(max));
  }

  Result<std::vector<PersonScore>> experts_on(std::string_view topic, const Principal& principal,
                                              std::size_t max) const override {
    std::lock_guard lock(mu_);
    const std::string q = fts_or_query(topic);
    if (q.empty()) return invalid_argument_error("the topic has no searchable words");
    const std::string names = principal_names_json(principal);
    Tally tally(options_.identities);
    // Documents about the topic that the principal may read (the filter is in the query).
    Stmt docs(db_.get(), "SELECT f.path, -bm25(files_fts) AS s FROM files_fts JOIN files f ON f.id = files_fts.rowid"
                         " WHERE files_fts MATCH ?1 AND " + access_clause("f", 2) + " ORDER BY bm25(files_fts) LIMIT 100");
    if (!docs.ok()) return sqlite_error(db_.get(), "search documents");
    docs.bind(1, q).bind(2, names);
    std::vector<std::pair<std::string, double>> hits;
    double best = 0;
    while (docs.step() == SQLITE_ROW) {
      hits.emplace_back(docs.text(0), docs.real(1));
      best = std::max(best, docs.real(1));
    }
    Stmt people(db_.get(), "SELECT account, relation FROM edges e WHERE (doc = ?1 OR target = ?1) AND relation IN"
                           " ('authored', 'approved', 'requested_changes', 'reviewed', 'commented', 'discussed')"
                           " AND " + access_clause("e", 2));
    if (!people.ok()) return sqlite_error(db_.get(), "read edges");
    static const std::map<std::string, std::pair<const char*, double>> kWeight = {
        {"authored", {"authored", 1.0}},     {"approved", {"reviews", 0.7}},  {"requested_changes", {"reviews", 0.7}},
        {"reviewed", {"reviews", 0.5}},      {"commented", {"comments", 0.4}}, {"discussed", {"discussion", 0.5}}};
    for (const auto& [path, s] : hits) {
      const double rel = best > 0 ? s / best : 0;
      people.reset().bind(1, path).bind(2, names);
      std::set<std::pair<std::string, std::string>> seen;  // one credit per person and relation per document
      while (people.step() == SQLITE_ROW) {
        const std::string acct = people.text(0), relation = people.text(1);
        if (!seen.insert({acct, relation}).second) continue;
        auto w = kWeight.find(relation);
        if (w != kWeight.end()) tally.add(acct, w->second.first, rel * w->second.second);
      }
    }
    // Commit messages about the topic credit their authors.
    Stmt commits(db_.get(), "SELECT c.author, -bm25(commits_fts) FROM commits_fts JOIN commits c ON c.id = commits_fts.rowid"
                            " WHERE commits_fts MATCH ?1 AND " + access_clause("c", 2) + " ORDER BY bm25(commits_fts) LIMIT 100");
    if (commits.ok()) {
      commits.bind(1, q).bind(2, names);
      std::vector<std::pair<std::string, double>> chits;
      double cbest = 0;
      while (commits.step() == SQLITE_ROW) {
        chits.emplace_back(commits.text(0), commits.real(1));
        cbest = std::max(cbest, commits.real(1));
      }
      for (const auto& [author, s] : chits) {
        const auto lt = author.rfind('<'), gt = author.rfind('>');
        if (lt == std::string::npos || gt == std::string::npos || gt <= lt) continue;
        tally.add("git:" + lower(author.substr(lt + 1, gt - lt - 1)), "commits", cbest > 0 ? 0.8 * s / cbest : 0);
      }
    }
    return served("experts_on", principal, topic, tally.top(max));
  }

  Result<std::vector<PersonScore>> reviewers_for(const std::vector<std::string>& changed_paths,
                                                 const Principal& principal, std::size_t max) const override {
    std::lock_guard lock(mu_);
    if (changed_paths.empty()) return invalid_argument_error("no changed paths");
    const std::string names = principal_names_json(principal);
    const double now = now_seconds();
    std::vector<std::string> dirs;
    for (const auto& p : changed_paths) {
      const std::string d = parent_dir(p);
      if (!d.empty() && std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
    }
    // Pull requests that changed the same files (1.0) or files in the same directories (0.4).
    Stmt prs(db_.get(), "SELECT f.account, max(CASE WHEN f.target IN (SELECT value FROM json_each(?1)) THEN 1.0 ELSE 0.4 END)"
                        " FROM edges f WHERE f.relation = 'pr_file' AND (f.target IN (SELECT value FROM json_each(?1))"
                        " OR rtrim(f.target, replace(f.target, '/', '')) IN (SELECT value || '/' FROM json_each(?2)))"
                        " AND " + access_clause("f", 3) + " GROUP BY f.account");
    if (!prs.ok()) return sqlite_error(db_.get(), "find similar changes");
    prs.bind(1, json_array(changed_paths)).bind(2, json_array(dirs)).bind(3, names);
    std::vector<std::pair<std::string, double>> similar;
    while (prs.step() == SQLITE_ROW) similar.emplace_back(prs.text(0), prs.real(1));
    Stmt reviews(db_.get(), "SELECT account, relation, time FROM edges e WHERE target = ?1 AND relation IN"
                            " ('approved', 'requested_changes', 'reviewed', 'commented') AND " + access_clause("e", 2));
    if (!reviews.ok()) return sqlite_error(db_.get(), "read reviews");
    Tally tally(options_.identities);
    for (const auto& [pr, similarity] : similar) {
      reviews.reset().bind(1, pr).bind(2, names);
      while (reviews.step() == SQLITE_ROW) {
        const std::string relation = reviews.text(1);
        const double w = relation == "approved" ? 1.0 : relation == "requested_changes" ? 0.8
                         : relation == "reviewed" ? 0.6 : 0.3;
        tally.add(reviews.text(0), relation == "commented" ? "comments" : relation == "approved" ? "approvals" : "reviews",
                  similarity * w * decay(now, static_cast<double>(reviews.int64(2))));
      }
    }
    return served("reviewers_for", principal, join_lines(changed_paths), tally.top(max));
  }

  Result<Collaboration> collaboration(std::string_view a, std::string_view b, const Principal& principal) const override {
    std::lock_guard lock(mu_);
    const std::string names = principal_names_json(principal);
    const double now = now_seconds();
    const std::string as = json_array(options_.identities.accounts_of(a));
    const std::string bs = json_array(options_.identities.accounts_of(b));
    Collaboration c;
    auto sum = [&](const std::string& sql, const std::string& kind, double weight, bool symmetric) -> Status {
      for (int pass = 0; pass < (symmetric ? 1 : 2); ++pass) {
        Stmt st(db_.get(), sql);
        if (!st.ok()) return sqlite_error(db_.get(), "read collaboration");
        st.bind(1, pass == 0 ? as : bs).bind(2, pass == 0 ? bs : as).bind(3, names);
        while (st.step() == SQLITE_ROW) c.by_kind[kind] += weight * decay(now, static_cast<double>(st.int64(0)));
      }
      return ok_status();
    };
    const std::string x_access = access_clause("x", 3), y_access = access_clause("y", 3);
    // x reviewed (or commented on) what y authored, both ways.
    STRATA_RETURN_IF_ERROR(sum("SELECT x.time FROM edges x JOIN edges y ON y.target = x.target AND y.relation = 'authored'"
                               " WHERE x.relation IN ('approved', 'requested_changes', 'reviewed', 'commented')"
                               " AND x.account IN (SELECT value FROM json_each(?1)) AND y.account IN (SELECT value FROM json_each(?2))"
                               " AND " + x_access + " AND " + y_access, "reviewed", 1.0, false));
    // Both wrote in the same thread or on the same issue / pull request (not their own).
    STRATA_RETURN_IF_ERROR(sum("SELECT max(x.time) FROM edges x JOIN edges y ON y.target = x.target"
                               " WHERE x.relation IN ('commented', 'discussed') AND y.relation IN ('commented', 'discussed')"
                               " AND x.account IN (SELECT value FROM json_each(?1)) AND y.account IN (SELECT value FROM json_each(?2))"
                               " AND " + x_access + " AND " + y_access + " GROUP BY x.target", "same_thread", 0.5, true));
    // Both committed to the same files.
    STRATA_RETURN_IF_ERROR(sum("SELECT max(x.time) FROM edges x JOIN edges y ON y.target = x.target"
                               " WHERE x.relation = 'commit' AND y.relation = 'commit'"
                               " AND x.account IN (SELECT value FROM json_each(?1)) AND y.account IN (SELECT value FROM json_each(?2))"
                               " AND " + x_access + " AND " + y_access + " GROUP BY x.target", "same_files", 0.3, true));
    for (const auto& [k, v] : c.by_kind) c.strength += v;
    STRATA_RETURN_IF_ERROR(audit("collaboration", principal, std::string(a) + "\n" + std::string(b),
                                 {std::string(a), std::string(b)}));
    return c;
  }

 private:
  // Records a query in the audit log (PeopleOptions::audit, audit_log_path); kUnavailable
  // when the line cannot be written, and then the query returns nothing.
  Status audit(const char* operation, const Principal& principal, std::string_view query,
               std::vector<std::string> people) const {
    return audit_query(options_.audit, options_.audit_log_path, operation, principal, query, std::move(people));
  }

  // `people`, once recorded in the audit log.
  Result<std::vector<PersonScore>> served(const char* operation, const Principal& principal, std::string_view query,
                                          std::vector<PersonScore> people) const {
    std::vector<std::string> ids;
    ids.reserve(people.size());
    for (const auto& p : people) ids.push_back(p.person);
    STRATA_RETURN_IF_ERROR(audit(operation, principal, query, std::move(ids)));
    return people;
  }

  static std::string join_lines(const std::vector<std::string>& items) {
    std::string out;
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += '\n';
      out += items[i];
    }
    return out;
  }

  double decay(double now, double t) const {
    if (t <= 0 || options_.half_life_days <= 0) return 1.0;
    const double age_days = std::max(0.0, (now - t) / kSecondsPerDay);
    return std::pow(0.5, age_days / options_.half_life_days);
  }
  double now_seconds() const {
    if (options_.now > 0) return static_cast<double>(options_.now);
    Stmt st(db_.get(), "SELECT max(time) FROM edges WHERE relation != 'owns'");
    return st.ok() && st.step() == SQLITE_ROW ? static_cast<double>(st.int64(0)) : 0.0;
  }

  PeopleOptions options_;
  DbPtr db_;
  mutable std::mutex mu_;
};

}  // namespace

Result<std::unique_ptr<People>> People::open(PeopleOptions options) {
  if (options.index_path.empty()) return invalid_argument_error("PeopleOptions.index_path is empty");
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(options.index_path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) return not_found_error("cannot open index " + options.index_path);
  sqlite3_busy_timeout(db.get(), 5000);
  Stmt check(db.get(), "SELECT count(*) FROM edges");
  if (!check.ok() || check.step() != SQLITE_ROW) {
    return data_loss_error("index " + options.index_path + " has no social graph (" + check.error() + ")");
  }
  return std::unique_ptr<People>(new PeopleImpl(std::move(options), std::move(db)));
}

}  // namespace strata::context
