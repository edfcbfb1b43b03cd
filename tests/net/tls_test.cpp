// TLS (https / wss) with a certificate made for the test by the openssl command.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdlib>

#include <strata/net/server.h>
#include <strata/session/hub.h>

#include "net/websocket.h"
#include "session/test_util.h"

using namespace strata;

namespace {

// A verifying TLS client over a blocking socket.
class TlsClient {
 public:
  TlsClient(std::uint16_t port, const std::string& ca_file) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set1_host(ssl_, "localhost");
    connected_ = SSL_connect(ssl_) == 1;
  }
  ~TlsClient() {
    if (ssl_) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  bool connected() const { return connected_; }
  void write(const std::string& s) { SSL_write(ssl_, s.data(), static_cast<int>(s.size())); }
  // Reads until `needle` appears or the socket times out.
  std::string read_until(const std::string& needle) {
    char buf[4096];
    while (data_.find(needle) == std::string::npos) {
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n <= 0) break;
      data_.append(buf, static_cast<std::size_t>(n));
    }
    return data_;
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool connected_ = false;
  std::string data_;
};

}  // namespace

TEST_CASE("tls: https and wss with a real certificate, plain clients are refused", "[net][tls]") {
  test::TempDir dir;
  const std::string cert = dir.file("cert.pem");
  const std::string key = dir.file("key.pem");
  const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                              "-addext subjectAltName=DNS:localhost -keyout " + key + " -out " + cert +
                              " >/dev/null 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);

  session::HubOptions hub_options;
  hub_options.store = session::open_memory_store();
  hub_options.maintenance_interval = std::chrono::milliseconds(0);
  auto hub = session::Hub::open(hub_options).value();
  REQUIRE(hub->append("secure", {.type = "app.note", .payload = R"({"n":1})"}, {.producer = "p"}).ok());
  net::ServerOptions options;
  options.tls.certificate_chain_file = cert;
  options.tls.private_key_file = key;
  auto server = net::Server::start(*hub, options).value();

  {
    TlsClient https(server->port(), cert);
    REQUIRE(https.connected());
    https.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    CHECK(https.read_until("\"ok\"").find("HTTP/1.1 200 OK") == 0);
  }
  {
    TlsClient wss(server->port(), cert);
    REQUIRE(wss.connected());
    wss.write("GET /v1/ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    CHECK(wss.read_until("\r\n\r\n").find("101 Switching Protocols") != std::string::npos);
    std::string frame;
    net::detail::append_ws_frame(frame, net::detail::ws_opcode::kText, R"({"op":"subscribe","session":"secure"})",
                                 0x01020304);
    wss.write(frame);
    CHECK(wss.read_until("\"n\":1").find("\"op\":\"event\"") != std::string::npos);
  }
  {
    // A client speaking plain HTTP to the TLS port gets no HTTP answer.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::string req = "GET /healthz HTTP/1.1\r\n\r\n";
    (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[256];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    CHECK((n <= 0 || std::string(buf, static_cast<std::size_t>(n)).find("HTTP/1.1 200") == std::string::npos));
    ::close(fd);
  }
  // The health check over TLS still works after the bad client.
  TlsClient again(server->port(), cert);
  CHECK(again.connected());
}

TEST_CASE("tls: missing or broken certificate files are clear errors", "[net][tls]") {
  test::TempDir dir;
  session::HubOptions hub_options;
  hub_options.store = session::open_memory_store();
  auto hub = session::Hub::open(hub_options).value();
  net::ServerOptions only_cert;
  only_cert.tls.certificate_chain_file = dir.file("c.pem");
  CHECK(net::Server::start(*hub, only_cert).status().code() == StatusCode::kInvalidArgument);
  net::ServerOptions missing;
  missing.tls.certificate_chain_file = dir.file("nope.pem");
  missing.tls.private_key_file = dir.file("nope.key");
  auto r = net::Server::start(*hub, missing);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  CHECK(r.status().message().find("nope.pem") != std::string::npos);
}
