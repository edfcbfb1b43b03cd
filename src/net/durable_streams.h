// The Durable Streams HTTP protocol (docs/durable-streams.md) served by strata's server under a
// path prefix: create, append (with idempotent producers), catch-up reads, long-poll and SSE
// live reads, HEAD, DELETE, TTL / Expires-At, closure, forks and JSON mode.
//
// Two kinds of stream live under the prefix:
//  - streams created with PUT: their bytes (or JSON values) are kept by this engine, in memory;
//  - strata sessions: a GET/HEAD on <prefix><session id> for a session that exists in the hub
//    (and was not created over DS) serves it as an application/json stream whose messages are
//    the session's events in their wire form (docs/protocol.md) and whose offsets are the
//    event offsets. A POST of {"type":..,"payload":..} objects appends events to it.
//
// Thread safety: DurableStreams is safe to use from any number of threads.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include <strata/clock.h>
#include <strata/net/auth.h>
#include <strata/net/handler.h>
#include <strata/net/server.h>

namespace strata::session {
class Hub;
}

namespace strata::net::detail {

// What a request to an interop route (Durable Streams, AI SDK) turns into: a complete
// response, or a live read (long-poll, SSE) that writes its own response through the sink once
// `start` is called, ending it with sink->close(). The host keeps `channel` until then and
// forwards on_tick / close.
struct RouteOutcome {
  HttpResponse response{};
  std::shared_ptr<Channel> channel{};
  std::function<void()> start{};
};

class DurableStreams {
 public:
  using Outcome = RouteOutcome;

  // `auth`: when set, every request needs a capability token whose grants name the stream
  // (its path under the prefix): subscribe for GET/HEAD, append for PUT/POST/DELETE, and
  // subscribe on a fork's source. kInvalidArgument for bad token options.
  static Result<std::shared_ptr<DurableStreams>> create(session::Hub& hub, DurableStreamsOptions options,
                                                        std::shared_ptr<Clock> clock,
                                                        const std::optional<TokenOptions>& auth = std::nullopt);
  virtual ~DurableStreams() = default;

  // True when the request's path is under the prefix.
  [[nodiscard]] virtual bool matches(std::string_view target) const = 0;
  virtual Outcome handle(const HttpRequest& request, const std::shared_ptr<OutputSink>& sink) = 0;
  // Ends live reads and session subscriptions (server shutdown). Idempotent.
  virtual void shutdown() = 0;
};

}  // namespace strata::net::detail
