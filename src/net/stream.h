// The byte stream under a server connection: a plain TCP socket or TLS over it. Handlers
// are called through the strand the connection binds them to.
#pragma once

#include <functional>
#include <memory>
#include <system_error>
#include <vector>

#include <asio/buffer.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/strand.hpp>

namespace asio::ssl {
class context;
}

namespace strata::net::detail {

using Strand = asio::strand<asio::io_context::executor_type>;

class Stream {
 public:
  using IoHandler = std::function<void(std::error_code, std::size_t)>;
  virtual ~Stream() = default;
  // TLS: the server handshake; plain: completes at once. Handlers run on `strand`.
  virtual void start(Strand& strand, std::function<void(std::error_code)> done) = 0;
  virtual void read_some(Strand& strand, asio::mutable_buffer buffer, IoHandler done) = 0;
  virtual void write(Strand& strand, std::vector<asio::const_buffer> buffers, IoHandler done) = 0;
  virtual void close() = 0;
};

std::unique_ptr<Stream> make_plain_stream(asio::ip::tcp::socket socket);
// REQUIRES: `context` outlives the stream.
std::unique_ptr<Stream> make_tls_stream(asio::ip::tcp::socket socket, asio::ssl::context& context);

// A server TLS context from PEM files; nullptr and `error` set on failure.
std::shared_ptr<asio::ssl::context> make_server_tls_context(const std::string& certificate_chain_file,
                                                            const std::string& private_key_file,
                                                            std::string& error);

}  // namespace strata::net::detail
