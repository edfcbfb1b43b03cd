// The Jira connector over saved REST API responses (strata/context/connectors.h).
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include <strata/context/connectors.h>

#include "context/connectors/parsers.h"

namespace strata::context {

namespace {

using namespace detail;

class JiraExportConnector final : public Connector {
 public:
  explicit JiraExportConnector(JiraExportOptions o) : options_(std::move(o)) {}
  std::string id() const override { return options_.id; }

  Result<ScanResult> scan(std::string_view cursor, IngestSink& sink) override {
    struct stat st {};
    if (::stat(options_.root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return not_found_error("Jira export root is not a directory: " + options_.root);
    }
    // "<updated>;acl=<digest>": when the access configuration changed since the cursor was
    // written (or the cursor has no digest), every issue is read again; those whose access
    // list did not change are skipped by their document key.
    const std::string acl = jira_access_digest(options_.project_access, options_.security_level_access);
    const AclCursor parts = split_acl_cursor(cursor);
    std::int64_t since = 0;
    if (!cursor.empty() && parts.acl == acl) {
      const std::string& position = parts.position;
      auto [p, ec] = std::from_chars(position.data(), position.data() + position.size(), since);
      if (ec != std::errc() || p != position.data() + position.size()) since = 0;  // a foreign cursor: full scan
    }
    std::vector<std::string> files;
    std::error_code ec;
    namespace fs = std::filesystem;
    for (auto it = fs::recursive_directory_iterator(options_.root, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_regular_file(ec) && it->path().extension() == ".json") {
        files.push_back(fs::relative(it->path(), options_.root, ec).generic_string());
      }
    }
    std::sort(files.begin(), files.end());
    Forwarder fw(sink);
    std::int64_t max_updated = since;
    JiraContext ctx;
    ctx.project_access = &options_.project_access;
    ctx.security_level_access = &options_.security_level_access;
    ctx.max_record_bytes = options_.max_record_bytes;
    ctx.since = since;
    ctx.max_updated = &max_updated;
    for (const auto& rel : files) {
      if (fw.stopped()) break;
      auto text = read_whole_file(options_.root + "/" + rel, std::size_t{1} << 30);
      if (!text.ok()) {
        fw.records().skip(rel, SkipReason::kUnreadable, text.status().message());
        continue;
      }
      ctx.file = rel;
      parse_jira_file(*text, ctx, fw.records());
    }
    if (!fw.status().ok()) return fw.status();
    if (sink.cancelled()) return cancelled_error("scan cancelled");
    ScanResult r;
    r.cursor = join_acl_cursor(std::to_string(max_updated), acl);
    return r;
  }

 private:
  JiraExportOptions options_;
};

}  // namespace

std::unique_ptr<Connector> make_jira_export_connector(JiraExportOptions options) {
  return std::make_unique<JiraExportConnector>(std::move(options));
}

}  // namespace strata::context
