// A blocking loopback client for the server tests: raw bytes, HTTP requests, WebSocket
// frames (via strata's own frame codec, which has its own unit tests), with deadlines.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "net/websocket.h"

namespace strata::test {

class RawClient {
 public:
  explicit RawClient(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawClient() { close(); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Shrinks the kernel receive buffer (slow-client tests). Call before reading anything.
  void set_receive_buffer(int bytes) { ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes); }

  bool send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads into buffer() until `done(buffer())` or the deadline; false on timeout or EOF.
  bool read_until(const std::function<bool(const std::string&)>& done,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done(buffer_)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char chunk[65536];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n <= 0) {
        eof_ = true;
        return done(buffer_);
      }
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
    return true;
  }
  // True once the server closed the connection (reads until EOF or the deadline).
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    read_until([this](const std::string&) { return eof_; }, timeout);
    return eof_;
  }
  std::string& buffer() { return buffer_; }

  struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
  };
  // Parses one response with Content-Length from the buffer (consuming it).
  std::optional<Response> read_response(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    std::size_t head_end = 0;
    if (!read_until([&](const std::string& b) { return (head_end = b.find("\r\n\r\n")) != std::string::npos; }, timeout)) {
      return std::nullopt;
    }
    Response r;
    std::string head = buffer_.substr(0, head_end);
    r.status = std::stoi(head.substr(9, 3));
    std::size_t pos = head.find("\r\n");
    while (pos != std::string::npos && pos < head.size()) {
      std::size_t next = head.find("\r\n", pos + 2);
      std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        r.headers[name] = value;
      }
      pos = next;
    }
    std::size_t length = r.headers.count("content-length") ? std::stoul(r.headers["content-length"]) : 0;
    std::size_t total = head_end + 4 + length;
    if (!read_until([&](const std::string& b) { return b.size() >= total; }, timeout)) return std::nullopt;
    r.body = buffer_.substr(head_end + 4, length);
    buffer_.erase(0, total);
    return r;
  }

  std::optional<Response> request(const std::string& method, const std::string& target,
                                  const std::string& body = "", const std::string& extra_headers = "") {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: test\r\n" + extra_headers;
    if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    if (!send(req)) return std::nullopt;
    return read_response();
  }

  // Performs the upgrade; returns the response status (101 on success).
  int websocket_handshake(const std::string& target = "/v1/ws", const std::string& extra_headers = "") {
    send("GET " + target + " HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + extra_headers + "\r\n");
    std::size_t head_end = 0;
    if (!read_until([&](const std::string& b) { return (head_end = b.find("\r\n\r\n")) != std::string::npos; })) {
      return 0;
    }
    int status = std::stoi(buffer_.substr(9, 3));
    if (status == 101) {
      buffer_.erase(0, head_end + 4);
      reader_.emplace(64 << 20, /*expect_masked=*/false);
    } else {
      auto r = read_response();
      last_body_ = r ? r->body : "";
    }
    return status;
  }
  const std::string& last_body() const { return last_body_; }

  bool ws_send(std::string_view text, std::uint8_t opcode = net::detail::ws_opcode::kText) {
    std::string frame;
    net::detail::append_ws_frame(frame, opcode, text, 0x5A5A1234);
    return send(frame);
  }
  // The next WebSocket event from the server (text, ping, close, ...), or nullopt.
  std::optional<net::detail::WsEvent> ws_read(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    std::optional<net::detail::WsEvent> out;
    read_until_mutable(
        [&](std::string& b) {
          if (b.empty()) return false;
          net::detail::WsEvent e;
          std::size_t used = reader_->feed(b, e);
          b.erase(0, used);
          if (e.kind == net::detail::WsEvent::Kind::kNone) return false;
          out = std::move(e);
          return true;
        },
        timeout);
    return out;
  }
  // The next text message whose JSON contains `needle`, skipping pings.
  std::optional<std::string> ws_read_text(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      auto e = ws_read(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
      if (!e) return std::nullopt;
      if (e->kind == net::detail::WsEvent::Kind::kText) return e->data;
      if (e->kind != net::detail::WsEvent::Kind::kPing && e->kind != net::detail::WsEvent::Kind::kPong) {
        last_event_ = *e;
        return std::nullopt;
      }
    }
    return std::nullopt;
  }
  const net::detail::WsEvent& last_event() const { return last_event_; }

 private:
  bool read_until_mutable(const std::function<bool(std::string&)>& done, std::chrono::milliseconds timeout) {
    return read_until([&](const std::string&) { return done(buffer_); }, timeout);
  }

  int fd_ = -1;
  bool connected_ = false;
  bool eof_ = false;
  std::string buffer_;
  std::string last_body_;
  std::optional<net::detail::WsReader> reader_;
  net::detail::WsEvent last_event_;
};

}  // namespace strata::test
