// strata/net/server.h — serve a Hub's sessions over WebSocket, SSE and HTTP on one port.
//
//   auto hub = strata::session::Hub::open({.database_path = "chat.db"}).value();
//   strata::net::ServerOptions options;
//   options.port = 8080;                       // 0 picks a free port
//   auto server = strata::net::Server::start(*hub, options).value();
//   std::printf("listening on %u\n", server->port());
//   ...
//   server->shutdown();                        // clients are told to reconnect and resume
//
// The server runs on its own threads, or on a host's asio::io_context
// (strata/net/asio_server.h). Protocol: docs/protocol.md.
//
// Hardening: limits on request headers, bodies, WebSocket messages, connections and each
// connection's send queue; header and idle timeouts (slowloris); UTF-8 validation of text
// frames; RFC 6455 close codes. A slow client never holds up others: its subscriptions pause
// and later resume from the store.
//
// Thread safety: Server methods are safe from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <strata/net/handler.h>
#include <strata/status.h>

namespace strata::session {
class Hub;
}

namespace strata::net {

struct TlsOptions {
  // PEM files. When both are set the server speaks only TLS (https / wss).
  std::string certificate_chain_file{};
  std::string private_key_file{};
};

// The Durable Streams protocol's reserved subscription APIs (docs/durable-streams.md,
// "Subscriptions"): webhook and pull-wake subscriptions under <prefix>__ds/. State is kept in
// memory (lost on restart); the webhook signing key is generated per process.
struct DurableStreamsSubscriptionOptions {
  // Serve <prefix>__ds/subscriptions/... and <prefix>__ds/jwks.json. Off: those paths answer
  // 404 (they are reserved either way; no stream can be created under __ds/). Default: off.
  bool enabled = false;
  // Webhook URLs: http:// only (delivery speaks plain HTTP/1.1; put a TLS-terminating egress
  // proxy in front for https targets). Never accepted: link-local (169.254/16, fe80::/10,
  // which holds cloud metadata endpoints), unspecified, multicast, broadcast and IPv4-mapped
  // forms of those. Host names are resolved at delivery and every address is checked again.
  // Loopback targets (127/8, ::1, "localhost") are accepted only when this is set — the
  // protocol's local development mode (the conformance suite's receiver listens on
  // 127.0.0.1). Default: false.
  bool allow_loopback_webhooks = false;
  // Private targets (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) accepted. Default: false.
  bool allow_private_webhooks = false;
  // Base of the callback and JWKS URLs handed out, e.g. "https://streams.example.com". Empty:
  // "http://" + the Host header of the request that created the subscription. Default: empty.
  std::string public_base_url{};
  // One webhook POST (connect, send, response) gives up after this. Default: 5 s.
  std::chrono::milliseconds webhook_timeout{5000};
  // A wake whose webhook POST keeps failing (no answer, non-2xx) is retried with exponential
  // backoff (1 s doubling, capped at 30 s) and given up after this many attempts; the next
  // write to a linked stream starts a new wake. Default: 5.
  int webhook_max_attempts = 5;
  // Subscriptions the server holds; a create beyond it is refused with 503. Default: 10000.
  std::size_t max_subscriptions = 10000;
  // Streams one subscription may link (explicit and pattern matches). Default: 10000.
  std::size_t max_streams_per_subscription = 10000;
  // Lifetime of a callback / claim token; a request with an older one gets 401 TOKEN_EXPIRED.
  // Default: 1 h.
  std::chrono::milliseconds token_ttl{3600000};
};

// The Durable Streams HTTP protocol (docs/durable-streams.md), served beside strata's own.
struct DurableStreamsOptions {
  // Path prefix the protocol is served under, e.g. "/v1/stream/" (what the protocol's
  // conformance suite uses). Every request whose target starts with it goes to Durable
  // Streams. Default: empty — not served.
  std::string prefix{};
  // How long a long-poll read waits for data before answering 204, and the interval of SSE
  // keep-alive control events. Resolution: the server's one-second tick. Default: 10 s.
  std::chrono::milliseconds long_poll_timeout{10000};
  // Bytes all streams created with PUT may hold in memory together; an append or create
  // beyond it is refused with 503. Default: 256 MiB.
  std::size_t max_memory_bytes = std::size_t{256} << 20;
  // A strata session served as a stream is cached (and followed) while used; one idle this
  // long with no live reader is dropped from memory (it is reloaded on next use).
  // Default: 60 s.
  std::chrono::milliseconds idle_session_ttl{60000};
  // The reserved subscription APIs. Default: off.
  DurableStreamsSubscriptionOptions subscriptions{};
};

// The Vercel AI SDK's UI message stream (docs/ai-sdk.md): a chat is a strata session; a
// `useChat` front end with `DefaultChatTransport({api: prefix})` works against it, resume
// included. Routes: POST <prefix> (send a message, stream the answer), GET
// <prefix>/<chat id>/stream (resume the answer in progress; 204 when none), POST
// <prefix>/<chat id>/stop (cancel it).
struct AiSdkOptions {
  // e.g. "/v1/ai/chat" (no trailing '/'). Default: empty — not served.
  std::string prefix{};
  // SSE keep-alive comment interval. Default: 15 s.
  std::chrono::milliseconds heartbeat{15000};
};

struct ServerOptions {
  // Address to bind. Default: loopback only.
  std::string host = "127.0.0.1";
  // Default: 0 — the system picks a free port; Server::port() tells which.
  std::uint16_t port = 0;
  // I/O threads when the server runs on its own. Default: 1.
  std::size_t threads = 1;
  // Protocol handler settings: auth, body and queue limits, heartbeats.
  HandlerOptions handler{};
  // Connections beyond this are refused (HTTP 503 then close). Default: 20000.
  std::size_t max_connections = 20000;
  // Request line plus headers. Default: 16 KiB (larger: 431).
  std::size_t max_header_bytes = 16 * 1024;
  // A request whose headers take longer than this is closed with 408 (slowloris).
  // Default: 10 s.
  std::chrono::milliseconds header_timeout{10000};
  // A keep-alive HTTP connection idle this long is closed. Default: 60 s.
  std::chrono::milliseconds idle_timeout{60000};
  // WebSocket ping interval (a client that does not answer within two intervals is closed).
  // Default: 30 s.
  std::chrono::milliseconds websocket_ping_interval{30000};
  // Optional: serve files under this directory for GET requests outside /v1 (the demo page).
  std::string static_root{};
  // Optional TLS.
  TlsOptions tls{};
  // Optional: the Durable Streams protocol under a path prefix. Default: off.
  DurableStreamsOptions durable_streams{};
  // Optional: the AI SDK UI message stream under a path prefix. Default: off.
  AiSdkOptions ai_sdk{};
};

struct ServerStats {
  std::uint64_t connections_open = 0;
  std::uint64_t connections_total = 0;
  std::uint64_t connections_refused = 0;
  std::uint64_t websocket_open = 0;
  std::uint64_t event_streams_open = 0;
  std::uint64_t protocol_errors = 0;  // malformed requests or frames
  std::uint64_t subscriptions_paused = 0;   // see HandlerStats
  std::uint64_t subscriptions_resumed = 0;
  std::uint64_t slow_clients_closed = 0;
};

class Server {
 public:
  // Binds and starts serving on `options.threads` threads of its own.
  // Errors: kInvalidArgument (options), kUnavailable (bind failed: the message says why).
  static Result<std::unique_ptr<Server>> start(session::Hub& hub, ServerOptions options);

  // Stops the server as shutdown() does.
  virtual ~Server() = default;

  // The bound port.
  [[nodiscard]] virtual std::uint16_t port() const = 0;
  [[nodiscard]] virtual ServerStats stats() const = 0;
  // Stops accepting; tells every WebSocket (1012) and SSE client (`strata.closed`) to
  // reconnect and resume; finishes in-flight writes for up to `grace`; closes the rest.
  // Idempotent.
  virtual void shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(2000)) = 0;
};

}  // namespace strata::net
