// GitHub REST API JSON -> documents (pull requests, reviews, review comments, issues,
// comments). Formats: docs/connectors.md, "GitHub".
#include <algorithm>

#include "context/connectors/fast_json.h"
#include "context/connectors/parsers.h"

namespace strata::context::detail {

namespace {

std::string lower_state(std::string s) {
  for (char& c : s) c = c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
  return s;
}

std::string base(const GitHubContext& c) { return "github:" + c.repository; }

// user.login of `j` as an account ("github:alice"); "" when absent. false on a wrong type.
bool login_of(sj::Value j, std::string_view key, std::string& account) {
  account.clear();
  const auto u = sj::member(j, key);
  if (!u) return true;
  if (!u->is_object()) return false;
  std::string_view login;
  if (!sj::str_checked(*u, "login", login)) return false;
  if (!login.empty()) account.append("github:").append(login);
  return true;
}

// Common checks: body, title, updated_at must be strings when present.
std::string text_fields(sj::Value j, std::string& title, std::string_view& body) {
  if (!sj::str_checked(j, "title", title)) return "\"title\" is a " + sj::type_name(sj::member(j, "title")) + ", not a string";
  if (!sj::str_checked(j, "body", body)) return "\"body\" is a " + sj::type_name(sj::member(j, "body")) + ", not a string";
  return "";
}

bool offered(const GitHubContext& c, std::string_view updated) {
  if (c.max_updated && updated > *c.max_updated) *c.max_updated = std::string(updated);
  return c.since.empty() || updated.empty() || updated >= c.since;
}

}  // namespace

int parse_github_repo_private(std::string_view text) {
  sj::RecordParser parser;
  const auto j = parser.parse(text, nullptr);
  if (!j) return -1;
  const auto p = sj::member(*j, "private");
  bool b = false;
  if (!p || p->get_bool().get(b) != simdjson::SUCCESS) return -1;
  return b ? 1 : 0;
}

std::vector<std::string> parse_github_pull_files(std::string_view text) {
  std::vector<std::string> out;
  sj::RecordParser parser;
  (void)split_json_array(text, [&](std::string_view rec, std::size_t) {
    if (out.size() >= 3000) return;  // GitHub's own limit for this endpoint
    const auto j = parser.parse(rec, nullptr);
    if (!j) return;
    const std::string_view name = sj::str(*j, "filename");
    if (!name.empty()) out.emplace_back(name);
  });
  return out;
}

void parse_github_pulls(std::string_view text, const GitHubContext& c, RecordSink& sink,
                        const std::function<std::vector<std::string>(long)>& changed_paths,
                        const std::function<void(long)>& want_details) {
  sj::for_each_record(text, c.file, c.max_record_bytes, sink, [&](sj::Value j) -> std::string {
    const auto number = sj::integer(j, "number");
    if (!number || *number <= 0) return "\"number\" is a " + sj::type_name(sj::member(j, "number")) + ", not a positive integer";
    Document d;
    std::string_view body;
    if (auto p = text_fields(j, d.title, body); !p.empty()) return p;
    std::string author;
    if (!login_of(j, "user", author)) return "\"user\" is not an object with a login";
    std::string updated;
    if (!sj::str_checked(j, "updated_at", updated)) return "\"updated_at\" is not a string";
    if (!offered(c, updated)) return "";
    d.kind = DocumentKind::kPullRequest;
    d.path = base(c) + "/pull/" + std::to_string(*number);
    d.uri = sj::str(j, "html_url");
    d.status = sj::str(j, "merged_at").empty() ? lower_state(std::string(sj::str(j, "state"))) : "merged";
    if (!author.empty()) d.authors.push_back(author);
    d.timestamp = parse_iso8601(sj::str(j, "created_at"));
    if (d.timestamp < 0) d.timestamp = 0;
    if (const auto merged_by = sj::member(j, "merged_by")) {
      const std::string_view who = sj::str(*merged_by, "login");
      if (!who.empty()) d.participants.push_back("merged:github:" + std::string(who));
    }
    for (long n : closing_references(body, c.repository)) {
      d.links.push_back(base(c) + "/issue/" + std::to_string(n));
    }
    if (changed_paths) d.changed_paths = changed_paths(static_cast<long>(*number));
    d.access = c.access;
    d.content = "Pull request #" + std::to_string(*number) + ": " + d.title + "\nstate: " + d.status;
    if (!author.empty()) d.content += "\nauthor: " + author;
    const std::string_view base_ref = sj::str_at(j, "base", "ref"), head_ref = sj::str_at(j, "head", "ref");
    if (!base_ref.empty()) d.content.append("\nbranch: ").append(head_ref).append(" -> ").append(base_ref);
    for (const auto& l : d.links) d.content += "\nfixes: " + l;
    if (!d.changed_paths.empty()) {
      d.content += "\nfiles:";
      for (std::size_t i = 0; i < d.changed_paths.size() && i < 100; ++i) d.content += " " + d.changed_paths[i];
    }
    d.content.append("\n\n").append(body);
    sink.put(std::move(d));
    if (want_details) want_details(static_cast<long>(*number));
    return "";
  });
}

void parse_github_reviews(std::string_view text, long pull, const GitHubContext& c, RecordSink& sink) {
  const std::string pr = base(c) + "/pull/" + std::to_string(pull);
  sj::for_each_record(text, c.file, c.max_record_bytes, sink, [&](sj::Value j) -> std::string {
    const auto id = sj::integer(j, "id");
    if (!id) return "\"id\" is a " + sj::type_name(sj::member(j, "id")) + ", not an integer";
    Document d;
    std::string_view body;
    if (auto p = text_fields(j, d.title, body); !p.empty()) return p;
    std::string author, state;
    if (!login_of(j, "user", author)) return "\"user\" is not an object with a login";
    if (!sj::str_checked(j, "state", state)) return "\"state\" is not a string";
    d.kind = DocumentKind::kReview;
    d.path = pr + "/review/" + std::to_string(*id);
    d.parent = pr;
    d.uri = sj::str(j, "html_url");
    d.status = lower_state(state);  // approved, changes_requested, commented, dismissed, pending
    if (!author.empty()) d.authors.push_back(author);
    d.timestamp = std::max<std::int64_t>(0, parse_iso8601(sj::str(j, "submitted_at")));
    d.access = c.access;
    d.title = "Review of #" + std::to_string(pull) + ": " + d.status;
    d.content = d.title + (author.empty() ? "" : "\nreviewer: " + author) + "\n\n";
    d.content.append(body);
    sink.put(std::move(d));
    return "";
  });
}

void parse_github_review_comments(std::string_view text, long pull, const GitHubContext& c, RecordSink& sink) {
  const std::string pr = base(c) + "/pull/" + std::to_string(pull);
  sj::for_each_record(text, c.file, c.max_record_bytes, sink, [&](sj::Value j) -> std::string {
    const auto id = sj::integer(j, "id");
    if (!id) return "\"id\" is a " + sj::type_name(sj::member(j, "id")) + ", not an integer";
    Document d;
    std::string_view body;
    std::string path, author;
    if (auto p = text_fields(j, d.title, body); !p.empty()) return p;
    if (!sj::str_checked(j, "path", path)) return "\"path\" is not a string";
    if (!login_of(j, "user", author)) return "\"user\" is not an object with a login";
    auto line = sj::integer(j, "line");
    if (!line) line = sj::integer(j, "original_line");
    d.kind = DocumentKind::kReviewComment;
    d.path = pr + "/comment/" + std::to_string(*id);
    d.parent = pr;
    d.uri = sj::str(j, "html_url");
    if (!author.empty()) d.authors.push_back(author);
    if (!path.empty()) d.changed_paths.push_back(path);
    d.timestamp = std::max<std::int64_t>(0, parse_iso8601(sj::str(j, "created_at")));
    d.access = c.access;
    d.title = "Comment on #" + std::to_string(pull) + (path.empty() ? "" : " " + path) +
              (line ? ":" + std::to_string(*line) : "");
    d.content = d.title + (author.empty() ? "" : "\nauthor: " + author);
    const std::string_view hunk = sj::str(j, "diff_hunk");
    if (!hunk.empty()) d.content.append("\n").append(utf8_prefix(hunk, 2000));
    d.content.append("\n\n").append(body);
    sink.put(std::move(d));
    return "";
  });
}

void parse_github_issues(std::string_view text, const GitHubContext& c, RecordSink& sink,
                         const std::function<void(long)>& want_details) {
  sj::for_each_record(text, c.file, c.max_record_bytes, sink, [&](sj::Value j) -> std::string {
    const auto number = sj::integer(j, "number");
    if (!number || *number <= 0) return "\"number\" is a " + sj::type_name(sj::member(j, "number")) + ", not a positive integer";
    if (sj::member(j, "pull_request")) {
      // The issues endpoint lists pull requests too; their conversation is still wanted.
      const std::string_view updated = sj::str(j, "updated_at");
      if (offered(c, updated) && want_details) want_details(static_cast<long>(*number));
      return "";
    }
    Document d;
    std::string_view body;
    std::string author, updated;
    if (auto p = text_fields(j, d.title, body); !p.empty()) return p;
    if (!login_of(j, "user", author)) return "\"user\" is not an object with a login";
    if (!sj::str_checked(j, "updated_at", updated)) return "\"updated_at\" is not a string";
    if (!offered(c, updated)) return "";
    d.kind = DocumentKind::kIssue;
    d.path = base(c) + "/issue/" + std::to_string(*number);
    d.uri = sj::str(j, "html_url");
    d.status = lower_state(std::string(sj::str(j, "state")));
    if (!author.empty()) d.authors.push_back(author);
    d.timestamp = std::max<std::int64_t>(0, parse_iso8601(sj::str(j, "created_at")));
    std::string labels;
    if (const auto ls = sj::member(j, "labels")) {
      sj::for_each_element(*ls, [&](sj::Value l) {
        std::string_view name;
        if (l.get_string().get(name) != simdjson::SUCCESS) name = sj::str(l, "name");
        if (!name.empty()) labels.append(labels.empty() ? "" : ", ").append(name);
      });
    }
    if (const auto as = sj::member(j, "assignees")) {
      sj::for_each_element(*as, [&](sj::Value a) {
        const std::string_view who = sj::str(a, "login");
        if (!who.empty()) d.participants.push_back("assigned:github:" + std::string(who));
      });
    }
    d.access = c.access;
    d.content = "Issue #" + std::to_string(*number) + ": " + d.title + "\nstate: " + d.status;
    if (!author.empty()) d.content += "\nauthor: " + author;
    if (!labels.empty()) d.content += "\nlabels: " + labels;
    d.content.append("\n\n").append(body);
    sink.put(std::move(d));
    if (want_details) want_details(static_cast<long>(*number));
    return "";
  });
}

void parse_github_issue_comments(std::string_view text, long issue, const GitHubContext& c, RecordSink& sink) {
  sj::for_each_record(text, c.file, c.max_record_bytes, sink, [&](sj::Value j) -> std::string {
    const auto id = sj::integer(j, "id");
    if (!id) return "\"id\" is a " + sj::type_name(sj::member(j, "id")) + ", not an integer";
    Document d;
    std::string_view body;
    std::string author;
    if (auto p = text_fields(j, d.title, body); !p.empty()) return p;
    if (!login_of(j, "user", author)) return "\"user\" is not an object with a login";
    d.kind = DocumentKind::kComment;
    d.path = base(c) + "/issue/" + std::to_string(issue) + "/comment/" + std::to_string(*id);
    // A pull request's conversation comments come from the issues API too; the parent names
    // the issue number, which for a pull request is the pull request's number.
    d.parent = base(c) + "/issue/" + std::to_string(issue);
    d.uri = sj::str(j, "html_url");
    if (!author.empty()) d.authors.push_back(author);
    d.timestamp = std::max<std::int64_t>(0, parse_iso8601(sj::str(j, "created_at")));
    d.access = c.access;
    d.title = "Comment on #" + std::to_string(issue);
    d.content = d.title + (author.empty() ? "" : "\nauthor: " + author) + "\n\n";
    d.content.append(body);
    sink.put(std::move(d));
    return "";
  });
}

}  // namespace strata::context::detail
