// fuzz_jira_json — the Jira REST v2/v3 parser (single issues, search pages, ADF bodies) on
// arbitrary bytes.
//
// Checks: no crash or hang (deeply nested ADF included); every document is "jira:<key>" or a
// comment of one, and its access list is one of the configured lists or empty (fail closed).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "context/connectors/parsers.h"
#include "fuzz_util.h"

using namespace strata::context;
using namespace strata::context::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::map<std::string, std::vector<std::string>> projects = {{"OPS", {"g:ops"}}};
  const std::map<std::string, std::vector<std::string>> levels = {{"OPS/Internal", {"g:internal"}}, {"Top", {"g:top"}}};
  JiraContext ctx;
  ctx.project_access = &projects;
  ctx.security_level_access = &levels;
  ctx.max_record_bytes = 1 << 16;
  std::int64_t max_updated = 0;
  ctx.max_updated = &max_updated;
  ctx.file = "page.json";
  RecordSink sink;
  sink.put = [&](Document d) {
    const bool access_ok = d.access.empty() || d.access == std::vector<std::string>{"g:ops"} ||
                           d.access == std::vector<std::string>{"g:internal"} ||
                           d.access == std::vector<std::string>{"g:top"};
    if (d.path.rfind("jira:", 0) != 0 || !access_ok) {
      std::fprintf(stderr, "document %s has a foreign path or access list\n", d.path.c_str());
      strata::fuzz::print_escaped(input);
      std::abort();
    }
  };
  sink.remove = [](std::string_view) {};
  sink.skip = [](std::string_view, SkipReason, std::string_view) {};
  parse_jira_file(input, ctx, sink);
  return 0;
}
