// The webhook delivery client (see ds_subscriptions.h): one HTTP/1.1 POST over a plain TCP
// socket, blocking, run on the subscription service's delivery thread (never an I/O thread).
// Every resolved address is checked against the URL policy before connecting (a host name
// that resolves to 169.254.169.254 or 10.x is refused like the literal), connect / send /
// receive share one deadline, and the response is read up to 64 KiB of body.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "net/ds_subscriptions.h"

namespace strata::net::detail::subs {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr std::size_t kMaxResponseHeaderBytes = 16 * 1024;
constexpr std::size_t kMaxResponseBodyBytes = 64 * 1024;

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int fd() const { return fd_; }

 private:
  int fd_;
};

int remaining_ms(SteadyClock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 60000));
}

bool wait_for(int fd, short events, SteadyClock::time_point deadline) {
  while (true) {
    const int ms = remaining_ms(deadline);
    if (ms == 0) return false;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, ms);
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

Status connect_one(const sockaddr* addr, socklen_t len, SteadyClock::time_point deadline, int& out_fd) {
  int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return unavailable_error("webhook: socket() failed");
  Socket guard(fd);
  if (::connect(fd, addr, len) != 0) {
    if (errno != EINPROGRESS) return unavailable_error("webhook: connect failed");
    if (!wait_for(fd, POLLOUT, deadline)) return unavailable_error("webhook: connect timed out");
    int err = 0;
    socklen_t err_len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0 || err != 0) {
      return unavailable_error("webhook: connect failed");
    }
  }
  out_fd = ::dup(fd);  // the guard closes the original
  if (out_fd < 0) return unavailable_error("webhook: dup() failed");
  ::fcntl(out_fd, F_SETFD, FD_CLOEXEC);
  return ok_status();
}

Status send_all(int fd, std::string_view data, SteadyClock::time_point deadline) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd, POLLOUT, deadline)) return unavailable_error("webhook: send timed out");
      continue;
    }
    return unavailable_error("webhook: send failed");
  }
  return ok_status();
}

// Reads until `done(buffer)` says the response is complete, the peer closes, or the deadline.
template <typename Done>
Status receive(int fd, std::string& buffer, SteadyClock::time_point deadline, Done done, bool& closed) {
  closed = false;
  char chunk[4096];
  while (!done(buffer)) {
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer.append(chunk, static_cast<std::size_t>(n));
      if (buffer.size() > kMaxResponseHeaderBytes + kMaxResponseBodyBytes) {
        return unavailable_error("webhook: response too large");
      }
      continue;
    }
    if (n == 0) {
      closed = true;
      return ok_status();
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_for(fd, POLLIN, deadline)) return unavailable_error("webhook: response timed out");
      continue;
    }
    return unavailable_error("webhook: receive failed");
  }
  return ok_status();
}

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  }
  return true;
}

// Parses the status line and headers; decides how the body is framed.
struct Head {
  int status = 0;
  std::size_t header_end = 0;
  std::optional<std::size_t> content_length{};
  bool chunked = false;
};

bool parse_head(const std::string& buf, Head& head) {
  const auto end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return false;
  head.header_end = end + 4;
  std::string_view h(buf.data(), end);
  if (h.substr(0, 7) != "HTTP/1." || h.size() < 12 || h[8] != ' ') {
    head.status = -1;
    return true;
  }
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(h[i]))) {
      head.status = -1;
      return true;
    }
    status = status * 10 + (h[i] - '0');
  }
  head.status = status;
  std::size_t pos = h.find("\r\n");
  while (pos != std::string_view::npos) {
    const auto next = h.find("\r\n", pos + 2);
    std::string_view line = h.substr(pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
    if (iequals_prefix(line, "content-length:")) {
      std::string_view v = line.substr(15);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      std::size_t n = 0;
      bool ok = !v.empty();
      for (char c : v) {
        if (!std::isdigit(static_cast<unsigned char>(c)) || n > kMaxResponseBodyBytes) {
          ok = c == ' ' && ok;
          break;
        }
        n = n * 10 + static_cast<std::size_t>(c - '0');
      }
      if (ok) head.content_length = n;
    } else if (iequals_prefix(line, "transfer-encoding:")) {
      std::string v(line.substr(18));
      for (auto& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (v.find("chunked") != std::string::npos) head.chunked = true;
    }
    pos = next;
  }
  return true;
}

// Decodes a complete chunked body; nullopt while incomplete, "" + error flag when malformed.
std::optional<std::string> dechunk(std::string_view data, bool& malformed) {
  malformed = false;
  std::string out;
  while (true) {
    const auto eol = data.find("\r\n");
    if (eol == std::string_view::npos) return std::nullopt;
    std::size_t size = 0;
    std::size_t i = 0;
    for (; i < eol && std::isxdigit(static_cast<unsigned char>(data[i])); ++i) {
      if (size > kMaxResponseBodyBytes) {
        malformed = true;
        return std::string();
      }
      size = size * 16 + static_cast<std::size_t>(std::isdigit(static_cast<unsigned char>(data[i]))
                                                      ? data[i] - '0'
                                                      : std::tolower(static_cast<unsigned char>(data[i])) - 'a' + 10);
    }
    if (i == 0) {
      malformed = true;
      return std::string();
    }
    data.remove_prefix(eol + 2);
    if (size == 0) return out;  // trailers ignored
    if (data.size() < size + 2) return std::nullopt;
    out.append(data.substr(0, size));
    data.remove_prefix(size + 2);
    if (out.size() > kMaxResponseBodyBytes) {
      malformed = true;
      return std::string();
    }
  }
}

}  // namespace

PostFunction http_post_function(const DurableStreamsSubscriptionOptions& options) {
  return [options](const WebhookTarget& target, const std::string& body,
                   const std::vector<std::pair<std::string, std::string>>& headers) -> Result<PostResult> {
    const auto deadline = SteadyClock::now() + options.webhook_timeout;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (target.host_is_ip) hints.ai_flags = AI_NUMERICHOST;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(target.port);
    if (::getaddrinfo(target.host.c_str(), port.c_str(), &hints, &found) != 0 || found == nullptr) {
      return unavailable_error("webhook: cannot resolve " + target.host);
    }
    std::unique_ptr<addrinfo, void (*)(addrinfo*)> list(found, ::freeaddrinfo);
    int fd = -1;
    Status last = unavailable_error("webhook: no usable address for " + target.host);
    for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
      char text[INET6_ADDRSTRLEN] = {};
      const void* raw = a->ai_family == AF_INET ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr)
                                                : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
      if (a->ai_family != AF_INET && a->ai_family != AF_INET6) continue;
      if (::inet_ntop(a->ai_family, raw, text, sizeof text) == nullptr) continue;
      if (Status s = check_webhook_address(text, options); !s.ok()) {
        last = s;
        continue;
      }
      last = connect_one(a->ai_addr, a->ai_addrlen, deadline, fd);
    }
    if (fd < 0) return last;
    Socket sock(fd);
    std::string host_header = target.host.find(':') != std::string::npos ? "[" + target.host + "]" : target.host;
    if (target.port != 80) host_header += ":" + port;
    std::string request = "POST " + target.path_and_query + " HTTP/1.1\r\nHost: " + host_header +
                          "\r\nConnection: close\r\nUser-Agent: strata-durable-streams\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n";
    for (const auto& [k, v] : headers) request += k + ": " + v + "\r\n";
    request += "\r\n";
    request += body;
    if (Status s = send_all(sock.fd(), request, deadline); !s.ok()) return s;

    std::string buffer;
    Head head;
    bool closed = false;
    const auto complete = [&](const std::string& buf) {
      if (head.header_end == 0) {
        if (!parse_head(buf, head)) return buf.size() > kMaxResponseHeaderBytes;
        if (head.status < 0) return true;
      }
      if (head.chunked) {
        bool bad = false;
        return dechunk(std::string_view(buf).substr(head.header_end), bad).has_value();
      }
      if (head.content_length) return buf.size() >= head.header_end + *head.content_length;
      return false;  // read to close
    };
    if (Status s = receive(sock.fd(), buffer, deadline, complete, closed); !s.ok()) return s;
    if (head.header_end == 0 && !parse_head(buffer, head)) return unavailable_error("webhook: malformed response");
    if (head.status < 100 || head.status > 599) return unavailable_error("webhook: malformed response");
    PostResult result;
    result.status = head.status;
    std::string_view rest = std::string_view(buffer).substr(head.header_end);
    if (head.chunked) {
      bool bad = false;
      auto decoded = dechunk(rest, bad);
      if (!decoded || bad) return unavailable_error("webhook: malformed chunked response");
      result.body = std::move(*decoded);
    } else if (head.content_length) {
      if (rest.size() < *head.content_length) return unavailable_error("webhook: truncated response");
      result.body.assign(rest.substr(0, *head.content_length));
    } else {
      if (!closed) return unavailable_error("webhook: response timed out");
      result.body.assign(rest.substr(0, kMaxResponseBodyBytes));
    }
    return result;
  };
}

}  // namespace strata::net::detail::subs
