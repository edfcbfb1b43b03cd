// The Slack connector over the Web API (strata/context/live.h).
#include <charconv>

#include <strata/context/live.h>

#include "context/connectors/json_util.h"
#include "context/connectors/parsers.h"
#include "context/live/http_client.h"

namespace strata::context {

namespace {

using namespace detail;

// Slack's list parameters (types=public_channel,private_channel) keep their commas.
std::string url_component_list(std::string_view s) { return url_component(s, ","); }

// "1700000000.000100" compared numerically (seconds, then the fraction).
bool ts_less(const std::string& a, const std::string& b) {
  const auto da = a.find('.'), db = b.find('.');
  const std::string ia = a.substr(0, da), ib = b.substr(0, db);
  if (ia.size() != ib.size()) return ia.size() < ib.size();
  if (ia != ib) return ia < ib;
  return (da == std::string::npos ? "" : a.substr(da + 1)) < (db == std::string::npos ? "" : b.substr(db + 1));
}

class SlackLiveConnector final : public Connector {
 public:
  explicit SlackLiveConnector(SlackLiveOptions o) : options_(std::move(o)) {}
  std::string id() const override { return options_.id; }

  Result<ScanResult> scan(std::string_view cursor, IngestSink& sink) override {
    HttpClient http(options_.http);
    Forwarder fw(sink);
    std::string max_ts(cursor);
    // Every page of a cursor-paginated Web API method; `page` gets the parsed envelope.
    auto each_page = [&](const std::string& method, const std::string& query,
                         const std::function<void(const Json&, const std::string&)>& page) -> Status {
      std::string next;
      for (std::size_t n = 0; n < options_.http.max_pages && !fw.stopped(); ++n) {
        auto r = http.get("/api/" + method + "?" + query + (next.empty() ? "" : "&cursor=" + url_component_list(next)));
        if (!r.ok()) return r.status();
        std::string error;
        auto j = parse_json(r->body, &error);
        if (!j || !j->is_object()) return unavailable_error(method + ": the response is not JSON (" + error + ")");
        const Json* ok = member(*j, "ok");
        if (!ok || !ok->is_boolean() || !ok->get<bool>()) {
          return failed_precondition_error(method + ": " + str(*j, "error", "\"ok\" is not true"));
        }
        page(*j, r->body);
        const Json* meta = member(*j, "response_metadata");
        next = meta ? str(*meta, "next_cursor") : "";
        if (next.empty()) break;
      }
      return ok_status();
    };

    std::vector<SlackConversation> conversations;
    STRATA_RETURN_IF_ERROR(each_page("conversations.list", "limit=200&types=" + url_component_list(options_.types),
        [&](const Json& j, const std::string&) {
          const Json* list = member(j, "channels");
          if (!list || !list->is_array()) return;
          for (auto& c : parse_slack_conversations(list->dump(), false, "conversations.list", fw.records())) {
            conversations.push_back(std::move(c));
          }
        }));
    const std::string since(cursor);
    RecordSink tracking = fw.records();
    tracking.put = [&](Document d) {
      const auto slash = d.path.rfind('/');
      const std::string ts = d.path.substr(slash + 1);
      // History is re-read from thread_window before the cursor: what the cursor covers was
      // ingested by an earlier scan.
      if (!since.empty() && !ts_less(since, ts)) return;
      if (ts_less(max_ts, ts)) max_ts = ts;
      fw.records().put(std::move(d));
    };
    for (auto& conv : conversations) {
      if (fw.stopped()) break;
      SlackContext ctx;
      ctx.conversation = &conv;
      ctx.max_record_bytes = options_.max_record_bytes;
      if (conv.is_private) {
        std::vector<std::string> members;
        Status s = each_page("conversations.members", "limit=1000&channel=" + url_component_list(conv.id),
            [&](const Json& j, const std::string&) {
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
      std::vector<std::string> threads;
      auto messages = [&](const std::string& method, const std::string& query, bool collect_threads) -> Status {
        return each_page(method, query, [&](const Json& j, const std::string&) {
          const Json* list = member(j, "messages");
          if (!list || !list->is_array()) return;
          if (collect_threads) {
            for (const auto& m : *list) {
              const Json* replies = m.is_object() ? member(m, "reply_count") : nullptr;
              if (replies && replies->is_number_integer() && replies->get<std::int64_t>() > 0) {
                const std::string ts = str(m, "ts");
                // A root the cursor covers is re-read only when its latest reply is newer
                // (or unknown).
                const std::string latest = str(m, "latest_reply");
                const bool active = since.empty() || ts_less(since, ts) || latest.empty() || ts_less(since, latest);
                if (!ts.empty() && active) threads.push_back(ts);
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
        continue;
      }
      if (!s.ok()) return s;
    }
    if (!fw.status().ok()) return fw.status();
    if (sink.cancelled()) return cancelled_error("scan cancelled");
    ScanResult r;
    r.cursor = max_ts;
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
