// The resuming WebSocket client (strata/net/client.h). One I/O thread owns the socket: it
// connects with backoff, resubscribes every subscription from its last offset, resends
// unacknowledged appends (same producer sequence, so the server deduplicates), and drops
// events at or below each subscription's last offset.
#include <strata/net/client.h>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <nlohmann/json.hpp>

#include "net/websocket.h"
#include "net/wire.h"

namespace strata::net {
namespace {

using nlohmann::json;
using Steady = std::chrono::steady_clock;

struct Url {
  std::string host;
  std::string port;
  std::string path;
};

Status parse_url(std::string_view url, Url& out) {
  constexpr std::string_view kScheme = "ws://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return invalid_argument_error("client url must start with ws:// (wss: use a TLS proxy)");
  }
  url.remove_prefix(kScheme.size());
  auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  out.path = slash == std::string_view::npos ? "/v1/ws" : std::string(url.substr(slash));
  auto colon = authority.rfind(':');
  if (colon == std::string_view::npos) {
    out.host = std::string(authority);
    out.port = "80";
  } else {
    out.host = std::string(authority.substr(0, colon));
    out.port = std::string(authority.substr(colon + 1));
  }
  if (out.host.empty() || out.port.empty()) return invalid_argument_error("client url needs a host");
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(out.port.data(), out.port.data() + out.port.size(), port);
  if (ec != std::errc() || ptr != out.port.data() + out.port.size() || port == 0 || port > 65535) {
    return invalid_argument_error("client url has a bad port");
  }
  return ok_status();
}

StatusCode code_from_wire(std::string_view code) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kUnauthenticated); ++c) {
    if (detail::wire_code(static_cast<StatusCode>(c)) == code) return static_cast<StatusCode>(c);
  }
  return StatusCode::kUnknown;
}

session::Event event_from_json(const json& j) {
  session::Event e;
  e.offset = j.value("offset", session::Offset{0});
  e.type = j.value("type", "");
  e.producer = j.value("producer", "");
  e.run_id = j.value("run_id", "");
  e.parent_run_id = j.value("parent_run_id", "");
  e.message_id = j.value("message_id", "");
  e.payload = j.contains("payload") ? j["payload"].dump() : "{}";
  e.timestamp_ms = j.value("ts", std::int64_t{0});
  return e;
}

class ClientImpl;

struct SubState {
  std::string session;
  std::function<void(const session::Event&)> on_event;
  std::function<void(const Status&)> on_close;
  std::mutex delivery;  // held while a handler runs
  std::atomic<bool> closed{false};
  std::atomic<session::Offset> last{0};
  std::mutex epoch_mu;
  std::string epoch;
};

struct Pending {
  std::string text;       // the request message
  bool retry = false;     // resend after a reconnect (idempotent appends)
  bool sent = false;      // sent on the current connection
  Steady::time_point deadline;
  std::promise<Result<json>> reply;
};

class ClientImpl final : public Client, public std::enable_shared_from_this<ClientImpl> {
 public:
  ClientImpl(ClientOptions options, Url url) : options_(std::move(options)), url_(std::move(url)) {
    std::random_device rd;
    rng_.seed(rd());
    if (options_.producer.empty()) options_.producer = "client-" + std::to_string(rng_());
    if (options_.producer_epoch == 0) {
      options_.producer_epoch = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count());
    }
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }

  ~ClientImpl() override {
    stopping_.store(true);
    wake();
    if (thread_.joinable()) thread_.join();
    if (wake_fd_ >= 0) ::close(wake_fd_);
    fail_all(cancelled_error("client closed"));
  }

  void start() {
    thread_ = std::thread([this] { run(); });
  }

  std::unique_ptr<ClientSubscription> subscribe(std::string_view session, ClientSubscribeOptions options,
                                                std::function<void(const session::Event&)> on_event,
                                                std::function<void(const Status&)> on_close) override;

  Result<ClientAppendResult> append(std::string_view session, std::vector<session::EventDraft> events) override {
    std::lock_guard serial(append_mu_);  // one append in flight keeps producer sequences gap-free
    json request = {{"op", "append"}, {"session", session}, {"producer", options_.producer},
                    {"producer_epoch", options_.producer_epoch}, {"seq", next_seq_}};
    json list = json::array();
    for (auto& e : events) {
      json item = {{"type", e.type}};
      json payload = json::parse(e.payload, nullptr, false);
      if (payload.is_discarded()) return invalid_argument_error("event payload is not valid JSON");
      item["payload"] = std::move(payload);
      if (!e.run_id.empty()) item["run_id"] = e.run_id;
      if (!e.parent_run_id.empty()) item["parent_run_id"] = e.parent_run_id;
      if (!e.message_id.empty()) item["message_id"] = e.message_id;
      list.push_back(std::move(item));
    }
    request["events"] = std::move(list);
    auto reply = call(std::move(request), /*retry=*/true);
    if (!reply.ok()) return reply.status();
    ++next_seq_;
    ClientAppendResult r;
    r.first_offset = reply->value("first", session::Offset{0});
    r.last_offset = reply->value("last", session::Offset{0});
    r.duplicate = reply->value("duplicate", false);
    return r;
  }

  Result<session::Offset> cancel(std::string_view session, std::string_view run_id, std::string_view reason) override {
    auto reply = call({{"op", "cancel"}, {"session", session}, {"run_id", run_id}, {"reason", reason}}, false);
    if (!reply.ok()) return reply.status();
    return reply->value("offset", session::Offset{0});
  }

  Result<session::Offset> steer(std::string_view session, std::string_view run_id, std::string_view input) override {
    json parsed = json::parse(input, nullptr, false);
    if (parsed.is_discarded()) return invalid_argument_error("steering input is not valid JSON");
    auto reply = call({{"op", "steer"}, {"session", session}, {"run_id", run_id}, {"input", parsed}}, false);
    if (!reply.ok()) return reply.status();
    return reply->value("offset", session::Offset{0});
  }

  Status join(std::string_view session, std::string_view client_id, std::string_view device) override {
    return call({{"op", "presence"}, {"action", "join"}, {"session", session}, {"client_id", client_id},
                 {"device", device}}, false).status();
  }
  Status leave(std::string_view session, std::string_view client_id) override {
    return call({{"op", "presence"}, {"action", "leave"}, {"session", session}, {"client_id", client_id}}, false)
        .status();
  }
  Result<std::string> snapshot_json(std::string_view session) override {
    auto reply = call({{"op", "snapshot"}, {"session", session}}, false);
    if (!reply.ok()) return reply.status();
    return (*reply)["snapshot"].dump();
  }

  ConnectionState state() const override { return state_.load(); }
  std::uint64_t connections() const override { return connections_.load(); }
  void drop_connection() override {
    drop_.store(true);
    wake();
  }
  const std::string& producer() const override { return options_.producer; }

  void unsubscribe(const std::shared_ptr<SubState>& sub) {
    {
      std::lock_guard lock(mu_);
      auto it = subs_.find(sub->session);
      if (it != subs_.end() && it->second == sub) {
        subs_.erase(it);
        outbox_.push_back(json({{"op", "unsubscribe"}, {"session", sub->session}}).dump());
      }
    }
    wake();
  }

  bool on_io_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  void wake() {
    std::uint64_t one = 1;
    if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
  }

  void set_state(ConnectionState s) {
    state_.store(s);
    if (options_.on_state) options_.on_state(s);
  }

  Result<json> call(json request, bool retry) {
    auto pending = std::make_shared<Pending>();
    std::string id = std::to_string(next_id_.fetch_add(1));
    request["id"] = id;
    pending->text = request.dump();
    pending->retry = retry;
    pending->deadline = Steady::now() + options_.request_timeout;
    auto future = pending->reply.get_future();
    {
      std::lock_guard lock(mu_);
      if (stopping_.load()) return cancelled_error("client closed");
      pending_[id] = pending;
      if (state_.load() == ConnectionState::kConnected) {
        pending->sent = true;
        outbox_.push_back(pending->text);
      }
    }
    wake();
    if (future.wait_for(options_.request_timeout + std::chrono::seconds(1)) != std::future_status::ready) {
      std::lock_guard lock(mu_);
      pending_.erase(id);
      return Status(StatusCode::kDeadlineExceeded, "no reply from the server in time");
    }
    return future.get();
  }

  void fail_all(const Status& why) {
    std::map<std::string, std::shared_ptr<Pending>> pending;
    {
      std::lock_guard lock(mu_);
      pending.swap(pending_);
    }
    for (auto& [id, p] : pending) p->reply.set_value(why);
  }

  // --- I/O thread ---------------------------------------------------------------------------

  void run() {
    std::chrono::milliseconds backoff = options_.initial_backoff;
    while (!stopping_.load()) {
      set_state(ConnectionState::kConnecting);
      int fd = open_connection();
      if (fd < 0) {
        // Exponential backoff with jitter, interruptible by close.
        std::uniform_real_distribution<double> jitter(0.5, 1.0);
        auto delay = std::chrono::milliseconds(static_cast<long>(backoff.count() * jitter(rng_)));
        set_state(ConnectionState::kDisconnected);
        wait_wake(delay);
        backoff = std::min(backoff * 2, options_.max_backoff);
        continue;
      }
      backoff = options_.initial_backoff;
      connections_.fetch_add(1);
      serve(fd);
      ::close(fd);
      on_disconnect();
    }
    set_state(ConnectionState::kClosed);
  }

  void wait_wake(std::chrono::milliseconds delay) {
    pollfd p{wake_fd_, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(delay.count()));
    std::uint64_t n;
    while (::read(wake_fd_, &n, sizeof n) > 0) {
    }
  }

  // Connects and performs the WebSocket handshake; -1 on failure.
  int open_connection() {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (::getaddrinfo(url_.host.c_str(), url_.port.c_str(), &hints, &found) != 0) return -1;
    int fd = -1;
    for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
      fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
        ::close(fd);
        fd = -1;
      }
    }
    ::freeaddrinfo(found);
    if (fd < 0) return -1;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string key_bytes(16, '\0');
    for (auto& c : key_bytes) c = static_cast<char>(rng_());
    std::string key = detail::base64_encode(key_bytes);
    std::string request = "GET " + url_.path + " HTTP/1.1\r\nHost: " + url_.host + ":" + url_.port +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                          "Sec-WebSocket-Key: " + key + "\r\n";
    if (!options_.token.empty()) request += "Authorization: Bearer " + options_.token + "\r\n";
    request += "\r\n";
    if (!send_all(fd, request)) {
      ::close(fd);
      return -1;
    }
    // Read the response head (bounded, with a deadline).
    std::string head;
    auto deadline = Steady::now() + std::chrono::seconds(10);
    while (head.find("\r\n\r\n") == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now()).count();
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || head.size() > 16384 || ::poll(&p, 1, static_cast<int>(left)) <= 0) {
        ::close(fd);
        return -1;
      }
      char c;
      // One byte at a time: frames may follow the head immediately and must stay unread.
      if (::recv(fd, &c, 1, 0) != 1) {
        ::close(fd);
        return -1;
      }
      head.push_back(c);
    }
    if (head.rfind("HTTP/1.1 101", 0) != 0 ||
        head.find(detail::websocket_accept(key)) == std::string::npos) {
      ::close(fd);
      return -1;
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
  }

  static bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  void queue_frame(std::string& out, std::uint8_t opcode, std::string_view payload) {
    std::uint32_t mask = static_cast<std::uint32_t>(rng_()) | 1u;  // never 0: client frames are masked
    detail::append_ws_frame(out, opcode, payload, mask);
  }

  void serve(int fd) {
    std::string out;
    {
      std::lock_guard lock(mu_);
      outbox_.clear();
      // Resume every subscription from its last offset, then resend what needs resending.
      for (auto& [session, sub] : subs_) {
        json s = {{"op", "subscribe"}, {"id", "sub:" + session}, {"session", session}, {"from", sub->last.load()}};
        std::lock_guard epoch_lock(sub->epoch_mu);
        if (!sub->epoch.empty()) s["epoch"] = sub->epoch;
        queue_frame(out, detail::ws_opcode::kText, s.dump());
      }
      for (auto& [id, p] : pending_) {
        p->sent = true;
        queue_frame(out, detail::ws_opcode::kText, p->text);
      }
      // Under the lock: from here on subscribe() and call() queue their own messages.
      state_.store(ConnectionState::kConnected);
    }
    if (options_.on_state) options_.on_state(ConnectionState::kConnected);
    detail::WsReader reader(options_.max_message_bytes, /*expect_masked=*/false);
    char buffer[65536];
    while (!stopping_.load() && !drop_.exchange(false)) {
      {
        std::lock_guard lock(mu_);
        while (!outbox_.empty()) {
          queue_frame(out, detail::ws_opcode::kText, outbox_.front());
          outbox_.pop_front();
        }
      }
      pollfd polls[2] = {{fd, static_cast<short>(POLLIN | (out.empty() ? 0 : POLLOUT)), 0}, {wake_fd_, POLLIN, 0}};
      if (::poll(polls, 2, 200) < 0 && errno != EINTR) return;
      if (polls[1].revents & POLLIN) {
        std::uint64_t n;
        while (::read(wake_fd_, &n, sizeof n) > 0) {
        }
      }
      if (!out.empty()) {
        ssize_t n = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return;
        if (n > 0) out.erase(0, static_cast<std::size_t>(n));
      }
      if (polls[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n == 0) return;
        if (n < 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) continue;
          return;
        }
        std::string_view data(buffer, static_cast<std::size_t>(n));
        while (!data.empty()) {
          detail::WsEvent e;
          data.remove_prefix(reader.feed(data, e));
          if (e.kind == detail::WsEvent::Kind::kNone) break;
          if (e.kind == detail::WsEvent::Kind::kText) {
            handle(e.data);
          } else if (e.kind == detail::WsEvent::Kind::kPing) {
            queue_frame(out, detail::ws_opcode::kPong, e.data);
          } else if (e.kind == detail::WsEvent::Kind::kClose || e.kind == detail::WsEvent::Kind::kError) {
            return;  // 1012 and friends: reconnect and resume
          }
        }
      }
      expire_requests();
    }
  }

  void expire_requests() {
    auto now = Steady::now();
    std::vector<std::shared_ptr<Pending>> expired;
    {
      std::lock_guard lock(mu_);
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second->deadline <= now) {
          expired.push_back(it->second);
          it = pending_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& p : expired) p->reply.set_value(Status(StatusCode::kDeadlineExceeded, "no reply from the server in time"));
  }

  void on_disconnect() {
    set_state(ConnectionState::kDisconnected);
    // Requests that are not safe to repeat fail; appends wait for the next connection.
    std::vector<std::shared_ptr<Pending>> failed;
    {
      std::lock_guard lock(mu_);
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second->sent && !it->second->retry) {
          failed.push_back(it->second);
          it = pending_.erase(it);
        } else {
          it->second->sent = false;
          ++it;
        }
      }
    }
    for (auto& p : failed) p->reply.set_value(unavailable_error("connection lost before the server replied"));
  }

  std::shared_ptr<SubState> find_sub(const std::string& session) {
    std::lock_guard lock(mu_);
    auto it = subs_.find(session);
    return it == subs_.end() ? nullptr : it->second;
  }

  void handle(std::string_view text) {
    json m = json::parse(text, nullptr, false);
    if (!m.is_object()) return;
    const std::string op = m.value("op", "");
    if (op == "event") {
      auto sub = find_sub(m.value("session", ""));
      if (!sub || !m.contains("event") || !m["event"].is_object()) return;
      session::Event e = event_from_json(m["event"]);
      std::lock_guard delivery(sub->delivery);
      if (sub->closed.load() || e.offset <= sub->last.load()) return;  // dedup by offset
      sub->last.store(e.offset);
      if (sub->on_event) sub->on_event(e);
      return;
    }
    if (op == "subscribed") {
      if (auto sub = find_sub(m.value("session", ""))) {
        std::lock_guard lock(sub->epoch_mu);
        sub->epoch = m.value("epoch", "");
      }
      return;
    }
    if (op == "closed") {
      auto sub = find_sub(m.value("session", ""));
      if (!sub) return;
      Status why(code_from_wire(m.value("code", "unknown")), m.value("message", ""));
      if (why.code() == StatusCode::kUnavailable) {
        // Slow consumer or shutdown: follow again from where we are.
        json s = {{"op", "subscribe"}, {"id", "sub:" + sub->session}, {"session", sub->session},
                  {"from", sub->last.load()}};
        std::lock_guard lock(mu_);
        outbox_.push_back(s.dump());
        return;
      }
      end_subscription(sub, why);
      return;
    }
    std::string id = m.contains("id") && m["id"].is_string() ? m["id"].get<std::string>() : "";
    if (op == "error" && id.rfind("sub:", 0) == 0) {
      // A subscribe the server refused (not found, data loss, permission) ends it for good.
      if (auto sub = find_sub(id.substr(4))) {
        end_subscription(sub, Status(code_from_wire(m.value("code", "unknown")), m.value("message", "")));
      }
      return;
    }
    if (op == "error" && id.empty()) return;
    std::shared_ptr<Pending> pending;
    {
      std::lock_guard lock(mu_);
      auto it = pending_.find(id);
      if (it == pending_.end()) return;
      pending = it->second;
      pending_.erase(it);
    }
    if (op == "error") {
      pending->reply.set_value(Status(code_from_wire(m.value("code", "unknown")), m.value("message", "")));
    } else {
      pending->reply.set_value(std::move(m));
    }
  }

  void end_subscription(const std::shared_ptr<SubState>& sub, const Status& why) {
    {
      std::lock_guard lock(mu_);
      auto it = subs_.find(sub->session);
      if (it != subs_.end() && it->second == sub) subs_.erase(it);
    }
    std::lock_guard delivery(sub->delivery);
    if (sub->closed.exchange(true)) return;
    if (sub->on_close) sub->on_close(why);
  }

  friend class SubscriptionImpl;
  ClientOptions options_;
  Url url_;
  std::mt19937_64 rng_;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> drop_{false};
  std::atomic<ConnectionState> state_{ConnectionState::kConnecting};
  std::atomic<std::uint64_t> connections_{0};
  std::atomic<std::uint64_t> next_id_{1};
  std::mutex append_mu_;
  std::uint64_t next_seq_ = 0;

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<SubState>> subs_;
  std::map<std::string, std::shared_ptr<Pending>> pending_;
  std::deque<std::string> outbox_;
};

class SubscriptionImpl final : public ClientSubscription {
 public:
  SubscriptionImpl(ClientImpl* client, std::shared_ptr<SubState> state)
      : client_(client), state_(std::move(state)) {}
  ~SubscriptionImpl() override { close(); }
  void close() override {
    if (state_->closed.exchange(true)) return;
    client_->unsubscribe(state_);
    // Wait out a handler in progress, unless we are inside one.
    if (!client_->on_io_thread()) std::lock_guard wait(state_->delivery);
  }
  session::Offset last_offset() const override { return state_->last.load(); }
  std::string epoch() const override {
    std::lock_guard lock(state_->epoch_mu);
    return state_->epoch;
  }

 private:
  ClientImpl* client_;
  std::shared_ptr<SubState> state_;
};

std::unique_ptr<ClientSubscription> ClientImpl::subscribe(std::string_view session, ClientSubscribeOptions options,
                                                          std::function<void(const session::Event&)> on_event,
                                                          std::function<void(const Status&)> on_close) {
  auto sub = std::make_shared<SubState>();
  sub->session = std::string(session);
  sub->on_event = std::move(on_event);
  sub->on_close = std::move(on_close);
  sub->last.store(options.from);
  sub->epoch = options.epoch;
  std::shared_ptr<SubState> replaced;
  {
    std::lock_guard lock(mu_);
    auto& slot = subs_[sub->session];
    replaced = slot;
    slot = sub;
    json s = {{"op", "subscribe"}, {"id", "sub:" + sub->session}, {"session", sub->session},
              {"from", options.from}};
    if (!options.epoch.empty()) s["epoch"] = options.epoch;
    if (state_.load() == ConnectionState::kConnected) outbox_.push_back(s.dump());
  }
  if (replaced) replaced->closed.store(true);
  wake();
  return std::make_unique<SubscriptionImpl>(this, std::move(sub));
}

}  // namespace

Result<std::unique_ptr<Client>> Client::connect(ClientOptions options) {
  Url url;
  STRATA_RETURN_IF_ERROR(parse_url(options.url, url));
  if (options.initial_backoff.count() <= 0) options.initial_backoff = std::chrono::milliseconds(1);
  if (options.max_backoff < options.initial_backoff) options.max_backoff = options.initial_backoff;
  auto client = std::make_unique<ClientImpl>(std::move(options), std::move(url));
  client->start();
  return std::unique_ptr<Client>(std::move(client));
}

}  // namespace strata::net
