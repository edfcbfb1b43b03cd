#include <strata/context/git_history.h>

#include <utility>

#include "context/git.h"

namespace strata::context {

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

class GitHistoryConnector final : public Connector {
 public:
  explicit GitHistoryConnector(GitHistoryOptions options) : options_(std::move(options)) {}

  std::string id() const override { return options_.id; }

  Result<ScanResult> scan(std::string_view cursor, IngestSink& sink) override {
    if (options_.rev.empty() || options_.rev.front() == '-') {
      return invalid_argument_error("git history: bad revision '" + options_.rev + "'");
    }
    auto head = git({"rev-parse", "--verify", "-q", options_.rev + "^{commit}"});
    if (!head.ok()) {
      return unavailable_error("git history: cannot resolve '" + options_.rev + "' in " +
                               options_.repository + ": " + head.status().message());
    }
    ScanResult result;
    result.commit = trim(*head);
    result.cursor = result.commit;
    if (cursor == result.commit) return result;  // nothing new

    std::vector<std::string> log_args{"log", "--no-renames", "--diff-merges=first-parent",
                                      "--name-only", "-z",
                                      "--format=" + std::string(detail::kLogFormat)};
    if (options_.max_commits > 0) log_args.push_back("-n" + std::to_string(options_.max_commits));
    log_args.push_back(result.commit);
    bool incremental = false;
    if (!cursor.empty() && options_.max_commits == 0 &&
        git({"cat-file", "-e", std::string(cursor) + "^{commit}"}).ok()) {
      incremental = true;
      // Commits of the old history that the new one does not have (a rewind or a switch).
      auto gone = git({"rev-list", std::string(cursor), "^" + result.commit});
      if (!gone.ok()) return gone.status();
      std::string_view rest = *gone;
      while (!rest.empty()) {
        std::size_t nl = rest.find('\n');
        if (nl == std::string_view::npos) nl = rest.size();
        const std::string_view hash = rest.substr(0, nl);
        if (!hash.empty()) STRATA_RETURN_IF_ERROR(sink.remove(hash));
        rest.remove_prefix(std::min(rest.size(), nl + 1));
      }
      log_args.push_back("^" + std::string(cursor));
    }
    log_args.push_back("--");
    auto log = git(log_args);
    if (!log.ok()) return log.status();
    std::size_t malformed = 0;
    auto commits = detail::parse_git_log(*log, &malformed);
    if (malformed > 0) {
      sink.skipped("git log", SkipReason::kUnreadable,
                   std::to_string(malformed) + " log records did not parse");
    }
    result.complete = !incremental;
    for (auto& c : commits) {
      if (sink.cancelled()) return cancelled_error("ingest cancelled");
      const std::string hash_key = content_hash(c.message);
      if (sink.unchanged(c.hash, hash_key)) continue;
      Document doc;
      doc.kind = DocumentKind::kCommit;
      doc.path = c.hash;
      doc.commit = c.hash;
      const auto nl = c.message.find('\n');
      doc.title = c.message.substr(0, nl);
      doc.content = std::move(c.message);
      doc.authors.push_back(c.author + " <" + c.email + ">");
      doc.timestamp = c.time;
      doc.changed_paths = std::move(c.paths);
      STRATA_RETURN_IF_ERROR(sink.put(std::move(doc)));
    }
    return result;
  }

 private:
  Result<std::string> git(const std::vector<std::string>& args) const {
    return detail::run_git(options_.git, options_.repository, args);
  }

  GitHistoryOptions options_;
};

}  // namespace

std::unique_ptr<Connector> make_git_history_connector(GitHistoryOptions options) {
  return std::make_unique<GitHistoryConnector>(std::move(options));
}

}  // namespace strata::context
