// strata/net/client.h — a resuming C++ client for a strata server (WebSocket, docs/protocol.md).
//
// For out-of-process agents and backends: subscriptions survive disconnects (automatic
// reconnect with exponential backoff and jitter, resume from the last offset, duplicates
// dropped by offset), and appends carry an idempotent producer sequence, so a retry after a
// drop never writes twice.
//
//   strata::net::ClientOptions options;
//   options.url = "ws://127.0.0.1:8080/v1/ws";
//   auto client = strata::net::Client::connect(options).value();
//   auto sub = client->subscribe("chat-42", {}, [](const strata::session::Event& e) { ... });
//   client->append("chat-42", {{.type = "user.message", .payload = R"({"text":"hi"})"}});
//
// Threading: the client runs one I/O thread of its own. Event and close handlers run on it,
// one at a time, in offset order per session; they must not block for long, and must not
// call blocking Client methods (append, cancel, ...) — post those elsewhere.
// Thread safety: Client methods are safe from any thread (except from its handlers, above).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <strata/session/event.h>
#include <strata/status.h>

namespace strata::net {

enum class ConnectionState { kConnecting, kConnected, kDisconnected, kClosed };

struct ClientOptions {
  // "ws://host:port/v1/ws". Required. (TLS: put a TLS-terminating proxy in between.)
  std::string url{};
  // Capability token sent as "Authorization: Bearer"; empty for servers without auth.
  std::string token{};
  // Producer identity of this client's appends. Default: "client-<random>".
  std::string producer{};
  // Producer epoch; a restarted process should use a higher one (fencing). Default: the
  // current time in milliseconds, which grows across restarts.
  std::uint64_t producer_epoch = 0;
  // Reconnect backoff: initial delay, doubled per failed attempt up to max, each with random
  // jitter (50-100% of the delay). Defaults: 100 ms and 5 s.
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  // How long blocking calls (append, cancel, ...) wait for the server, across reconnects.
  // Default: 30 s.
  std::chrono::milliseconds request_timeout{30000};
  // Largest message accepted from the server. Default: 16 MiB.
  std::size_t max_message_bytes = 16 << 20;
  // Connection state changes (on the I/O thread).
  std::function<void(ConnectionState)> on_state{};
};

// Resume point of a subscription: events after `from`, in epoch `epoch` (empty: any).
struct ClientSubscribeOptions {
  session::Offset from = 0;
  std::string epoch{};
};

class ClientSubscription {
 public:
  virtual ~ClientSubscription() = default;
  // Stops delivery (the server is told); no handler runs after close() returns, unless
  // close() is called from a handler.
  virtual void close() = 0;
  // Offset of the last event delivered (the resume point) and its epoch.
  [[nodiscard]] virtual session::Offset last_offset() const = 0;
  [[nodiscard]] virtual std::string epoch() const = 0;
};

struct ClientAppendResult {
  session::Offset first_offset = 0;
  session::Offset last_offset = 0;
  bool duplicate = false;
};

class Client {
 public:
  // Starts the I/O thread and connects in the background (it keeps retrying). Errors:
  // kInvalidArgument for a malformed URL.
  static Result<std::unique_ptr<Client>> connect(ClientOptions options);
  // Closes the connection and joins the I/O thread.
  virtual ~Client() = default;

  // Follows `session` from options.from, across reconnects, each event once and in order.
  // `on_close` runs once if the server ends the subscription for good: kDataLoss (history
  // reset or trimmed: take a snapshot), kNotFound, kPermissionDenied, kInvalidArgument.
  virtual std::unique_ptr<ClientSubscription> subscribe(
      std::string_view session, ClientSubscribeOptions options,
      std::function<void(const session::Event&)> on_event,
      std::function<void(const Status&)> on_close = {}) = 0;

  // Appends atomically with the next producer sequence; retried after reconnects with the
  // same sequence until acknowledged or request_timeout. Errors as Hub::append, plus
  // kDeadlineExceeded.
  virtual Result<ClientAppendResult> append(std::string_view session,
                                            std::vector<session::EventDraft> events) = 0;
  // Control requests are not retried after a drop (they fail with kUnavailable).
  virtual Result<session::Offset> cancel(std::string_view session, std::string_view run_id,
                                         std::string_view reason = "cancelled by user") = 0;
  virtual Result<session::Offset> steer(std::string_view session, std::string_view run_id,
                                        std::string_view input_json) = 0;
  virtual Status join(std::string_view session, std::string_view client_id,
                      std::string_view device = {}) = 0;
  virtual Status leave(std::string_view session, std::string_view client_id) = 0;
  // The snapshot as JSON text (docs/protocol.md).
  virtual Result<std::string> snapshot_json(std::string_view session) = 0;

  [[nodiscard]] virtual ConnectionState state() const = 0;
  // Connections made so far (1 + reconnects).
  [[nodiscard]] virtual std::uint64_t connections() const = 0;
  // Drops the current connection as a network failure would (tests, failover drills); the
  // client reconnects and resumes.
  virtual void drop_connection() = 0;
  [[nodiscard]] virtual const std::string& producer() const = 0;
};

}  // namespace strata::net
