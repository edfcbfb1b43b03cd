// The Durable Streams protocol's reserved subscription APIs (docs/durable-streams.md,
// "Subscriptions"), served under <prefix>__ds/ by the Durable Streams engine:
//
//   PUT/GET/DELETE  __ds/subscriptions/{id}             create (201) / re-confirm (200), read, delete
//   POST            __ds/subscriptions/{id}/streams     link explicit streams (204)
//   DELETE          __ds/subscriptions/{id}/streams/{p} unlink one (204)
//   POST            __ds/subscriptions/{id}/callback    webhook ack (Bearer callback token)
//   POST            __ds/subscriptions/{id}/claim|ack|release   pull-wake leases
//   GET             __ds/jwks.json                      the webhook signing keys (Ed25519)
//
// A subscription links streams (explicitly, or by a glob pattern over stream paths) and keeps
// an acked offset per stream. When a linked stream holds data past its acked offset and no
// wake is in progress, a wake starts (generation + 1, a fresh wake id, a snapshot of the
// tails): a webhook subscription POSTs a signed notification to its URL from the delivery
// thread; a pull-wake subscription appends a wake event to its wake stream and workers claim
// it. Acks with a stale wake id or generation are fenced (409 FENCED).
//
// The pure parsers below (request bodies, URL policy, glob) have no I/O, so unit tests and
// tests/fuzz/fuzz_ds_subscriptions.cpp drive them directly.
//
// Thread safety: Subscriptions is safe to use from any number of threads. One mutex guards
// all state; it is never held while appending wake events or doing network I/O. The engine
// must not call in while holding its own lock (StreamAccess::tail takes it under ours). Webhook POSTs run on one
// delivery thread the object owns (joined by shutdown() or the destructor).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <strata/clock.h>
#include <strata/net/handler.h>
#include <strata/net/server.h>
#include <strata/status.h>

#include "net/ds_parse.h"
#include "net/http_parser.h"

namespace strata::net::detail::subs {

// --- request bodies -------------------------------------------------------------------------

enum class Type { kWebhook, kPullWake };

// PUT __ds/subscriptions/{id}. Stream paths are relative to the prefix ("events/a").
struct Spec {
  Type type = Type::kWebhook;
  std::string pattern{};               // empty: none
  std::vector<std::string> streams{};  // explicit links, deduplicated, sorted
  std::string webhook_url{};           // webhook only
  std::string wake_stream{};           // pull-wake only
  std::int64_t lease_ttl_ms = 30000;   // [1000, 600000]
  std::string description{};
  friend bool operator==(const Spec&, const Spec&) = default;
};
// kInvalidArgument, with a message fit for the client, for: malformed or too deeply nested
// JSON, a non-object, unknown type, missing webhook.url / wake_stream, a bad pattern or path,
// lease_ttl_ms out of range or not an integer, oversized strings or lists.
Status parse_spec(std::string_view body, Spec& out);

struct Ack {
  std::string stream{};
  ds::StreamOffset offset{};
};
// POST callback / ack / release: {wake_id, generation, acks:[{stream|path, offset}], done}.
struct AckRequest {
  std::string wake_id{};
  std::optional<std::uint64_t> generation{};
  std::vector<Ack> acks{};
  bool done = false;
};
// An empty body is an empty request. An ack offset of "-1" or a malformed one: kInvalidArgument.
Status parse_ack_request(std::string_view body, AckRequest& out);
// POST claim: {worker: "<non-empty, at most 256 bytes>"}.
Status parse_claim_request(std::string_view body, std::string& worker);
// POST streams: {streams: ["a/b", ...]} (at least one).
Status parse_stream_list(std::string_view body, std::vector<std::string>& out);

// A subscription id: 1-128 of [A-Za-z0-9._-], not "." or "..".
[[nodiscard]] bool valid_id(std::string_view id);
// A relative stream path: non-empty, at most 1024 bytes, no empty / "." / ".." segment, no
// leading '/', no control characters, not under "__ds/".
[[nodiscard]] bool valid_stream_path(std::string_view path);
// Glob over '/'-separated segments: '*' within a segment matches any run of characters but
// '/', a "**" segment matches zero or more segments. Bounded work (memoized).
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view path);

// --- webhook URL policy ---------------------------------------------------------------------

struct WebhookTarget {
  std::string host{};  // without brackets
  std::uint16_t port = 80;
  std::string path_and_query{};  // starts with '/'
  bool host_is_ip = false;
};
// Parses "http://host[:port][/path]" and applies the policy to IP-literal hosts and
// "localhost" (host names are checked again, resolved, at delivery). kInvalidArgument (the
// message says why) for anything refused; the route answers 400 WEBHOOK_URL_REJECTED.
Status check_webhook_url(std::string_view url, const DurableStreamsSubscriptionOptions& policy, WebhookTarget& out);
// The policy for one resolved address, in text form ("10.0.0.1", "::1").
Status check_webhook_address(std::string_view ip, const DurableStreamsSubscriptionOptions& policy);

// --- signing --------------------------------------------------------------------------------

// Unpadded base64url (RFC 4648 section 5).
[[nodiscard]] std::string base64url(std::string_view bytes);
// nullopt on a character outside the alphabet or an impossible length.
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

// --- the service ----------------------------------------------------------------------------

// How the subscription service sees streams (implemented by the engine). Paths are relative
// to the prefix. `tail` and `list` are called with the service's lock held, so they must not
// call back into the service; `append` is called without it (the append comes back through
// on_stream_written).
struct StreamAccess {
  // The stream's tail, nullopt when it does not exist.
  std::function<std::optional<ds::StreamOffset>(const std::string& path)> tail{};
  // Every stream that exists.
  std::function<std::vector<std::string>()> list{};
  // Appends one JSON value to a stream (a pull-wake event); false when that failed.
  std::function<bool(const std::string& path, const std::string& json)> append{};
};

// One outbound HTTP POST (the delivery thread's client). Returns the status and body, or an
// error (kUnavailable: connect / timeout / malformed response). Replaceable for tests.
struct PostResult {
  int status = 0;
  std::string body{};
};
using PostFunction = std::function<Result<PostResult>(const WebhookTarget& target, const std::string& body,
                                                       const std::vector<std::pair<std::string, std::string>>& headers)>;
// The default: HTTP/1.1 over a plain TCP socket, every resolved address checked against the
// policy before connecting, the whole exchange bounded by options.webhook_timeout, response
// bodies capped at 64 KiB.
[[nodiscard]] PostFunction http_post_function(const DurableStreamsSubscriptionOptions& options);

class Subscriptions {
 public:
  // `prefix`: the engine's prefix ("/v1/stream/"). `post`: empty for http_post_function.
  static std::shared_ptr<Subscriptions> create(DurableStreamsSubscriptionOptions options, std::string prefix,
                                               std::shared_ptr<Clock> clock, StreamAccess access,
                                               PostFunction post = {});
  virtual ~Subscriptions() = default;

  // A request to <prefix>__ds/<rest> (`rest` still percent-encoded).
  virtual HttpResponse handle(const HttpRequest& request, std::string_view rest) = 0;
  // A stream was created or written to (or may have been): links it to matching patterns and
  // starts wakes. Cheap when no subscription is interested.
  virtual void on_stream_written(const std::string& path) = 0;
  // A stream was deleted: unlinked from every subscription.
  virtual void on_stream_deleted(const std::string& path) = 0;
  // Expires leases and runs due webhook retries now (the delivery thread also does this on
  // its own; tests with a fake clock call it).
  virtual void tick() = 0;
  // Stops the delivery thread (pending deliveries are dropped). Idempotent.
  virtual void shutdown() = 0;
  // The JWKS document served at __ds/jwks.json.
  [[nodiscard]] virtual std::string jwks() const = 0;
};

// Verifies a webhook-signature header over `body` against a JWKS document (test helper and
// documentation of the format). false for any malformed input.
[[nodiscard]] bool verify_signature(std::string_view jwks_json, std::string_view header, std::string_view body);

}  // namespace strata::net::detail::subs
