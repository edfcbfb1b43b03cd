// fuzz_hub_append — runs a little program of operations against a fresh Hub over
// open_memory_store() (FakeClock, ManualExecutor, no background maintenance) and checks the
// log invariants the hub promises.
//
// Input: text, one operation per line, at most 64 lines; `<op> <field>|<field>|...`. Fields
// are taken verbatim (any bytes but '|' and newline); a missing field is empty, numbers are
// decimal. Unknown operations are skipped. R is a run handle index (modulo the handles
// started so far); a run id field "#k" names the id of run handle k.
//   hub <recent_events>|<subscriber_buffer>|<max_event_bytes>|<idle_session_ttl_ms>
//                                                       (first line only)
//   create S | info S | snap S | presence S | remove S | flush | maint | drain | tick <ms>
//   append S|type|payload|run_id|message_id|producer|epoch|seq|parent_run_id
//   batch  S|count|type|payload|run_id|message_id|producer
//   run    S|agent|run_id|parent_run_id|payload|lease_ms
//   begin R|role|message_id     delta R|text|message_id    end R|message_id
//   emit R|type|payload|message_id   complete R|payload   fail R|error   renew R   take R
//   cancel S|run_id|reason|by   cancelall S|reason|by   steer S|run_id|input|by
//   join S|client|device|kind|lease_ms   leave S|client   renewp S|client
//   retain S|ttl_ms|max_events|max_bytes|compact(0/1)
//   read S|after|max_events|max_bytes   sub S|from|epoch|buffer   unsub k
// STRATA_FUZZ_TRACE=1 prints each operation's outcome: strata_fuzz_hub_append <file>.
//
// Checks, besides "no crash, no sanitizer report, no deadlock":
//   * every successful write returns offsets above every offset returned before in that
//     session (appends are sequential here), and right after it the store's head is its last
//     offset and its epoch the session's; a duplicate returns offsets seen before;
//   * an append that succeeds had a valid session id, producer, event type and JSON payload;
//   * snapshot().offset and read().head equal info().head at any time;
//   * reads return strictly increasing offsets, after `after`, at most max_events of them;
//   * subscribers receive strictly increasing offsets;
//   * after the program and flush(), for every session touched: the whole log reads back in
//     strictly increasing offsets above trimmed_through; info().event_count and bytes match
//     it; one more append lands at head + 1; then info().head equals the highest offset ever
//     returned by a successful append and snapshot().offset equals the head; each open
//     subscriber has been delivered up to the head, every retained event after its start
//     (same type), and nothing else but compacted deltas.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <strata/session/hub.h>
#include <strata/testing/fake_clock.h>
#include <strata/testing/manual_executor.h>

namespace {

using namespace strata;
using namespace strata::session;

constexpr std::size_t kMaxOps = 64;
constexpr std::size_t kMaxRuns = 16;
constexpr std::size_t kMaxSubscriptions = 8;
constexpr std::size_t kMaxBatch = 8;

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string g_current_op;  // for failure reports

#define FUZZ_REQUIRE(cond, ...)                                                        \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      std::fprintf(stderr, "invariant violated: %s\n  at op: \"%s\"\n  ", #cond,       \
                   printable(g_current_op).c_str());                                   \
      std::fprintf(stderr, __VA_ARGS__);                                               \
      std::fprintf(stderr, "\n");                                                      \
      std::abort();                                                                    \
    }                                                                                  \
  } while (false)

// STRATA_FUZZ_TRACE=1 prints every operation and its outcome (to debug a program by hand).
bool g_trace = false;

Status status_of(const Status& s) { return s; }
template <typename T>
Status status_of(const Result<T>& r) {
  return r.status();
}
// Passes an outcome through, printing it when tracing.
template <typename R>
R traced(R r) {
  if (g_trace) {
    std::fprintf(stderr, "  %-50.50s -> %s\n", printable(g_current_op).c_str(),
                 status_of(r).to_string().c_str());
  }
  return r;
}

struct Line {
  std::string_view op;
  std::vector<std::string_view> fields;

  bool has(std::size_t i) const { return i < fields.size(); }
  std::string str(std::size_t i) const { return has(i) ? std::string(fields[i]) : std::string(); }
  std::string str_or(std::size_t i, std::string_view fallback) const {
    return has(i) ? std::string(fields[i]) : std::string(fallback);
  }
  // Leading decimal digits, saturating at `max`; 0 if none.
  std::uint64_t num(std::size_t i, std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) const {
    if (!has(i)) return 0;
    std::uint64_t v = 0;
    for (char c : fields[i]) {
      if (c < '0' || c > '9') break;
      const auto d = static_cast<std::uint64_t>(c - '0');
      if (v > (max - d) / 10) return max;
      v = v * 10 + d;
    }
    return v;
  }
  // An optional '-' then decimal digits, saturating.
  std::int64_t snum(std::size_t i) const {
    if (!has(i)) return 0;
    const bool negative = !fields[i].empty() && fields[i].front() == '-';
    Line rest{op, {negative ? fields[i].substr(1) : fields[i]}};
    const auto magnitude =
        static_cast<std::int64_t>(rest.num(0, std::numeric_limits<std::int64_t>::max()));
    return negative ? -magnitude : magnitude;
  }
};

std::vector<Line> parse(std::string_view text) {
  std::vector<Line> lines;
  while (!text.empty() && lines.size() < kMaxOps) {
    const std::size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (raw.empty()) continue;
    Line line;
    const std::size_t space = raw.find(' ');
    line.op = raw.substr(0, space);
    if (space != std::string_view::npos) {
      std::string_view rest = raw.substr(space + 1);
      for (;;) {
        const std::size_t bar = rest.find('|');
        line.fields.push_back(rest.substr(0, bar));
        if (bar == std::string_view::npos) break;
        rest = rest.substr(bar + 1);
      }
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

struct SessionModel {
  Offset max_returned = 0;  // highest offset returned by a successful write since (re)creation
};

struct SubRecord {
  std::string session;
  Offset from = 0;
  Offset last = 0;
  bool closed = false;
  std::map<Offset, std::string> delivered;  // offset -> type
};

struct RunHandle {
  std::unique_ptr<Run> run;
  std::string last_message;
};

class Program {
 public:
  explicit Program(const std::vector<Line>& lines) : lines_(lines) {}

  void execute() {
    HubOptions options;
    options.store = open_memory_store();
    options.clock = clock_;
    options.executor = executor_;
    options.maintenance_interval = std::chrono::milliseconds(0);
    options.recent_events = 8;
    options.subscriber_buffer = 4;
    std::size_t first = 0;
    if (!lines_.empty() && lines_[0].op == "hub") {
      const Line& l = lines_[0];
      if (l.has(0)) options.recent_events = l.num(0, 1 << 16);
      if (l.has(1)) options.subscriber_buffer = std::max<std::uint64_t>(1, l.num(1, 1 << 16));
      // At least room for the final check's append.
      if (l.has(2)) options.max_event_bytes = std::max<std::uint64_t>(256, l.num(2, 1 << 20));
      if (l.has(3)) {
        options.idle_session_ttl = std::chrono::milliseconds(
            static_cast<std::int64_t>(l.num(3, 1'000'000'000'000ULL)));
      }
      first = 1;
    }
    auto opened = Hub::open(std::move(options));
    FUZZ_REQUIRE(opened.ok(), "Hub::open: %s", opened.status().to_string().c_str());
    hub_ = std::move(*opened);

    for (std::size_t i = first; i < lines_.size(); ++i) {
      g_current_op = std::string(lines_[i].op);
      for (std::size_t f = 0; f < lines_[i].fields.size(); ++f) {
        g_current_op += f == 0 ? ' ' : '|';
        g_current_op += lines_[i].fields[f];
      }
      step(lines_[i]);
    }
    g_current_op = "(final checks)";
    hub_->flush();
    executor_->run_all();
    for (auto& [id, model] : sessions_) final_check(id, model);

    // Tear down in dependency order: handles, subscriptions, hub, then leftover callbacks.
    runs_.clear();
    subscriptions_.clear();
    hub_.reset();
    executor_->run_all();
  }

 private:
  // Records a session id the program touched (only valid ids can exist).
  SessionModel* touch(const std::string& session) {
    if (!validate_session_id(session).ok()) return nullptr;
    return &sessions_[session];
  }

  RunHandle* run_at(const Line& l, std::size_t i) {
    if (runs_.empty()) return nullptr;
    return &runs_[l.num(i, 1 << 20) % runs_.size()];
  }

  std::string run_id_field(const Line& l, std::size_t i) {
    std::string id = l.str(i);
    if (!id.empty() && id.front() == '#' && !runs_.empty()) {
      Line index{l.op, {std::string_view(id).substr(1)}};
      return runs_[index.num(0, 1 << 20) % runs_.size()].run->id();
    }
    return id;
  }

  // A successful write of offsets first..last to `session`. `exact`: the write was the last
  // thing appended, so the store's head must be `last`.
  void wrote(const std::string& session, Offset first, Offset last, bool duplicate, bool exact,
             const std::string& epoch = {}) {
    SessionModel* m = touch(session);
    FUZZ_REQUIRE(m != nullptr, "a write to invalid session id \"%s\" succeeded",
                 printable(session).c_str());
    FUZZ_REQUIRE(first >= 1 && first <= last, "offsets %llu..%llu",
                 static_cast<unsigned long long>(first), static_cast<unsigned long long>(last));
    if (duplicate) {
      FUZZ_REQUIRE(last <= m->max_returned,
                   "duplicate returned %llu..%llu, never returned before (max %llu)",
                   static_cast<unsigned long long>(first), static_cast<unsigned long long>(last),
                   static_cast<unsigned long long>(m->max_returned));
    } else {
      FUZZ_REQUIRE(first > m->max_returned, "write returned %llu..%llu after %llu was returned",
                   static_cast<unsigned long long>(first), static_cast<unsigned long long>(last),
                   static_cast<unsigned long long>(m->max_returned));
    }
    m->max_returned = std::max(m->max_returned, last);
    if (!exact && epoch.empty()) return;
    auto info = hub_->info(session);
    FUZZ_REQUIRE(info.ok(), "info after a successful write: %s",
                 info.status().to_string().c_str());
    if (exact && !duplicate) {
      FUZZ_REQUIRE(info->head == last, "head %llu after a write that returned %llu..%llu",
                   static_cast<unsigned long long>(info->head),
                   static_cast<unsigned long long>(first), static_cast<unsigned long long>(last));
    }
    FUZZ_REQUIRE(info->head >= m->max_returned, "head %llu below returned offset %llu",
                 static_cast<unsigned long long>(info->head),
                 static_cast<unsigned long long>(m->max_returned));
    if (!epoch.empty()) {
      FUZZ_REQUIRE(epoch == info->epoch, "append returned epoch %s, session has %s",
                   epoch.c_str(), info->epoch.c_str());
    }
  }

  void wrote_offset(const std::string& session, const Result<Offset>& r, bool exact = true) {
    (void)traced(r.status());
    if (r.ok()) wrote(session, *r, *r, false, exact);
  }

  void check_append_inputs(const std::string& session, const std::vector<EventDraft>& drafts,
                           const std::string& producer) {
    FUZZ_REQUIRE(validate_session_id(session).ok(), "append to a bad session id succeeded");
    FUZZ_REQUIRE(validate_name("producer", producer).ok(), "append by bad producer \"%s\"",
                 printable(producer).c_str());
    FUZZ_REQUIRE(!drafts.empty(), "an empty batch was appended");
    for (const auto& d : drafts) {
      FUZZ_REQUIRE(validate_event_type(d.type).ok(), "append of bad type \"%s\" succeeded",
                   printable(d.type).c_str());
      FUZZ_REQUIRE(validate_json(d.payload).ok(), "append of bad JSON \"%s\" succeeded",
                   printable(d.payload).c_str());
      FUZZ_REQUIRE(!d.type.starts_with("strata."), "append of reserved type succeeded");
    }
  }

  void check_published(const std::string& session) {
    auto info = hub_->info(session);
    if (!info.ok()) return;
    auto snap = hub_->snapshot(session);
    FUZZ_REQUIRE(snap.ok(), "snapshot of an existing session: %s",
                 snap.status().to_string().c_str());
    FUZZ_REQUIRE(snap->offset == info->head, "snapshot offset %llu, head %llu",
                 static_cast<unsigned long long>(snap->offset),
                 static_cast<unsigned long long>(info->head));
    FUZZ_REQUIRE(snap->epoch == info->epoch, "snapshot epoch differs from info epoch");
    for (const auto& r : snap->runs) {
      FUZZ_REQUIRE(r.started_at <= info->head && r.ended_at <= info->head,
                   "run %s offsets beyond head", printable(r.id).c_str());
    }
    for (const auto& msg : snap->messages) {
      FUZZ_REQUIRE(msg.started_at <= info->head && msg.updated_at <= info->head,
                   "message %s offsets beyond head", printable(msg.id).c_str());
    }
  }

  void check_page(const ReadResult& page, const ReadOptions& options) {
    FUZZ_REQUIRE(page.events.size() <= options.max_events, "read returned %zu > max_events",
                 page.events.size());
    Offset previous = options.after;
    for (const auto& e : page.events) {
      FUZZ_REQUIRE(e.offset > previous, "read offsets not increasing: %llu after %llu",
                   static_cast<unsigned long long>(e.offset),
                   static_cast<unsigned long long>(previous));
      FUZZ_REQUIRE(e.offset <= page.head, "read returned offset %llu beyond head %llu",
                   static_cast<unsigned long long>(e.offset),
                   static_cast<unsigned long long>(page.head));
      previous = e.offset;
    }
  }

  void step(const Line& l) {
    const std::string_view op = l.op;
    if (op == "create") {
      auto r = traced(hub_->create(l.str(0)));
      touch(l.str(0));
      if (r.ok()) {
        FUZZ_REQUIRE(r->id == l.str(0), "create returned info of another session");
      }
    } else if (op == "info") {
      touch(l.str(0));
      (void)traced(hub_->info(l.str(0)));
    } else if (op == "append" || op == "batch") {
      const bool batch = op == "batch";
      const std::string session = l.str(0);
      touch(session);
      const std::size_t base = batch ? 2 : 1;
      EventDraft draft;
      draft.type = l.str(base);
      draft.payload = l.str_or(base + 1, "{}");
      draft.run_id = l.str(base + 2);
      draft.message_id = l.str(base + 3);
      if (!batch) draft.parent_run_id = l.str(8);
      AppendOptions options;
      options.producer = l.str_or(base + 4, "fuzz");
      if (!batch) {
        options.producer_epoch = l.num(6);
        if (l.has(7) && !l.fields[7].empty()) options.producer_seq = l.num(7);
      }
      std::vector<EventDraft> drafts(batch ? l.num(1, kMaxBatch) : 1, draft);
      const std::vector<EventDraft> copy = drafts;
      auto r = traced(hub_->append_batch(session, std::move(drafts), options));
      if (r.ok()) {
        check_append_inputs(session, copy, options.producer);
        if (!r->duplicate) {
          FUZZ_REQUIRE(r->last_offset - r->first_offset + 1 == copy.size(),
                       "append of %zu events returned %llu..%llu", copy.size(),
                       static_cast<unsigned long long>(r->first_offset),
                       static_cast<unsigned long long>(r->last_offset));
        }
        wrote(session, r->first_offset, r->last_offset, r->duplicate, true, r->epoch);
      }
    } else if (op == "run") {
      if (runs_.size() >= kMaxRuns) return;
      const std::string session = l.str(0);
      touch(session);
      RunOptions options;
      options.agent = l.str_or(1, "agent");
      options.run_id = l.str(2);
      options.parent_run_id = run_id_field(l, 3);
      options.payload = l.str_or(4, "{}");
      options.lease = std::chrono::milliseconds(l.snum(5));
      auto r = traced(hub_->start_run(session, std::move(options)));
      if (r.ok()) {
        FUZZ_REQUIRE((*r)->session() == session, "run reports another session");
        auto info = hub_->info(session);
        FUZZ_REQUIRE(info.ok(), "info after start_run: %s", info.status().to_string().c_str());
        // run.started is the newest event.
        wrote(session, info->head, info->head, false, true);
        runs_.push_back(RunHandle{std::move(*r), {}});
      }
    } else if (op == "begin") {
      RunHandle* h = run_at(l, 0);
      if (h == nullptr) return;
      auto r = traced(h->run->begin_message(l.str(1), l.str(2)));
      if (r.ok()) {
        h->last_message = *r;
        auto info = hub_->info(h->run->session());
        FUZZ_REQUIRE(info.ok(), "info after begin_message");
        wrote(h->run->session(), info->head, info->head, false, true);
      }
    } else if (op == "delta") {
      RunHandle* h = run_at(l, 0);
      if (h == nullptr) return;
      const std::string message = l.has(2) ? l.str(2) : h->last_message;
      wrote_offset(h->run->session(), h->run->delta(message, l.str(1)));
    } else if (op == "end") {
      RunHandle* h = run_at(l, 0);
      if (h == nullptr) return;
      const std::string message = l.has(1) ? l.str(1) : h->last_message;
      wrote_offset(h->run->session(), h->run->end_message(message));
    } else if (op == "emit") {
      RunHandle* h = run_at(l, 0);
      if (h == nullptr) return;
      EventDraft d;
      d.type = l.str(1);
      d.payload = l.str_or(2, "{}");
      d.message_id = l.str(3);
      wrote_offset(h->run->session(), h->run->emit(std::move(d)));
    } else if (op == "complete") {
      RunHandle* h = run_at(l, 0);
      if (h == nullptr) return;
      wrote_offset(h->run->session(), h->run->complete(l.str_or(1, "{}")));
    } else if (op == "fail") {
      RunHandle* h = run_at(l, 0);
      if (h == nullptr) return;
      wrote_offset(h->run->session(), h->run->fail(l.str(1)));
    } else if (op == "renew") {
      RunHandle* h = run_at(l, 0);
      if (h != nullptr) (void)traced(h->run->renew());
    } else if (op == "take") {
      RunHandle* h = run_at(l, 0);
      if (h != nullptr) (void)h->run->take_steering();
    } else if (op == "cancel") {
      const std::string session = l.str(0);
      touch(session);
      CancelOptions options;
      options.reason = l.str_or(2, "fuzz");
      options.requested_by = l.str_or(3, "client");
      // Cancels the run and its running descendants: the head is at or above the offset.
      wrote_offset(session, hub_->cancel(session, run_id_field(l, 1), options), false);
    } else if (op == "cancelall") {
      const std::string session = l.str(0);
      touch(session);
      CancelOptions options;
      options.reason = l.str_or(1, "fuzz");
      options.requested_by = l.str_or(2, "client");
      (void)traced(hub_->cancel_all(session, options));
    } else if (op == "steer") {
      const std::string session = l.str(0);
      touch(session);
      wrote_offset(session,
                   hub_->steer(session, run_id_field(l, 1), l.str_or(2, "\"hi\""), l.str_or(3, "client")));
    } else if (op == "join") {
      const std::string session = l.str(0);
      touch(session);
      PresenceOptions options;
      options.client_id = l.str(1);
      options.device = l.str(2);
      options.kind = l.str_or(3, "client");
      options.lease = std::chrono::milliseconds(l.snum(4));
      (void)traced(hub_->join(session, options));
    } else if (op == "leave") {
      touch(l.str(0));
      (void)traced(hub_->leave(l.str(0), l.str(1)));
    } else if (op == "renewp") {
      touch(l.str(0));
      (void)traced(hub_->renew_presence(l.str(0), l.str(1)));
    } else if (op == "presence") {
      touch(l.str(0));
      auto r = traced(hub_->presence(l.str(0)));
      if (r.ok()) {
        FUZZ_REQUIRE(std::is_sorted(r->begin(), r->end(),
                                    [](const PresenceEntry& a, const PresenceEntry& b) {
                                      return a.client_id < b.client_id;
                                    }),
                     "presence not sorted by client id");
      }
    } else if (op == "retain") {
      touch(l.str(0));
      RetentionPolicy policy;
      policy.ttl = std::chrono::milliseconds(
          static_cast<std::int64_t>(l.num(1, std::numeric_limits<std::int64_t>::max())));
      policy.max_events = l.num(2);
      policy.max_bytes = l.num(3);
      policy.compact_completed_messages = !(l.has(4) && l.fields[4] == "0");
      (void)traced(hub_->set_retention(l.str(0), policy));
    } else if (op == "maint") {
      const MaintenanceReport report = hub_->run_maintenance();
      if (g_trace) {
        std::fprintf(stderr, "  maint: %llu runs lost, %llu presence expired, %llu deltas "
                     "compacted, %llu trimmed, %llu sessions evicted, %zu errors\n",
                     static_cast<unsigned long long>(report.runs_lost),
                     static_cast<unsigned long long>(report.presence_expired),
                     static_cast<unsigned long long>(report.deltas_compacted),
                     static_cast<unsigned long long>(report.events_trimmed),
                     static_cast<unsigned long long>(report.sessions_evicted),
                     report.errors.size());
      }
    } else if (op == "tick") {
      clock_->advance(std::chrono::milliseconds(
          static_cast<std::int64_t>(l.num(0, 1'000'000'000'000ULL))));
    } else if (op == "flush") {
      hub_->flush();
    } else if (op == "drain") {
      executor_->run_all();
    } else if (op == "snap") {
      touch(l.str(0));
      check_published(l.str(0));
    } else if (op == "read") {
      const std::string session = l.str(0);
      touch(session);
      ReadOptions options;
      options.after = l.num(1);
      if (l.has(2)) options.max_events = l.num(2, 1 << 20);
      if (l.has(3)) options.max_bytes = l.num(3, 1 << 26);
      auto r = traced(hub_->read(session, options));
      if (r.ok()) {
        check_page(*r, options);
        auto info = hub_->info(session);
        FUZZ_REQUIRE(info.ok() && info->head == r->head, "read head differs from info head");
      }
    } else if (op == "sub") {
      if (subscriptions_.size() >= kMaxSubscriptions) return;
      const std::string session = l.str(0);
      touch(session);
      SubscribeOptions options;
      options.from = l.num(1);
      options.epoch = l.str(2);
      options.buffer = l.num(3, 1 << 16);
      auto record = std::make_shared<SubRecord>();
      record->session = session;
      record->from = options.from;
      record->last = options.from;
      auto r = hub_->subscribe(
          session, options,
          [record](const Event& e) {
            FUZZ_REQUIRE(!record->closed, "event %llu delivered after close",
                         static_cast<unsigned long long>(e.offset));
            FUZZ_REQUIRE(e.offset > record->last, "subscriber got offset %llu after %llu",
                         static_cast<unsigned long long>(e.offset),
                         static_cast<unsigned long long>(record->last));
            record->last = e.offset;
            record->delivered[e.offset] = e.type;
          },
          [record](const Status&) { record->closed = true; });
      (void)traced(r.status());
      if (r.ok()) subscriptions_.push_back({std::move(*r), record});
    } else if (op == "unsub") {
      if (subscriptions_.empty()) return;
      const std::size_t i = l.num(0, 1 << 20) % subscriptions_.size();
      subscriptions_[i].first->close();
      subscriptions_[i].second->closed = true;
    } else if (op == "remove") {
      const std::string session = l.str(0);
      touch(session);
      if (traced(hub_->remove(session)).ok()) {
        if (SessionModel* m = touch(session)) *m = SessionModel{};
        for (auto& [sub, record] : subscriptions_) {
          if (record->session == session) record->closed = true;  // closed with kNotFound
        }
      }
    }
  }

  void final_check(const std::string& session, SessionModel& model) {
    auto info = hub_->info(session);
    if (!info.ok()) {
      FUZZ_REQUIRE(info.status().code() == StatusCode::kNotFound, "info(%s): %s",
                   printable(session).c_str(), info.status().to_string().c_str());
      FUZZ_REQUIRE(model.max_returned == 0, "session %s with returned offset %llu is gone",
                   printable(session).c_str(),
                   static_cast<unsigned long long>(model.max_returned));
      return;
    }
    // The whole retained log.
    std::vector<Event> log;
    ReadOptions options;
    options.after = info->trimmed_through;
    for (;;) {
      auto page = hub_->read(session, options);
      FUZZ_REQUIRE(page.ok(), "read(%s, after %llu): %s", printable(session).c_str(),
                   static_cast<unsigned long long>(options.after),
                   page.status().to_string().c_str());
      check_page(*page, options);
      if (page->events.empty()) break;
      options.after = page->events.back().offset;
      for (auto& e : page->events) log.push_back(std::move(e));
    }
    std::uint64_t bytes = 0;
    for (const auto& e : log) bytes += e.byte_size();
    FUZZ_REQUIRE(info->event_count == log.size(), "event_count %llu, log has %zu",
                 static_cast<unsigned long long>(info->event_count), log.size());
    FUZZ_REQUIRE(info->bytes == bytes, "bytes %llu, log has %llu",
                 static_cast<unsigned long long>(info->bytes),
                 static_cast<unsigned long long>(bytes));
    FUZZ_REQUIRE(info->head >= model.max_returned, "head %llu below returned %llu",
                 static_cast<unsigned long long>(info->head),
                 static_cast<unsigned long long>(model.max_returned));
    if (!log.empty()) {
      FUZZ_REQUIRE(log.front().offset > info->trimmed_through && log.back().offset <= info->head,
                   "log spans %llu..%llu, trimmed_through %llu, head %llu",
                   static_cast<unsigned long long>(log.front().offset),
                   static_cast<unsigned long long>(log.back().offset),
                   static_cast<unsigned long long>(info->trimmed_through),
                   static_cast<unsigned long long>(info->head));
    }

    // One more append lands right after the head; then the head is the highest offset ever
    // returned.
    EventDraft last;
    last.type = "fuzz.end";
    AppendOptions append_options;
    append_options.producer = "strata-fuzz-final";
    append_options.producer_epoch = std::numeric_limits<std::uint64_t>::max();
    auto appended = hub_->append(session, last, append_options);
    FUZZ_REQUIRE(appended.ok(), "final append to %s: %s", printable(session).c_str(),
                 appended.status().to_string().c_str());
    FUZZ_REQUIRE(appended->first_offset == info->head + 1 && !appended->duplicate,
                 "final append at %llu, head was %llu",
                 static_cast<unsigned long long>(appended->first_offset),
                 static_cast<unsigned long long>(info->head));
    wrote(session, appended->first_offset, appended->last_offset, false, true, appended->epoch);
    hub_->flush();
    auto after = hub_->info(session);
    FUZZ_REQUIRE(after.ok() && after->head == model.max_returned,
                 "head differs from the highest offset returned (%llu)",
                 static_cast<unsigned long long>(model.max_returned));
    check_published(session);
    log.push_back(Event{});
    log.back().offset = appended->first_offset;
    log.back().type = last.type;

    // Subscribers: everything retained after their start, in order, up to the head.
    executor_->run_all();
    std::set<Offset> retained_offsets;
    for (const auto& e : log) retained_offsets.insert(e.offset);
    for (const auto& [sub, record] : subscriptions_) {
      if (record->session != session || record->closed) continue;
      FUZZ_REQUIRE(sub->last_delivered() == after->head,
                   "open subscriber from %llu delivered up to %llu, head %llu",
                   static_cast<unsigned long long>(record->from),
                   static_cast<unsigned long long>(sub->last_delivered()),
                   static_cast<unsigned long long>(after->head));
      for (const auto& e : log) {
        if (e.offset <= record->from) continue;
        auto it = record->delivered.find(e.offset);
        FUZZ_REQUIRE(it != record->delivered.end() && it->second == e.type,
                     "subscriber from %llu missed retained event %llu (%s)",
                     static_cast<unsigned long long>(record->from),
                     static_cast<unsigned long long>(e.offset), printable(e.type).c_str());
      }
      for (const auto& [offset, type] : record->delivered) {
        if (offset <= after->trimmed_through) continue;
        const bool retained = retained_offsets.count(offset) != 0;
        FUZZ_REQUIRE(retained || type == "message.delta",
                     "subscriber got event %llu (%s) that is not in the log",
                     static_cast<unsigned long long>(offset), printable(type).c_str());
      }
    }
  }

  const std::vector<Line>& lines_;
  std::shared_ptr<testing::FakeClock> clock_ = std::make_shared<testing::FakeClock>();
  std::shared_ptr<testing::ManualExecutor> executor_ =
      std::make_shared<testing::ManualExecutor>();
  std::unique_ptr<Hub> hub_;
  std::map<std::string, SessionModel> sessions_;
  std::vector<RunHandle> runs_;
  std::vector<std::pair<std::unique_ptr<Subscription>, std::shared_ptr<SubRecord>>> subscriptions_;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_trace = std::getenv("STRATA_FUZZ_TRACE") != nullptr;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto lines = parse(std::string_view(reinterpret_cast<const char*>(data), size));
  Program program(lines);
  program.execute();
  return 0;
}
