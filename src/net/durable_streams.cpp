// The Durable Streams engine (see durable_streams.h and docs/durable-streams.md).
//
// One mutex guards every stream. Live reads (long-poll, SSE) are channels registered as
// waiters on their stream; a write collects the waiters under the lock and wakes them after
// releasing it, and a woken channel takes its own mutex, then the engine's, to read on.
#include "net/durable_streams.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include <strata/session/hub.h>

#include "net/ds_parse.h"
#include "net/ds_subscriptions.h"
#include "net/handler_core.h"
#include "net/http_parser.h"
#include "net/route_auth.h"
#include "net/websocket.h"
#include "net/wire.h"

namespace strata::net::detail {
namespace {

using ds::StreamOffset;

constexpr const char* kOctetStream = "application/octet-stream";
// 2024-10-09T00:00:00Z, the protocol's cursor epoch, and its 20 s cursor interval.
constexpr std::int64_t kCursorEpochMs = 1728432000000;
constexpr std::int64_t kCursorIntervalMs = 20000;

struct Message {
  std::uint64_t position = 0;
  std::string data;  // bytes; JSON mode: compact values joined by ','
};

struct ProducerState {
  std::uint64_t epoch = 0;
  std::uint64_t last_seq = 0;
};

struct ClosedBy {
  std::string id;
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
};

class LiveChannel;

struct StoredStream {
  std::string path;
  std::uint64_t generation = 0;
  std::string content_type;
  bool json = false;
  std::vector<Message> messages;
  std::uint64_t tail = 0;
  std::optional<std::uint64_t> ttl_seconds;
  std::string expires_at;  // as given; empty: none
  std::optional<std::int64_t> expires_at_ms;
  std::int64_t last_access_ms = 0;
  bool closed = false;
  std::optional<ClosedBy> closed_by;
  int refs = 0;
  bool soft_deleted = false;
  std::string forked_from;
  std::uint64_t fork_offset = 0;
  std::uint64_t fork_sub_offset = 0;
  std::map<std::string, ProducerState> producers;
  std::optional<std::string> last_stream_seq;
  std::string session;  // a strata session served as this stream; empty for DS streams
  std::unique_ptr<session::Subscription> subscription;
  std::vector<std::weak_ptr<LiveChannel>> waiters;
};

enum class ProducerVerdict { kAccepted, kDuplicate, kStaleEpoch, kInvalidEpochSeq, kGap };
struct ProducerCheck {
  ProducerVerdict verdict = ProducerVerdict::kAccepted;
  ProducerState proposed{};
  std::uint64_t last_seq = 0;
  std::uint64_t current_epoch = 0;
  std::uint64_t expected = 0;
};

ProducerCheck check_producer(const StoredStream& s, const ds::ProducerHeaders& p) {
  ProducerCheck c;
  auto it = s.producers.find(p.id);
  if (it == s.producers.end()) {
    if (p.seq != 0) return {ProducerVerdict::kGap, {}, 0, 0, 0};
    c.proposed = {p.epoch, 0};
    return c;
  }
  const ProducerState& st = it->second;
  if (p.epoch < st.epoch) return {ProducerVerdict::kStaleEpoch, {}, 0, st.epoch, 0};
  if (p.epoch > st.epoch) {
    if (p.seq != 0) return {ProducerVerdict::kInvalidEpochSeq, {}, 0, 0, 0};
    c.proposed = {p.epoch, 0};
    return c;
  }
  if (p.seq <= st.last_seq) return {ProducerVerdict::kDuplicate, {}, st.last_seq, 0, 0};
  if (p.seq == st.last_seq + 1) {
    c.proposed = {p.epoch, p.seq};
    return c;
  }
  return {ProducerVerdict::kGap, {}, 0, 0, st.last_seq + 1};
}

HttpResponse text_response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

HttpResponse empty_response(int status) {
  HttpResponse r;
  r.status = status;
  r.content_type.clear();
  return r;
}

void add_cors(std::vector<std::pair<std::string, std::string>>& h) {
  h.emplace_back("Access-Control-Allow-Origin", "*");
  h.emplace_back("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, HEAD, OPTIONS");
  h.emplace_back("Access-Control-Allow-Headers",
                 "content-type, authorization, if-none-match, Stream-Seq, Stream-TTL, Stream-Expires-At, "
                 "Stream-Closed, Producer-Id, Producer-Epoch, Producer-Seq, Stream-Forked-From, "
                 "Stream-Fork-Offset, Stream-Fork-Sub-Offset");
  h.emplace_back("Access-Control-Expose-Headers",
                 "Stream-Next-Offset, Stream-Cursor, Stream-Up-To-Date, Stream-Closed, Producer-Epoch, "
                 "Producer-Seq, Producer-Expected-Seq, Producer-Received-Seq, etag, content-type, "
                 "content-encoding, vary");
  h.emplace_back("X-Content-Type-Options", "nosniff");
  h.emplace_back("Cross-Origin-Resource-Policy", "cross-origin");
}

std::string offset_text(std::uint64_t position) { return ds::format_offset(StreamOffset{0, position}); }

std::string sse_frame(std::string_view event, std::string_view payload) {
  std::string out = "event: ";
  out += event;
  out += '\n';
  std::size_t i = 0;
  while (true) {
    std::size_t j = payload.find_first_of("\r\n", i);
    out += "data:";
    out += payload.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i);
    out += '\n';
    if (j == std::string_view::npos) break;
    i = j + (payload[j] == '\r' && j + 1 < payload.size() && payload[j + 1] == '\n' ? 2 : 1);
  }
  out += '\n';
  return out;
}

std::string response_cursor(std::optional<std::string_view> client, std::int64_t now_ms) {
  const std::int64_t current = (now_ms - kCursorEpochMs) / kCursorIntervalMs;
  if (client) {
    std::int64_t theirs = 0;
    auto [p, ec] = std::from_chars(client->data(), client->data() + client->size(), theirs);
    if (ec == std::errc() && p != client->data() && theirs >= current && theirs < (std::int64_t{1} << 52)) {
      static thread_local std::mt19937 rng{std::random_device{}()};
      // Jitter of 1..3600 s, in whole intervals, so the cursor always moves forward.
      const std::int64_t jitter_s = std::uniform_int_distribution<std::int64_t>(1, 3600)(rng);
      return std::to_string(theirs + std::max<std::int64_t>(1, (jitter_s * 1000 + kCursorIntervalMs - 1) / kCursorIntervalMs));
    }
  }
  return std::to_string(current);
}

class Engine;

// A long-poll or SSE read waiting on a stream.
class LiveChannel final : public Channel, public std::enable_shared_from_this<LiveChannel> {
 public:
  enum class Mode { kLongPoll, kSse };
  LiveChannel(std::weak_ptr<Engine> engine, std::shared_ptr<OutputSink> sink, Mode mode)
      : engine_(std::move(engine)), sink_(std::move(sink)), mode(mode) {}

  void on_message(std::string_view) override {}
  void on_writable() override {}
  void on_tick() override { pump(); }
  void close() override {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  void close_for_restart() override { finish({}); }

  // Reads on from the stream and writes what it has; registers as a waiter if it must wait.
  void pump();
  void finish(std::string last);

  // Fixed at creation; then owned by pump() under mu_.
  const std::weak_ptr<Engine> engine_;
  const std::shared_ptr<OutputSink> sink_;
  const Mode mode;
  std::string path;
  std::uint64_t generation = 0;
  std::uint64_t position = 0;
  std::optional<std::string> client_cursor;
  std::int64_t deadline_ms = 0;      // long-poll: when to answer 204
  std::int64_t last_sent_ms = 0;     // SSE: for keep-alives
  std::int64_t keepalive_ms = 0;
  bool base64 = false;
  bool started = false;

 private:
  std::mutex mu_;
  bool done_ = false;
};

class Engine final : public DurableStreams, public std::enable_shared_from_this<Engine> {
 public:
  Engine(session::Hub& hub, DurableStreamsOptions options, std::shared_ptr<Clock> clock, RouteAuth auth)
      : hub_(hub), options_(std::move(options)), clock_(std::move(clock)), auth_(std::move(auth)) {}
  // The subscription service's delivery thread must not outlive the engine it reads from.
  ~Engine() override {
    if (subs_) subs_->shutdown();
  }

  bool matches(std::string_view target) const override {
    return !options_.prefix.empty() && target.substr(0, options_.prefix.size()) == options_.prefix;
  }

  Outcome handle(const HttpRequest& request, const std::shared_ptr<OutputSink>& sink) override {
    evict_idle_sessions();
    Outcome out = dispatch(request, sink);
    add_cors(out.response.headers);
    notify_subscriptions(request, out.response.status);
    return out;
  }

  // Starts the subscription service (options.subscriptions.enabled). Called once, after
  // construction, because the service reaches the engine through a weak pointer.
  void start_subscriptions() {
    if (!options_.subscriptions.enabled) return;
    std::weak_ptr<Engine> weak = weak_from_this();
    subs::StreamAccess access;
    access.tail = [weak](const std::string& rel) -> std::optional<StreamOffset> {
      auto self = weak.lock();
      if (!self) return std::nullopt;
      std::lock_guard lock(self->mu_);
      auto it = self->streams_.find(self->options_.prefix + rel);
      if (it == self->streams_.end() || it->second->soft_deleted) return std::nullopt;
      return StreamOffset{0, it->second->tail};
    };
    access.list = [weak]() {
      std::vector<std::string> out;
      auto self = weak.lock();
      if (!self) return out;
      std::lock_guard lock(self->mu_);
      for (const auto& [path, st] : self->streams_) {
        if (!st->soft_deleted && path.size() > self->options_.prefix.size()) {
          out.push_back(path.substr(self->options_.prefix.size()));
        }
      }
      return out;
    };
    access.append = [weak](const std::string& rel, const std::string& json) {
      auto self = weak.lock();
      if (!self) return false;
      HttpRequest r;
      r.method = "POST";
      r.target = self->options_.prefix + rel;
      r.headers.emplace_back("Content-Type", "application/json");
      r.body = json;
      // Through handle(): live readers of the wake stream are woken, subscriptions notified.
      return self->handle(r, nullptr).response.status / 100 == 2;
    };
    subs_ = subs::Subscriptions::create(options_.subscriptions, options_.prefix, clock_, std::move(access));
  }

  void shutdown() override {
    if (subs_) subs_->shutdown();
    std::vector<std::unique_ptr<session::Subscription>> subs;
    std::vector<std::shared_ptr<LiveChannel>> live;
    {
      std::lock_guard lock(mu_);
      shut_ = true;
      for (auto& [path, s] : streams_) {
        if (s->subscription) subs.push_back(std::move(s->subscription));
        take_waiters(*s, live);
      }
    }
    subs.clear();
    for (auto& c : live) c->finish({});
  }

  // Drops session-backed streams nobody used for idle_session_ttl (and their subscriptions);
  // checked at most once a second, on requests.
  void evict_idle_sessions() {
    std::vector<std::shared_ptr<LiveChannel>> wake;
    std::vector<std::unique_ptr<session::Subscription>> drop;
    {
      std::lock_guard lock(mu_);
      const std::int64_t now = now_ms();
      if (now - last_eviction_ms_ < 1000) return;
      last_eviction_ms_ = now;
      std::vector<std::string> idle;
      for (auto& [path, s] : streams_) {
        if (s->session.empty() || now - s->last_access_ms < options_.idle_session_ttl.count()) continue;
        bool watched = false;
        for (auto& w : s->waiters) watched = watched || !w.expired();
        if (!watched && s->refs == 0) idle.push_back(path);
      }
      for (const auto& path : idle) remove(path, wake, drop);
    }
    drop.clear();
    for (auto& c : wake) c->pump();
  }

  // --- live reads (called by LiveChannel::pump under the channel's mutex) ------------------

  struct Poll {
    std::string out;
    bool finished = false;
    std::vector<std::shared_ptr<LiveChannel>> wake;  // other reads to pump afterwards
  };
  Poll poll(LiveChannel& c);

 private:
  // The stream path under the prefix when `target` is a stream (not a reserved __ds/ path).
  std::optional<std::string> relative_stream(std::string_view target) const {
    const auto q = target.find('?');
    std::string_view path = target.substr(0, q);
    if (path.size() <= options_.prefix.size() || path.substr(0, options_.prefix.size()) != options_.prefix) {
      return std::nullopt;
    }
    path.remove_prefix(options_.prefix.size());
    if (path == "__ds" || path.substr(0, 5) == "__ds/") return std::nullopt;
    return std::string(path);
  }

  // Tells the subscription service about successful writes and deletes.
  void notify_subscriptions(const HttpRequest& request, int status) {
    if (!subs_ || status / 100 != 2) return;
    const std::string& m = request.method;
    if (m != "PUT" && m != "POST" && m != "DELETE") return;
    auto rel = relative_stream(request.target);
    if (!rel) return;
    if (m == "DELETE") {
      subs_->on_stream_deleted(*rel);
    } else {
      subs_->on_stream_written(*rel);
    }
  }

  Outcome reserved(const HttpRequest& request, const Target& target, std::string_view rest);

  std::int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_->now().time_since_epoch()).count();
  }

  bool expired(const StoredStream& s, std::int64_t now) const {
    if (s.expires_at_ms && now >= *s.expires_at_ms) return true;
    if (s.ttl_seconds && now >= s.last_access_ms + static_cast<std::int64_t>(*s.ttl_seconds) * 1000) return true;
    return false;
  }

  // The stream at `path`, applying expiry: an expired stream is removed, or soft-deleted while
  // forks still read through it. REQUIRES: mu_ held.
  StoredStream* find(const std::string& path, std::vector<std::shared_ptr<LiveChannel>>& wake,
               std::vector<std::unique_ptr<session::Subscription>>& drop) {
    auto it = streams_.find(path);
    if (it == streams_.end()) return nullptr;
    StoredStream& s = *it->second;
    if (expired(s, now_ms())) {
      if (s.refs > 0) {
        s.soft_deleted = true;
        return &s;
      }
      remove(path, wake, drop);
      return nullptr;
    }
    return &s;
  }

  // REQUIRES: mu_ held.
  void remove(const std::string& path, std::vector<std::shared_ptr<LiveChannel>>& wake,
              std::vector<std::unique_ptr<session::Subscription>>& drop) {
    auto it = streams_.find(path);
    if (it == streams_.end()) return;
    std::shared_ptr<StoredStream> s = it->second;
    streams_.erase(it);
    if (s->session.empty()) {
      for (const auto& m : s->messages) memory_bytes_ -= std::min(memory_bytes_, m.data.size());
    }
    take_waiters(*s, wake);
    if (s->subscription) drop.push_back(std::move(s->subscription));
    if (!s->forked_from.empty()) {
      auto parent = streams_.find(s->forked_from);
      if (parent != streams_.end()) {
        StoredStream& p = *parent->second;
        p.refs = std::max(0, p.refs - 1);
        if (p.refs == 0 && p.soft_deleted) remove(s->forked_from, wake, drop);
      }
    }
  }

  static void take_waiters(StoredStream& s, std::vector<std::shared_ptr<LiveChannel>>& out) {
    for (auto& w : s.waiters) {
      if (auto c = w.lock()) out.push_back(std::move(c));
    }
    s.waiters.clear();
  }

  // Messages of `s`'s view after `after`, at most `cap`, across its fork chain.
  // REQUIRES: mu_ held.
  void collect(const StoredStream& s, std::uint64_t after, std::uint64_t cap,
               std::vector<const Message*>& out) const {
    if (!s.forked_from.empty() && after < s.fork_offset) {
      auto parent = streams_.find(s.forked_from);
      if (parent != streams_.end()) collect(*parent->second, after, std::min(cap, s.fork_offset), out);
    }
    for (const auto& m : s.messages) {
      if (m.position <= after) continue;
      if (m.position > cap) break;
      out.push_back(&m);
    }
  }

  std::string body_of(const StoredStream& s, const std::vector<const Message*>& messages) const {
    std::string body;
    if (s.json) {
      body += '[';
      bool first = true;
      for (const auto* m : messages) {
        if (m->data.empty()) continue;
        if (!first) body += ',';
        body += m->data;
        first = false;
      }
      body += ']';
    } else {
      for (const auto* m : messages) body += m->data;
    }
    return body;
  }

  std::string etag(const StoredStream& s, std::string_view start, std::uint64_t end,
                   bool closed_suffix) const {
    return "\"" + base64_encode(s.path) + ":" + std::string(start) + ":" + offset_text(end) +
           (closed_suffix ? ":c" : "") + "\"";
  }

  // Pulls events the hub has beyond what this session-backed stream holds. The reads this
  // wakes are pumped here, or, with `wake`, handed to the caller (see add_events).
  // REQUIRES: mu_ not held.
  void refresh_session(const std::string& path, std::vector<std::shared_ptr<LiveChannel>>* wake = nullptr) {
    std::string session;
    std::uint64_t tail = 0;
    {
      std::lock_guard lock(mu_);
      auto it = streams_.find(path);
      if (it == streams_.end() || it->second->session.empty()) return;
      session = it->second->session;
      tail = it->second->tail;
    }
    std::vector<session::Event> events;
    for (;;) {
      session::ReadOptions ro;
      ro.after = tail;
      auto page = hub_.read(session, ro);
      if (!page.ok() || page->events.empty()) break;
      tail = page->events.back().offset;
      for (auto& e : page->events) events.push_back(std::move(e));
    }
    if (!events.empty()) add_events(path, events, wake);
  }

  // With `wake_out`, the woken reads are appended there instead of pumped: poll() runs under a
  // channel's mutex, and that channel may be among the stream's waiters.
  void add_events(const std::string& path, const std::vector<session::Event>& events,
                  std::vector<std::shared_ptr<LiveChannel>>* wake_out = nullptr) {
    std::vector<std::shared_ptr<LiveChannel>> wake;
    {
      std::lock_guard lock(mu_);
      auto it = streams_.find(path);
      if (it == streams_.end() || it->second->session.empty()) return;
      StoredStream& s = *it->second;
      for (const auto& e : events) {
        if (e.offset <= s.tail) continue;
        Message m;
        m.position = e.offset;
        append_event_json(m.data, e);
        s.messages.push_back(std::move(m));
        s.tail = e.offset;
      }
      take_waiters(s, wake);
    }
    if (wake_out != nullptr) {
      for (auto& c : wake) wake_out->push_back(std::move(c));
      return;
    }
    for (auto& c : wake) c->pump();
  }

  // Serves an existing strata session (not created over DS) as a stream.
  // REQUIRES: mu_ not held.
  void attach_session(const std::string& path) {
    {
      std::lock_guard lock(mu_);
      if (shut_ || streams_.count(path)) return;
    }
    std::string id;
    if (!percent_decode(std::string_view(path).substr(options_.prefix.size()), id, false)) return;
    if (!session::validate_session_id(id).ok() || !hub_.info(id).ok()) return;
    {
      std::lock_guard lock(mu_);
      if (streams_.count(path)) return;
      auto s = std::make_shared<StoredStream>();
      s->path = path;
      s->generation = ++generation_;
      s->content_type = "application/json";
      s->json = true;
      s->session = id;
      s->last_access_ms = now_ms();
      streams_.emplace(path, s);
    }
    refresh_session(path);
    std::uint64_t from = 0;
    {
      std::lock_guard lock(mu_);
      auto it = streams_.find(path);
      if (it == streams_.end()) return;
      from = it->second->tail;
    }
    std::weak_ptr<Engine> weak = weak_from_this();
    session::SubscribeOptions so;
    so.from = from;
    auto sub = hub_.subscribe(
        id, so,
        [weak, path](const session::Event& e) {
          if (auto self = weak.lock()) self->add_events(path, {e});
        },
        [weak, path](const Status&) {
          if (auto self = weak.lock()) self->session_gone(path);
        });
    if (!sub.ok()) return;
    std::unique_ptr<session::Subscription> extra;
    {
      std::lock_guard lock(mu_);
      auto it = streams_.find(path);
      if (it == streams_.end() || shut_) {
        extra = std::move(*sub);
      } else {
        it->second->subscription = std::move(*sub);
      }
    }
  }

  void session_gone(const std::string& path) {
    std::vector<std::shared_ptr<LiveChannel>> wake;
    std::vector<std::unique_ptr<session::Subscription>> drop;
    {
      std::lock_guard lock(mu_);
      auto it = streams_.find(path);
      if (it != streams_.end() && !it->second->session.empty()) {
        remove(path, wake, drop);
      }
    }
    for (auto& c : wake) c->pump();
  }

  Outcome dispatch(const HttpRequest& request, const std::shared_ptr<OutputSink>& sink);
  Outcome create_stream(const HttpRequest& request, const std::string& path);
  Outcome head_stream(const std::string& path);
  Outcome read_stream(const HttpRequest& request, const Target& target, const std::string& path,
                      const std::shared_ptr<OutputSink>& sink);
  Outcome append_stream(const HttpRequest& request, const std::string& path);
  Outcome append_session(const HttpRequest& request, const std::string& path, const std::string& session,
                         const std::optional<ds::ProducerHeaders>& producer);
  Outcome delete_stream(const std::string& path);

  session::Hub& hub_;
  const DurableStreamsOptions options_;
  const std::shared_ptr<Clock> clock_;
  const RouteAuth auth_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<StoredStream>> streams_;
  std::uint64_t generation_ = 0;
  std::int64_t last_eviction_ms_ = 0;
  std::size_t memory_bytes_ = 0;  // data held by streams created with PUT
  bool shut_ = false;
  std::shared_ptr<subs::Subscriptions> subs_;  // set once by start_subscriptions
};

// Flushes what the engine found for a live read (outside the engine's lock).
void LiveChannel::pump() {
  auto engine = engine_.lock();
  Engine::Poll p;
  {
    std::lock_guard lock(mu_);
    if (done_) return;
    if (!engine) {
      done_ = true;
      sink_->close(1000, "");
      return;
    }
    p = engine->poll(*this);
    if (!p.out.empty()) sink_->send(std::move(p.out));
    if (p.finished) {
      done_ = true;
      sink_->close(1000, "");
    }
  }
  // Reads another stream's removal woke: pumped without holding this channel's mutex.
  for (auto& w : p.wake) w->pump();
}

void LiveChannel::finish(std::string last) {
  std::lock_guard lock(mu_);
  if (done_) return;
  done_ = true;
  if (!last.empty()) sink_->send(std::move(last));
  sink_->close(1000, "");
}

Engine::Poll Engine::poll(LiveChannel& c) {
  Poll result;
  std::vector<std::shared_ptr<LiveChannel>> wake;
  // Events the hub has not delivered to the stream's subscription yet wake its waiters, `c`
  // included when it waits (a tick's pump): never pumped from here, where c's mutex is held.
  if (c.mode == LiveChannel::Mode::kLongPoll) refresh_session(c.path, &wake);
  std::vector<std::unique_ptr<session::Subscription>> drop;
  {
    std::lock_guard lock(mu_);
    const std::int64_t now = now_ms();
    StoredStream* s = shut_ ? nullptr : find(c.path, wake, drop);
    if (!s || s->generation != c.generation || s->soft_deleted) {
      result.finished = true;
      if (c.mode == LiveChannel::Mode::kLongPoll) {
        HttpResponse r = text_response(404, "Stream not found");
        add_cors(r.headers);
        result.out = serialize_response(r, false);
      }
    } else {
      std::vector<const Message*> messages;
      collect(*s, c.position, UINT64_MAX, messages);
      if (c.mode == LiveChannel::Mode::kLongPoll) {
        HttpResponse r;
        r.content_type.clear();
        if (!messages.empty()) {
          s->last_access_ms = now;
          const std::uint64_t end = messages.back()->position;
          r.status = 200;
          r.content_type = s->content_type;
          r.headers.emplace_back("Stream-Next-Offset", offset_text(end));
          r.headers.emplace_back("Stream-Cursor", response_cursor(c.client_cursor, now));
          r.headers.emplace_back("Stream-Up-To-Date", "true");
          if (s->closed && end == s->tail) r.headers.emplace_back("Stream-Closed", "true");
          r.body = body_of(*s, messages);
          result.finished = true;
        } else if (s->closed || now >= c.deadline_ms) {
          s->last_access_ms = now;
          r.status = 204;
          r.headers.emplace_back("Stream-Next-Offset", offset_text(c.position));
          r.headers.emplace_back("Stream-Up-To-Date", "true");
          r.headers.emplace_back("Stream-Cursor", response_cursor(c.client_cursor, now));
          if (s->closed) r.headers.emplace_back("Stream-Closed", "true");
          result.finished = true;
        } else {
          s->waiters.push_back(c.weak_from_this());
        }
        if (result.finished) {
          add_cors(r.headers);
          result.out = serialize_response(r, false);
        }
      } else {
        // SSE: every data event is followed by a control event; the last one of a batch
        // says upToDate (or streamClosed when the stream is closed and read to its end).
        for (std::size_t i = 0; i < messages.size(); ++i) {
          const Message& m = *messages[i];
          std::string payload;
          if (c.base64) {
            payload = base64_encode(m.data);
          } else if (s->json) {
            payload = "[" + m.data + "]";
          } else {
            payload = m.data;
          }
          result.out += sse_frame("data", payload);
          c.position = m.position;
          const bool last = i + 1 == messages.size();
          nlohmann::json control = {{"streamNextOffset", offset_text(m.position)}};
          if (last && s->closed && m.position == s->tail) {
            control["streamClosed"] = true;
            result.finished = true;
          } else {
            control["streamCursor"] = response_cursor(c.client_cursor, now);
            if (last) control["upToDate"] = true;
          }
          result.out += sse_frame("control", control.dump());
        }
        if (!messages.empty()) s->last_access_ms = now;
        if (!result.finished) {
          if (messages.empty() && s->closed && c.position >= s->tail) {
            nlohmann::json control = {{"streamNextOffset", offset_text(c.position)}, {"streamClosed", true}};
            result.out += sse_frame("control", control.dump());
            result.finished = true;
          } else if (messages.empty() && (!c.started || now - c.last_sent_ms >= c.keepalive_ms)) {
            nlohmann::json control = {{"streamNextOffset", offset_text(c.position)},
                                      {"streamCursor", response_cursor(c.client_cursor, now)},
                                      {"upToDate", true}};
            result.out += sse_frame("control", control.dump());
          }
        }
        if (!result.out.empty()) c.last_sent_ms = now;
        c.started = true;
        if (!result.finished) s->waiters.push_back(c.weak_from_this());
      }
    }
  }
  drop.clear();
  for (auto& w : wake) {
    if (w.get() != &c) result.wake.push_back(std::move(w));
  }
  return result;
}

DurableStreams::Outcome Engine::dispatch(const HttpRequest& request, const std::shared_ptr<OutputSink>& sink) {
  Target target;
  if (!parse_target(request.target, target)) return {text_response(400, "Malformed request target")};
  const std::string& path = target.path;
  const std::string& m = request.method;
  if (m == "OPTIONS") return {empty_response(204)};
  if (path.size() >= options_.prefix.size() + 4) {
    std::string_view rest = std::string_view(path).substr(options_.prefix.size());
    if (rest == "__ds" || rest.substr(0, 5) == "__ds/") return reserved(request, target, rest.substr(std::min<std::size_t>(5, rest.size())));
  }
  if (auth_.enabled()) {
    // Grants name streams by their path under the prefix, as they name sessions.
    std::string name;
    if (!percent_decode(std::string_view(path).substr(std::min(path.size(), options_.prefix.size())), name, false)) {
      return {text_response(400, "Malformed stream path")};
    }
    const Operation op = (m == "GET" || m == "HEAD") ? Operation::kSubscribe : Operation::kAppend;
    if (auto denied = auth_.check(request, target, op, name)) return {*denied};
    if (m == "PUT") {
      if (auto source = request.header("stream-forked-from"); source && !source->empty()) {
        std::string source_name;
        std::string_view s = *source;
        if (s.substr(0, options_.prefix.size()) == options_.prefix) s.remove_prefix(options_.prefix.size());
        if (!percent_decode(s, source_name, false)) return {text_response(400, "Malformed Stream-Forked-From")};
        if (auto denied = auth_.check(request, target, Operation::kSubscribe, source_name)) return {*denied};
      }
    }
  }
  if (m == "PUT") return create_stream(request, path);
  if (m == "HEAD") return head_stream(path);
  if (m == "GET") return read_stream(request, target, path, sink);
  if (m == "POST") return append_stream(request, path);
  if (m == "DELETE") return delete_stream(path);
  HttpResponse r = text_response(405, "Method not allowed");
  r.headers.emplace_back("Allow", "GET, POST, PUT, DELETE, HEAD, OPTIONS");
  return {r};
}

// <prefix>__ds/...: reserved for the protocol; the subscription APIs when enabled.
DurableStreams::Outcome Engine::reserved(const HttpRequest& request, const Target& target, std::string_view rest) {
  if (!subs_) return {text_response(404, "Not found (reserved path; subscriptions are not enabled)")};
  // Capability tokens as for streams, naming "__ds/subscriptions/<id>" — except the JWKS
  // document (public) and the wake acks, whose Authorization carries the callback / claim
  // token the service checks itself.
  const auto last = rest.rfind('/');
  const std::string_view action = last == std::string_view::npos ? std::string_view() : rest.substr(last + 1);
  const bool token_route = request.method == "POST" && (action == "callback" || action == "ack" || action == "release");
  if (auth_.enabled() && rest != "jwks.json" && !token_route) {
    std::string name;
    std::string_view sub = rest;
    if (sub.substr(0, 14) == "subscriptions/") {
      const auto slash = sub.find('/', 14);
      sub = sub.substr(0, slash);
    }
    if (!percent_decode(sub, name, false)) return {text_response(400, "Malformed path")};
    const Operation op = request.method == "GET" || request.method == "HEAD" ? Operation::kSubscribe : Operation::kAppend;
    if (auto denied = auth_.check(request, target, op, "__ds/" + name)) return {*denied};
  }
  return {subs_->handle(request, rest)};
}

DurableStreams::Outcome Engine::create_stream(const HttpRequest& request, const std::string& path) {
  if (path.size() <= options_.prefix.size()) return {text_response(400, "Missing stream name")};
  attach_session(path);
  auto forked_from_header = request.header("stream-forked-from");
  std::optional<std::string> forked_from;
  if (forked_from_header && !forked_from_header->empty()) {
    // Accepted as a path ("/v1/stream/a") or a full URL ("http://host/v1/stream/a").
    std::string_view f = *forked_from_header;
    if (auto scheme = f.find("://"); scheme != std::string_view::npos) {
      auto slash = f.find('/', scheme + 3);
      f = slash == std::string_view::npos ? std::string_view("/") : f.substr(slash);
    }
    forked_from = std::string(f);
  }
  std::optional<std::string> content_type;
  if (auto ct = request.header("content-type"); ct && ds::plausible_content_type(*ct)) content_type = std::string(*ct);
  if (!content_type && !forked_from) content_type = kOctetStream;

  auto ttl_header = request.header("stream-ttl");
  auto expires_header = request.header("stream-expires-at");
  if (ttl_header && expires_header) return {text_response(400, "Cannot specify both Stream-TTL and Stream-Expires-At")};
  std::optional<std::uint64_t> ttl;
  if (ttl_header) {
    ttl = ds::parse_ttl(*ttl_header);
    if (!ttl) return {text_response(400, "Invalid Stream-TTL value")};
  }
  std::optional<std::int64_t> expires_ms;
  if (expires_header) {
    expires_ms = ds::parse_expires_at(*expires_header);
    if (!expires_ms) return {text_response(400, "Invalid Stream-Expires-At timestamp")};
  }
  const bool create_closed = request.header("stream-closed").value_or("") == "true";
  std::optional<std::uint64_t> fork_offset;
  if (auto fo = request.header("stream-fork-offset"); fo && !fo->empty()) {
    auto parsed = ds::parse_offset(*fo);
    if (!parsed) return {text_response(400, "Invalid Stream-Fork-Offset format")};
    if (parsed->epoch != 0) return {text_response(400, "Fork offset beyond source stream length")};
    fork_offset = parsed->position;
  }
  std::uint64_t sub_offset = 0;
  if (auto so = request.header("stream-fork-sub-offset")) {
    if (!forked_from_header) return {text_response(400, "Stream-Fork-Sub-Offset requires Stream-Forked-From")};
    auto parsed = ds::parse_ttl(*so);
    if (!parsed) return {text_response(400, "Invalid Stream-Fork-Sub-Offset format")};
    sub_offset = *parsed;
  }

  std::vector<std::shared_ptr<LiveChannel>> wake;
  std::vector<std::unique_ptr<session::Subscription>> drop;
  HttpResponse r;
  {
    std::lock_guard lock(mu_);
    const std::int64_t now = now_ms();
    if (auto it = streams_.find(path); it != streams_.end()) {
      StoredStream& e = *it->second;
      if (expired(e, now) && e.refs == 0) {
        remove(path, wake, drop);
      } else if (e.soft_deleted || expired(e, now)) {
        if (e.refs > 0) e.soft_deleted = true;
        return {text_response(409, "stream was deleted but still has active forks")};
      } else {
        const auto norm = [](const std::optional<std::string>& ct) {
          std::string m = ct ? ds::media_type(*ct) : "";
          return m.empty() ? std::string(kOctetStream) : m;
        };
        const bool same = norm(content_type) == norm(e.content_type) && ttl == e.ttl_seconds &&
                          std::string(expires_header.value_or("")) == e.expires_at && create_closed == e.closed &&
                          forked_from.value_or("") == e.forked_from &&
                          (!fork_offset || *fork_offset == e.fork_offset) && sub_offset == e.fork_sub_offset &&
                          (e.session.empty() || request.body.empty());
        if (!same) return {text_response(409, "Stream already exists with different configuration")};
        r.status = 200;
        r.content_type = e.content_type;
        r.headers.emplace_back("Stream-Next-Offset", offset_text(e.tail));
        if (e.closed) r.headers.emplace_back("Stream-Closed", "true");
        return {r};
      }
    }

    auto s = std::make_shared<StoredStream>();
    s->path = path;
    s->last_access_ms = now;
    StoredStream* source = nullptr;
    std::string prefix_data;
    if (forked_from) {
      auto src = streams_.find(*forked_from);
      if (src == streams_.end()) return {text_response(404, "Source stream not found")};
      source = src->second.get();
      if (source->soft_deleted) return {text_response(409, "source stream was deleted but still has active forks")};
      if (expired(*source, now)) {
        if (source->refs > 0) source->soft_deleted = true;
        return {text_response(404, "Source stream not found")};
      }
      if (content_type && ds::media_type(*content_type) != ds::media_type(source->content_type)) {
        return {text_response(409, "Content type mismatch with source stream")};
      }
      const std::uint64_t fo = fork_offset.value_or(source->tail);
      if (fo > source->tail) return {text_response(400, "Fork offset beyond source stream length")};
      if (sub_offset > 0) {
        std::vector<const Message*> after;
        collect(*source, fo, UINT64_MAX, after);
        if (after.empty()) return {text_response(400, "Invalid fork sub-offset")};
        const Message& first = *after.front();
        if (source->json) {
          std::vector<std::string> values;
          if (!ds::parse_json_values("[" + first.data + "]", true, values).ok() || sub_offset > values.size()) {
            return {text_response(400, "Invalid fork sub-offset")};
          }
          for (std::size_t i = 0; i < sub_offset; ++i) {
            if (i) prefix_data += ',';
            prefix_data += values[i];
          }
        } else {
          if (sub_offset > first.data.size()) return {text_response(400, "Invalid fork sub-offset")};
          prefix_data = first.data.substr(0, sub_offset);
        }
      }
      s->forked_from = *forked_from;
      s->fork_offset = fo;
      s->fork_sub_offset = sub_offset;
      s->tail = fo;
      if (!content_type) content_type = source->content_type;
      if (ttl) {
        s->ttl_seconds = ttl;
      } else if (expires_ms) {
        s->expires_at = std::string(*expires_header);
        s->expires_at_ms = expires_ms;
      } else if (source->ttl_seconds) {
        s->ttl_seconds = source->ttl_seconds;
      } else if (source->expires_at_ms) {
        s->expires_at = source->expires_at;
        s->expires_at_ms = source->expires_at_ms;
      }
    } else {
      s->ttl_seconds = ttl;
      if (expires_ms) {
        s->expires_at = std::string(*expires_header);
        s->expires_at_ms = expires_ms;
      }
    }
    s->content_type = content_type.value_or(kOctetStream);
    s->json = ds::media_type(s->content_type) == "application/json";
    if (!prefix_data.empty()) {
      s->messages.push_back({s->tail + 1, std::move(prefix_data)});
      s->tail += 1;
    }
    if (!request.body.empty()) {
      std::string data = request.body;
      if (s->json) {
        std::vector<std::string> values;
        Status st = ds::parse_json_values(request.body, /*allow_empty=*/true, values);
        if (!st.ok()) return {text_response(400, st.message())};
        data.clear();
        for (std::size_t i = 0; i < values.size(); ++i) {
          if (i) data += ',';
          data += values[i];
        }
      }
      if (!data.empty()) {
        s->messages.push_back({s->tail + 1, std::move(data)});
        s->tail += 1;
      }
    }
    std::size_t bytes = 0;
    for (const auto& m : s->messages) bytes += m.data.size();
    if (memory_bytes_ + bytes > options_.max_memory_bytes) return {text_response(503, "stream storage is full")};
    memory_bytes_ += bytes;
    s->closed = create_closed;
    s->generation = ++generation_;
    if (source) source->refs++;
    streams_[path] = s;
    r.status = 201;
    r.content_type = s->content_type;
    r.headers.emplace_back("Stream-Next-Offset", offset_text(s->tail));
    const std::string host(request.header("host").value_or("localhost"));
    r.headers.emplace_back("Location", "http://" + host + path);
    if (s->closed) r.headers.emplace_back("Stream-Closed", "true");
  }
  drop.clear();
  for (auto& c : wake) c->pump();
  return {r};
}

DurableStreams::Outcome Engine::head_stream(const std::string& path) {
  attach_session(path);
  refresh_session(path);
  std::vector<std::shared_ptr<LiveChannel>> wake;
  std::vector<std::unique_ptr<session::Subscription>> drop;
  HttpResponse r = empty_response(200);
  {
    std::lock_guard lock(mu_);
    StoredStream* s = find(path, wake, drop);
    if (!s) {
      r = empty_response(404);
    } else if (s->soft_deleted) {
      r = empty_response(410);
    } else {
      r.content_type = s->content_type;
      r.headers.emplace_back("Stream-Next-Offset", offset_text(s->tail));
      r.headers.emplace_back("Cache-Control", "no-store");
      if (s->closed) r.headers.emplace_back("Stream-Closed", "true");
      if (s->ttl_seconds) r.headers.emplace_back("Stream-TTL", std::to_string(*s->ttl_seconds));
      if (!s->expires_at.empty()) r.headers.emplace_back("Stream-Expires-At", s->expires_at);
      r.headers.emplace_back("ETag", etag(*s, "-1", s->tail, s->closed));
    }
  }
  drop.clear();
  for (auto& c : wake) c->pump();
  return {r};
}

DurableStreams::Outcome Engine::read_stream(const HttpRequest& request, const Target& target, const std::string& path,
                                            const std::shared_ptr<OutputSink>& sink) {
  attach_session(path);
  refresh_session(path);
  std::optional<std::string_view> offset_param;
  int offsets = 0;
  for (const auto& [k, v] : target.query) {
    if (k == "offset") {
      ++offsets;
      if (!offset_param) offset_param = v;
    }
  }
  const auto live = target.param("live");
  const auto cursor = target.param("cursor");

  std::vector<std::shared_ptr<LiveChannel>> wake;
  std::vector<std::unique_ptr<session::Subscription>> drop;
  Outcome out;
  {
    std::lock_guard lock(mu_);
    StoredStream* s = find(path, wake, drop);
    if (!s) return {text_response(404, "Stream not found")};
    if (s->soft_deleted) return {text_response(410, "Stream is gone")};
    std::optional<ds::ReadOffset> offset;
    if (offset_param) {
      if (offset_param->empty()) return {text_response(400, "Empty offset parameter")};
      if (offsets > 1) return {text_response(400, "Multiple offset parameters not allowed")};
      offset = ds::parse_read_offset(*offset_param);
      if (!offset) return {text_response(400, "Invalid offset format")};
    }
    const bool long_poll = live && *live == "long-poll";
    const bool sse = live && *live == "sse";
    if ((long_poll || sse) && !offset) {
      return {text_response(400, sse ? "SSE requires offset parameter" : "Long-poll requires offset parameter")};
    }
    const std::int64_t now = now_ms();
    std::uint64_t after = 0;
    if (offset && offset->kind == ds::ReadOffset::Kind::kNow) after = s->tail;
    if (offset && offset->kind == ds::ReadOffset::Kind::kAt) {
      after = offset->at.epoch > 0 ? UINT64_MAX : offset->at.position;
    }
    s->last_access_ms = now;

    if (sse || (long_poll)) {
      std::vector<const Message*> messages;
      collect(*s, after, UINT64_MAX, messages);
      const bool caught_up = after == s->tail || offset->kind == ds::ReadOffset::Kind::kNow;
      if (sse || (caught_up && messages.empty())) {
        if (long_poll && s->closed) {
          HttpResponse r = empty_response(204);
          r.headers.emplace_back("Stream-Next-Offset", offset_text(s->tail));
          r.headers.emplace_back("Stream-Up-To-Date", "true");
          r.headers.emplace_back("Stream-Closed", "true");
          return {r};
        }
        auto channel = std::make_shared<LiveChannel>(
            weak_from_this(), sink, sse ? LiveChannel::Mode::kSse : LiveChannel::Mode::kLongPoll);
        channel->path = path;
        channel->generation = s->generation;
        channel->position = after;
        if (cursor) channel->client_cursor = std::string(*cursor);
        channel->deadline_ms = now + options_.long_poll_timeout.count();
        channel->keepalive_ms = options_.long_poll_timeout.count();
        channel->last_sent_ms = now;
        std::string head;
        if (sse) {
          const std::string mt = ds::media_type(s->content_type);
          channel->base64 = !(mt.rfind("text/", 0) == 0 || mt == "application/json");
          std::vector<std::pair<std::string, std::string>> headers;
          add_cors(headers);
          head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n";
          if (channel->base64) head += "Stream-SSE-Data-Encoding: base64\r\n";
          for (const auto& [n, v] : headers) head += n + ": " + v + "\r\n";
          head += "Connection: close\r\n\r\n";
        }
        out.channel = channel;
        out.start = [channel, sink, head = std::move(head)]() mutable {
          if (!head.empty()) sink->send(std::move(head));
          channel->pump();
        };
        return out;
      }
    }

    if (offset && offset->kind == ds::ReadOffset::Kind::kNow) {
      HttpResponse r;
      r.status = 200;
      r.content_type = s->content_type;
      r.headers.emplace_back("Stream-Next-Offset", offset_text(s->tail));
      r.headers.emplace_back("Stream-Up-To-Date", "true");
      r.headers.emplace_back("Cache-Control", "no-store");
      if (s->closed) r.headers.emplace_back("Stream-Closed", "true");
      r.body = s->json ? "[]" : "";
      return {r};
    }

    std::vector<const Message*> messages;
    collect(*s, after, UINT64_MAX, messages);
    const std::uint64_t end = messages.empty() ? s->tail : messages.back()->position;
    HttpResponse r;
    r.status = 200;
    r.content_type = s->content_type;
    r.headers.emplace_back("Stream-Next-Offset", offset_text(end));
    if (long_poll) r.headers.emplace_back("Stream-Cursor", response_cursor(cursor, now));
    r.headers.emplace_back("Stream-Up-To-Date", "true");
    const bool closed_at_tail = s->closed && end == s->tail;
    if (closed_at_tail) r.headers.emplace_back("Stream-Closed", "true");
    const std::string tag = etag(*s, offset_param.value_or("-1"), end, closed_at_tail);
    if (auto inm = request.header("if-none-match"); inm && *inm == tag) {
      HttpResponse nm = empty_response(304);
      nm.headers.emplace_back("ETag", tag);
      return {nm};
    }
    r.headers.emplace_back("ETag", tag);
    r.body = body_of(*s, messages);
    out.response = std::move(r);
  }
  drop.clear();
  for (auto& c : wake) c->pump();
  return out;
}

DurableStreams::Outcome Engine::append_stream(const HttpRequest& request, const std::string& path) {
  std::optional<ds::ProducerHeaders> producer;
  if (Status st = ds::parse_producer_headers(request, producer); !st.ok()) return {text_response(400, st.message())};
  const bool close = request.header("stream-closed").value_or("") == "true";
  const auto content_type = request.header("content-type");
  const auto stream_seq = request.header("stream-seq");
  attach_session(path);

  std::vector<std::shared_ptr<LiveChannel>> wake;
  std::vector<std::unique_ptr<session::Subscription>> drop;
  HttpResponse r = empty_response(204);
  std::string session;
  {
    std::lock_guard lock(mu_);
    StoredStream* s = find(path, wake, drop);
    if (!s) return {text_response(404, "Stream not found")};
    if (s->soft_deleted) return {text_response(410, "Stream is gone")};
    const std::int64_t now = now_ms();
    auto echo_producer = [&](HttpResponse& resp, std::uint64_t seq) {
      resp.headers.emplace_back("Producer-Epoch", std::to_string(producer->epoch));
      resp.headers.emplace_back("Producer-Seq", std::to_string(seq));
    };
    auto producer_failure = [&](const ProducerCheck& c) -> std::optional<HttpResponse> {
      switch (c.verdict) {
        case ProducerVerdict::kAccepted:
        case ProducerVerdict::kDuplicate:
          return std::nullopt;
        case ProducerVerdict::kStaleEpoch: {
          HttpResponse f = text_response(403, "Stale producer epoch");
          f.headers.emplace_back("Producer-Epoch", std::to_string(c.current_epoch));
          return f;
        }
        case ProducerVerdict::kInvalidEpochSeq:
          return text_response(400, "New epoch must start with sequence 0");
        case ProducerVerdict::kGap: {
          HttpResponse f = text_response(409, "Producer sequence gap");
          f.headers.emplace_back("Producer-Expected-Seq", std::to_string(c.expected));
          f.headers.emplace_back("Producer-Received-Seq", std::to_string(producer->seq));
          return f;
        }
      }
      return std::nullopt;
    };
    const auto same_closer = [&] {
      return producer && s->closed_by && s->closed_by->id == producer->id && s->closed_by->epoch == producer->epoch &&
             s->closed_by->seq == producer->seq;
    };
    // The stream is (now) closed: 2xx with its tail, echoing the producer sequence if any.
    const auto closed_reply = [&](std::optional<std::uint64_t> seq) -> HttpResponse {
      r.headers.emplace_back("Stream-Next-Offset", offset_text(s->tail));
      r.headers.emplace_back("Stream-Closed", "true");
      if (seq) echo_producer(r, *seq);
      return r;
    };
    const auto closed_conflict = [&] {
      HttpResponse f = text_response(409, "Stream is closed");
      f.headers.emplace_back("Stream-Closed", "true");
      f.headers.emplace_back("Stream-Next-Offset", offset_text(s->tail));
      return f;
    };

    if (close && !s->session.empty()) {
      // A strata session ends with its runs, not with a DS closure (which would not persist).
      return {text_response(400, "a strata session cannot be closed over Durable Streams")};
    }
    if (request.body.empty() && close) {
      s->last_access_ms = now;
      if (s->closed) {
        if (!producer) return {closed_reply(std::nullopt)};
        if (same_closer()) return {closed_reply(producer->seq)};
        return {closed_conflict()};
      }
      if (producer) {
        ProducerCheck c = check_producer(*s, *producer);
        if (auto f = producer_failure(c)) return {*f};
        if (c.verdict == ProducerVerdict::kDuplicate) return {closed_reply(c.last_seq)};
        s->producers[producer->id] = c.proposed;
        s->closed_by = ClosedBy{producer->id, producer->epoch, producer->seq};
      }
      s->closed = true;
      closed_reply(producer ? std::optional<std::uint64_t>(producer->seq) : std::nullopt);
      take_waiters(*s, wake);
    } else {
      if (request.body.empty()) return {text_response(400, "Empty body")};
      if (!content_type) return {text_response(400, "Content-Type header is required")};
      if (s->closed) {
        if (same_closer()) return {closed_reply(producer->seq)};
        return {closed_conflict()};
      }
      if (ds::media_type(*content_type) != ds::media_type(s->content_type)) {
        return {text_response(409, "Content-type mismatch")};
      }
      if (!s->session.empty()) {
        session = s->session;
      } else {
        ProducerCheck c;
        if (producer) {
          c = check_producer(*s, *producer);
          if (auto f = producer_failure(c)) return {*f};
          if (c.verdict == ProducerVerdict::kDuplicate) {
            echo_producer(r, c.last_seq);
            if (s->closed) r.headers.emplace_back("Stream-Closed", "true");
            return {r};
          }
        }
        if (stream_seq && s->last_stream_seq && *stream_seq <= *s->last_stream_seq) {
          return {text_response(409, "Sequence conflict")};
        }
        std::string data = request.body;
        if (s->json) {
          std::vector<std::string> values;
          Status st = ds::parse_json_values(request.body, /*allow_empty=*/false, values);
          if (!st.ok()) return {text_response(400, st.message())};
          data.clear();
          for (std::size_t i = 0; i < values.size(); ++i) {
            if (i) data += ',';
            data += values[i];
          }
        }
        if (memory_bytes_ + data.size() > options_.max_memory_bytes) {
          return {text_response(503, "stream storage is full")};
        }
        memory_bytes_ += data.size();
        s->tail += 1;
        s->messages.push_back({s->tail, std::move(data)});
        s->last_access_ms = now;
        if (producer) s->producers[producer->id] = c.proposed;
        if (stream_seq) s->last_stream_seq = std::string(*stream_seq);
        if (close) {
          s->closed = true;
          if (producer) s->closed_by = ClosedBy{producer->id, producer->epoch, producer->seq};
        }
        r.status = producer ? 200 : 204;
        r.headers.emplace_back("Stream-Next-Offset", offset_text(s->tail));
        if (producer) echo_producer(r, producer->seq);
        if (close) r.headers.emplace_back("Stream-Closed", "true");
        take_waiters(*s, wake);
      }
    }
  }
  drop.clear();
  for (auto& c : wake) c->pump();
  if (!session.empty()) return append_session(request, path, session, producer);
  return {r};
}

// A POST to a strata session: each JSON value is an event {"type","payload",...}.
DurableStreams::Outcome Engine::append_session(const HttpRequest& request, const std::string& path,
                                               const std::string& session,
                                               const std::optional<ds::ProducerHeaders>& producer) {
  std::vector<std::string> values;
  if (Status st = ds::parse_json_values(request.body, false, values); !st.ok()) return {text_response(400, st.message())};
  std::vector<session::EventDraft> drafts;
  for (const auto& v : values) {
    session::EventDraft draft;
    if (Status st = parse_draft(nlohmann::json::parse(v), draft); !st.ok()) return {text_response(400, st.message())};
    drafts.push_back(std::move(draft));
  }
  session::AppendOptions ao;
  ao.producer = producer ? producer->id : "ds-client";
  if (producer) {
    ao.producer_epoch = producer->epoch;
    ao.producer_seq = producer->seq;
  }
  auto result = hub_.append_batch(session, std::move(drafts), ao);
  if (!result.ok()) {
    const Status& st = result.status();
    int status = http_status(st.code());
    if (st.code() == StatusCode::kFailedPrecondition) {
      status = st.message().find("fenced") != std::string::npos ? 403 : 409;
    }
    return {text_response(status, st.message())};
  }
  refresh_session(path);
  HttpResponse r = empty_response(producer ? 200 : 204);
  if (result->duplicate) r.status = 204;
  r.headers.emplace_back("Stream-Next-Offset", offset_text(result->last_offset));
  if (producer) {
    r.headers.emplace_back("Producer-Epoch", std::to_string(producer->epoch));
    r.headers.emplace_back("Producer-Seq", std::to_string(producer->seq));
  }
  return {r};
}

DurableStreams::Outcome Engine::delete_stream(const std::string& path) {
  attach_session(path);
  std::vector<std::shared_ptr<LiveChannel>> wake;
  std::vector<std::unique_ptr<session::Subscription>> drop;
  std::string session;
  {
    std::lock_guard lock(mu_);
    auto it = streams_.find(path);
    if (it == streams_.end()) return {text_response(404, "Stream not found")};
    StoredStream& s = *it->second;
    if (s.soft_deleted) return {text_response(410, "Stream is gone")};
    if (!find(path, wake, drop)) return {text_response(404, "Stream not found")};
    session = s.session;
    if (s.refs > 0) {
      s.soft_deleted = true;
      take_waiters(s, wake);
    } else {
      remove(path, wake, drop);
    }
  }
  drop.clear();
  if (!session.empty()) (void)hub_.remove(session);
  for (auto& c : wake) c->pump();
  return {empty_response(204)};
}

}  // namespace

Result<std::shared_ptr<DurableStreams>> DurableStreams::create(session::Hub& hub, DurableStreamsOptions options,
                                                               std::shared_ptr<Clock> clock,
                                                               const std::optional<TokenOptions>& auth) {
  if (!clock) clock = system_clock();
  auto checker = RouteAuth::create(auth);
  if (!checker.ok()) return checker.status();
  auto engine = std::make_shared<Engine>(hub, std::move(options), std::move(clock), std::move(*checker));
  engine->start_subscriptions();
  return std::shared_ptr<DurableStreams>(std::move(engine));
}

}  // namespace strata::net::detail
