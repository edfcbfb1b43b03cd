// The Redis store: one stream per session, Lua scripts for every write, a connection pool,
// and a dedicated connection for following (XREAD BLOCK). docs/redis.md has the key layout.
#include <strata/session/redis_store.h>

#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "redis_codec.h"
#include "redis_connection.h"
#include "redis_scripts.h"

namespace strata::session {
namespace {

using redis::Command;
using redis::Connection;
using redis::FieldView;
using redis::Pool;
using redis::Reply;

// Bounds of one script call of the append pipeline (a session's requests are split across
// calls beyond these), so no single script holds Redis up for long.
constexpr std::size_t kCallBytes = 8u << 20;
constexpr std::size_t kCallEvents = 4096;
constexpr std::size_t kCallSessions = 1024;
constexpr std::size_t kReadPage = 1024;
constexpr std::size_t kTrimPage = 4096;
constexpr std::size_t kCompactSpansPerCall = 64;

struct Script {
  const char* body;
  std::string sha;
};

// Arguments of one command: views of caller-owned text plus strings owned here.
class Args {
 public:
  void add(std::string_view v) { views_.push_back(v); }
  void own(std::string v) {
    owned_.push_back(std::move(v));
    views_.push_back(owned_.back());
  }
  const Command& views() const { return views_; }

 private:
  std::deque<std::string> owned_;  // a deque never moves its elements
  Command views_;
};

bool is_error(const Reply& r) { return r->type == REDIS_REPLY_ERROR; }
std::string_view text(const redisReply* r) { return std::string_view(r->str, r->len); }
bool is_text(const redisReply* r) {
  return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS;
}

Status unexpected(std::string_view what) {
  return data_loss_error("redis store: " + std::string(what) + ": unexpected reply shape");
}

// The fields of a flat [name, value, name, value...] array reply.
Result<std::vector<FieldView>> field_pairs(const redisReply* r, std::string_view what) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) return unexpected(what);
  std::vector<FieldView> out;
  out.reserve(r->elements / 2);
  for (std::size_t i = 0; i < r->elements; i += 2) {
    if (!is_text(r->element[i]) || !is_text(r->element[i + 1])) return unexpected(what);
    out.push_back({text(r->element[i]), text(r->element[i + 1])});
  }
  return out;
}

// A stream entry [id, [field, value...]] into an Event.
Result<Event> entry_event(const redisReply* entry) {
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 || !is_text(entry->element[0])) {
    return unexpected("stream entry");
  }
  auto fields = field_pairs(entry->element[1], "stream entry");
  if (!fields.ok()) return fields.status();
  return redis::decode_event(text(entry->element[0]), *fields);
}

Result<std::int64_t> integer(const redisReply* r, std::string_view what) {
  if (r->type != REDIS_REPLY_INTEGER) return unexpected(what);
  return static_cast<std::int64_t>(r->integer);
}

class RedisStore final : public SessionStore {
 public:
  explicit RedisStore(const RedisStoreOptions& options)
      : options_(options), address_(redis::describe_address(options)), pool_(options) {}

  Status init() {
    auto lease = pool_.acquire();
    if (!lease.ok()) return lease.status();
    Connection& c = **lease;
    for (Script* script : all_scripts()) {
      auto reply = c.call({"SCRIPT", "LOAD", script->body});
      if (!reply.ok()) return reply.status();
      if (is_error(*reply)) {
        const auto message = text(reply->get());
        if (message.find("NOPERM") == 0) {
          return permission_denied_error("redis store " + address_ + ": SCRIPT LOAD: " +
                                         std::string(message));
        }
        return failed_precondition_error("redis store " + address_ +
                                         ": cannot load the store's scripts (Redis 7.0 or "
                                         "later is required): " + std::string(message));
      }
      if (!is_text(reply->get())) return unexpected("SCRIPT LOAD");
      script->sha = std::string(text(reply->get()));
    }
    // The largest argument Redis accepts; bigger ones would make it drop the connection.
    auto limit = c.call({"CONFIG", "GET", "proto-max-bulk-len"});
    if (!limit.ok()) return limit.status();
    if ((*limit)->type == REDIS_REPLY_ARRAY && (*limit)->elements == 2 &&
        is_text((*limit)->element[1])) {
      if (auto v = redis::parse_u64(text((*limit)->element[1]))) max_argument_bytes_ = *v;
    }
    return {};
  }

  std::string_view name() const noexcept override { return "redis"; }
  bool shared() const noexcept override { return true; }

  Result<SessionInfo> create(std::string_view session, std::int64_t now_ms) override {
    STRATA_RETURN_IF_ERROR(check_session(session));
    const std::string id(session);
    const Keys k = keys(id);
    const std::string epoch = detail::new_epoch();
    const std::string now = std::to_string(now_ms);
    const std::string retention = redis::encode_retention({});
    const bool index = !known_indexed(id);
    auto created = with_connection([&](Connection& c) -> Result<std::int64_t> {
      if (index) {
        // The sessions index first, so that a session never exists without being listed.
        auto r = c.call({"SADD", index_key_, id});
        if (!r.ok()) return r.status();
        if (is_error(*r)) return redis::error_reply_status(text(r->get()), "SADD");
      }
      Args call;
      call.own(k.meta);
      call.own(k.log);
      call.own(k.producers);
      call.add("1");
      call.add(epoch);
      call.add(now);
      call.add(retention);
      call.add("0");
      append_script(c, append_script_, 3, call);
      auto reply = read_script_reply(c, append_script_, 3, call);
      if (!reply.ok()) return reply.status();
      const redisReply* r = reply->get();
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !is_text(r->element[2])) {
        return unexpected("create");
      }
      if (r->element[2]->len > 0) return session_damaged(id, text(r->element[2]));
      if (index) remember_indexed(id);
      return integer(r->element[1], "create");
    }, /*retry=*/false);
    if (!created.ok()) return created.status();
    if (*created == 1 && !index) {
      // Recreated behind this store's back (removed by another node, or Redis lost its data).
      (void)with_connection([&](Connection& c) -> Result<std::int64_t> {
        auto r = c.call({"SADD", index_key_, id});
        if (!r.ok()) return r.status();
        remember_indexed(id);
        return 0;
      }, false);
    }
    return info(id);
  }

  void append(std::span<StoreAppend> batch) override {
    // Check each request on its own; the valid ones are grouped into script calls (one
    // section per session, in order), all sent in one pipeline.
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto& r = batch[i];
      r.status = {};
      r.duplicate = false;
      r.first_offset = r.last_offset = 0;
      r.status = check_request(r);
      if (r.status.ok()) order.push_back(i);
    }
    if (order.empty()) return;

    std::deque<AppendCall> calls = plan_calls(batch, order);
    const std::string default_retention = redis::encode_retention({});
    std::vector<std::string> to_index;
    for (auto& call : calls) {
      for (auto& section : call.sections) {
        const Keys k = keys(section.session);
        call.args.own(k.meta);
        call.args.own(k.log);
        call.args.own(k.producers);
        if (!known_indexed(section.session) &&
            std::find(to_index.begin(), to_index.end(), section.session) == to_index.end()) {
          to_index.push_back(section.session);
        }
      }
      call.args.own(std::to_string(call.sections.size()));
      for (auto& section : call.sections) {
        section.epoch = detail::new_epoch();
        call.args.add(section.epoch);
        call.args.own(std::to_string(batch[section.requests.front()].now_ms));
        call.args.add(default_retention);
        call.args.own(std::to_string(section.requests.size()));
        for (std::size_t i : section.requests) {
          auto& r = batch[i];
          call.args.add(r.producer);
          call.args.own(std::to_string(r.producer_epoch));
          call.args.own(r.producer_seq ? std::to_string(*r.producer_seq) : std::string());
          call.args.own(std::to_string(r.events.size()));
          for (const auto& e : r.events) {
            call.args.add(e.type);
            call.args.add(e.run_id);
            call.args.add(e.parent_run_id);
            call.args.add(e.message_id);
            call.args.add(e.payload);
            call.args.own(std::to_string(e.timestamp_ms));
          }
        }
      }
    }

    auto lease = pool_.acquire();
    if (!lease.ok()) {
      for (std::size_t i : order) batch[i].status = lease.status();
      return;
    }
    Connection& c = **lease;
    // The sessions index first, so that a session never exists without being listed.
    for (const auto& s : to_index) c.append({"SADD", index_key_, s});
    for (auto& call : calls) append_script(c, append_script_, call.key_count(), call.args);
    Status index_failure;
    for (std::size_t i = 0; i < to_index.size(); ++i) {
      auto r = c.read_reply();
      if (!r.ok()) index_failure = r.status();
      else if (is_error(*r)) index_failure = redis::error_reply_status(text(r->get()), "SADD");
    }
    std::vector<Result<Reply>> replies;
    replies.reserve(calls.size());
    for (std::size_t i = 0; i < calls.size(); ++i) replies.push_back(c.read_reply());
    // Calls that found the script missing (Redis restarted or SCRIPT FLUSH) run again with
    // EVAL, in order; they wrote nothing the first time.
    std::vector<std::size_t> again;
    for (std::size_t i = 0; i < calls.size(); ++i) {
      if (replies[i].ok() && is_noscript(*replies[i])) again.push_back(i);
    }
    for (std::size_t i : again) append_eval(c, append_script_, calls[i].key_count(), calls[i].args);
    for (std::size_t i : again) replies[i] = c.read_reply();

    std::vector<std::string> created_unindexed;
    for (std::size_t ci = 0; ci < calls.size(); ++ci) {
      auto created = apply_append_reply(replies[ci], calls[ci], batch);
      if (!created.ok()) {
        for (const auto& section : calls[ci].sections) {
          for (std::size_t i : section.requests) batch[i].status = created.status();
        }
        continue;
      }
      for (const auto& session : *created) {
        if (std::find(to_index.begin(), to_index.end(), session) == to_index.end()) {
          created_unindexed.push_back(session);
        }
      }
    }
    if (index_failure.ok()) {
      for (const auto& s : to_index) remember_indexed(s);
    }
    // A session recreated behind this store's back (removed by another node, or Redis lost
    // its data) is indexed again.
    for (const auto& s : created_unindexed) {
      auto r = c.call({"SADD", index_key_, s});
      if (r.ok() && !is_error(*r)) remember_indexed(s);
    }
  }

  Result<ReadResult> read(std::string_view session, Offset after, std::size_t max_events,
                          std::size_t max_bytes) override {
    STRATA_RETURN_IF_ERROR(check_session(session));
    const Keys k = keys(std::string(session));
    return with_connection([&](Connection& c) -> Result<ReadResult> {
      ReadResult out;
      std::size_t bytes = 0;
      Offset cursor = after;
      bool first_page = true;
      // At least one call, so that a missing session is reported and head is filled in even
      // when no events are wanted.
      while (first_page || out.events.size() < max_events) {
        const std::size_t want =
            std::max<std::size_t>(1, std::min(max_events - out.events.size(), kReadPage));
        Args call;
        call.own(k.meta);
        call.own(k.log);
        call.own(std::to_string(cursor));
        call.own(std::to_string(want));
        append_script(c, read_script_, 2, call);
        auto reply = read_script_reply(c, read_script_, 2, call);
        if (!reply.ok()) return reply.status();
        const redisReply* r = reply->get();
        if (r->type == REDIS_REPLY_INTEGER) return not_found_error("session not found");
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) return unexpected("read");
        auto head = integer(r->element[0], "read");
        auto trimmed = integer(r->element[1], "read");
        if (!head.ok()) return head.status();
        if (!trimmed.ok()) return trimmed.status();
        if (first_page) {
          out.head = static_cast<Offset>(*head);
          out.trimmed_through = static_cast<Offset>(*trimmed);
          first_page = false;
        }
        const redisReply* entries = r->element[2];
        if (entries->type != REDIS_REPLY_ARRAY) return unexpected("read");
        bool full = false;
        for (std::size_t i = 0; i < entries->elements; ++i) {
          auto e = entry_event(entries->element[i]);
          if (!e.ok()) return e.status();
          if (e->offset <= cursor) {
            return data_loss_error("redis store: session " + std::string(session) +
                                   ": the log returned offset " + std::to_string(e->offset) +
                                   " after " + std::to_string(cursor));
          }
          if (out.events.size() >= max_events ||
              (!out.events.empty() && bytes + e->byte_size() > max_bytes)) {
            full = true;
            break;
          }
          bytes += e->byte_size();
          cursor = e->offset;
          out.events.push_back(std::move(*e));
        }
        if (full || entries->elements < want) break;
      }
      return out;
    }, /*retry=*/true);
  }

  Result<SessionInfo> info(std::string_view session) override {
    STRATA_RETURN_IF_ERROR(check_session(session));
    const std::string id(session);
    const Keys k = keys(id);
    return with_connection([&](Connection& c) -> Result<SessionInfo> {
      auto reply = c.call({"HGETALL", k.meta});
      if (!reply.ok()) return reply.status();
      if (is_error(*reply)) return redis::error_reply_status(text(reply->get()), "HGETALL");
      auto fields = field_pairs(reply->get(), "session meta");
      if (!fields.ok()) return fields.status();
      if (fields->empty()) return not_found_error("session not found");
      return redis::decode_meta(id, *fields);
    }, /*retry=*/true);
  }

  Result<std::vector<std::string>> list_sessions() override {
    return with_connection([&](Connection& c) -> Result<std::vector<std::string>> {
      auto members = c.call({"SMEMBERS", index_key_});
      if (!members.ok()) return members.status();
      if (is_error(*members)) return redis::error_reply_status(text(members->get()), "SMEMBERS");
      const redisReply* m = members->get();
      if (m->type != REDIS_REPLY_ARRAY) return unexpected("SMEMBERS");
      std::vector<std::string> candidates;
      for (std::size_t i = 0; i < m->elements; ++i) {
        if (!is_text(m->element[i])) return unexpected("SMEMBERS");
        candidates.emplace_back(text(m->element[i]));
      }
      // The index may name sessions whose creation failed or whose removal is half done;
      // only sessions with metadata exist.
      std::vector<std::string> meta_keys;
      meta_keys.reserve(candidates.size());
      for (const auto& s : candidates) meta_keys.push_back(keys(s).meta);
      for (const auto& key : meta_keys) c.append({"EXISTS", key});
      std::vector<std::string> out;
      for (const auto& s : candidates) {
        auto r = c.read_reply();
        if (!r.ok()) return r.status();
        auto n = integer(r->get(), "EXISTS");
        if (!n.ok()) return n.status();
        if (*n == 1) out.push_back(s);
      }
      std::sort(out.begin(), out.end());
      return out;
    }, /*retry=*/true);
  }

  Status set_retention(std::string_view session, const RetentionPolicy& policy) override {
    STRATA_RETURN_IF_ERROR(check_session(session));
    const Keys k = keys(std::string(session));
    auto result = with_connection([&](Connection& c) -> Result<std::int64_t> {
      Args call;
      call.own(k.meta);
      call.own(redis::encode_retention(policy));
      return run_integer(c, set_retention_script_, 1, call, "set retention");
    }, /*retry=*/true);
    if (!result.ok()) return result.status();
    if (*result == 0) return not_found_error("session not found");
    return {};
  }

  Result<std::uint64_t> compact_messages(std::string_view session,
                                         std::span<const MessageSpan> messages) override {
    STRATA_RETURN_IF_ERROR(check_session(session));
    const Keys k = keys(std::string(session));
    return with_connection([&](Connection& c) -> Result<std::uint64_t> {
      std::uint64_t removed = 0;
      std::size_t next = 0;
      do {
        const std::size_t n = std::min(kCompactSpansPerCall, messages.size() - next);
        Args call;
        call.own(k.meta);
        call.own(k.log);
        call.own(std::to_string(n));
        for (std::size_t i = next; i < next + n; ++i) {
          call.add(messages[i].message_id);
          call.own(std::to_string(messages[i].first));
          call.own(std::to_string(messages[i].last));
        }
        next += n;
        auto count = run_integer(c, compact_script_, 2, call, "compact");
        if (!count.ok()) return count.status();
        if (*count < 0) return not_found_error("session not found");
        removed += static_cast<std::uint64_t>(*count);
      } while (next < messages.size());
      return removed;
    }, /*retry=*/false);
  }

  Result<std::uint64_t> trim(std::string_view session, Offset through) override {
    STRATA_RETURN_IF_ERROR(check_session(session));
    const Keys k = keys(std::string(session));
    return with_connection([&](Connection& c) -> Result<std::uint64_t> {
      std::uint64_t removed = 0;
      for (;;) {
        Args call;
        call.own(k.meta);
        call.own(k.log);
        call.own(std::to_string(through));
        call.own(std::to_string(kTrimPage));
        append_script(c, trim_script_, 2, call);
        auto reply = read_script_reply(c, trim_script_, 2, call);
        if (!reply.ok()) return reply.status();
        const redisReply* r = reply->get();
        if (r->type == REDIS_REPLY_INTEGER) return not_found_error("session not found");
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) return unexpected("trim");
        auto count = integer(r->element[0], "trim");
        auto done = integer(r->element[1], "trim");
        if (!count.ok()) return count.status();
        if (!done.ok()) return done.status();
        removed += static_cast<std::uint64_t>(*count);
        if (*done == 1) return removed;
      }
    }, /*retry=*/false);
  }

  Status remove(std::string_view session) override {
    STRATA_RETURN_IF_ERROR(check_session(session));
    const std::string id(session);
    const Keys k = keys(id);
    auto existed = with_connection([&](Connection& c) -> Result<std::int64_t> {
      Args call;
      call.own(k.meta);
      call.own(k.log);
      call.own(k.producers);
      call.own(k.kinds);
      call.own(k.leased_prefix);
      auto n = run_integer(c, remove_script_, 4, call, "remove");
      if (!n.ok()) return n;
      forget_indexed(id);
      auto r = c.call({"SREM", index_key_, id});
      if (!r.ok()) return r.status();
      if (is_error(*r)) return redis::error_reply_status(text(r->get()), "SREM");
      return n;
    }, /*retry=*/false);
    if (!existed.ok()) return existed.status();
    if (*existed == 0) return not_found_error("session not found");
    return {};
  }

  Status put_leased(std::string_view session, std::string_view kind,
                    const LeasedEntry& entry) override {
    auto r = leased("put", session, kind, entry.key, redis::encode_leased(entry));
    if (!r.ok()) return r.status();
    return {};
  }

  Result<bool> remove_leased(std::string_view session, std::string_view kind,
                             std::string_view key) override {
    auto r = leased("remove", session, kind, key, "");
    if (!r.ok()) return r.status();
    if ((*r)->type != REDIS_REPLY_INTEGER) return unexpected("remove leased");
    return (*r)->integer == 1;
  }

  Result<std::vector<LeasedEntry>> list_leased(std::string_view session,
                                               std::string_view kind) override {
    auto r = leased("list", session, kind, "", "");
    if (!r.ok()) return r.status();
    auto fields = field_pairs(r->get(), "leased entries");
    if (!fields.ok()) return fields.status();
    std::vector<LeasedEntry> out;
    out.reserve(fields->size());
    for (const auto& f : *fields) {
      auto entry = redis::decode_leased(f.name, f.value);
      if (!entry.ok()) return entry.status();
      out.push_back(std::move(*entry));
    }
    std::sort(out.begin(), out.end(),
              [](const LeasedEntry& a, const LeasedEntry& b) { return a.key < b.key; });
    return out;
  }

  Result<std::vector<TailBatch>> wait_for_events(std::span<const TailCursor> cursors,
                                                 std::chrono::milliseconds timeout,
                                                 std::size_t max_events) override {
    std::vector<TailBatch> out;
    if (cursors.empty()) {  // nothing to follow: wait for the timeout or an interrupt
      std::unique_lock lock(wait_mu_);
      wait_cv_.wait_for(lock, timeout, [&] { return interrupt_pending_; });
      interrupt_pending_ = false;
      return out;
    }
    if (!wait_connection_ || wait_connection_->broken()) {
      wait_connection_.reset();
      auto c = Connection::open(options_);
      if (!c.ok()) return c.status();
      auto id = (*c)->call({"CLIENT", "ID"});
      if (!id.ok()) return id.status();
      if ((*id)->type != REDIS_REPLY_INTEGER) return unexpected("CLIENT ID");
      {
        std::lock_guard lock(wait_mu_);
        wait_client_id_ = std::to_string((*id)->integer);
      }
      wait_connection_ = std::move(*c);
    }
    Connection& c = *wait_connection_;
    std::unordered_map<std::string, std::size_t> by_key;  // log key -> cursor index
    Args command;
    command.add("XREAD");
    const std::string block = std::to_string(std::max<std::int64_t>(timeout.count(), 0));
    if (timeout.count() > 0) {
      command.add("BLOCK");
      command.add(block);
    }
    command.add("COUNT");
    command.own(std::to_string(std::max<std::size_t>(max_events, 1)));
    command.add("STREAMS");
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < cursors.size(); ++i) {
      auto key = keys(cursors[i].session).log;
      if (!by_key.emplace(key, i).second) continue;  // one cursor per session
      command.own(std::move(key));
      ids.push_back(redis::entry_id(cursors[i].after));
    }
    for (const auto& id : ids) command.add(id);
    {
      std::lock_guard lock(wait_mu_);
      if (interrupt_pending_) {
        interrupt_pending_ = false;
        return out;
      }
      waiting_ = true;
    }
    c.set_timeout(timeout + options_.command_timeout);
    auto reply = c.call(command.views());
    c.set_timeout(options_.command_timeout);
    {
      std::lock_guard lock(wait_mu_);
      waiting_ = false;
      interrupt_pending_ = false;
    }
    if (!reply.ok()) return reply.status();
    const redisReply* r = reply->get();
    if (r->type == REDIS_REPLY_NIL) return out;  // timed out or interrupted
    if (r->type == REDIS_REPLY_ERROR) return redis::error_reply_status(text(r), "XREAD");
    if (r->type != REDIS_REPLY_ARRAY) return unexpected("XREAD");
    for (std::size_t i = 0; i < r->elements; ++i) {
      const redisReply* stream = r->element[i];
      if (stream->type != REDIS_REPLY_ARRAY || stream->elements != 2 ||
          !is_text(stream->element[0]) || stream->element[1]->type != REDIS_REPLY_ARRAY) {
        return unexpected("XREAD");
      }
      auto it = by_key.find(std::string(text(stream->element[0])));
      if (it == by_key.end()) return unexpected("XREAD");
      TailBatch batch;
      batch.session = cursors[it->second].session;
      Offset last = cursors[it->second].after;
      const redisReply* entries = stream->element[1];
      for (std::size_t j = 0; j < entries->elements; ++j) {
        auto e = entry_event(entries->element[j]);
        if (!e.ok()) return e.status();
        if (e->offset <= last) return unexpected("XREAD order");
        last = e->offset;
        batch.events.push_back(std::move(*e));
      }
      if (!batch.events.empty()) out.push_back(std::move(batch));
    }
    return out;
  }

  void interrupt_wait() override {
    std::string client;
    {
      std::lock_guard lock(wait_mu_);
      interrupt_pending_ = true;
      wait_cv_.notify_all();
      if (!waiting_) return;  // the waiter checks the flag before it blocks
      client = wait_client_id_;
    }
    auto lease = pool_.acquire();
    if (!lease.ok()) return;
    // The waiter may not have reached Redis yet; unblock until it has, or has returned.
    for (int attempt = 0; attempt < 1000; ++attempt) {
      auto r = (*lease)->call({"CLIENT", "UNBLOCK", client});
      if (!r.ok() || (*r)->type != REDIS_REPLY_INTEGER || (*r)->integer == 1) return;
      {
        std::lock_guard lock(wait_mu_);
        if (!waiting_) return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

 private:
  struct Keys {
    std::string meta, log, producers, kinds, leased_prefix;
  };

  Keys keys(const std::string& session) const {
    const std::string base = options_.key_prefix + "{" + session + "}:";
    return {base + "meta", base + "log", base + "producers", base + "kinds", base + "leased:"};
  }

  static Status check_session(std::string_view session) {
    if (session.empty()) return invalid_argument_error("redis store: session id is empty");
    if (session.find_first_of("{}") != std::string_view::npos) {
      return invalid_argument_error("redis store: session id may not contain '{' or '}'");
    }
    return {};
  }

  Status check_request(const StoreAppend& r) const {
    STRATA_RETURN_IF_ERROR(check_session(r.session));
    if (r.events.empty()) return invalid_argument_error("append of no events");
    std::size_t bytes = 0;
    for (const auto& e : r.events) {
      bytes += e.byte_size();
      for (const std::string* s : {&e.type, &e.run_id, &e.parent_run_id, &e.message_id, &e.payload}) {
        if (s->size() > max_argument_bytes_) {
          return invalid_argument_error("redis store: an event field of " +
                                        std::to_string(s->size()) +
                                        " bytes exceeds the server's proto-max-bulk-len (" +
                                        std::to_string(max_argument_bytes_) + ")");
        }
      }
    }
    if (bytes > options_.max_request_bytes) {
      return invalid_argument_error("redis store: append of " + std::to_string(bytes) +
                                    " bytes exceeds max_request_bytes (" +
                                    std::to_string(options_.max_request_bytes) + ")");
    }
    return {};
  }

  // Runs `fn` on a pooled connection; a read-only `fn` is retried once on a new connection
  // if the first one turned out to be dead (Redis restarted while it sat in the pool).
  template <typename Fn>
  auto with_connection(Fn&& fn, bool retry) -> decltype(fn(std::declval<Connection&>())) {
    for (int attempt = 0;; ++attempt) {
      auto lease = pool_.acquire();
      if (!lease.ok()) return lease.status();
      auto result = fn(**lease);
      if (result.ok() || !retry || attempt > 0 || !(*lease)->broken()) return result;
    }
  }

  void append_script(Connection& c, const Script& script, int key_count, const Args& args) {
    const std::string keys = std::to_string(key_count);
    Command command{"EVALSHA", script.sha, keys};
    command.insert(command.end(), args.views().begin(), args.views().end());
    c.append(command);
  }

  void append_eval(Connection& c, const Script& script, int key_count, const Args& args) {
    const std::string keys = std::to_string(key_count);
    Command command{"EVAL", script.body, keys};
    command.insert(command.end(), args.views().begin(), args.views().end());
    c.append(command);
  }

  static bool is_noscript(const Reply& r) {
    return is_error(r) && text(r.get()).starts_with("NOSCRIPT");
  }

  // Reads the reply of an EVALSHA sent with append_script, falling back to EVAL if Redis
  // lost the script; an error reply becomes a Status.
  Result<Reply> read_script_reply(Connection& c, const Script& script, int key_count,
                                  const Args& args) {
    auto reply = c.read_reply();
    if (reply.ok() && is_noscript(*reply)) {
      append_eval(c, script, key_count, args);
      reply = c.read_reply();
    }
    if (reply.ok() && is_error(*reply)) {
      return redis::error_reply_status(text(reply->get()), "script");
    }
    return reply;
  }

  Result<std::int64_t> run_integer(Connection& c, const Script& script, int key_count,
                                   const Args& args, std::string_view what) {
    append_script(c, script, key_count, args);
    auto reply = read_script_reply(c, script, key_count, args);
    if (!reply.ok()) return reply.status();
    return integer(reply->get(), what);
  }

  Result<Reply> leased(std::string_view op, std::string_view session, std::string_view kind,
                       std::string_view key, std::string_view value) {
    STRATA_RETURN_IF_ERROR(check_session(session));
    const Keys k = keys(std::string(session));
    auto reply = with_connection([&](Connection& c) -> Result<Reply> {
      Args call;
      call.own(k.meta);
      call.own(k.leased_prefix + std::string(kind));
      call.own(k.kinds);
      call.add(op);
      call.add(kind);
      call.add(key);
      call.add(value);
      append_script(c, leased_script_, 3, call);
      return read_script_reply(c, leased_script_, 3, call);
    }, /*retry=*/op == "list");
    if (!reply.ok()) return reply.status();
    if ((*reply)->type == REDIS_REPLY_INTEGER && (*reply)->integer < 0) {
      return not_found_error("session not found");
    }
    return reply;
  }

  // One session's requests within an append call.
  struct AppendSection {
    std::string session;
    std::vector<std::size_t> requests;  // indexes into the batch, in order
    std::string epoch;                  // used if the call creates the session
  };
  struct AppendCall {
    std::vector<AppendSection> sections;
    Args args;
    std::size_t bytes = 0;
    std::size_t events = 0;
    int key_count() const { return static_cast<int>(3 * sections.size()); }
  };

  // Splits the valid requests into script calls: with options_.cluster one session per call
  // (one slot), else as many sessions as fit; a call stays within kCallBytes/kCallEvents
  // unless one request alone is larger. A session's requests keep their order across calls.
  std::deque<AppendCall> plan_calls(std::span<StoreAppend> batch,
                                    const std::vector<std::size_t>& order) const {
    std::deque<AppendCall> calls;
    std::unordered_map<std::string_view, std::pair<std::size_t, std::size_t>> open;
    for (std::size_t i : order) {
      const auto& r = batch[i];
      std::size_t bytes = 0;
      for (const auto& e : r.events) bytes += e.byte_size();
      auto fits = [&](const AppendCall& call) {
        return call.events == 0 || (call.bytes + bytes <= kCallBytes &&
                                    call.events + r.events.size() <= kCallEvents);
      };
      std::pair<std::size_t, std::size_t> where;
      auto it = open.find(r.session);
      if (options_.cluster) {
        if (it != open.end() && fits(calls[it->second.first])) {
          where = it->second;
        } else {
          calls.emplace_back();
          calls.back().sections.push_back({r.session, {}, {}});
          where = open[r.session] = {calls.size() - 1, 0};
        }
      } else {
        if (calls.empty() || !fits(calls.back()) || calls.back().sections.size() >= kCallSessions) {
          calls.emplace_back();
          open.clear();
          it = open.end();
        }
        if (it != open.end()) {
          where = it->second;
        } else {
          auto& call = calls.back();
          call.sections.push_back({r.session, {}, {}});
          where = open[r.session] = {calls.size() - 1, call.sections.size() - 1};
        }
      }
      auto& call = calls[where.first];
      call.sections[where.second].requests.push_back(i);
      call.bytes += bytes;
      call.events += r.events.size();
    }
    return calls;
  }

  static Status session_damaged(const std::string& session, std::string_view why) {
    return data_loss_error("redis store: session " + session + ": " + std::string(why) +
                           " (a key holds data this store did not write)");
  }

  // Fills in the requests of one append call from its reply. Returns the sessions the call
  // created.
  Result<std::vector<std::string>> apply_append_reply(Result<Reply>& reply, const AppendCall& call,
                                                      std::span<StoreAppend> batch) {
    if (!reply.ok()) return reply.status();
    const redisReply* r = reply->get();
    if (r->type == REDIS_REPLY_ERROR) return redis::error_reply_status(text(r), "append");
    std::size_t expected = 0;
    for (const auto& section : call.sections) expected += 3 + 3 * section.requests.size();
    if (r->type != REDIS_REPLY_ARRAY || r->elements != expected) return unexpected("append");
    std::vector<std::string> created;
    std::size_t at = 0;
    for (const auto& section : call.sections) {
      const redisReply* epoch = r->element[at];
      const redisReply* made = r->element[at + 1];
      const redisReply* damage = r->element[at + 2];
      at += 3;
      if (!is_text(epoch) || made->type != REDIS_REPLY_INTEGER || !is_text(damage)) {
        return unexpected("append");
      }
      const Status damaged = damage->len > 0 ? session_damaged(section.session, text(damage)) : Status();
      if (made->integer == 1) created.push_back(section.session);
      for (std::size_t i : section.requests) {
        StoreAppend& request = batch[i];
        const redisReply* code = r->element[at];
        const redisReply* a = r->element[at + 1];
        const redisReply* b = r->element[at + 2];
        at += 3;
        if (!damaged.ok()) {
          request.status = damaged;
          continue;
        }
        request.epoch = std::string(text(epoch));
        fill_request(request, code, a, b);
      }
    }
    return created;
  }

  static void fill_request(StoreAppend& request, const redisReply* code, const redisReply* a,
                           const redisReply* b) {
    if (code->type != REDIS_REPLY_INTEGER) {
      request.status = unexpected("append");
      return;
    }
    switch (code->integer) {
      case 0:
      case 1: {
        if (a->type != REDIS_REPLY_INTEGER || b->type != REDIS_REPLY_INTEGER) {
          request.status = unexpected("append");
          return;
        }
        request.first_offset = static_cast<Offset>(a->integer);
        request.last_offset = static_cast<Offset>(b->integer);
        request.duplicate = code->integer == 1;
        if (!request.duplicate) {
          Offset next = request.first_offset;
          for (auto& e : request.events) {
            e.producer = request.producer;
            e.offset = next++;
          }
        }
        return;
      }
      case 2: {
        std::optional<detail::ProducerState> state;
        if (is_text(a) && a->len > 0) {
          auto decoded = redis::decode_producer(text(a));
          if (!decoded.ok()) {
            request.status = decoded.status();
            return;
          }
          state = *decoded;
        }
        auto decision = detail::decide(state ? &*state : nullptr, request.producer,
                                       request.producer_epoch, request.producer_seq);
        request.status = decision.verdict == detail::ProducerVerdict::kReject
                             ? decision.error
                             : internal_error("redis store: the append script and the "
                                              "producer rules disagree");
        return;
      }
      case 3:
        request.duplicate = true;
        request.status = detail::duplicate_removed_error(request.producer, *request.producer_seq);
        return;
      case 4:
        request.status = data_loss_error("redis store: session " + request.session +
                                         ": damaged state of producer " + request.producer);
        return;
      case 6: {
        const std::string run = is_text(a) ? std::string(text(a)) : std::string("?");
        const std::string how = is_text(b) ? std::string(text(b)) : std::string("?");
        request.status = how == event_types::kRunCancelled
                             ? cancelled_error("run " + run + " was cancelled")
                             : failed_precondition_error("run " + run + " has already ended (" +
                                                         how + ")");
        return;
      }
      default:
        request.status = unexpected("append");
    }
  }

  bool known_indexed(const std::string& session) {
    std::lock_guard lock(index_mu_);
    return indexed_.count(session) != 0;
  }
  void remember_indexed(const std::string& session) {
    std::lock_guard lock(index_mu_);
    if (indexed_.size() > 100000) indexed_.clear();  // a cache, not a registry
    indexed_.insert(session);
  }
  void forget_indexed(const std::string& session) {
    std::lock_guard lock(index_mu_);
    indexed_.erase(session);
  }

  std::vector<Script*> all_scripts() {
    return {&append_script_, &read_script_, &trim_script_, &compact_script_, &remove_script_,
            &set_retention_script_, &leased_script_};
  }

  const RedisStoreOptions options_;
  const std::string address_;
  const std::string index_key_ = options_.key_prefix + "sessions";
  Pool pool_;
  std::uint64_t max_argument_bytes_ = 512u << 20;
  Script append_script_{redis::scripts::kAppend, {}};
  Script read_script_{redis::scripts::kRead, {}};
  Script trim_script_{redis::scripts::kTrim, {}};
  Script compact_script_{redis::scripts::kCompact, {}};
  Script remove_script_{redis::scripts::kRemove, {}};
  Script set_retention_script_{redis::scripts::kSetRetention, {}};
  Script leased_script_{redis::scripts::kLeased, {}};

  std::mutex index_mu_;
  std::unordered_set<std::string> indexed_;  // sessions known to be in the index

  // Following: one thread at a time in wait_for_events; interrupt_wait from any thread.
  std::unique_ptr<Connection> wait_connection_;
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  bool waiting_ = false;
  bool interrupt_pending_ = false;
  std::string wait_client_id_;  // guarded by wait_mu_
};

}  // namespace

Result<std::shared_ptr<SessionStore>> open_redis_store(const RedisStoreOptions& options) {
  if (options.key_prefix.find_first_of("{}") != std::string::npos) {
    return invalid_argument_error("redis store: key_prefix may not contain '{' or '}'");
  }
  if (options.unix_socket.empty() && (options.host.empty() || options.port <= 0 ||
                                      options.port > 65535)) {
    return invalid_argument_error("redis store: set unix_socket, or host and a port in 1..65535");
  }
  if (options.pool_size < 1) return invalid_argument_error("redis store: pool_size must be >= 1");
  if (options.connect_timeout.count() <= 0 || options.command_timeout.count() <= 0) {
    return invalid_argument_error("redis store: timeouts must be positive");
  }
  auto store = std::make_shared<RedisStore>(options);
  STRATA_RETURN_IF_ERROR(store->init());
  return std::shared_ptr<SessionStore>(std::move(store));
}

}  // namespace strata::session
