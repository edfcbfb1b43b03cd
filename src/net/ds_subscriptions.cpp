// The subscription service (see ds_subscriptions.h and docs/durable-streams.md,
// "Subscriptions").
//
// Locking: mu_ guards every subscription. StreamAccess::tail / list are called with mu_ held
// (the engine's lock is a leaf: the engine never calls in here while holding it);
// StreamAccess::append (pull-wake events) and webhook POSTs run with mu_ released, because an
// append comes back through on_stream_written.
#include "net/ds_subscriptions.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

namespace strata::net::detail::subs {
namespace {

using ds::StreamOffset;
using nlohmann::json;

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    // RAND_bytes failing leaves no safe source; refuse to hand out guessable tokens.
    std::abort();
  }
  return out;
}

std::string iso_time(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

HttpResponse json_response(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

HttpResponse error_response(int status, const char* code, std::string_view message, json extra = json::object()) {
  json e = {{"code", code}, {"message", std::string(message)}};
  for (auto& [k, v] : extra.items()) e[k] = v;
  return json_response(status, json{{"error", e}});
}

HttpResponse no_content() {
  HttpResponse r;
  r.status = 204;
  return r;
}

// The Ed25519 webhook signing key, generated per process.
class Signer {
 public:
  Signer() {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    if (ctx == nullptr || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &key_) != 1) std::abort();
    EVP_PKEY_CTX_free(ctx);
    unsigned char pub[32];
    std::size_t len = sizeof pub;
    if (EVP_PKEY_get_raw_public_key(key_, pub, &len) != 1 || len != 32) std::abort();
    public_key_.assign(reinterpret_cast<const char*>(pub), len);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_Digest(pub, len, digest, &digest_len, EVP_sha256(), nullptr);
    kid_ = "ds_" + base64url(std::string_view(reinterpret_cast<const char*>(digest), 12));
  }
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;
  ~Signer() { EVP_PKEY_free(key_); }

  [[nodiscard]] const std::string& kid() const { return kid_; }
  [[nodiscard]] std::string jwks() const {
    json key = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"alg", "EdDSA"},
                {"use", "sig"}, {"kid", kid_},      {"x", base64url(public_key_)}};
    return json{{"keys", json::array({key})}}.dump();
  }
  // The webhook-signature header value for `body` at unix time `t`.
  [[nodiscard]] std::string sign(std::int64_t t, std::string_view body) const {
    const std::string message = std::to_string(t) + "." + std::string(body);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    unsigned char sig[64];
    std::size_t sig_len = sizeof sig;
    const bool ok = ctx != nullptr && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key_) == 1 &&
                    EVP_DigestSign(ctx, sig, &sig_len, reinterpret_cast<const unsigned char*>(message.data()),
                                   message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) return {};
    return "t=" + std::to_string(t) + ",kid=" + kid_ +
           ",ed25519=" + base64url(std::string_view(reinterpret_cast<const char*>(sig), sig_len));
  }

 private:
  EVP_PKEY* key_ = nullptr;
  std::string public_key_;
  std::string kid_;
};

struct Link {
  std::optional<StreamOffset> acked{};  // nullopt: "-1", before the first message
  bool glob = false;
  bool explicit_link = false;
};

struct Sub {
  std::string id;
  Spec spec;
  WebhookTarget target;
  std::string base_url;  // "http://host:port" for callback / JWKS URLs
  std::int64_t created_ms = 0;
  std::map<std::string, Link> streams;
  std::uint64_t generation = 0;
  std::string wake_id;  // empty: no wake in progress
  std::map<std::string, StreamOffset> snapshot;
  std::string holder;              // pull-wake: the claiming worker
  std::int64_t lease_deadline = 0;  // 0: no lease running
  bool failed = false;
  int failed_attempts = 0;
  bool delivery_pending = false;  // webhook: the wake's notification is still to be sent
  bool delivery_in_flight = false;
  std::int64_t next_attempt_ms = 0;
  std::string notification;  // the wake's notification body
};

std::string offset_text(const std::optional<StreamOffset>& o) { return o ? ds::format_offset(*o) : "-1"; }

class Service final : public Subscriptions, public std::enable_shared_from_this<Service> {
 public:
  Service(DurableStreamsSubscriptionOptions options, std::string prefix, std::shared_ptr<Clock> clock,
          StreamAccess access, PostFunction post)
      : options_(std::move(options)),
        prefix_(std::move(prefix)),
        clock_(std::move(clock)),
        access_(std::move(access)),
        post_(post ? std::move(post) : http_post_function(options_)),
        token_key_(random_bytes(32)) {}

  // The delivery thread holds a reference, so the last one may be dropped on it.
  ~Service() override {
    if (worker_.joinable()) {
      if (worker_.get_id() == std::this_thread::get_id()) {
        worker_.detach();
      } else {
        worker_.join();
      }
    }
  }

  void start() {
    worker_ = std::thread([self = shared_from_this()] { self->run(); });
  }

  HttpResponse handle(const HttpRequest& request, std::string_view rest) override;

  void on_stream_written(const std::string& path) override {
    if (!valid_stream_path(path)) return;
    std::vector<std::pair<std::string, std::string>> appends;
    {
      std::lock_guard lock(mu_);
      if (subs_.empty()) return;
      const std::int64_t now = clock_->now_ms();
      expire_leases(now, appends);
      for (auto& [id, s] : subs_) {
        if (s.spec.type == Type::kPullWake && path == s.spec.wake_stream) continue;
        if (!s.spec.pattern.empty() && glob_match(s.spec.pattern, path) && !s.streams.count(path) &&
            s.streams.size() < options_.max_streams_per_subscription) {
          s.streams[path].glob = true;  // acked "-1": everything in it is new
        }
        if (auto it = s.streams.find(path); it != s.streams.end()) {
          it->second.glob = it->second.glob || (!s.spec.pattern.empty() && glob_match(s.spec.pattern, path));
          s.failed = false;
          maybe_wake(s, path, now, appends);
        }
      }
    }
    run_appends(appends);
  }

  void on_stream_deleted(const std::string& path) override {
    std::lock_guard lock(mu_);
    for (auto& [id, s] : subs_) s.streams.erase(path);
  }

  void tick() override {
    std::vector<std::pair<std::string, std::string>> appends;
    {
      std::lock_guard lock(mu_);
      expire_leases(clock_->now_ms(), appends);
    }
    run_appends(appends);
  }

  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    std::lock_guard lock(join_mu_);
    if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) worker_.join();
  }

  std::string jwks() const override { return signer_.jwks(); }

 private:
  // --- state transitions (REQUIRES: mu_ held) ----------------------------------------------

  std::optional<StreamOffset> tail(const std::string& path) const { return access_.tail ? access_.tail(path) : std::nullopt; }

  json stream_infos(const Sub& s) const {
    json out = json::array();
    for (const auto& [path, link] : s.streams) {
      const auto t = tail(path).value_or(StreamOffset{});
      const bool pending = link.acked ? t > *link.acked : t > StreamOffset{};
      out.push_back({{"path", path},
                     {"link_type", link.explicit_link ? "explicit" : "glob"},
                     {"acked_offset", offset_text(link.acked)},
                     {"tail_offset", ds::format_offset(t)},
                     {"has_pending", pending}});
    }
    return out;
  }

  bool has_pending(const Sub& s, std::string* first = nullptr) const {
    for (const auto& [path, link] : s.streams) {
      const auto t = tail(path);
      if (!t) continue;
      if (link.acked ? *t > *link.acked : *t > StreamOffset{}) {
        if (first) *first = path;
        return true;
      }
    }
    return false;
  }

  std::string make_token(const Sub& s, std::int64_t now) const {
    const std::string payload =
        std::to_string(s.generation) + "." + std::to_string(now + options_.token_ttl.count());
    return payload + "." + mac(s.id + "\n" + payload);
  }

  std::string mac(std::string_view data) const {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), token_key_.data(), static_cast<int>(token_key_.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    return base64url(std::string_view(reinterpret_cast<const char*>(out), len));
  }

  // nullopt when the token is good for `s`'s current wake; else the error response.
  std::optional<HttpResponse> check_token(const Sub& s, const HttpRequest& request, const AckRequest& body,
                                          std::int64_t now) const {
    auto auth = request.header("authorization");
    std::string_view token = auth.value_or("");
    if (token.size() < 7 || !(token.substr(0, 7) == "Bearer " || token.substr(0, 7) == "bearer ")) {
      return error_response(401, "TOKEN_INVALID", "Authorization: Bearer <token> is required");
    }
    token.remove_prefix(7);
    const auto d1 = token.find('.');
    const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
    if (d2 == std::string_view::npos) return error_response(401, "TOKEN_INVALID", "Token invalid");
    const std::string payload(token.substr(0, d2));
    const std::string expected = mac(s.id + "\n" + payload);
    const std::string_view given = token.substr(d2 + 1);
    if (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), given.size()) != 0) {
      return error_response(401, "TOKEN_INVALID", "Token invalid");
    }
    const auto generation = ds::parse_strict_uint(payload.substr(0, d1));
    const auto expiry = ds::parse_strict_uint(payload.substr(d1 + 1));
    if (!generation || !expiry) return error_response(401, "TOKEN_INVALID", "Token invalid");
    if (static_cast<std::int64_t>(*expiry) <= now) return error_response(401, "TOKEN_EXPIRED", "Token expired");
    if (*generation != s.generation || s.wake_id.empty() || body.generation != s.generation ||
        body.wake_id != s.wake_id) {
      return error_response(409, "FENCED", "Wake generation is stale", json{{"generation", s.generation}});
    }
    return std::nullopt;
  }

  std::optional<HttpResponse> apply_acks(Sub& s, const AckRequest& body) const {
    for (const auto& a : body.acks) {
      auto it = s.streams.find(a.stream);
      if (it == s.streams.end()) return error_response(409, "INVALID_OFFSET", "Ack references an unknown subscription stream");
      if (it->second.acked && a.offset < *it->second.acked) {
        return error_response(409, "INVALID_OFFSET", "Ack offset regresses the committed cursor");
      }
      if (a.offset > tail(a.stream).value_or(StreamOffset{})) {
        return error_response(409, "INVALID_OFFSET", "Ack offset is beyond the stream's tail");
      }
    }
    for (const auto& a : body.acks) s.streams[a.stream].acked = a.offset;
    return std::nullopt;
  }

  void end_wake(Sub& s) {
    s.wake_id.clear();
    s.snapshot.clear();
    s.holder.clear();
    s.lease_deadline = 0;
    s.delivery_pending = false;
    s.notification.clear();
  }

  std::int64_t backoff_ms(int attempts) const {
    std::int64_t delay = 1000;
    for (int i = 1; i < attempts && delay < 30000; ++i) delay *= 2;
    return std::min<std::int64_t>(delay, 30000);
  }

  // Starts a wake if none is in progress and a linked stream has unacked data. Returns
  // whether one started.
  bool maybe_wake(Sub& s, const std::string& trigger, std::int64_t now,
                  std::vector<std::pair<std::string, std::string>>& appends) {
    if (!s.wake_id.empty() || !s.holder.empty() || s.failed || stop_) return false;
    std::string first;
    if (!has_pending(s, &first)) return false;
    start_wake(s, trigger.empty() ? first : trigger, now, appends, /*announce=*/true);
    return true;
  }

  void start_wake(Sub& s, const std::string& trigger, std::int64_t now,
                  std::vector<std::pair<std::string, std::string>>& appends, bool announce) {
    ++s.generation;
    s.wake_id = "w_" + base64url(random_bytes(12));
    s.snapshot.clear();
    for (const auto& [path, link] : s.streams) {
      if (auto t = tail(path)) s.snapshot[path] = *t;
    }
    if (s.spec.type == Type::kWebhook) {
      s.lease_deadline = now + s.spec.lease_ttl_ms;
      json body = {{"subscription_id", s.id},
                   {"wake_id", s.wake_id},
                   {"generation", s.generation},
                   {"triggered_by", json::array({trigger})},
                   {"streams", stream_infos(s)},
                   {"callback_url", action_url(s, "callback")},
                   {"callback_token", make_token(s, now)}};
      s.notification = body.dump(-1, ' ', false, json::error_handler_t::replace);
      s.delivery_pending = true;
      s.next_attempt_ms = s.failed_attempts == 0 ? now : now + backoff_ms(s.failed_attempts);
      cv_.notify_all();
    } else if (announce) {
      json event = {{"type", "wake"},         {"subscription_id", s.id}, {"stream", trigger},
                    {"wake_id", s.wake_id},   {"generation", s.generation}, {"ts", now}};
      appends.emplace_back(s.spec.wake_stream, event.dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }

  void expire_leases(std::int64_t now, std::vector<std::pair<std::string, std::string>>& appends) {
    for (auto& [id, s] : subs_) {
      if (s.lease_deadline == 0 || now < s.lease_deadline || s.delivery_in_flight) continue;
      end_wake(s);
      maybe_wake(s, "", now, appends);
    }
  }

  void run_appends(const std::vector<std::pair<std::string, std::string>>& appends) {
    for (const auto& [path, event] : appends) {
      if (access_.append) access_.append(path, event);
    }
  }

  std::string action_url(const Sub& s, std::string_view action) const {
    return s.base_url + prefix_ + "__ds/subscriptions/" + s.id + "/" + std::string(action);
  }
  std::string jwks_url(const Sub& s) const { return s.base_url + prefix_ + "__ds/jwks.json"; }

  json serialize(const Sub& s) const {
    json out = {{"id", s.id},
                {"subscription_id", s.id},
                {"type", s.spec.type == Type::kWebhook ? "webhook" : "pull-wake"},
                {"streams", stream_infos(s)},
                {"lease_ttl_ms", s.spec.lease_ttl_ms},
                {"created_at", iso_time(s.created_ms)},
                {"status", s.failed ? "failed" : "active"},
                {"generation", s.generation}};
    if (!s.spec.pattern.empty()) out["pattern"] = s.spec.pattern;
    if (!s.spec.description.empty()) out["description"] = s.spec.description;
    if (s.spec.type == Type::kWebhook) {
      out["webhook"] = {{"url", s.spec.webhook_url},
                        {"signing", {{"alg", "ed25519"}, {"kid", signer_.kid()}, {"jwks_url", jwks_url(s)}}}};
    } else {
      out["wake_stream"] = s.spec.wake_stream;
    }
    return out;
  }

  void link_existing(Sub& s, const std::string& path, bool explicit_link) {
    auto it = s.streams.find(path);
    if (it == s.streams.end()) {
      if (s.streams.size() >= options_.max_streams_per_subscription) return;
      // Linking starts at the tail: only data written from now on wakes.
      it = s.streams.emplace(path, Link{tail(path).value_or(StreamOffset{}), false, false}).first;
    }
    (explicit_link ? it->second.explicit_link : it->second.glob) = true;
  }

  // --- routes ------------------------------------------------------------------------------

  HttpResponse put_subscription(const HttpRequest& request, const std::string& id);
  HttpResponse callback(const HttpRequest& request, Sub& s, std::int64_t now,
                        std::vector<std::pair<std::string, std::string>>& appends, bool pull);
  HttpResponse claim(const HttpRequest& request, Sub& s, std::int64_t now,
                     std::vector<std::pair<std::string, std::string>>& appends);
  HttpResponse release(const HttpRequest& request, Sub& s, std::int64_t now,
                       std::vector<std::pair<std::string, std::string>>& appends);

  // --- delivery thread ---------------------------------------------------------------------

  void run();

  const DurableStreamsSubscriptionOptions options_;
  const std::string prefix_;
  const std::shared_ptr<Clock> clock_;
  const StreamAccess access_;
  const PostFunction post_;
  const std::string token_key_;
  const Signer signer_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Sub> subs_;
  bool stop_ = false;
  std::mutex join_mu_;  // serializes shutdown() callers around the join
  std::thread worker_;
};

HttpResponse Service::handle(const HttpRequest& request, std::string_view rest) {
  const std::string& m = request.method;
  if (rest == "jwks.json") {
    if (m != "GET" && m != "HEAD") return error_response(405, "INVALID_REQUEST", "Method not allowed");
    HttpResponse r;
    r.status = 200;
    r.content_type = "application/jwk-set+json";
    r.body = m == "HEAD" ? "" : signer_.jwks();
    r.headers.emplace_back("Cache-Control", "max-age=300");
    return r;
  }
  constexpr std::string_view kSubs = "subscriptions/";
  if (rest.substr(0, kSubs.size()) != kSubs) return error_response(404, "NOT_FOUND", "Unknown reserved path");
  rest.remove_prefix(kSubs.size());
  const auto slash = rest.find('/');
  std::string id;
  if (!percent_decode(rest.substr(0, slash), id, false) || !valid_id(id)) {
    return error_response(400, "INVALID_REQUEST", "Invalid subscription id (1-128 of A-Z a-z 0-9 . _ -)");
  }
  const std::string_view action = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  if (action.empty()) {
    if (m == "PUT") return put_subscription(request, id);
    if (m != "GET" && m != "DELETE") return error_response(405, "INVALID_REQUEST", "Method not allowed");
  }

  std::vector<std::pair<std::string, std::string>> appends;
  HttpResponse out;
  {
    std::lock_guard lock(mu_);
    const std::int64_t now = clock_->now_ms();
    expire_leases(now, appends);
    auto it = subs_.find(id);
    if (it == subs_.end()) {
      out = error_response(404, "SUBSCRIPTION_NOT_FOUND", "Subscription not found");
    } else {
      Sub& s = it->second;
      const bool pull = s.spec.type == Type::kPullWake;
      if (action.empty() && m == "GET") {
        out = json_response(200, serialize(s));
      } else if (action.empty()) {
        subs_.erase(it);
        out = no_content();
      } else if (action == "streams" && m == "POST") {
        std::vector<std::string> paths;
        if (Status st = parse_stream_list(request.body, paths); !st.ok()) {
          out = error_response(400, "INVALID_REQUEST", st.message());
        } else if (s.streams.size() + paths.size() > options_.max_streams_per_subscription) {
          out = error_response(400, "INVALID_REQUEST", "Too many streams for one subscription");
        } else {
          for (const auto& p : paths) {
            if (!(pull && p == s.spec.wake_stream)) link_existing(s, p, true);
          }
          out = no_content();
        }
      } else if (action.substr(0, 8) == "streams/" && m == "DELETE") {
        std::string path;
        if (!percent_decode(action.substr(8), path, false) || !valid_stream_path(path)) {
          out = error_response(400, "INVALID_REQUEST", "Invalid stream path");
        } else {
          if (auto link = s.streams.find(path); link != s.streams.end()) {
            link->second.explicit_link = false;
            if (!link->second.glob) s.streams.erase(link);
          }
          out = no_content();
        }
      } else if (m != "POST") {
        out = error_response(405, "INVALID_REQUEST", "Method not allowed");
      } else if (action == "callback") {
        out = pull ? error_response(400, "INVALID_REQUEST", "Subscription is not a webhook subscription")
                   : callback(request, s, now, appends, false);
      } else if (action == "claim" || action == "ack" || action == "release") {
        if (!pull) {
          out = error_response(400, "INVALID_REQUEST", "Subscription is not pull-wake");
        } else if (action == "claim") {
          out = claim(request, s, now, appends);
        } else if (action == "ack") {
          out = callback(request, s, now, appends, true);
        } else {
          out = release(request, s, now, appends);
        }
      } else {
        out = error_response(404, "NOT_FOUND", "Unknown subscription action");
      }
    }
  }
  run_appends(appends);
  return out;
}

HttpResponse Service::put_subscription(const HttpRequest& request, const std::string& id) {
  Spec spec;
  if (Status st = parse_spec(request.body, spec); !st.ok()) return error_response(400, "INVALID_REQUEST", st.message());
  WebhookTarget target;
  if (spec.type == Type::kWebhook) {
    if (Status st = check_webhook_url(spec.webhook_url, options_, target); !st.ok()) {
      return error_response(400, "WEBHOOK_URL_REJECTED", st.message());
    }
  }
  std::string base = options_.public_base_url;
  if (base.empty()) {
    std::string_view host = request.header("host").value_or("localhost");
    const bool plausible = !host.empty() && host.size() <= 255 && std::all_of(host.begin(), host.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    });
    base = "http://" + std::string(plausible ? host : "localhost");
  }
  while (!base.empty() && base.back() == '/') base.pop_back();

  std::lock_guard lock(mu_);
  if (auto it = subs_.find(id); it != subs_.end()) {
    if (!(it->second.spec == spec)) {
      return error_response(409, "SUBSCRIPTION_ALREADY_EXISTS", "Subscription exists with a different configuration");
    }
    return json_response(200, serialize(it->second));
  }
  if (subs_.size() >= options_.max_subscriptions) {
    return error_response(503, "CAPACITY_EXCEEDED", "The server holds its maximum number of subscriptions");
  }
  Sub s;
  s.id = id;
  s.spec = spec;
  s.target = target;
  s.base_url = base;
  s.created_ms = clock_->now_ms();
  for (const auto& p : spec.streams) {
    if (!(spec.type == Type::kPullWake && p == spec.wake_stream)) link_existing(s, p, true);
  }
  if (!spec.pattern.empty() && access_.list) {
    for (const auto& p : access_.list()) {
      if (!valid_stream_path(p) || (spec.type == Type::kPullWake && p == spec.wake_stream)) continue;
      if (glob_match(spec.pattern, p)) link_existing(s, p, false);
    }
  }
  auto& stored = subs_.emplace(id, std::move(s)).first->second;
  return json_response(201, serialize(stored));
}

HttpResponse Service::callback(const HttpRequest& request, Sub& s, std::int64_t now,
                               std::vector<std::pair<std::string, std::string>>& appends, bool pull) {
  AckRequest body;
  if (Status st = parse_ack_request(request.body, body); !st.ok()) return error_response(400, "INVALID_REQUEST", st.message());
  if (auto denied = check_token(s, request, body, now)) return *denied;
  if (pull && s.holder.empty()) return error_response(409, "FENCED", "The wake is not claimed", json{{"generation", s.generation}});
  if (auto bad = apply_acks(s, body)) return *bad;
  bool next = false;
  if (body.done) {
    end_wake(s);
    next = maybe_wake(s, "", now, appends);
  } else {
    s.lease_deadline = now + s.spec.lease_ttl_ms;
  }
  return json_response(200, json{{"ok", true}, {"next_wake", next}});
}

HttpResponse Service::claim(const HttpRequest& request, Sub& s, std::int64_t now,
                            std::vector<std::pair<std::string, std::string>>& appends) {
  std::string worker;
  if (Status st = parse_claim_request(request.body, worker); !st.ok()) return error_response(400, "INVALID_REQUEST", st.message());
  if (!s.holder.empty()) {
    return error_response(409, "ALREADY_CLAIMED", "The subscription is claimed by another worker",
                          json{{"current_holder", s.holder}, {"generation", s.generation}});
  }
  if (s.wake_id.empty()) {
    std::string first;
    if (!has_pending(s, &first)) return error_response(409, "NO_PENDING_WORK", "Subscription has no pending work");
    start_wake(s, first, now, appends, /*announce=*/false);
  }
  s.holder = worker;
  s.lease_deadline = now + s.spec.lease_ttl_ms;
  json streams = stream_infos(s);
  return json_response(200, json{{"wake_id", s.wake_id},
                                 {"generation", s.generation},
                                 {"token", make_token(s, now)},
                                 {"streams", streams},
                                 {"lease_ttl_ms", s.spec.lease_ttl_ms}});
}

HttpResponse Service::release(const HttpRequest& request, Sub& s, std::int64_t now,
                              std::vector<std::pair<std::string, std::string>>& appends) {
  AckRequest body;
  if (Status st = parse_ack_request(request.body, body); !st.ok()) return error_response(400, "INVALID_REQUEST", st.message());
  if (auto denied = check_token(s, request, body, now)) return *denied;
  if (s.holder.empty()) return error_response(409, "FENCED", "The wake is not claimed", json{{"generation", s.generation}});
  end_wake(s);
  maybe_wake(s, "", now, appends);
  return no_content();
}

void Service::run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    std::vector<std::pair<std::string, std::string>> appends;
    const std::int64_t now = clock_->now_ms();
    expire_leases(now, appends);
    Sub* due = nullptr;
    for (auto& [id, s] : subs_) {
      if (s.delivery_pending && !s.delivery_in_flight && s.next_attempt_ms <= now) {
        due = &s;
        break;
      }
    }
    if (due == nullptr) {
      if (!appends.empty()) {
        lock.unlock();
        run_appends(appends);
        lock.lock();
        continue;
      }
      // Real-time waits are short so a fake clock (tests) and lease deadlines are honoured.
      cv_.wait_for(lock, std::chrono::milliseconds(50));
      continue;
    }
    const std::string id = due->id;
    const std::uint64_t generation = due->generation;
    const std::string wake_id = due->wake_id;
    const WebhookTarget target = due->target;
    const std::string body = due->notification;
    due->delivery_in_flight = true;
    lock.unlock();
    run_appends(appends);
    const std::int64_t t = clock_->now_ms() / 1000;
    std::vector<std::pair<std::string, std::string>> headers = {{"Content-Type", "application/json"},
                                                               {"webhook-signature", signer_.sign(t, body)}};
    Result<PostResult> result = post_(target, body, headers);
    std::vector<std::pair<std::string, std::string>> later;
    lock.lock();
    auto it = subs_.find(id);
    if (it == subs_.end()) continue;
    Sub& s = it->second;
    s.delivery_in_flight = false;
    if (s.generation != generation || s.wake_id != wake_id) continue;  // acked or fenced meanwhile
    const std::int64_t after = clock_->now_ms();
    if (result.ok() && result.value().status >= 200 && result.value().status < 300) {
      s.delivery_pending = false;
      s.failed_attempts = 0;
      s.failed = false;
      s.lease_deadline = after + s.spec.lease_ttl_ms;
      const auto answer = json::parse(result.value().body, nullptr, false);
      if (answer.is_object() && answer.value("done", false) == true) {
        for (const auto& [path, tail_at_wake] : s.snapshot) {
          auto link = s.streams.find(path);
          if (link != s.streams.end() && (!link->second.acked || *link->second.acked < tail_at_wake)) {
            link->second.acked = tail_at_wake;
          }
        }
        end_wake(s);
        maybe_wake(s, "", after, later);
      }
    } else if (++s.failed_attempts >= options_.webhook_max_attempts) {
      end_wake(s);
      s.failed = true;
      s.failed_attempts = 0;
    } else {
      s.next_attempt_ms = after + backoff_ms(s.failed_attempts);
      s.lease_deadline = std::max(s.lease_deadline, s.next_attempt_ms + s.spec.lease_ttl_ms);
    }
    if (!later.empty()) {
      lock.unlock();
      run_appends(later);
      lock.lock();
    }
  }
}

}  // namespace

std::shared_ptr<Subscriptions> Subscriptions::create(DurableStreamsSubscriptionOptions options, std::string prefix,
                                                     std::shared_ptr<Clock> clock, StreamAccess access,
                                                     PostFunction post) {
  auto s = std::make_shared<Service>(std::move(options), std::move(prefix), std::move(clock), std::move(access),
                                     std::move(post));
  s->start();
  return s;
}

bool verify_signature(std::string_view jwks_json, std::string_view header, std::string_view body) {
  // t=<digits>,kid=<kid>,ed25519=<b64url>
  if (header.substr(0, 2) != "t=") return false;
  const auto c1 = header.find(",kid=");
  const auto c2 = header.find(",ed25519=");
  if (c1 == std::string_view::npos || c2 == std::string_view::npos || c2 < c1) return false;
  const std::string_view t = header.substr(2, c1 - 2);
  const std::string_view kid = header.substr(c1 + 5, c2 - c1 - 5);
  const auto sig = base64url_decode(header.substr(c2 + 9));
  if (t.empty() || !ds::parse_strict_uint(t) || !sig || sig->size() != 64) return false;
  const auto doc = json::parse(jwks_json, nullptr, false);
  if (!doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array()) return false;
  for (const auto& k : doc["keys"]) {
    if (!k.is_object() || k.value("kid", "") != kid || k.value("kty", "") != "OKP" || k.value("crv", "") != "Ed25519") {
      continue;
    }
    const auto x = base64url_decode(k.value("x", ""));
    if (!x || x->size() != 32) return false;
    EVP_PKEY* key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                reinterpret_cast<const unsigned char*>(x->data()), x->size());
    if (key == nullptr) return false;
    const std::string message = std::string(t) + "." + std::string(body);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok = ctx != nullptr && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
                    EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok;
  }
  return false;
}

}  // namespace strata::net::detail::subs
