// Server internals shared by server.cpp (connections) and server_main.cpp (lifecycle).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <strata/net/server.h>

namespace asio::ssl {
class context;
}

namespace strata::net::detail {

class Connection;
class DurableStreams;
class AiSdkStreams;

struct ServerCore : std::enable_shared_from_this<ServerCore> {
  ServerOptions options;
  std::shared_ptr<ProtocolHandler> handler;
  std::shared_ptr<DurableStreams> durable_streams;  // set when options.durable_streams.prefix is not empty
  std::shared_ptr<AiSdkStreams> ai_sdk;              // set when options.ai_sdk.prefix is not empty
  asio::io_context* io = nullptr;
  std::optional<asio::ip::tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> ticker;
  std::shared_ptr<asio::ssl::context> tls;  // set when serving TLS only

  std::mutex mu;
  std::condition_variable drained;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> connections;
  std::atomic<std::uint64_t> next_id{1};
  std::atomic<bool> stopping{false};

  std::atomic<std::uint64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> websocket_open{0};
  std::atomic<std::uint64_t> event_streams_open{0};
  std::atomic<std::uint64_t> protocol_errors{0};

  void accept();
  void schedule_tick();
  void forget(std::uint64_t id, bool websocket, bool event_stream);
  std::vector<std::shared_ptr<Connection>> live_connections();
  // Graceful: tell streams to reconnect and resume; idle HTTP connections close.
  void restart_all();
  void close_all();
};

}  // namespace strata::net::detail
