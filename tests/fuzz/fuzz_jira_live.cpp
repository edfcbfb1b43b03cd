// fuzz_jira_live — what the live Jira connector parses from the network and from the host:
// search pages (classic and token style), comment pages, its cursor, Retry-After and
// X-RateLimit-Reset values, Jira times.
//
// The first byte picks the parser; the rest is the input. Checks: no crash or hang; a cursor
// that parses formats back to a cursor that parses to the same value; the issues of a search
// page go through the saved-data issue parser with fail-closed access lists.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "context/connectors/parsers.h"
#include "context/live/http_client.h"
#include "context/live/jira_pages.h"
#include "fuzz_util.h"

using namespace strata::context;
using namespace strata::context::detail;

using strata::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      JiraSearchPage page;
      if (!parse_jira_search_page(input, page).empty()) return 0;
      const std::map<std::string, std::vector<std::string>> projects = {{"OPS", {"g:ops"}}};
      JiraContext ctx;
      ctx.project_access = &projects;
      ctx.max_record_bytes = 1 << 16;
      ctx.file = "issue";
      RecordSink sink;
      sink.put = [&](Document d) {
        if (d.path.rfind("jira:", 0) != 0 || !(d.access.empty() || d.access == std::vector<std::string>{"g:ops"})) {
          fail("a document with a foreign path or access list", input);
        }
      };
      sink.remove = [](std::string_view) {};
      sink.skip = [](std::string_view, SkipReason, std::string_view) {};
      for (const auto& issue : page.issues) {
        (void)jira_time_ms(issue.is_object() ? str_at(issue, "fields", "updated") : "");
        parse_jira_file(issue.dump(-1, ' ', false, Json::error_handler_t::replace), ctx, sink);
      }
      return 0;
    }
    case 1: {
      JiraCommentPage page;
      (void)parse_jira_comment_page(input, page);
      return 0;
    }
    case 2: {
      auto c = parse_jira_cursor(input);
      if (!c) return 0;
      const std::string text = format_jira_cursor(*c);
      auto again = parse_jira_cursor(text);
      if (!again || again->high_water_ms != c->high_water_ms) fail("a formatted cursor does not parse back", input);
      // Ids the format cannot hold are left out; every other entry survives.
      for (const auto& [id, ms] : c->seen) {
        if (id.find_first_of(",;=") != std::string::npos) continue;
        auto it = again->seen.find(id);
        if (it == again->seen.end() || it->second != ms) fail("a cursor entry was lost", input);
      }
      return 0;
    }
    default: {
      const std::string value(input);
      const std::int64_t wait = retry_after_seconds(value, 1700000000);
      if (wait < -1) fail("a negative wait", input);
      (void)rate_limit_reset(value);
      const std::int64_t ms = jira_time_ms(input);
      if (ms >= 0) (void)jql_date(ms);
      return 0;
    }
  }
}
