// Server lifecycle: bind, threads, shutdown.
#include <strata/net/server.h>

#include <future>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/post.hpp>

#include <strata/net/asio_server.h>
#include <strata/session/hub.h>

#include "net/ai_sdk_stream.h"
#include "net/durable_streams.h"
#include "net/server_impl.h"
#include "net/stream.h"

namespace strata::net {
namespace {

using asio::ip::tcp;

class ServerImpl final : public Server {
 public:
  ~ServerImpl() override {
    shutdown(std::chrono::milliseconds(2000));
    // The acceptor and timer must go before the io_context they are registered with (a
    // member destroyed first), also when start() failed half-way.
    if (owned_io_ || !running_) {
      core_->acceptor.reset();
      core_->ticker.reset();
    }
  }

  Status start(session::Hub& hub, ServerOptions options, asio::io_context* external) {
    if (options.threads == 0) options.threads = 1;
    if (!options.tls.certificate_chain_file.empty() || !options.tls.private_key_file.empty()) {
      if (options.tls.certificate_chain_file.empty() || options.tls.private_key_file.empty()) {
        return invalid_argument_error("TLS needs both a certificate chain file and a private key file");
      }
      std::string error;
      core_->tls = detail::make_server_tls_context(options.tls.certificate_chain_file,
                                                   options.tls.private_key_file, error);
      if (!core_->tls) return invalid_argument_error(error);
    }
    auto handler = ProtocolHandler::create(hub, options.handler);
    if (!handler.ok()) return handler.status();
    core_->handler = std::move(*handler);
    if (!options.durable_streams.prefix.empty()) {
      if (options.durable_streams.prefix.front() != '/' || options.durable_streams.prefix.rfind("/v1/sessions", 0) == 0 ||
          options.durable_streams.prefix == "/v1/ws") {
        return invalid_argument_error("DurableStreamsOptions.prefix must start with '/' and not shadow strata's routes");
      }
      auto ds = detail::DurableStreams::create(hub, options.durable_streams, nullptr, options.handler.auth);
      if (!ds.ok()) return ds.status();
      core_->durable_streams = std::move(*ds);
    }
    if (!options.ai_sdk.prefix.empty()) {
      if (options.ai_sdk.prefix.front() != '/' || options.ai_sdk.prefix.back() == '/' ||
          options.ai_sdk.prefix.rfind("/v1/sessions", 0) == 0) {
        return invalid_argument_error("AiSdkOptions.prefix must start with '/', not end with one, and not shadow strata's routes");
      }
      auto ai = detail::AiSdkStreams::create(hub, options.ai_sdk, options.handler.auth);
      if (!ai.ok()) return ai.status();
      core_->ai_sdk = std::move(*ai);
    }
    core_->options = std::move(options);
    if (external) {
      core_->io = external;
    } else {
      owned_io_.emplace(static_cast<int>(core_->options.threads));
      core_->io = &*owned_io_;
    }
    std::error_code ec;
    auto address = asio::ip::make_address(core_->options.host, ec);
    if (ec) return invalid_argument_error("ServerOptions.host \"" + core_->options.host + "\" is not an IP address");
    tcp::endpoint endpoint(address, core_->options.port);
    core_->acceptor.emplace(*core_->io);
    core_->acceptor->open(endpoint.protocol(), ec);
    if (!ec) core_->acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) core_->acceptor->bind(endpoint, ec);
    if (!ec) core_->acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return unavailable_error("cannot listen on " + core_->options.host + ":" +
                               std::to_string(core_->options.port) + ": " + ec.message());
    }
    port_ = core_->acceptor->local_endpoint().port();
    core_->ticker.emplace(*core_->io);
    asio::post(*core_->io, [core = core_] {
      core->accept();
      core->schedule_tick();
    });
    if (owned_io_) {
      for (std::size_t i = 0; i < core_->options.threads; ++i) {
        threads_.emplace_back([this] { owned_io_->run(); });
      }
    }
    running_ = true;
    return ok_status();
  }

  std::uint16_t port() const override { return port_; }

  ServerStats stats() const override {
    ServerStats s;
    s.connections_open = core_->connections_open.load();
    s.connections_total = core_->connections_total.load();
    s.connections_refused = core_->connections_refused.load();
    s.websocket_open = core_->websocket_open.load();
    s.event_streams_open = core_->event_streams_open.load();
    s.protocol_errors = core_->protocol_errors.load();
    auto handler = core_->handler->stats();
    s.subscriptions_paused = handler.subscriptions_paused;
    s.subscriptions_resumed = handler.subscriptions_resumed;
    s.slow_clients_closed = handler.slow_clients_closed;
    return s;
  }

  void shutdown(std::chrono::milliseconds grace) override {
    std::lock_guard once(shutdown_mu_);
    if (done_) return;
    done_ = true;
    if (!running_) return;
    core_->stopping.store(true);
    // The acceptor and ticker belong to the I/O threads: stop them there.
    auto stop = [core = core_] {
      std::error_code ignored;
      if (core->acceptor) core->acceptor->close(ignored);
      if (core->ticker) core->ticker->cancel();
      core->restart_all();
      if (core->durable_streams) core->durable_streams->shutdown();
      if (core->ai_sdk) core->ai_sdk->shutdown();
    };
    if (core_->io->get_executor().running_in_this_thread()) {
      // Called from a handler on the host's io_context: waiting here would stall the very
      // thread that has to do the work, so start the shutdown and return.
      stop();
      return;
    }
    auto stopped = std::make_shared<std::promise<void>>();
    asio::post(*core_->io, [stop, stopped] {
      stop();
      stopped->set_value();
    });
    stopped->get_future().wait_for(grace);
    {
      std::unique_lock lock(core_->mu);
      core_->drained.wait_for(lock, grace, [this] { return core_->connections.empty(); });
    }
    core_->close_all();
    {
      std::unique_lock lock(core_->mu);
      core_->drained.wait_for(lock, std::chrono::milliseconds(500), [this] { return core_->connections.empty(); });
    }
    if (owned_io_) {
      owned_io_->stop();
      for (auto& t : threads_) t.join();
      threads_.clear();
    }
  }

 private:
  std::shared_ptr<detail::ServerCore> core_ = std::make_shared<detail::ServerCore>();
  std::optional<asio::io_context> owned_io_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::mutex shutdown_mu_;
  bool done_ = false;
  bool running_ = false;
};

}  // namespace

Result<std::unique_ptr<Server>> start_server(asio::io_context& io, session::Hub& hub,
                                             ServerOptions options) {
  auto server = std::make_unique<ServerImpl>();
  STRATA_RETURN_IF_ERROR(server->start(hub, std::move(options), &io));
  return std::unique_ptr<Server>(std::move(server));
}

Result<std::unique_ptr<Server>> Server::start(session::Hub& hub, ServerOptions options) {
  auto server = std::make_unique<ServerImpl>();
  STRATA_RETURN_IF_ERROR(server->start(hub, std::move(options), nullptr));
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace strata::net
