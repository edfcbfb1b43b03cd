// strata_net_bench — the network server's fan-out throughput, latency and memory per idle
// connection, each figure printed next to Redis pub/sub (measured in the same run) or the
// target.
//
//   strata_net_bench [--quick] [--only fanout|latency|memory] [--threads N]
//                    [--delivery-threads N] [--window N] [--no-redis] [--no-strata]
//   strata_net_bench --serve [--threads N]    # the server alone (child of the memory part)
//
//   1. Fan-out: a Hub (memory store) and strata::net::Server in this process; 1,000 WebSocket
//      subscribers of one session over loopback, all served by one client thread (raw
//      non-blocking sockets, epoll; frames are counted from their headers and the event's
//      offset is read from a fixed position of the payload — no JSON parsing). One appender
//      appends batches as fast as the subscribers keep up (at most --window events ahead of
//      the average subscriber). Deliveries/s = events x subscribers / time until the last
//      delivery. Target >= 1,000,000/s. Every subscriber must get every event, in order,
//      once. Baseline: redis-server pub/sub, 1,000 RESP subscribers, one pipelining publisher
//      of payloads as large as strata's event frames, the same window.
//   2. Latency: appends paced at `latency_rate` events/s to one session with
//      `latency_subscribers` subscribers; the steady clock (ns) at append time is in the
//      payload and is read at the receiver. p50/p99 over every delivery. Target p99 <= 5 ms.
//      The same paced run against Redis.
//   3. Memory per idle WebSocket connection: the server runs as a child process
//      (`--serve`); RSS after opening N idle subscribed connections minus RSS before, / N.
//      Target <= 16 KiB.
//
// --quick runs small sizes (CI smoke run). The exit status is non-zero if anything failed (a
// lost, duplicated or out-of-order delivery, a setup error); a missed performance target is
// reported in the table but is not a failure. Redis missing is a failure of the baseline
// rows (install it: apt-get install -y redis-server) unless --no-redis is given.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <strata/net/server.h>
#include <strata/session/hub.h>

#include "net/websocket.h"

#ifndef STRATA_BENCH_BUILD_TYPE
#define STRATA_BENCH_BUILD_TYPE ""
#endif

namespace ss = strata::session;
namespace sn = strata::net;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

// ---- configuration ----------------------------------------------------------------------

constexpr std::size_t kBatch = 64;                // events per append_batch / PUBLISH burst
// Events the flat-out publisher may run ahead of the average subscriber (--window).
std::size_t g_window = 2048;
constexpr std::size_t kMaxConnecting = 256;       // connections being set up at once
constexpr double kFanoutTarget = 1'000'000.0;     // deliveries/s
constexpr double kLatencyP99Target = 5e-3;        // s
constexpr double kIdleBytesTarget = 16.0 * 1024;  // per connection
constexpr std::string_view kWsKey = "dGhlIHNhbXBsZSBub25jZQ==";

struct Sizes {
  std::size_t fanout_subscribers;
  double fanout_seconds;
  std::size_t latency_subscribers;
  std::size_t latency_rate;  // appended events/s
  double latency_seconds;
  std::size_t idle_connections;
};

// Latency: 10 subscribers x 10,000 events/s = 100,000 deliveries/s.
constexpr Sizes kFullSizes{1000, 10.0, 10, 10'000, 5.0, 10'000};
constexpr Sizes kQuickSizes{100, 2.0, 10, 10'000, 1.0, 1'000};

// ---- failures and the report -------------------------------------------------------------

std::mutex g_failures_mu;
std::vector<std::string> g_failures;

void record_failure(std::string what) {
  std::lock_guard lock(g_failures_mu);
  fmt::print(stderr, "FAILURE: {}\n", what);
  g_failures.push_back(std::move(what));
}

struct Fatal : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <typename T>
T take(strata::Result<T> r, std::string_view what) {
  if (!r.ok()) throw Fatal(fmt::format("{}: {}", what, r.status().to_string()));
  return std::move(r).value();
}

struct Row {
  std::string name;
  std::string result;
  std::string reference;
  std::string ratio;
  std::string verdict;
};

struct Section {
  std::string title;
  std::vector<Row> rows;
  std::vector<std::string> notes;
};

std::vector<Section> g_sections;

Section& section(std::string title) {
  g_sections.push_back(Section{std::move(title), {}, {}});
  return g_sections.back();
}

void progress(std::string_view line) {
  fmt::print(stderr, "  .. {}\n", line);
  std::fflush(stderr);
}

// ---- formatting --------------------------------------------------------------------------

std::string grouped(std::uint64_t v) {
  const std::string digits = std::to_string(v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    out += digits[i];
    const std::size_t rest = digits.size() - 1 - i;
    if (rest != 0 && rest % 3 == 0) out += ',';
  }
  return out;
}

std::string per_second(double v) { return grouped(static_cast<std::uint64_t>(std::llround(v))) + "/s"; }

std::string duration_text(double seconds) {
  if (seconds < 1e-3) return fmt::format("{:.1f} us", seconds * 1e6);
  if (seconds < 1.0) return fmt::format("{:.2f} ms", seconds * 1e3);
  return fmt::format("{:.2f} s", seconds);
}

std::string factor(double v) {
  if (v >= 100) return fmt::format("{:.0f}x", v);
  if (v >= 10) return fmt::format("{:.1f}x", v);
  return fmt::format("{:.2f}x", v);
}

double seconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             SteadyClock::now().time_since_epoch())
      .count();
}

std::string load_average() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  if (f == nullptr) return "?";
  char buf[128] = {};
  const std::size_t got = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  std::string text(buf, got);
  std::size_t cut = 0;
  for (int fields = 0; fields < 3 && cut != std::string::npos; ++fields) {
    cut = text.find(' ', cut == 0 ? 0 : cut + 1);
  }
  return cut == std::string::npos ? text : text.substr(0, cut);
}

// The steady-clock stamp after `"t":` in a payload, or -1.
std::int64_t stamp_in(std::string_view payload) {
  const auto key = payload.find("\"t\":");
  if (key == std::string_view::npos) return -1;
  std::int64_t v = -1;
  std::from_chars(payload.data() + key + 4, payload.data() + payload.size(), v);
  return v;
}

// ---- sockets -----------------------------------------------------------------------------

void raise_fd_limit(std::size_t wanted) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur >= wanted) return;
  rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, static_cast<rlim_t>(wanted));
  setrlimit(RLIMIT_NOFILE, &rl);
}

std::size_t fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  return static_cast<std::size_t>(rl.rlim_cur);
}

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// Closes with RST so that thousands of benchmark connections leave no TIME_WAIT behind.
void close_abortive(int fd) {
  linger l{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  ::close(fd);
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a = loopback(0);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    throw Fatal("cannot find a free port");
  }
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// ---- the subscriber side: many connections, one thread, epoll ------------------------------

enum class Proto { kWebSocket, kResp };

struct Conn {
  int fd = -1;
  enum class State { kConnecting, kHandshake, kOpen, kDead } state = State::kConnecting;
  std::string out;
  std::size_t out_pos = 0;
  bool want_out = false;
  std::string handshake;  // WebSocket: the response headers so far
  bool subscribed = false;
  bool keep_payload = false;  // latency runs: keep whole payloads to read the stamp
  std::uint64_t events = 0;
  std::uint64_t last_offset = 0;
  std::uint64_t order_errors = 0;
  std::uint64_t payload_bytes = 0;
  // WebSocket frame in progress.
  unsigned char header[14] = {};
  std::uint8_t header_have = 0;
  std::uint8_t header_need = 2;
  bool in_payload = false;
  std::uint64_t payload_left = 0;
  std::string prefix;  // first bytes of the payload (or all of it with keep_payload)
  // RESP push in progress.
  std::string line;
  bool in_bulk = false;
  std::int64_t bulk_left = 0;
  std::int64_t elements = 0;
  std::int64_t element = 0;
  std::string kind;  // first element: "message" / "subscribe"
};

class Subscribers {
 public:
  Subscribers(Proto proto, std::uint16_t port, std::string session)
      : proto_(proto), port_(port), session_(std::move(session)) {
    epoll_ = epoll_create1(0);
    if (epoll_ < 0) throw Fatal("epoll_create1 failed");
    buffer_.resize(256 * 1024);
  }
  ~Subscribers() {
    for (auto& c : conns_) {
      if (c.fd >= 0) close_abortive(c.fd);
    }
    ::close(epoll_);
  }
  Subscribers(const Subscribers&) = delete;
  Subscribers& operator=(const Subscribers&) = delete;

  // Opens `n` connections (at most kMaxConnecting in setup at once) and subscribes each;
  // returns when all are subscribed. Fatal on a failure or after `timeout`.
  void open(std::size_t n, std::size_t keep_payload, std::chrono::seconds timeout) {
    conns_.resize(n);
    const auto deadline = SteadyClock::now() + timeout;
    std::size_t started = 0;
    while (true) {
      while (started < n && setting_up_ < kMaxConnecting) {
        start(started, started < keep_payload);
        ++started;
      }
      if (subscribed_ == n) break;
      if (SteadyClock::now() > deadline) {
        throw Fatal(fmt::format("only {} of {} connections subscribed within {} s ({} dead)",
                                subscribed_, n, timeout.count(), dead_));
      }
      if (dead_ != 0) throw Fatal(fmt::format("{} connections failed during setup: {}", dead_, first_error_));
      poll(10);
    }
  }

  // Runs the loop on the calling thread until `stop` is set.
  void run(const std::atomic<bool>& stop) {
    while (!stop.load(std::memory_order_relaxed)) poll(5);
  }

  // Events received over every connection (published after each poll round).
  [[nodiscard]] std::uint64_t received() const { return received_.load(std::memory_order_acquire); }
  [[nodiscard]] std::int64_t last_receive_ns() const { return last_receive_ns_.load(std::memory_order_acquire); }
  [[nodiscard]] const std::vector<Conn>& conns() const { return conns_; }
  [[nodiscard]] std::vector<std::int64_t>& latencies() { return latencies_; }
  [[nodiscard]] std::size_t dead() const { return dead_; }
  [[nodiscard]] const std::string& first_error() const { return first_error_; }
  [[nodiscard]] std::uint64_t unexpected() const { return unexpected_; }

  void close_all() {
    for (auto& c : conns_) {
      if (c.fd >= 0) close_abortive(c.fd);
      c.fd = -1;
    }
  }

 private:
  void start(std::size_t i, bool keep) {
    Conn& c = conns_[i];
    c.keep_payload = keep;
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c.fd < 0) throw Fatal(fmt::format("socket(): {} (fd limit {})", std::strerror(errno), fd_limit()));
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in a = loopback(port_);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 && errno != EINPROGRESS) {
      throw Fatal(fmt::format("connect(): {}", std::strerror(errno)));
    }
    ++setting_up_;
    c.state = Conn::State::kConnecting;
    if (proto_ == Proto::kWebSocket) {
      c.out = fmt::format(
          "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n\r\n",
          port_, kWsKey);
    } else {
      c.out = fmt::format("*2\r\n$9\r\nSUBSCRIBE\r\n${}\r\n{}\r\n", session_.size(), session_);
      c.state = Conn::State::kOpen;  // RESP has no handshake: the SUBSCRIBE reply says it all
    }
    c.want_out = true;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u64 = i;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev);
  }

  void fail(Conn& c, std::string why) {
    if (c.state == Conn::State::kDead) return;
    if (first_error_.empty()) first_error_ = std::move(why);
    if (!c.subscribed) --setting_up_;
    c.state = Conn::State::kDead;
    ++dead_;
    epoll_ctl(epoll_, EPOLL_CTL_DEL, c.fd, nullptr);
  }

  void set_out(Conn& c, std::size_t i, bool on) {
    if (c.want_out == on) return;
    c.want_out = on;
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
    ev.data.u64 = i;
    epoll_ctl(epoll_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void flush(Conn& c, std::size_t i) {
    while (c.out_pos < c.out.size()) {
      const ssize_t n = ::send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_pos += static_cast<std::size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        set_out(c, i, true);
        return;
      } else {
        return fail(c, fmt::format("send(): {}", std::strerror(errno)));
      }
    }
    c.out.clear();
    c.out_pos = 0;
    set_out(c, i, false);
  }

  void queue(Conn& c, std::size_t i, std::string_view bytes) {
    c.out.append(bytes);
    flush(c, i);
  }

  void poll(int timeout_ms) {
    epoll_event events[512];
    const int n = epoll_wait(epoll_, events, 512, timeout_ms);
    for (int k = 0; k < n; ++k) {
      const std::size_t i = events[k].data.u64;
      Conn& c = conns_[i];
      if (c.state == Conn::State::kDead) continue;
      if (events[k].events & (EPOLLERR | EPOLLHUP)) {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        fail(c, fmt::format("connection error: {}", err != 0 ? std::strerror(err) : "hang-up"));
        continue;
      }
      if (events[k].events & EPOLLOUT) flush(c, i);
      if (c.state != Conn::State::kDead && (events[k].events & EPOLLIN)) read(c, i);
    }
    if (round_events_ != 0) {
      received_.fetch_add(round_events_, std::memory_order_release);
      last_receive_ns_.store(steady_ns(), std::memory_order_release);
      round_events_ = 0;
    }
  }

  void read(Conn& c, std::size_t i) {
    const ssize_t n = ::recv(c.fd, buffer_.data(), buffer_.size(), 0);
    if (n == 0) return fail(c, "the peer closed the connection");
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return fail(c, fmt::format("recv(): {}", std::strerror(errno)));
    }
    std::string_view data(buffer_.data(), static_cast<std::size_t>(n));
    if (proto_ == Proto::kResp) return parse_resp(c, data);
    if (c.state == Conn::State::kConnecting || c.state == Conn::State::kHandshake) {
      c.state = Conn::State::kHandshake;
      const std::size_t had = c.handshake.size();
      c.handshake.append(data);
      const auto end = c.handshake.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (c.handshake.size() > 16384) fail(c, "handshake response too long");
        return;
      }
      if (c.handshake.rfind("HTTP/1.1 101", 0) != 0 ||
          c.handshake.find(sn::detail::websocket_accept(kWsKey)) == std::string::npos) {
        return fail(c, "upgrade refused: " + c.handshake.substr(0, c.handshake.find("\r\n")));
      }
      c.state = Conn::State::kOpen;
      data.remove_prefix(end + 4 - had);
      c.handshake = std::string();
      std::string frame;
      sn::detail::append_ws_frame(
          frame, sn::detail::ws_opcode::kText,
          fmt::format(R"({{"op":"subscribe","session":"{}","from":0}})", session_), 0x5a17c3e1u);
      queue(c, i, frame);
      if (c.state == Conn::State::kDead) return;
    }
    parse_ws(c, i, data);
  }

  void parse_ws(Conn& c, std::size_t i, std::string_view data) {
    while (!data.empty() && c.state != Conn::State::kDead) {
      if (!c.in_payload) {
        while (c.header_have < c.header_need && !data.empty()) {
          c.header[c.header_have++] = static_cast<unsigned char>(data.front());
          data.remove_prefix(1);
          if (c.header_have == 2) {
            const unsigned len7 = c.header[1] & 0x7fu;
            if (c.header[1] & 0x80u) return fail(c, "masked frame from the server");
            c.header_need = static_cast<std::uint8_t>(len7 == 126 ? 4 : len7 == 127 ? 10 : 2);
          }
        }
        if (c.header_have < c.header_need) return;
        const unsigned len7 = c.header[1] & 0x7fu;
        std::uint64_t len = len7;
        if (len7 == 126) {
          len = (std::uint64_t{c.header[2]} << 8) | c.header[3];
        } else if (len7 == 127) {
          len = 0;
          for (int b = 2; b < 10; ++b) len = (len << 8) | c.header[b];
        }
        c.payload_left = len;
        c.in_payload = true;
        c.prefix.clear();
        c.header_have = 0;
        c.header_need = 2;
        if (len == 0) finish_ws_frame(c, i);
        continue;
      }
      const std::size_t take_bytes = static_cast<std::size_t>(std::min<std::uint64_t>(c.payload_left, data.size()));
      const bool keep_all = c.keep_payload || (c.header[0] & 0x0fu) >= 0x8u;
      if (keep_all) {
        c.prefix.append(data.substr(0, take_bytes));
      } else if (c.prefix.size() < 96) {
        c.prefix.append(data.substr(0, std::min(take_bytes, 96 - c.prefix.size())));
      }
      c.payload_left -= take_bytes;
      data.remove_prefix(take_bytes);
      if (c.payload_left == 0) finish_ws_frame(c, i);
    }
  }

  void finish_ws_frame(Conn& c, std::size_t i) {
    c.in_payload = false;
    const unsigned opcode = c.header[0] & 0x0fu;
    if (opcode == sn::detail::ws_opcode::kPing) {
      std::string pong;
      sn::detail::append_ws_frame(pong, sn::detail::ws_opcode::kPong, c.prefix, 0x1234abcdu);
      return queue(c, i, pong);
    }
    if (opcode == sn::detail::ws_opcode::kClose) return fail(c, "the server sent a close frame");
    if (opcode != sn::detail::ws_opcode::kText || !(c.header[0] & 0x80u)) {
      ++unexpected_;
      return;
    }
    std::string_view p = c.prefix;
    constexpr std::string_view kEvent = R"({"op":"event",)";
    if (p.substr(0, kEvent.size()) == kEvent) {
      const auto at = p.find("\"offset\":");
      std::uint64_t offset = 0;
      if (at == std::string_view::npos ||
          std::from_chars(p.data() + at + 9, p.data() + p.size(), offset).ec != std::errc()) {
        ++c.order_errors;
      } else if (c.events != 0 && offset != c.last_offset + 1) {
        ++c.order_errors;
      }
      c.last_offset = offset;
      ++c.events;
      ++round_events_;
      if (c.keep_payload) {
        const std::int64_t sent = stamp_in(p);
        if (sent > 0) latencies_.push_back(steady_ns() - sent);
        c.payload_bytes += p.size();
      }
      return;
    }
    if (p.rfind(R"({"op":"subscribed")", 0) == 0) {
      if (!c.subscribed) {
        c.subscribed = true;
        ++subscribed_;
        --setting_up_;
      }
      return;
    }
    ++unexpected_;
    if (first_error_.empty()) first_error_ = "unexpected message: " + std::string(p.substr(0, 200));
  }

  void parse_resp(Conn& c, std::string_view data) {
    while (!data.empty() && c.state != Conn::State::kDead) {
      if (c.in_bulk) {
        const std::size_t take_bytes = static_cast<std::size_t>(std::min<std::int64_t>(c.bulk_left, static_cast<std::int64_t>(data.size())));
        const std::string_view piece = data.substr(0, take_bytes);
        if (c.element == 0) {
          if (c.kind.size() < 16) c.kind.append(piece.substr(0, 16 - c.kind.size()));
        } else if (c.element == 2 && c.keep_payload) {
          c.prefix.append(piece);
        }
        c.bulk_left -= static_cast<std::int64_t>(take_bytes);
        data.remove_prefix(take_bytes);
        if (c.bulk_left == 0) {
          c.in_bulk = false;
          end_resp_element(c);
        }
        continue;
      }
      const auto nl = data.find('\n');
      if (nl == std::string_view::npos) {
        c.line.append(data);
        return;
      }
      c.line.append(data.substr(0, nl + 1));
      data.remove_prefix(nl + 1);
      std::string_view l = c.line;
      if (l.size() < 3) return fail(c, "short RESP line");
      l.remove_suffix(2);  // \r\n
      std::int64_t v = 0;
      std::from_chars(l.data() + 1, l.data() + l.size(), v);
      switch (l.front()) {
        case '*':
          c.elements = v;
          c.element = 0;
          c.kind.clear();
          c.prefix.clear();
          break;
        case '$':
          c.in_bulk = true;
          c.bulk_left = v + 2;  // with its \r\n
          break;
        case ':':
        case '+':
          end_resp_element(c);
          break;
        default:
          return fail(c, "RESP error: " + std::string(l.substr(0, 200)));
      }
      c.line.clear();
    }
  }

  void end_resp_element(Conn& c) {
    if (++c.element < c.elements) return;
    if (c.kind.rfind("message\r\n", 0) == 0) {
      ++c.events;
      ++round_events_;
      if (c.keep_payload) {
        const std::int64_t sent = stamp_in(c.prefix);
        if (sent > 0) latencies_.push_back(steady_ns() - sent);
      }
    } else if (c.kind.rfind("subscribe\r\n", 0) == 0) {
      if (!c.subscribed) {
        c.subscribed = true;
        ++subscribed_;
        --setting_up_;
      }
    } else {
      ++unexpected_;
    }
    c.elements = 0;
    c.element = 0;
  }

  Proto proto_;
  std::uint16_t port_;
  std::string session_;
  int epoll_ = -1;
  std::vector<Conn> conns_;
  std::vector<char> buffer_;
  std::size_t setting_up_ = 0;
  std::size_t subscribed_ = 0;
  std::size_t dead_ = 0;
  std::uint64_t unexpected_ = 0;
  std::string first_error_;
  std::uint64_t round_events_ = 0;
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::int64_t> last_receive_ns_{0};
  std::vector<std::int64_t> latencies_;
};

// ---- the publishing side -----------------------------------------------------------------

// Something that publishes `n` events whose payloads carry the steady-clock stamp.
using Publish = std::function<void(std::size_t n)>;

struct RunResult {
  std::uint64_t events = 0;
  double seconds = 0;  // first publish to last delivery
  bool complete = false;
};

// Publishes as fast as the subscribers keep up (at most --window events ahead of the average
// subscriber) for `seconds`, then waits for every delivery.
RunResult run_flat_out(Subscribers& subs, std::size_t n_subs, double seconds, const Publish& publish) {
  std::atomic<bool> stop{false};
  std::thread loop([&] { subs.run(stop); });
  RunResult r;
  const std::int64_t start_ns = steady_ns();
  const auto start = SteadyClock::now();
  try {
    while (seconds_since(start) < seconds) {
      // Sleep rather than spin: on 2 cores a spinning publisher takes CPU from the server.
      while (r.events > subs.received() / n_subs + g_window) std::this_thread::sleep_for(1ms);
      publish(kBatch);
      r.events += kBatch;
    }
  } catch (...) {
    stop = true;
    loop.join();
    throw;
  }
  const auto deadline = SteadyClock::now() + 120s;
  while (subs.received() < r.events * n_subs && SteadyClock::now() < deadline) std::this_thread::sleep_for(1ms);
  r.complete = subs.received() == r.events * n_subs;
  stop = true;
  loop.join();
  r.seconds = std::max(1e-9, static_cast<double>(subs.last_receive_ns() - start_ns) / 1e9);
  return r;
}

// Publishes `rate` events/s for `seconds` (late events go out in one batch), then waits.
RunResult run_paced(Subscribers& subs, std::size_t n_subs, std::size_t rate, double seconds,
                    const Publish& publish) {
  std::atomic<bool> stop{false};
  std::thread loop([&] { subs.run(stop); });
  RunResult r;
  const auto total = static_cast<std::uint64_t>(std::llround(static_cast<double>(rate) * seconds));
  const auto start = SteadyClock::now();
  const std::int64_t start_ns = steady_ns();
  const auto interval = std::chrono::nanoseconds(1'000'000'000LL / static_cast<long long>(rate));
  try {
    while (r.events < total) {
      std::this_thread::sleep_until(start + interval * static_cast<long long>(r.events + 1));
      const auto due = static_cast<std::uint64_t>((SteadyClock::now() - start) / interval);
      const std::uint64_t n = std::min<std::uint64_t>({due > r.events ? due - r.events : 1, kBatch, total - r.events});
      publish(static_cast<std::size_t>(n));
      r.events += n;
    }
  } catch (...) {
    stop = true;
    loop.join();
    throw;
  }
  const auto deadline = SteadyClock::now() + 60s;
  while (subs.received() < r.events * n_subs && SteadyClock::now() < deadline) std::this_thread::sleep_for(1ms);
  r.complete = subs.received() == r.events * n_subs;
  stop = true;
  loop.join();
  r.seconds = std::max(1e-9, static_cast<double>(subs.last_receive_ns() - start_ns) / 1e9);
  return r;
}

// Every subscriber got every event once, in order.
void verify(const Subscribers& subs, const RunResult& r, std::string_view label) {
  std::size_t wrong_count = 0;
  std::uint64_t order_errors = 0;
  std::string example;
  for (std::size_t i = 0; i < subs.conns().size(); ++i) {
    const Conn& c = subs.conns()[i];
    order_errors += c.order_errors;
    if (c.events != r.events) {
      if (wrong_count++ == 0) example = fmt::format("subscriber {} got {} of {}", i, c.events, r.events);
    }
  }
  if (!r.complete || wrong_count != 0 || order_errors != 0 || subs.dead() != 0 || subs.unexpected() != 0) {
    record_failure(fmt::format(
        "{}: {} of {} subscribers got a wrong count ({}), {} order errors, {} connections died ({}), "
        "{} unexpected messages",
        label, wrong_count, subs.conns().size(), example, order_errors, subs.dead(), subs.first_error(),
        subs.unexpected()));
  }
}

struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;
  std::size_t n = 0;
};

Percentiles percentiles(std::vector<std::int64_t>& v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    const auto idx = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
    return static_cast<double>(v[std::min(idx, v.size() - 1)]) / 1e9;
  };
  p.p50 = at(0.50);
  p.p99 = at(0.99);
  p.max = static_cast<double>(v.back()) / 1e9;
  return p;
}

// ---- strata ------------------------------------------------------------------------------

struct Options {
  std::size_t server_threads = 2;
  std::size_t delivery_threads = 1;
  bool redis = true;
  bool strata = true;  // false: the Redis baseline alone (checking the harness itself)
};

std::unique_ptr<ss::Hub> open_hub(std::size_t delivery_threads) {
  ss::HubOptions options;
  options.store = ss::open_memory_store();
  options.delivery_threads = delivery_threads;
  options.maintenance_interval = 0ms;
  return take(ss::Hub::open(std::move(options)), "open hub");
}

std::unique_ptr<sn::Server> start_server(ss::Hub& hub, std::size_t threads) {
  sn::ServerOptions options;
  options.threads = threads;
  return take(sn::Server::start(hub, options), "start server");
}

Publish strata_publisher(ss::Hub& hub, const std::string& session, std::size_t& errors, std::string& first_error) {
  ss::AppendOptions options;
  options.producer = "agent";
  return [&hub, session, options, &errors, &first_error](std::size_t n) {
    std::vector<ss::EventDraft> drafts(n);
    const std::string payload = fmt::format(R"({{"text":"token ","t":{}}})", steady_ns());
    for (auto& d : drafts) {
      d.type = std::string(ss::event_types::kMessageDelta);
      d.run_id = "run-1";
      d.message_id = "msg-1";
      d.payload = payload;
    }
    auto r = hub.append_batch(session, std::move(drafts), options);
    if (!r.ok() && errors++ == 0) first_error = r.status().to_string();
    if (!r.ok() && errors > 100) throw Fatal("appends keep failing: " + first_error);
  };
}

struct StrataFigures {
  double fanout_per_s = 0;
  double frame_bytes = 0;  // an event's WebSocket payload
  Percentiles latency;
  Percentiles in_process;  // the same events to a Hub::subscribe callback
};

StrataFigures bench_strata(const Sizes& sizes, const Options& opt, const std::string& only) {
  StrataFigures f;
  auto hub = open_hub(opt.delivery_threads);
  auto server = start_server(*hub, opt.server_threads);
  std::size_t errors = 0;
  std::string first_error;
  if (only.empty() || only == "fanout") {
    (void)take(hub->create("fan"), "create session");
    Subscribers subs(Proto::kWebSocket, server->port(), "fan");
    progress(fmt::format("strata fan-out: opening {} WebSocket subscribers", sizes.fanout_subscribers));
    subs.open(sizes.fanout_subscribers, 1, 60s);
    progress("strata fan-out: appending");
    const RunResult r = run_flat_out(subs, sizes.fanout_subscribers, sizes.fanout_seconds,
                                     strata_publisher(*hub, "fan", errors, first_error));
    verify(subs, r, "strata fan-out");
    f.fanout_per_s = static_cast<double>(r.events * sizes.fanout_subscribers) / r.seconds;
    const Conn& first = subs.conns().front();
    f.frame_bytes = first.events == 0 ? 0 : static_cast<double>(first.payload_bytes) / static_cast<double>(first.events);
    const auto stats = server->stats();
    progress(fmt::format("strata fan-out: {} events x {} subscribers in {:.2f} s = {}, {:.0f} B/frame, "
                         "paused {} resumed {} slow-closed {}",
                         grouped(r.events), sizes.fanout_subscribers, r.seconds, per_second(f.fanout_per_s),
                         f.frame_bytes, stats.subscriptions_paused, stats.subscriptions_resumed,
                         stats.slow_clients_closed));
  }
  if (only.empty() || only == "latency") {
    (void)take(hub->create("lat"), "create session");
    Subscribers subs(Proto::kWebSocket, server->port(), "lat");
    subs.open(sizes.latency_subscribers, sizes.latency_subscribers, 30s);
    progress(fmt::format("strata latency: {} events/s to {} subscribers", sizes.latency_rate,
                         sizes.latency_subscribers));
    // The same events to one in-process subscriber: how much of the latency is the hub's
    // (append -> callback on the delivery thread) and how much the network path's.
    std::vector<std::int64_t> in_process;
    in_process.reserve(static_cast<std::size_t>(static_cast<double>(sizes.latency_rate) * sizes.latency_seconds) + 16);
    auto direct = take(hub->subscribe("lat", ss::SubscribeOptions{},
                                      [&in_process](const ss::Event& e) {
                                        const std::int64_t sent = stamp_in(e.payload);
                                        if (sent > 0) in_process.push_back(steady_ns() - sent);
                                      }),
                       "subscribe in process");
    const RunResult r = run_paced(subs, sizes.latency_subscribers, sizes.latency_rate, sizes.latency_seconds,
                                  strata_publisher(*hub, "lat", errors, first_error));
    const auto direct_deadline = SteadyClock::now() + 10s;
    while (direct->last_delivered() < r.events && SteadyClock::now() < direct_deadline) {
      std::this_thread::sleep_for(1ms);
    }
    direct->close();
    f.in_process = percentiles(in_process);
    if (f.in_process.n != r.events) {
      record_failure(fmt::format("strata latency: the in-process subscriber got {} of {} events", f.in_process.n,
                                 r.events));
    }
    verify(subs, r, "strata latency");
    f.latency = percentiles(subs.latencies());
    if (f.latency.n != r.events * sizes.latency_subscribers) {
      record_failure(fmt::format("strata latency: {} stamps read, {} expected", f.latency.n,
                                 r.events * sizes.latency_subscribers));
    }
    progress(fmt::format("strata latency: p50 {} p99 {} max {}; in-process callback p50 {} p99 {} max {}",
                         duration_text(f.latency.p50), duration_text(f.latency.p99), duration_text(f.latency.max),
                         duration_text(f.in_process.p50), duration_text(f.in_process.p99),
                         duration_text(f.in_process.max)));
  }
  if (errors != 0) record_failure(fmt::format("strata: {} appends failed, first: {}", errors, first_error));
  server->shutdown(1s);
  return f;
}

// ---- Redis -------------------------------------------------------------------------------

class RedisServer {
 public:
  RedisServer() {
    port_ = free_port();
    pid_ = fork();
    if (pid_ < 0) throw Fatal("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive the benchmark
      const std::string port = std::to_string(port_);
      const int devnull = ::open("/dev/null", O_WRONLY);
      if (devnull >= 0) dup2(devnull, STDOUT_FILENO);
      execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--maxclients", "20000", "--client-output-buffer-limit", "pubsub 0 0 0",
             "--loglevel", "warning", "--daemonize", "no", static_cast<char*>(nullptr));
      std::fprintf(stderr, "cannot run redis-server: %s (install it: apt-get install -y redis-server)\n",
                   std::strerror(errno));
      _exit(127);
    }
    const auto deadline = SteadyClock::now() + 10s;
    while (SteadyClock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw Fatal("redis-server did not start (is it installed? apt-get install -y redis-server)");
      }
      const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a = loopback(port_);
      if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0) {
        ::close(fd);
        return;
      }
      ::close(fd);
      std::this_thread::sleep_for(20ms);
    }
    throw Fatal("redis-server did not listen within 10 s");
  }
  ~RedisServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  [[nodiscard]] std::uint16_t port() const { return port_; }

 private:
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// One blocking connection that pipelines PUBLISH commands of `payload_bytes`-byte messages,
// each carrying the stamp, and reads the replies of each burst.
class RedisPublisher {
 public:
  RedisPublisher(std::uint16_t port, std::string channel, std::size_t payload_bytes)
      : channel_(std::move(channel)), payload_bytes_(std::max<std::size_t>(payload_bytes, 32)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(port);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      throw Fatal("cannot connect the Redis publisher");
    }
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~RedisPublisher() { ::close(fd_); }
  RedisPublisher(const RedisPublisher&) = delete;
  RedisPublisher& operator=(const RedisPublisher&) = delete;

  void publish(std::size_t n) {
    std::string payload = fmt::format(R"({{"t":{},"pad":")", steady_ns());
    payload.append(payload_bytes_ > payload.size() + 2 ? payload_bytes_ - payload.size() - 2 : 0, 'x');
    payload += "\"}";
    const std::string command = fmt::format("*3\r\n$7\r\nPUBLISH\r\n${}\r\n{}\r\n${}\r\n{}\r\n", channel_.size(),
                                            channel_, payload.size(), payload);
    out_.clear();
    for (std::size_t i = 0; i < n; ++i) out_ += command;
    std::size_t sent = 0;
    while (sent < out_.size()) {
      const ssize_t w = ::send(fd_, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL);
      if (w <= 0) throw Fatal("PUBLISH send failed");
      sent += static_cast<std::size_t>(w);
    }
    std::size_t replies = 0;
    while (replies < n) {
      char buf[4096];
      const ssize_t got = ::recv(fd_, buf, sizeof(buf), 0);
      if (got <= 0) throw Fatal("PUBLISH reply read failed");
      for (ssize_t k = 0; k < got; ++k) {
        if (buf[k] == '-') throw Fatal("PUBLISH failed: " + std::string(buf + k, static_cast<std::size_t>(got - k)));
        if (buf[k] == '\n') ++replies;
      }
    }
  }

 private:
  int fd_ = -1;
  std::string channel_;
  std::size_t payload_bytes_;
  std::string out_;
};

struct RedisFigures {
  double fanout_per_s = 0;
  Percentiles latency;
};

RedisFigures bench_redis(const Sizes& sizes, std::size_t payload_bytes, const std::string& only) {
  RedisFigures f;
  RedisServer redis;
  if (only.empty() || only == "fanout") {
    Subscribers subs(Proto::kResp, redis.port(), "fan");
    progress(fmt::format("redis fan-out: opening {} subscribers", sizes.fanout_subscribers));
    subs.open(sizes.fanout_subscribers, 0, 60s);
    RedisPublisher pub(redis.port(), "fan", payload_bytes);
    progress("redis fan-out: publishing");
    const RunResult r = run_flat_out(subs, sizes.fanout_subscribers, sizes.fanout_seconds,
                                     [&pub](std::size_t n) { pub.publish(n); });
    verify(subs, r, "redis fan-out");
    f.fanout_per_s = static_cast<double>(r.events * sizes.fanout_subscribers) / r.seconds;
    progress(fmt::format("redis fan-out: {} events x {} subscribers in {:.2f} s = {}", grouped(r.events),
                         sizes.fanout_subscribers, r.seconds, per_second(f.fanout_per_s)));
  }
  if (only.empty() || only == "latency") {
    Subscribers subs(Proto::kResp, redis.port(), "lat");
    subs.open(sizes.latency_subscribers, sizes.latency_subscribers, 30s);
    RedisPublisher pub(redis.port(), "lat", payload_bytes);
    const RunResult r = run_paced(subs, sizes.latency_subscribers, sizes.latency_rate, sizes.latency_seconds,
                                  [&pub](std::size_t n) { pub.publish(n); });
    verify(subs, r, "redis latency");
    f.latency = percentiles(subs.latencies());
    if (f.latency.n != r.events * sizes.latency_subscribers) {
      record_failure(fmt::format("redis latency: {} stamps read, {} expected", f.latency.n,
                                 r.events * sizes.latency_subscribers));
    }
    progress(fmt::format("redis latency: p50 {} p99 {} max {}", duration_text(f.latency.p50),
                         duration_text(f.latency.p99), duration_text(f.latency.max)));
  }
  return f;
}

// ---- memory per idle connection ----------------------------------------------------------

// The server alone, for the memory part: prints its port, serves until stdin closes.
int serve_main(const Options& opt) {
  raise_fd_limit(1 << 20);
  try {
    auto hub = open_hub(opt.delivery_threads);
    (void)take(hub->create("idle"), "create session");
    auto server = start_server(*hub, opt.server_threads);
    fmt::print("{}\n", server->port());
    std::fflush(stdout);
    char c = 0;
    while (::read(STDIN_FILENO, &c, 1) > 0) {
    }
    server->shutdown(1s);
  } catch (const std::exception& e) {
    fmt::print(stderr, "serve: {}\n", e.what());
    return 1;
  }
  return 0;
}

std::size_t rss_bytes(pid_t pid) {
  std::FILE* f = std::fopen(fmt::format("/proc/{}/status", pid).c_str(), "r");
  if (f == nullptr) throw Fatal("cannot read the server's /proc status");
  char line[256];
  std::size_t kib = 0;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) kib = std::strtoull(line + 6, nullptr, 10);
  }
  std::fclose(f);
  return kib * 1024;
}

struct ChildServer {
  pid_t pid = -1;
  int to_child = -1;
  std::uint16_t port = 0;

  ChildServer(const Options& opt) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) throw Fatal("pipe failed");
    pid = fork();
    if (pid < 0) throw Fatal("fork failed");
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      dup2(in[0], STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      ::close(in[1]);
      ::close(out[0]);
      const std::string threads = std::to_string(opt.server_threads);
      const std::string delivery = std::to_string(opt.delivery_threads);
      execl("/proc/self/exe", "strata_net_bench", "--serve", "--threads", threads.c_str(),
            "--delivery-threads", delivery.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    to_child = in[1];
    std::string text;
    char c = 0;
    while (::read(out[0], &c, 1) == 1 && c != '\n') text += c;
    ::close(out[0]);
    if (std::from_chars(text.data(), text.data() + text.size(), port).ec != std::errc() || port == 0) {
      throw Fatal("the --serve child did not report its port");
    }
  }
  ~ChildServer() { (void)finish(); }

  // Closes the child's stdin (it shuts down) and waits up to 5 s; returns its wait status
  // (killed if it did not exit in time), or 0 if it had already been reaped.
  int finish() {
    if (to_child >= 0) ::close(to_child);
    to_child = -1;
    int status = 0;
    if (pid > 0) {
      pid_t got = 0;
      for (int i = 0; i < 500 && (got = waitpid(pid, &status, WNOHANG)) == 0; ++i) std::this_thread::sleep_for(10ms);
      if (got == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
      }
      pid = -1;
    }
    return status;
  }
  ChildServer(const ChildServer&) = delete;
  ChildServer& operator=(const ChildServer&) = delete;
};

double bench_memory(const Sizes& sizes, const Options& opt) {
  raise_fd_limit(sizes.idle_connections + 1024);
  if (fd_limit() < sizes.idle_connections + 64) {
    throw Fatal(fmt::format("RLIMIT_NOFILE {} is too low for {} connections (ulimit -Hn)", fd_limit(),
                            sizes.idle_connections));
  }
  ChildServer child(opt);
  // Warm up: a few connections first, so one-time allocations (thread arenas, buffers) are in
  // the "before" figure.
  {
    Subscribers warm(Proto::kWebSocket, child.port, "idle");
    warm.open(16, 0, 30s);
  }
  std::this_thread::sleep_for(300ms);
  const std::size_t before = rss_bytes(child.pid);
  Subscribers subs(Proto::kWebSocket, child.port, "idle");
  progress(fmt::format("memory: opening {} idle subscribed connections", sizes.idle_connections));
  subs.open(sizes.idle_connections, 0, 120s);
  std::this_thread::sleep_for(500ms);
  const std::size_t after = rss_bytes(child.pid);
  const double per = (static_cast<double>(after) - static_cast<double>(before)) /
                     static_cast<double>(sizes.idle_connections);
  subs.close_all();
  const int status = child.finish();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    record_failure(fmt::format("memory: the --serve child did not exit cleanly (wait status {:#x}; {})", status,
                               WIFSIGNALED(status) ? fmt::format("signal {}", WTERMSIG(status))
                                                   : fmt::format("exit code {}", WEXITSTATUS(status))));
  }
  progress(fmt::format("memory: server RSS {:.1f} MiB -> {:.1f} MiB, {:.2f} KiB per connection",
                       static_cast<double>(before) / 1048576.0, static_cast<double>(after) / 1048576.0,
                       per / 1024));
  return per;
}

// ---- the report --------------------------------------------------------------------------

std::string build_type() {
  std::string t = STRATA_BENCH_BUILD_TYPE;
  if (t.empty()) t = "(none)";
#ifdef NDEBUG
  t += ", NDEBUG";
#else
  t += ", assertions on";
#endif
  return t;
}

void print_table() {
  std::size_t w[4] = {11, 6, 19, 5};
  for (const auto& s : g_sections) {
    for (const auto& r : s.rows) {
      w[0] = std::max(w[0], r.name.size());
      w[1] = std::max(w[1], r.result.size());
      w[2] = std::max(w[2], r.reference.size());
      w[3] = std::max(w[3], r.ratio.size());
    }
  }
  const std::size_t width = w[0] + w[1] + w[2] + w[3] + 2 + 4 * 2 + 16;
  const std::string rule(width, '-');
  fmt::print("\n{:<{}}  {:>{}}  {:<{}}  {:>{}}  {}\n", "Measurement", w[0] + 2, "Result", w[1],
             "Baseline / target", w[2], "Ratio", w[3], "Status");
  for (const auto& s : g_sections) {
    fmt::print("{}\n{}\n", rule, s.title);
    for (const auto& r : s.rows) {
      fmt::print("  {:<{}}  {:>{}}  {:<{}}  {:>{}}  {}\n", r.name, w[0], r.result, w[1],
                 r.reference, w[2], r.ratio, w[3], r.verdict);
    }
    for (const auto& n : s.notes) fmt::print("  note: {}\n", n);
  }
  fmt::print("{}\n", rule);
}

const char* verdict(bool met) { return met ? "pass" : "below target"; }

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  bool serve = false;
  std::string only;
  Options opt;
  auto count_arg = [&](int& i) -> std::size_t {
    std::size_t v = 0;
    const std::string_view s = i + 1 < argc ? argv[++i] : "";
    if (std::from_chars(s.data(), s.data() + s.size(), v).ec != std::errc() || v == 0) {
      fmt::print(stderr, "{} needs a positive number\n", argv[i - 1]);
      std::exit(2);
    }
    return v;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--quick") {
      quick = true;
    } else if (arg == "--serve") {
      serve = true;
    } else if (arg == "--no-redis") {
      opt.redis = false;
    } else if (arg == "--no-strata") {
      opt.strata = false;
    } else if (arg == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (arg == "--threads") {
      opt.server_threads = count_arg(i);
    } else if (arg == "--window") {
      g_window = count_arg(i);
    } else if (arg == "--delivery-threads") {
      opt.delivery_threads = count_arg(i);
    } else if (arg == "--help" || arg == "-h") {
      fmt::print(
          "usage: {} [--quick] [--only fanout|latency|memory] [--threads N] [--delivery-threads N]"
          " [--window N] [--no-redis] [--no-strata]\n"
          "  --quick             small sizes (CI smoke run)\n"
          "  --only              run one part only (for profiling)\n"
          "  --threads           server I/O threads (default 2)\n"
          "  --delivery-threads  hub delivery threads (default 1)\n"
          "  --window            fan-out: events the publisher may run ahead (default 2048)\n"
          "  --no-redis          skip the Redis baseline\n"
          "  --no-strata         skip strata's fan-out and latency runs (the Redis baseline alone)\n"
          "  --serve             run only the server (used by the memory part)\n",
          argv[0]);
      return 0;
    } else {
      fmt::print(stderr, "unknown argument {}; see --help\n", arg);
      return 2;
    }
  }
  if (serve) return serve_main(opt);
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit(1 << 20);

  const Sizes& sizes = quick ? kQuickSizes : kFullSizes;
  const auto start = SteadyClock::now();
  const std::string load_before = load_average();
  fmt::print(stderr, "strata_net_bench ({} sizes) running...\n", quick ? "quick" : "full");

  auto guarded = [](std::string_view name, const std::function<void()>& body) {
    try {
      body();
    } catch (const std::exception& e) {
      record_failure(fmt::format("{}: {}", name, e.what()));
    }
  };

  StrataFigures strata_f;
  RedisFigures redis_f;
  bool have_strata = false;
  bool have_redis = false;
  if (only.empty() || only == "fanout" || only == "latency") {
    if (opt.strata) {
      guarded("strata", [&] {
        strata_f = bench_strata(sizes, opt, only);
        have_strata = true;
      });
    }
    if (opt.redis) {
      guarded("redis baseline", [&] {
        // Redis messages as large as strata's event frames (the whole JSON a client gets).
        const std::size_t bytes = strata_f.frame_bytes > 0 ? static_cast<std::size_t>(strata_f.frame_bytes) : 200;
        redis_f = bench_redis(sizes, bytes, only);
        have_redis = true;
      });
    }
  }
  if (only.empty() || only == "fanout") {
    auto& sec = section(fmt::format("1. Fan-out: 1 session, {} subscribers, flat out for {:.0f} s, loopback",
                                    grouped(sizes.fanout_subscribers), sizes.fanout_seconds));
    if (have_strata) {
      sec.rows.push_back({"strata WebSocket deliveries", per_second(strata_f.fanout_per_s),
                          fmt::format(">= {}", per_second(kFanoutTarget)), factor(strata_f.fanout_per_s / kFanoutTarget),
                          verdict(strata_f.fanout_per_s >= kFanoutTarget)});
    }
    if (have_redis) {
      sec.rows.push_back({"Redis pub/sub deliveries (baseline)", per_second(redis_f.fanout_per_s), "", "", ""});
      if (have_strata) {
        sec.rows.push_back({"strata / Redis", factor(strata_f.fanout_per_s / redis_f.fanout_per_s), "", "", ""});
      }
    }
    sec.notes.push_back(fmt::format(
        "one client thread (epoll) reads every subscriber; the publisher stays at most {} events ahead of the "
        "average subscriber; time = first publish to last delivery; Redis payloads are {:.0f} B like strata's "
        "event frames",
        g_window, strata_f.frame_bytes));
  }
  if (only.empty() || only == "latency") {
    auto& sec = section(fmt::format("2. Latency: {} events/s x {} subscribers = {} deliveries for {:.0f} s",
                                    grouped(sizes.latency_rate), sizes.latency_subscribers,
                                    per_second(static_cast<double>(sizes.latency_rate * sizes.latency_subscribers)),
                                    sizes.latency_seconds));
    if (have_strata) {
      sec.rows.push_back({"strata append -> deliver p50", duration_text(strata_f.latency.p50),
                          have_redis ? "Redis " + duration_text(redis_f.latency.p50) : "", "", ""});
      sec.rows.push_back({"strata append -> deliver p99", duration_text(strata_f.latency.p99),
                          fmt::format("<= {}", duration_text(kLatencyP99Target)), "",
                          verdict(strata_f.latency.p99 <= kLatencyP99Target)});
      sec.rows.push_back({"strata max", duration_text(strata_f.latency.max), "", "", ""});
      sec.rows.push_back({"  of which hub only: append -> callback p50", duration_text(strata_f.in_process.p50), "",
                          "", ""});
      sec.rows.push_back({"  of which hub only: append -> callback p99", duration_text(strata_f.in_process.p99), "",
                          "", ""});
    }
    if (have_redis) {
      sec.rows.push_back({"Redis publish -> deliver p50 (baseline)", duration_text(redis_f.latency.p50), "", "", ""});
      sec.rows.push_back({"Redis publish -> deliver p99 (baseline)", duration_text(redis_f.latency.p99), "", "", ""});
      sec.rows.push_back({"Redis max", duration_text(redis_f.latency.max), "", "", ""});
    }
    sec.notes.push_back(
        "latency = steady clock when the client thread parsed the frame - steady clock in the payload taken just "
        "before append_batch / PUBLISH; over every delivery");
  }
  if (only.empty() || only == "memory") {
    guarded("memory", [&] {
      const double per = bench_memory(sizes, opt);
      auto& sec = section(fmt::format("3. Memory per idle WebSocket connection ({} connections, subscribed)",
                                      grouped(sizes.idle_connections)));
      sec.rows.push_back({"server RSS growth / connection", fmt::format("{:.2f} KiB", per / 1024),
                          fmt::format("<= {:.0f} KiB", kIdleBytesTarget / 1024), factor(per / kIdleBytesTarget),
                          verdict(per <= kIdleBytesTarget)});
      sec.notes.push_back("the server runs in a child process (--serve); VmRSS after - before, 16 warm-up "
                          "connections opened and closed before 'before'");
    });
  }

  fmt::print(
      "strata network benchmark: nproc={}, build={}, mode={}, server threads={}, delivery threads={}, total "
      "{:.1f} s\nload average (1/5/15 min) before: {}, after: {}\n",
      std::thread::hardware_concurrency(), build_type(), quick ? "--quick" : "full", opt.server_threads,
      opt.delivery_threads, seconds_since(start), load_before, load_average());
  print_table();
  if (!g_failures.empty()) {
    fmt::print("FAILED ({}):\n", g_failures.size());
    for (const auto& f : g_failures) fmt::print("  {}\n", f);
    return 1;
  }
  fmt::print("no failures\n");
  return 0;
}
