// The GitHub connector over saved REST API responses (strata/context/connectors.h).
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <optional>
#include <set>

#include <strata/context/connectors.h>

#include "context/connectors/parsers.h"
#include "context/connectors/prefetch.h"

namespace strata::context {

namespace detail {

// The files of `dir` whose names start with `prefix` and end with ".json", sorted.
std::vector<std::string> json_files(const std::string& dir, std::string_view prefix) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.size() > 5 && name.substr(0, prefix.size()) == prefix && name.substr(name.size() - 5) == ".json") {
      out.emplace_back(name);
    }
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace detail

namespace {

using namespace detail;

constexpr std::size_t kMaxFile = std::size_t{1} << 30;

class GitHubExportConnector final : public Connector {
 public:
  explicit GitHubExportConnector(GitHubExportOptions o) : options_(std::move(o)) {}
  std::string id() const override { return options_.id; }

  Result<ScanResult> scan(std::string_view cursor, IngestSink& sink) override {
    if (options_.repository.empty() || options_.repository.find('/') == std::string::npos) {
      return invalid_argument_error("GitHubExportOptions.repository must be \"owner/name\"");
    }
    if (!dir_exists()) return not_found_error("GitHub export root is not a directory: " + options_.root);
    auto probe = read_whole_file(options_.root + "/repo.json", 1 << 20);
    Forwarder fw(sink);
    GitHubContext c;
    c.repository = options_.repository;
    c.max_record_bytes = options_.max_record_bytes;
    if (options_.access) {
      c.access = *options_.access;
    } else if (probe.ok() && parse_github_repo_private(*probe) == 0) {
      c.access = {std::string(kEveryone)};
    }  // else: unknown or private without a configured list -> nobody
    // A repository made private (or its configured list changed) changes every record's
    // access without changing the records: then everything is read again.
    AccessDigest acl;
    acl.add(options_.repository, c.access);
    const AclCursor previous = split_acl_cursor(cursor);
    const bool access_moved = previous.acl != acl.digest();
    c.since = access_moved ? std::string() : previous.position;
    std::string max_updated = c.since;
    c.max_updated = &max_updated;

    std::set<long> pulls_with_details, issues_with_details;
    // Pull requests.
    std::vector<std::string> pull_files;
    if (exists(options_.root + "/pulls.json")) pull_files.push_back("pulls.json");
    for (auto& f : json_files(options_.root + "/pulls", "page")) pull_files.push_back("pulls/" + f);
    // The pages too are read ahead (prefetch.h): on a cold disk the scan would otherwise
    // wait for each one in turn, and the writer for the scan.
    Prefetcher pages(absolute(pull_files), 4);
    for (std::size_t i = 0; i < pull_files.size(); ++i) {
      const std::string& rel = pull_files[i];
      if (fw.stopped()) break;
      pages.reached(i);
      auto text = read(rel, fw);
      if (!text) continue;
      c.file = rel;
      parse_github_pulls(*text, c, fw.records(),
          [&](long n) {
            auto files = read_whole_file(options_.root + "/pulls/" + std::to_string(n) + "/files.json", kMaxFile);
            return files.ok() ? parse_github_pull_files(*files) : std::vector<std::string>{};
          },
          [&](long n) { pulls_with_details.insert(n); });
    }
    // Each pull request's reviews and comments are small files, one directory each: read
    // ahead of the scan, they are in the page cache when it gets to them (prefetch.h).
    std::vector<std::string> detail_files;
    for (long n : pulls_with_details) {
      const std::string dir = options_.root + "/pulls/" + std::to_string(n);
      detail_files.push_back(dir + "/reviews.json");
      detail_files.push_back(dir + "/comments.json");
    }
    Prefetcher pull_details(std::move(detail_files));
    std::size_t next = 0;
    for (long n : pulls_with_details) {
      if (fw.stopped()) break;
      pull_details.reached(next);
      next += 2;
      const std::string dir = "pulls/" + std::to_string(n);
      if (auto text = read(dir + "/reviews.json", fw, /*optional=*/true)) {
        c.file = dir + "/reviews.json";
        parse_github_reviews(*text, n, c, fw.records());
      }
      if (auto text = read(dir + "/comments.json", fw, true)) {
        c.file = dir + "/comments.json";
        parse_github_review_comments(*text, n, c, fw.records());
      }
    }
    // Issues (and the conversation of pull requests, which the issues API lists too).
    std::vector<std::string> issue_files;
    if (exists(options_.root + "/issues.json")) issue_files.push_back("issues.json");
    for (auto& f : json_files(options_.root + "/issues", "page")) issue_files.push_back("issues/" + f);
    Prefetcher issue_pages(absolute(issue_files), 4);
    for (std::size_t i = 0; i < issue_files.size(); ++i) {
      const std::string& rel = issue_files[i];
      if (fw.stopped()) break;
      issue_pages.reached(i);
      auto text = read(rel, fw);
      if (!text) continue;
      c.file = rel;
      parse_github_issues(*text, c, fw.records(), [&](long n) { issues_with_details.insert(n); });
    }
    std::vector<std::string> comment_files;
    for (long n : issues_with_details) {
      comment_files.push_back(options_.root + "/issues/" + std::to_string(n) + "/comments.json");
    }
    Prefetcher issue_details(std::move(comment_files));
    next = 0;
    for (long n : issues_with_details) {
      if (fw.stopped()) break;
      issue_details.reached(next++);
      const std::string rel = "issues/" + std::to_string(n) + "/comments.json";
      if (auto text = read(rel, fw, true)) {
        c.file = rel;
        parse_github_issue_comments(*text, n, c, fw.records());
      }
    }
    if (!fw.status().ok()) return fw.status();
    if (sink.cancelled()) return cancelled_error("scan cancelled");
    ScanResult r;
    r.cursor = join_acl_cursor(max_updated, acl.digest());
    return r;
  }

 private:
  std::vector<std::string> absolute(const std::vector<std::string>& rels) const {
    std::vector<std::string> out;
    out.reserve(rels.size());
    for (const auto& rel : rels) out.push_back(options_.root + "/" + rel);
    return out;
  }
  bool exists(const std::string& path) const {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
  }
  bool dir_exists() const {
    struct stat st {};
    return ::stat(options_.root.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }
  // Reads root/rel; reports a missing (unless optional), oversized or unreadable file.
  std::optional<std::string> read(const std::string& rel, Forwarder& fw, bool optional = false) {
    auto text = read_whole_file(options_.root + "/" + rel, kMaxFile);
    if (text.ok()) return std::move(*text);
    const auto code = text.status().code();
    if (code == StatusCode::kNotFound) {
      if (!optional) fw.records().skip(rel, SkipReason::kMissing, "the export has no " + rel);
    } else {
      fw.records().skip(rel, code == StatusCode::kResourceExhausted ? SkipReason::kTooLarge : SkipReason::kUnreadable,
                        text.status().message());
    }
    return std::nullopt;
  }

  GitHubExportOptions options_;
};

}  // namespace

std::unique_ptr<Connector> make_github_export_connector(GitHubExportOptions options) {
  return std::make_unique<GitHubExportConnector>(std::move(options));
}

}  // namespace strata::context
