// The GitHub connector over the live REST API (strata/context/live.h).
#include <time.h>

#include <set>

#include <strata/context/live.h>

#include "context/connectors/parsers.h"
#include "context/live/http_client.h"

namespace strata::context {

namespace {

using namespace detail;

// Epoch seconds as GitHub writes times: "2024-03-05T00:00:00Z".
std::string iso8601(std::int64_t seconds) {
  const auto t = static_cast<time_t>(seconds);
  tm utc{};
  gmtime_r(&t, &utc);
  char out[32];
  strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return out;
}

class GitHubLiveConnector final : public Connector {
 public:
  explicit GitHubLiveConnector(GitHubLiveOptions o) : options_(std::move(o)) {}
  std::string id() const override { return options_.id; }

  Result<ScanResult> scan(std::string_view cursor, IngestSink& sink) override {
    if (options_.repository.find('/') == std::string::npos) {
      return invalid_argument_error("GitHubLiveOptions.repository must be \"owner/name\"");
    }
    HttpClient http(options_.http);
    const std::string repo = "/repos/" + options_.repository;
    Forwarder fw(sink);
    GitHubContext c;
    c.repository = options_.repository;
    c.max_record_bytes = options_.max_record_bytes;
    if (options_.access) {
      c.access = *options_.access;
    } else {
      auto r = http.get(repo);
      if (!r.ok()) return r.status();
      if (parse_github_repo_private(r->body) == 0) c.access = {std::string(kEveryone)};
    }
    // A repository made private (or its configured list changed) changes every record's
    // access without updating the records: then everything is read again.
    AccessDigest acl;
    acl.add(options_.repository, c.access);
    const AclCursor previous = split_acl_cursor(cursor);
    c.since = previous.acl != acl.digest() ? std::string() : previous.position;
    std::string max_updated = c.since;
    c.max_updated = &max_updated;
    Status failed;
    // The server's clock when it answered the first listing page, minus a second (-1: no
    // Date header). The cursor never passes it: a record edited while the scan runs (after
    // the pulls listing passed it, before the issues listing raised max_updated past its
    // time) has an updated_at at or after it and is read again by the next scan.
    std::int64_t started_at = -1;

    // Every page of a listing; `page` returns false to stop early.
    auto each_page = [&](std::string url, const std::function<bool(const std::string&)>& page) -> Status {
      for (std::size_t n = 0; !url.empty() && n < options_.http.max_pages; ++n) {
        if (fw.stopped()) return ok_status();
        auto r = http.get(url);
        if (!r.ok()) return r.status();
        if (started_at < 0) {
          if (const std::int64_t t = response_date(*r); t > 0) started_at = t - 1;
        }
        if (!page(r->body)) return ok_status();
        auto link = r->headers.find("link");
        url = link == r->headers.end() ? "" : next_link(link->second);
      }
      if (!url.empty() && !fw.stopped()) return too_many_pages(url, options_.http.max_pages);
      return ok_status();
    };
    auto details = [&](const std::string& path, const std::function<void(const std::string&)>& parse) {
      if (!failed.ok()) return;
      Status s = each_page(repo + path + (path.find('?') == std::string::npos ? "?" : "&") + "per_page=100",
                           [&](const std::string& body) {
                             parse(body);
                             return true;
                           });
      if (!s.ok() && s.code() != StatusCode::kNotFound) failed = s;
    };

    // Pull requests, most recently updated first: stop after the page that reaches the cursor.
    std::set<long> pulls;
    Status s = each_page(repo + "/pulls?state=all&sort=updated&direction=desc&per_page=100",
        [&](const std::string& body) {
          bool older = false;
          c.file = "pulls";
          GitHubContext pc = c;
          std::string page_max;
          pc.max_updated = &page_max;
          parse_github_pulls(body, pc, fw.records(),
              [&](long n) {
                std::vector<std::string> files;
                details("/pulls/" + std::to_string(n) + "/files", [&](const std::string& b) {
                  for (auto& f : parse_github_pull_files(b)) files.push_back(std::move(f));
                });
                return files;
              },
              [&](long n) { pulls.insert(n); });
          if (page_max > max_updated) max_updated = page_max;
          // A page whose records are all older than the cursor ends the listing.
          older = !c.since.empty() && !page_max.empty() && page_max < c.since;
          return !older && failed.ok();
        });
    if (!s.ok()) return s;
    for (long n : pulls) {
      details("/pulls/" + std::to_string(n) + "/reviews", [&](const std::string& b) {
        c.file = "pulls/" + std::to_string(n) + "/reviews";
        parse_github_reviews(b, n, c, fw.records());
      });
      details("/pulls/" + std::to_string(n) + "/comments", [&](const std::string& b) {
        c.file = "pulls/" + std::to_string(n) + "/comments";
        parse_github_review_comments(b, n, c, fw.records());
      });
    }
    // Issues (and pull requests' conversations) updated since the cursor.
    std::set<long> issues;
    s = each_page(repo + "/issues?state=all&per_page=100" + (c.since.empty() ? "" : "&since=" + url_component(c.since, ":")),
                  [&](const std::string& body) {
                    c.file = "issues";
                    parse_github_issues(body, c, fw.records(), [&](long n) { issues.insert(n); });
                    return true;
                  });
    if (!s.ok()) return s;
    for (long n : issues) {
      details("/issues/" + std::to_string(n) + "/comments", [&](const std::string& b) {
        c.file = "issues/" + std::to_string(n) + "/comments";
        parse_github_issue_comments(b, n, c, fw.records());
      });
    }
    if (!failed.ok()) return failed;
    if (!fw.status().ok()) return fw.status();
    if (sink.cancelled()) return cancelled_error("scan cancelled");
    if (started_at >= 0) {
      const std::string cap = iso8601(started_at);
      if (max_updated > cap) max_updated = cap;
    }
    ScanResult r;
    r.cursor = join_acl_cursor(max_updated, acl.digest());
    return r;
  }

 private:
  GitHubLiveOptions options_;
};

}  // namespace

std::unique_ptr<Connector> make_github_live_connector(GitHubLiveOptions options) {
  return std::make_unique<GitHubLiveConnector>(std::move(options));
}

}  // namespace strata::context
