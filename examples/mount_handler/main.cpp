// Mounting strata's protocol handlers in a host's own HTTP server.
//
// A host that already runs an HTTP stack does not need strata::net::Server: it routes the
// requests it wants strata to answer into a ProtocolHandler, and for streams hands the
// handler an OutputSink over its connection. The "host server" here is deliberately tiny
// (blocking sockets, a thread per connection, no keep-alive) so the mounting is easy to see;
// your framework's request/response types map onto HttpRequest/HttpResponse the same way.
//
//   strata_mount_handler            # serves on 127.0.0.1:8090 until killed
//   strata_mount_handler --self-test
#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include <strata/net/handler.h>
#include <strata/session/hub.h>

namespace {

// The host's connection, seen by strata as a place to write SSE chunks.
class SocketSink final : public strata::net::OutputSink {
 public:
  explicit SocketSink(int fd) : fd_(fd) {}
  void send(std::string data) override {
    std::lock_guard lock(mu_);
    if (!closed_) closed_ = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) < 0;
  }
  std::size_t queued_bytes() const override { return 0; }  // blocking writes: nothing queues
  void close(int, std::string_view) override {
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }
  void wait_closed() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return closed_; });
  }

 private:
  int fd_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
};

// Reads one request (headers, then Content-Length bytes). Good enough for an example.
bool read_request(int fd, strata::net::HttpRequest& request) {
  std::string data;
  char buf[4096];
  std::size_t head_end;
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0 || data.size() > 65536) return false;
    data.append(buf, static_cast<std::size_t>(n));
  }
  std::size_t line_end = data.find("\r\n");
  std::string line = data.substr(0, line_end);
  request.method = line.substr(0, line.find(' '));
  request.target = line.substr(line.find(' ') + 1, line.rfind(' ') - line.find(' ') - 1);
  std::size_t pos = line_end + 2;
  std::size_t length = 0;
  while (pos < head_end) {
    std::size_t end = data.find("\r\n", pos);
    std::string field = data.substr(pos, end - pos);
    auto colon = field.find(':');
    std::string name = field.substr(0, colon);
    std::string value = field.substr(colon + 2);
    if (strcasecmp(name.c_str(), "content-length") == 0) length = std::stoul(value);
    request.headers.emplace_back(name, value);
    pos = end + 2;
  }
  request.body = data.substr(head_end + 4);
  while (request.body.size() < length) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    request.body.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

void write_response(int fd, const strata::net::HttpResponse& r) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " X\r\nContent-Type: " + r.content_type +
                    "\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\nConnection: close\r\n";
  for (const auto& [name, value] : r.headers) out += name + ": " + value + "\r\n";
  out += "\r\n" + r.body;
  (void)::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
}

std::atomic<int> active_connections{0};

// The host's router: its own routes, and everything under /v1/ mounted from strata.
void serve_connection(int fd, strata::net::ProtocolHandler& strata_handler) {
  struct Count {
    Count() { ++active_connections; }
    ~Count() { --active_connections; }
  } count;
  strata::net::HttpRequest request;
  if (read_request(fd, request)) {
    if (request.target == "/hello") {
      write_response(fd, {.status = 200, .content_type = "text/plain", .body = "hello from the host\n"});
    } else if (strata_handler.is_event_stream(request)) {
      auto sink = std::make_shared<SocketSink>(fd);
      std::string head = "HTTP/1.1 200 OK\r\nConnection: close\r\n";
      for (const auto& [name, value] : strata::net::ProtocolHandler::event_stream_headers()) {
        head += name + ": " + value + "\r\n";
      }
      sink->send(head + "\r\n");
      auto channel = strata_handler.open_event_stream(request, sink);
      if (!channel.ok()) {
        write_response(fd, strata::net::ProtocolHandler::error_response(channel.status()));
      } else {
        // Until the client goes away: a read returning 0 means it hung up.
        std::thread watch([fd, sink] {
          char c;
          while (::recv(fd, &c, 1, 0) > 0) {
          }
          sink->close(0, "");
        });
        sink->wait_closed();
        (*channel)->close();
        ::shutdown(fd, SHUT_RDWR);
        watch.join();
      }
    } else {
      write_response(fd, strata_handler.handle(request));
    }
  }
  ::close(fd);
}

int listen_on(std::uint16_t port, std::uint16_t& bound) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) return -1;
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  bound = ntohs(addr.sin_port);
  return fd;
}

std::string fetch(std::uint16_t port, const std::string& request, const std::string& until) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "";
  (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  while (out.find(until) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const bool self_test = argc > 1 && std::string(argv[1]) == "--self-test";
  strata::session::HubOptions hub_options;
  hub_options.store = strata::session::open_memory_store();
  auto hub = strata::session::Hub::open(hub_options).value();
  auto handler = strata::net::ProtocolHandler::create(*hub, {}).value();

  std::uint16_t port = 0;
  int listener = listen_on(self_test ? 0 : 8090, port);
  if (listener < 0) {
    std::perror("listen");
    return 1;
  }
  std::thread acceptor([&] {
    while (true) {
      int fd = ::accept(listener, nullptr, nullptr);
      if (fd < 0) return;
      std::thread(serve_connection, fd, std::ref(*handler)).detach();
    }
  });
  if (!self_test) {
    std::printf("host server with strata mounted under /v1 on http://127.0.0.1:%u/\n", port);
    acceptor.join();
    return 0;
  }

  std::string own = fetch(port, "GET /hello HTTP/1.1\r\n\r\n", "host\n");
  std::string body = R"({"type":"user.message","payload":{"text":"hi"}})";
  std::string appended = fetch(port, "POST /v1/sessions/mounted/events HTTP/1.1\r\nContent-Length: " +
                                         std::to_string(body.size()) + "\r\n\r\n" + body, "}");
  std::string stream = fetch(port, "GET /v1/sessions/mounted/events HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n",
                             "\"text\":\"hi\"");
  ::shutdown(listener, SHUT_RDWR);
  ::close(listener);
  acceptor.join();
  // Connection threads use the hub: let them finish before it goes away.
  for (int i = 0; i < 500 && active_connections.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const bool ok = own.find("hello from the host") != std::string::npos &&
                  appended.find("\"first\":1") != std::string::npos &&
                  stream.find("id: 1\nevent: user.message") != std::string::npos;
  std::printf(ok ? "mounted: the host's route and strata's HTTP and SSE handlers all answered\n"
                 : "mount self-test failed\n");
  return ok ? 0 : 1;
}
