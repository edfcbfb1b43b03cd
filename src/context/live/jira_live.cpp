// The Jira connector over the live REST API (strata/context/live.h).
#include <curl/curl.h>

#include <algorithm>

#include <strata/context/live.h>

#include "context/connectors/parsers.h"
#include "context/live/http_client.h"
#include "context/live/jira_pages.h"

namespace strata::context {

namespace {

using namespace detail;

constexpr const char* kFields =
    "summary,description,status,resolution,comment,issuelinks,security,project,updated,created,reporter,"
    "assignee,issuetype";

class JiraLiveConnector final : public Connector {
 public:
  explicit JiraLiveConnector(JiraLiveOptions o) : options_(std::move(o)) {}
  std::string id() const override { return options_.id; }

  Result<ScanResult> scan(std::string_view cursor_text, IngestSink& sink) override {
    if (options_.http.base_url.empty()) return invalid_argument_error("JiraLiveOptions.http.base_url is required");
    if (options_.api_version != 2 && options_.api_version != 3) {
      return invalid_argument_error("JiraLiveOptions.api_version must be 2 or 3");
    }
    if (options_.token_pagination && options_.api_version != 3) {
      return invalid_argument_error("JiraLiveOptions.token_pagination needs api_version 3 (/rest/api/3/search/jql)");
    }
    const std::string api = "/rest/api/" + std::to_string(options_.api_version);
    const std::size_t page_size = std::clamp<std::size_t>(options_.page_size, 1, 5000);
    const std::int64_t overlap_ms = std::max<std::int64_t>(0, options_.overlap.count()) * 60000;
    // The cursor carries a digest of the access configuration: when it changed (or the cursor
    // has none), the scan starts over, and the issues whose access list changed are written.
    const std::string acl = jira_access_digest(options_.project_access, options_.security_level_access);
    const AclCursor parts = split_acl_cursor(cursor_text);
    const JiraCursor old = parts.acl == acl ? parse_jira_cursor(parts.position).value_or(JiraCursor{}) : JiraCursor{};

    HttpClient http(options_.http);
    Forwarder fw(sink);
    JiraContext ctx;
    ctx.project_access = &options_.project_access;
    ctx.security_level_access = &options_.security_level_access;
    ctx.max_record_bytes = options_.max_record_bytes;

    // JQL: the scope, the extra condition, the incremental bound; created order keeps the
    // positions of issues stable while others change during the scan.
    std::vector<std::string> terms;
    if (!options_.projects.empty()) {
      std::string in;
      for (const auto& p : options_.projects) in += (in.empty() ? "" : ",") + jql_quote(p);
      terms.push_back("project in (" + in + ")");
    }
    if (!options_.jql.empty()) terms.push_back("(" + options_.jql + ")");
    const std::int64_t lower_ms = old.high_water_ms >= 0 ? std::max<std::int64_t>(0, old.high_water_ms - overlap_ms) : -1;
    if (lower_ms >= 0) terms.push_back("updated >= " + jql_quote(jql_date(lower_ms)));
    std::string jql;
    for (const auto& t : terms) jql += (jql.empty() ? "" : " AND ") + t;
    jql += (jql.empty() ? "" : " ") + std::string("ORDER BY created ASC, key ASC");

    std::map<std::string, std::int64_t> seen = old.seen;
    std::int64_t newest_ms = -1;     // the greatest `updated` among the issues the search returned
    std::int64_t scan_start_ms = -1;  // the server's Date on the first page

    // GET with the body parsed by `parse`; a body that does not parse is retried.
    auto get_parsed = [&](const std::string& url, const std::function<std::string(const std::string&)>& parse)
        -> Result<HttpResponse> {
      return http.get(url, [&](const HttpResponse& r) { return parse(r.body); });
    };

    // The remaining comments of an issue whose embedded page is incomplete.
    auto complete_comments = [&](Json& issue, const std::string& key) -> Status {
      Json* fields = issue.is_object() && issue.contains("fields") ? &issue["fields"] : nullptr;
      if (!fields || !fields->is_object() || !fields->contains("comment")) return ok_status();
      Json& comment = (*fields)["comment"];
      if (!comment.is_object() || !comment.contains("comments") || !comment["comments"].is_array()) return ok_status();
      Json& list = comment["comments"];
      const std::int64_t total = integer(comment, "total").value_or(-1);
      const std::string issue_id = str(issue, "id", key);
      std::size_t pages = 0;
      while (total >= 0 && static_cast<std::int64_t>(list.size()) < total && pages++ < options_.http.max_pages) {
        if (fw.stopped()) return ok_status();
        JiraCommentPage page;
        const std::string url = api + "/issue/" + url_component(issue_id) + "/comment?startAt=" +
                                std::to_string(list.size()) + "&maxResults=" + std::to_string(page_size) +
                                "&orderBy=created";
        auto r = get_parsed(url, [&](const std::string& body) { return parse_jira_comment_page(body, page); });
        if (r.status().code() == StatusCode::kNotFound) {  // deleted while we read it
          fw.records().skip("jira:" + key + "/comment", SkipReason::kMissing, "the comments are gone: " + r.status().message());
          return ok_status();
        }
        if (!r.ok()) return r.status();
        if (page.comments.empty()) break;  // fewer than announced (deleted meanwhile)
        // The page starts where we asked, or overlaps what we have (then its head is dropped).
        const auto have = static_cast<std::int64_t>(list.size());
        const std::size_t skip = page.start_at >= 0 && page.start_at < have
                                     ? std::min<std::size_t>(page.comments.size(), static_cast<std::size_t>(have - page.start_at))
                                     : 0;
        if (skip == page.comments.size()) break;  // no progress
        for (std::size_t i = skip; i < page.comments.size(); ++i) list.push_back(std::move(page.comments[i]));
      }
      if (pages > options_.http.max_pages && !fw.stopped()) {
        return too_many_pages("the comments of " + key, options_.http.max_pages);
      }
      return ok_status();
    };

    auto handle_page = [&](JiraSearchPage& page) -> Status {
      for (auto& issue : page.issues) {
        if (fw.stopped()) return ok_status();
        const std::string id = issue.is_object() ? str(issue, "id") : "";
        const std::string key = issue.is_object() ? str(issue, "key") : "";
        const Json* fields = issue.is_object() ? member(issue, "fields") : nullptr;
        const std::int64_t updated = fields && fields->is_object() ? jira_time_ms(str(*fields, "updated")) : -1;
        if (updated > newest_ms) newest_ms = updated;
        if (!id.empty() && updated >= 0) {
          auto it = seen.find(id);
          if (it != seen.end() && it->second >= updated) continue;  // ingested by an earlier scan
        }
        STRATA_RETURN_IF_ERROR(complete_comments(issue, key));
        ctx.file = "issue/" + (key.empty() ? id : key);
        const std::string text = issue.dump(-1, ' ', false, Json::error_handler_t::replace);
        parse_jira_file(text, ctx, fw.records());
        if (!id.empty() && updated >= 0) seen[id] = updated;
      }
      return ok_status();
    };

    const std::string common = "jql=" + url_component(jql) + "&maxResults=" + std::to_string(page_size) +
                               "&fields=" + url_component(kFields);
    std::int64_t start_at = 0;
    std::string token;
    bool last_page = false;
    for (std::size_t n = 0; n < options_.http.max_pages && !fw.stopped(); ++n) {
      std::string url;
      if (options_.token_pagination) {
        url = api + "/search/jql?" + common + (token.empty() ? "" : "&nextPageToken=" + url_component(token));
      } else {
        url = api + "/search?" + common + "&startAt=" + std::to_string(start_at);
      }
      JiraSearchPage page;
      auto r = get_parsed(url, [&](const std::string& body) { return parse_jira_search_page(body, page); });
      if (!r.ok()) return r.status();
      if (n == 0) {
        auto date = r->headers.find("date");
        if (date != r->headers.end()) {
          const auto t = curl_getdate(date->second.c_str(), nullptr);
          if (t >= 0) scan_start_ms = static_cast<std::int64_t>(t) * 1000;
        }
      }
      const std::size_t got = page.issues.size();
      STRATA_RETURN_IF_ERROR(handle_page(page));
      if (options_.token_pagination) {
        if ((last_page = page.is_last || page.next_page_token.empty() || page.next_page_token == token)) break;
        token = page.next_page_token;
      } else {
        if ((last_page = got == 0)) break;
        start_at = std::max<std::int64_t>(start_at, page.start_at) + static_cast<std::int64_t>(got);
        if ((last_page = page.total >= 0 && start_at >= page.total)) break;
      }
    }
    if (!last_page && !fw.stopped()) return too_many_pages("the issue search", options_.http.max_pages);
    if (!fw.status().ok()) return fw.status();
    if (sink.cancelled()) return cancelled_error("scan cancelled");

    // The new high-water mark: what the search returned, but not past the start of the scan
    // (an issue changed while we paged is then asked for again).
    JiraCursor next;
    next.high_water_ms = old.high_water_ms;
    if (newest_ms >= 0) {
      const std::int64_t mark = scan_start_ms >= 0 ? std::min(newest_ms, scan_start_ms) : newest_ms;
      next.high_water_ms = std::max(next.high_water_ms, mark);
    }
    if (next.high_water_ms >= 0) {
      // Keep what the next search can return again: from its lower bound, minute-rounded.
      const std::int64_t keep_from = std::max<std::int64_t>(0, next.high_water_ms - overlap_ms) / 60000 * 60000;
      for (const auto& [id, ms] : seen) {
        if (ms >= keep_from) next.seen.emplace(id, ms);
      }
    }
    ScanResult result;
    result.cursor = next.high_water_ms >= 0 ? join_acl_cursor(format_jira_cursor(next), acl) : std::string(cursor_text);
    return result;
  }

 private:
  JiraLiveOptions options_;
};

}  // namespace

std::unique_ptr<Connector> make_jira_live_connector(JiraLiveOptions options) {
  return std::make_unique<JiraLiveConnector>(std::move(options));
}

std::string jira_basic_credentials(std::string_view email, std::string_view api_token) {
  std::string pair(email);
  pair += ':';
  pair += api_token;
  return "Basic " + base64(pair);
}

}  // namespace strata::context
