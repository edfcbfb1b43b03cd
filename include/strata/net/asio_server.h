// strata/net/asio_server.h — run strata's server on the host's own asio::io_context.
//
//   asio::io_context io;
//   auto server = strata::net::start_server(io, *hub, options).value();
//   io.run();   // strata's connections are served by whichever threads run `io`
//
// Connection handlers run on strands of `io`; strata never blocks them except for the
// synchronous hub calls of plain HTTP requests (appends wait for durability). Link
// strata::net (it brings standalone Asio).
//
// REQUIRES: `io` keeps running until the server's shutdown() has returned (shutdown posts its
// work to `io`); the hub outlives the server.
#pragma once

#include <memory>

#include <asio/io_context.hpp>

#include <strata/net/server.h>

namespace strata::net {

Result<std::unique_ptr<Server>> start_server(asio::io_context& io, session::Hub& hub,
                                             ServerOptions options);

}  // namespace strata::net
