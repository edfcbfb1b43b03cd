// strata/net/handler.h — strata's protocol handlers, without strata's server.
//
// A host that already runs an HTTP server mounts strata here: it hands each request (and,
// for streams, each WebSocket message) to a ProtocolHandler and writes out what comes back.
// strata's own Server (strata/net/server.h) is built on exactly this API. The wire protocol
// is docs/protocol.md; examples/mount_handler shows a host doing it.
//
//   auto handler = strata::net::ProtocolHandler::create(hub, {}).value();
//   if (handler->is_websocket_path(request)) { ...upgrade, then handler->open_websocket() }
//   else if (handler->is_event_stream(request)) { handler->open_event_stream(...) }
//   else { HttpResponse r = handler->handle(request); }
//
// Thread safety: ProtocolHandler is safe to use from any number of threads. A Channel's
// on_message / on_writable / close must not run concurrently with each other (a host calls
// them from the connection's own strand or thread); the Channel calls its OutputSink from the
// hub's executor, concurrently with those calls.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <strata/net/auth.h>
#include <strata/status.h>

namespace strata::session {
class Hub;
}

namespace strata::net {

struct HttpRequest {
  std::string method{};  // "GET", "POST", ...
  std::string target{};  // path and query, as on the request line: "/v1/sessions/s/events?from=3"
  std::vector<std::pair<std::string, std::string>> headers{};  // names in any case
  std::string body{};

  // The first header named `name` (case-insensitive), if present.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string body{};
};

// Where a stream's output goes. The host implements it over its connection.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  // Queues bytes for the client: a complete SSE chunk, or the text of one WebSocket message
  // (the host frames it). Must not block; called from the hub's executor threads.
  virtual void send(std::string data) = 0;
  // Bytes queued but not yet written to the socket (drives back-pressure).
  [[nodiscard]] virtual std::size_t queued_bytes() const = 0;
  // Ends the connection: for WebSocket, a close frame with `code` and `reason`; for SSE the
  // host ends the response. Called at most once.
  virtual void close(int code, std::string_view reason) = 0;
};

// One open SSE stream or WebSocket connection.
class Channel {
 public:
  virtual ~Channel() = default;
  // A complete WebSocket text message from the client (ignored for SSE streams).
  virtual void on_message(std::string_view text) = 0;
  // The host's queue drained below the low-water mark after back-pressure: paused
  // subscriptions resume from their last queued offset.
  virtual void on_writable() = 0;
  // Periodic tick from the host (about once a second): heartbeats, token expiry, slow-client
  // timeouts.
  virtual void on_tick() = 0;
  // The connection is gone (or the host shuts down): stops every subscription. Idempotent.
  virtual void close() = 0;
  // For graceful shutdown: tells the client to reconnect and resume (WebSocket 1012, SSE
  // `strata.closed` with `unavailable`), then closes.
  virtual void close_for_restart() = 0;
};

struct HandlerOptions {
  // When set, every request needs a capability token (docs/protocol.md). Default: none —
  // every client may do everything (only for trusted networks and tests).
  std::optional<TokenOptions> auth{};
  // Largest request body or WebSocket message accepted. Default: 1 MiB.
  std::size_t max_body_bytes = 1 << 20;
  // Output queued for a client beyond which its subscriptions pause (they resume from the
  // store when it drains). Default: 1 MiB.
  std::size_t max_send_queue_bytes = 1 << 20;
  // A client whose queue stays over the limit this long is closed (WebSocket 1013; it
  // resumes on reconnect). Default: 30 s.
  std::chrono::milliseconds slow_client_timeout{30000};
  // SSE keep-alive comment interval. Default: 15 s.
  std::chrono::milliseconds sse_heartbeat{15000};
  // Sessions one WebSocket connection may subscribe to at once. Default: 256.
  std::size_t max_subscriptions_per_connection = 256;
};

struct HandlerStats {
  std::uint64_t subscriptions_paused = 0;   // back-pressure: a client's queue went over the limit
  std::uint64_t subscriptions_resumed = 0;  // ...and its subscription resumed from the store
  std::uint64_t slow_clients_closed = 0;    // stuck over the limit for slow_client_timeout
};

class ProtocolHandler {
 public:
  // kInvalidArgument for bad auth options. The hub must outlive the handler and its channels.
  static Result<std::shared_ptr<ProtocolHandler>> create(session::Hub& hub,
                                                          HandlerOptions options);
  virtual ~ProtocolHandler() = default;

  // True for GET /v1/ws (the host then performs the RFC 6455 upgrade, after
  // authorize_websocket accepts).
  [[nodiscard]] virtual bool is_websocket_path(const HttpRequest& request) const = 0;
  // True for an SSE request (GET .../events with Accept: text/event-stream or ?stream=sse).
  [[nodiscard]] virtual bool is_event_stream(const HttpRequest& request) const = 0;

  // Plain HTTP (everything that is not a stream). Never throws; errors are JSON responses.
  virtual HttpResponse handle(const HttpRequest& request) = 0;

  // Checks the token of an upgrade request. On failure the host answers with the returned
  // response (401/403) instead of upgrading.
  virtual Result<std::shared_ptr<Channel>> open_websocket(const HttpRequest& request,
                                                          std::shared_ptr<OutputSink> sink) = 0;
  // Starts an SSE stream. On success the host writes `headers` (200, text/event-stream) and
  // then whatever the channel sends; on failure it answers with the error response.
  virtual Result<std::shared_ptr<Channel>> open_event_stream(const HttpRequest& request,
                                                             std::shared_ptr<OutputSink> sink) = 0;

  [[nodiscard]] virtual HandlerStats stats() const = 0;

  // The HTTP response for a failed open_* (status, JSON error body).
  [[nodiscard]] static HttpResponse error_response(const Status& status);
  // Response headers of an SSE stream.
  [[nodiscard]] static std::vector<std::pair<std::string, std::string>> event_stream_headers();
};

}  // namespace strata::net
