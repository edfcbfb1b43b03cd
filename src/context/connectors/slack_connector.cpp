// The Slack connector over a workspace export (strata/context/connectors.h).
#include <sys/stat.h>

#include <strata/context/connectors.h>

#include "context/connectors/parsers.h"

namespace strata::context {

namespace {

using namespace detail;

constexpr std::size_t kMaxFile = std::size_t{1} << 30;

bool is_day_file(std::string_view name) {
  // YYYY-MM-DD.json
  if (name.size() != 15 || name.substr(10) != ".json") return false;
  for (std::size_t i = 0; i < 10; ++i) {
    const bool dash = i == 4 || i == 7;
    if (dash ? name[i] != '-' : (name[i] < '0' || name[i] > '9')) return false;
  }
  return true;
}

bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

class SlackExportConnector final : public Connector {
 public:
  explicit SlackExportConnector(SlackExportOptions o) : options_(std::move(o)) {}
  std::string id() const override { return options_.id; }

  Result<ScanResult> scan(std::string_view cursor, IngestSink& sink) override {
    if (!is_dir(options_.root)) return not_found_error("Slack export root is not a directory: " + options_.root);
    Forwarder fw(sink);
    auto& records = fw.records();
    // users.json is not needed for messages (authors are user ids) but its absence is worth
    // a line in the report: an export without it is incomplete.
    if (auto users = read_whole_file(options_.root + "/users.json", kMaxFile); !users.ok()) {
      records.skip("users.json", users.status().code() == StatusCode::kNotFound ? SkipReason::kMissing
                                                                                : SkipReason::kUnreadable,
                   users.status().message());
    }
    std::vector<SlackConversation> conversations;
    struct ListFile {
      const char* name;
      bool is_private;
      bool required;
    };
    for (const ListFile& lf : {ListFile{"channels.json", false, true}, ListFile{"groups.json", true, false},
                               ListFile{"mpims.json", true, false}, ListFile{"dms.json", true, false}}) {
      auto text = read_whole_file(options_.root + "/" + lf.name, kMaxFile);
      if (!text.ok()) {
        if (text.status().code() != StatusCode::kNotFound || lf.required) {
          records.skip(lf.name, text.status().code() == StatusCode::kNotFound ? SkipReason::kMissing
                                                                              : SkipReason::kUnreadable,
                       text.status().message());
        }
        continue;
      }
      for (auto& c : parse_slack_conversations(*text, lf.is_private, lf.name, records)) {
        conversations.push_back(std::move(c));
      }
    }
    // Members change without messages changing: when any conversation's access list moved,
    // every day is read again (records whose access did not change are skipped by key).
    AccessDigest acl;
    auto access_of = [&](const SlackConversation& conv) {
      std::vector<std::string> access;
      if (!conv.is_private) {
        access = options_.public_access;
      } else if (conv.members_known) {
        for (const auto& m : conv.members) access.push_back("slack:" + m);
      }  // a private conversation without members: nobody
      return access;
    };
    for (const auto& conv : conversations) acl.add(conv.id, access_of(conv));
    const AclCursor previous = split_acl_cursor(cursor);
    const bool access_moved = previous.acl != acl.digest();
    const std::string since_day = access_moved ? std::string() : previous.position.substr(0, 10);
    std::string last_day = access_moved ? std::string() : previous.position;
    for (const auto& conv : conversations) {
      if (fw.stopped()) break;
      // Folder: the name for channels and groups, the id for DMs (and as a fallback).
      std::string folder;
      if (!conv.name.empty() && conv.name.find('/') == std::string::npos && conv.name != "." &&
          conv.name != ".." && is_dir(options_.root + "/" + conv.name)) {
        folder = conv.name;
      } else if (is_dir(options_.root + "/" + conv.id)) {
        folder = conv.id;
      } else {
        records.skip(conv.name.empty() ? conv.id : conv.name, SkipReason::kMissing,
                     "no message folder for conversation " + conv.id);
        continue;
      }
      SlackContext ctx;
      ctx.conversation = &conv;
      ctx.max_record_bytes = options_.max_record_bytes;
      ctx.access = access_of(conv);
      for (const auto& name : json_files(options_.root + "/" + folder, "")) {
        if (fw.stopped()) break;
        if (!is_day_file(name)) continue;
        const std::string day = name.substr(0, 10);
        if (!since_day.empty() && day < since_day) continue;
        const std::string rel = folder + "/" + name;
        auto text = read_whole_file(options_.root + "/" + rel, kMaxFile);
        if (!text.ok()) {
          records.skip(rel, SkipReason::kUnreadable, text.status().message());
          continue;
        }
        ctx.file = rel;
        parse_slack_day(*text, ctx, records);
        if (day > last_day) last_day = day;
      }
    }
    if (!fw.status().ok()) return fw.status();
    if (sink.cancelled()) return cancelled_error("scan cancelled");
    ScanResult r;
    r.cursor = join_acl_cursor(last_day, acl.digest());
    return r;
  }

 private:
  SlackExportOptions options_;
};

}  // namespace

std::unique_ptr<Connector> make_slack_export_connector(SlackExportOptions options) {
  return std::make_unique<SlackExportConnector>(std::move(options));
}

}  // namespace strata::context
