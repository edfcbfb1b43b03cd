// The Slack connector over the Web API (strata/context/live.h).

#include <charconv>

#include <strata/context/live.h>

#include "context/connectors/json_util.h"
#include "context/connectors/parsers.h"
#include "context/live/http_client.h"
#include "context/live/slack_cursor.h"

namespace strata::context {

namespace {

using namespace detail;

// Slack's list parameters (types=public_channel,private_channel) keep their commas.
std::string url_component_list(std::string_view s) { return url_component(s, ","); }

class SlackLiveConnector final : public Connector {
 public:
  explicit SlackLiveConnector(SlackLiveOptions o) : options_(std::move(o)) {}
  std::string id() const override { return options_.id; }

  Result<ScanResult> scan(std::string_view cursor, IngestSink& sink) override {
    // A cursor that does not parse fails before any request: the engine keeps it, nothing is
    // written, and the error says what is wrong with it.
    // The marks, then (after ";acl=") each conversation's access digest: a conversation
    // whose members changed is read again from its start, so every message gets the new list.
    const AclCursor outer = split_acl_cursor(cursor);
    auto parsed = parse_slack_cursor(outer.position);
    if (!parsed.ok()) return parsed.status();
    const std::map<std::string, std::string> old_acl = parse_acl_map(outer.acl);
    std::map<std::string, std::string> next_acl;
    const SlackCursor old = std::move(*parsed);
    SlackCursor next;  // the conversations this scan listed, each with its new mark

    HttpClient http(options_.http);
    Forwarder fw(sink);
    // Every page of a cursor-paginated Web API method; `page` gets the parsed envelope.
    auto each_page = [&](const std::string& method, const std::string& query,
                         const std::function<void(const Json&, const HttpResponse&)>& page) -> Status {
      std::string next_cursor;
      for (std::size_t n = 0; n < options_.http.max_pages && !fw.stopped(); ++n) {
        auto r = http.get("/api/" + method + "?" + query +
                          (next_cursor.empty() ? "" : "&cursor=" + url_component_list(next_cursor)));
        if (!r.ok()) return r.status();
        std::string error;
        auto j = parse_json(r->body, &error);
        if (!j || !j->is_object()) return unavailable_error(method + ": the response is not JSON (" + error + ")");
        const Json* ok = member(*j, "ok");
        if (!ok || !ok->is_boolean() || !ok->get<bool>()) {
          return failed_precondition_error(method + ": " + str(*j, "error", "\"ok\" is not true"));
        }
        page(*j, *r);
        const Json* meta = member(*j, "response_metadata");
        next_cursor = meta ? str(*meta, "next_cursor") : "";
        if (next_cursor.empty()) break;
      }
      if (!next_cursor.empty() && !fw.stopped()) return too_many_pages(method, options_.http.max_pages);
      return ok_status();
    };

    std::vector<SlackConversation> conversations;
    STRATA_RETURN_IF_ERROR(each_page("conversations.list", "limit=200&types=" + url_component_list(options_.types),
        [&](const Json& j, const HttpResponse&) {
          const Json* list = member(j, "channels");
          if (!list || !list->is_array()) return;
          for (auto& c : parse_slack_conversations(list->dump(), false, "conversations.list", fw.records())) {
            conversations.push_back(std::move(c));
          }
        }));
    // Per conversation: its mark from the cursor (`since`) and the greatest ts its pages showed.
    std::string since, seen;
    RecordSink tracking = fw.records();
    tracking.put = [&](Document d) {
      const auto slash = d.path.rfind('/');
      const std::string ts = d.path.substr(slash + 1);
      // History is re-read from thread_window before the mark: what the mark covers was
      // offered by an earlier scan.
      if (!since.empty() && !slack_ts_less(since, ts)) return;
      fw.records().put(std::move(d));
    };
    auto raise_seen = [&](const std::string& ts) {
      if (slack_ts_valid(ts) && slack_ts_less(seen, ts)) seen = ts;
    };
    for (auto& conv : conversations) {
      if (fw.stopped()) break;
      const auto known = old.marks.find(conv.id);
      since = known != old.marks.end() ? known->second : old.fallback;
      seen = since;
      // Keeps the mark of this conversation as `mark` (the greater one if it is listed twice).
      auto keep = [&](const std::string& mark) {
        if (mark.empty()) return;
        std::string& slot = next.marks[conv.id];
        if (slack_ts_less(slot, mark)) slot = mark;
      };
      SlackContext ctx;
      ctx.conversation = &conv;
      ctx.max_record_bytes = options_.max_record_bytes;
      if (conv.is_private) {
        std::vector<std::string> members;
        Status s = each_page("conversations.members", "limit=1000&channel=" + url_component_list(conv.id),
            [&](const Json& j, const HttpResponse&) {
              if (const Json* m = member(j, "members"); m && m->is_array()) {
                for (const auto& u : *m) {
                  if (u.is_string()) members.push_back("slack:" + u.get<std::string>());
                }
              }
            });
        if (s.ok()) ctx.access = std::move(members);  // else: unknown members, nobody
        else if (s.code() != StatusCode::kFailedPrecondition) return s;
      } else {
        ctx.access = options_.public_access;
      }
      AccessDigest digest;
      digest.add(conv.id, ctx.access);
      const std::string acl = digest.digest();
      const std::string marked = since;  // kept when this conversation cannot be read now
      if (auto a = old_acl.find(conv.id); a == old_acl.end() || a->second != acl) {
        since.clear();  // new access list (or none recorded): from the start
        seen.clear();
      }
      std::vector<std::string> threads;
      // The server's clock when the first history page was answered, minus a second: every
      // message at or before it existed when history was read. -1 when the Date is missing.
      std::int64_t read_at = -1;
      bool first_history_page = true;
      auto messages = [&](const std::string& method, const std::string& query, bool history) -> Status {
        return each_page(method, query, [&](const Json& j, const HttpResponse& response) {
          if (history && first_history_page) {
            first_history_page = false;
            if (const std::int64_t t = response_date(response); t > 0) read_at = t - 1;
          }
          const Json* list = member(j, "messages");
          if (!list || !list->is_array()) return;
          for (const auto& m : *list) {
            if (!m.is_object()) continue;
            const std::string ts = str(m, "ts");
            raise_seen(ts);
            const Json* replies = history ? member(m, "reply_count") : nullptr;
            if (replies && replies->is_number_integer() && replies->get<std::int64_t>() > 0) {
              // A root the mark covers is re-read only when its latest reply is newer (or
              // unknown). Replies up to latest_reply are read below, so it counts as seen.
              const std::string latest = str(m, "latest_reply");
              const bool active = since.empty() || slack_ts_less(since, ts) || latest.empty() || slack_ts_less(since, latest);
              if (!ts.empty() && active) {
                threads.push_back(ts);
                raise_seen(latest);
              }
            }
          }
          ctx.file = method + "/" + conv.id;
          parse_slack_day(list->dump(), ctx, tracking);
        });
      };
      Status s = messages("conversations.history",
                          "limit=200&channel=" + url_component_list(conv.id) +
                              (since.empty() ? "" : "&oldest=" + url_component_list(history_oldest(since))),
                          true);
      for (const auto& ts : threads) {
        if (!s.ok()) break;
        s = messages("conversations.replies",
                     "limit=200&channel=" + url_component_list(conv.id) + "&ts=" + url_component_list(ts) +
                         (since.empty() ? "" : "&oldest=" + url_component_list(since)),
                     false);
      }
      if (s.code() == StatusCode::kFailedPrecondition) {  // not_in_channel, channel_not_found, ...
        fw.records().skip("slack:" + conv.id, SkipReason::kUnreadable, s.message());
        keep(marked);  // read again from the same mark next time
        if (auto a = old_acl.find(conv.id); a != old_acl.end()) next_acl[conv.id] = a->second;
        continue;
      }
      if (!s.ok()) return s;
      // The new mark: the newest ts this conversation showed, but not past the moment its
      // history was read (a message posted meanwhile may be older than a reply read later).
      std::string mark = seen;
      if (read_at >= 0) {
        const std::string bound = std::to_string(read_at) + ".000000";
        if (slack_ts_less(bound, mark)) mark = slack_ts_less(since, bound) ? bound : since;
      }
      keep(mark);
      next_acl[conv.id] = acl;
    }
    if (!fw.status().ok()) return fw.status();
    if (sink.cancelled()) return cancelled_error("scan cancelled");
    ScanResult r;
    r.cursor = join_acl_cursor(format_slack_cursor(next), format_acl_map(next_acl));
    return r;
  }

 private:
  // The cursor moved back by thread_window (whole seconds; never before 0).
  std::string history_oldest(const std::string& since) const {
    const auto dot = since.find('.');
    std::int64_t seconds = 0;
    const std::string whole = since.substr(0, dot);
    auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), seconds);
    if (ec != std::errc() || p != whole.data() + whole.size()) return since;  // not a ts: as given
    const std::int64_t window = std::chrono::duration_cast<std::chrono::seconds>(options_.thread_window).count();
    if (window <= 0) return since;
    return std::to_string(std::max<std::int64_t>(0, seconds - window)) + ".000000";
  }

  SlackLiveOptions options_;
};

}  // namespace

std::unique_ptr<Connector> make_slack_live_connector(SlackLiveOptions options) {
  return std::make_unique<SlackLiveConnector>(std::move(options));
}

}  // namespace strata::context
