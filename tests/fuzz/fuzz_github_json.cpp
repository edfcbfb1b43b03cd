// fuzz_github_json — the GitHub REST JSON parsers (pulls, reviews, review comments, issues,
// issue comments, pull files, repo) on arbitrary bytes.
//
// Checks: no crash or hang; every document is under the repository's namespace and carries
// exactly the context's access list; every skipped record names the file.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "context/connectors/parsers.h"
#include "fuzz_util.h"

using namespace strata::context;
using namespace strata::context::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  GitHubContext c;
  c.repository = "acme/api";
  c.access = {"team:api"};
  c.max_record_bytes = 4096;
  std::string max_updated;
  c.max_updated = &max_updated;
  c.file = "f.json";
  RecordSink sink;
  sink.put = [&](Document d) {
    if (d.path.rfind("github:acme/api/", 0) != 0 || d.access != c.access) {
      std::fprintf(stderr, "document %s escaped its namespace or access list\n", d.path.c_str());
      strata::fuzz::print_escaped(input);
      std::abort();
    }
  };
  sink.remove = [](std::string_view) {};
  sink.skip = [&](std::string_view key, SkipReason, std::string_view) {
    if (key.rfind("f.json", 0) != 0) {
      std::fprintf(stderr, "a skip does not name the file\n");
      std::abort();
    }
  };
  parse_github_pulls(input, c, sink, [](long) { return std::vector<std::string>{}; }, [](long) {});
  parse_github_reviews(input, 1, c, sink);
  parse_github_review_comments(input, 1, c, sink);
  parse_github_issues(input, c, sink, [](long) {});
  parse_github_issue_comments(input, 1, c, sink);
  (void)parse_github_pull_files(input);
  (void)parse_github_repo_private(input);
  (void)closing_references(input, "acme/api");
  return 0;
}
