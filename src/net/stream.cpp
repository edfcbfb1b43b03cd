#include "net/stream.h"

#include <asio/bind_executor.hpp>
#include <asio/post.hpp>
#include <asio/ssl.hpp>
#include <asio/write.hpp>

namespace strata::net::detail {
namespace {

using asio::ip::tcp;

class PlainStream final : public Stream {
 public:
  explicit PlainStream(tcp::socket socket) : socket_(std::move(socket)) {}
  void start(Strand& strand, std::function<void(std::error_code)> done) override {
    asio::post(strand, [done = std::move(done)] { done({}); });
  }
  void read_some(Strand& strand, asio::mutable_buffer buffer, IoHandler done) override {
    socket_.async_read_some(buffer, asio::bind_executor(strand, std::move(done)));
  }
  void write(Strand& strand, std::vector<asio::const_buffer> buffers, IoHandler done) override {
    asio::async_write(socket_, buffers, asio::bind_executor(strand, std::move(done)));
  }
  void close() override {
    std::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  tcp::socket socket_;
};

class TlsStream final : public Stream {
 public:
  TlsStream(tcp::socket socket, asio::ssl::context& context) : stream_(std::move(socket), context) {}
  void start(Strand& strand, std::function<void(std::error_code)> done) override {
    stream_.async_handshake(asio::ssl::stream_base::server, asio::bind_executor(strand, std::move(done)));
  }
  void read_some(Strand& strand, asio::mutable_buffer buffer, IoHandler done) override {
    stream_.async_read_some(buffer, asio::bind_executor(strand, std::move(done)));
  }
  void write(Strand& strand, std::vector<asio::const_buffer> buffers, IoHandler done) override {
    asio::async_write(stream_, buffers, asio::bind_executor(strand, std::move(done)));
  }
  void close() override {
    // No TLS close_notify round trip: the connection is going away either way.
    std::error_code ignored;
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.lowest_layer().close(ignored);
  }

 private:
  asio::ssl::stream<tcp::socket> stream_;
};

}  // namespace

std::unique_ptr<Stream> make_plain_stream(tcp::socket socket) {
  return std::make_unique<PlainStream>(std::move(socket));
}

std::unique_ptr<Stream> make_tls_stream(tcp::socket socket, asio::ssl::context& context) {
  return std::make_unique<TlsStream>(std::move(socket), context);
}

std::shared_ptr<asio::ssl::context> make_server_tls_context(const std::string& certificate_chain_file,
                                                            const std::string& private_key_file,
                                                            std::string& error) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  std::error_code ec;
  context->use_certificate_chain_file(certificate_chain_file, ec);
  if (ec) {
    error = "cannot load TLS certificate chain " + certificate_chain_file + ": " + ec.message();
    return nullptr;
  }
  context->use_private_key_file(private_key_file, asio::ssl::context::pem, ec);
  if (ec) {
    error = "cannot load TLS private key " + private_key_file + ": " + ec.message();
    return nullptr;
  }
  return context;
}

}  // namespace strata::net::detail
