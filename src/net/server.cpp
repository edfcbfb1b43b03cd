// strata's own HTTP/1.1 + WebSocket + SSE server on Asio, over the ProtocolHandler.
//
// Each connection lives on its own strand. Output from the hub's delivery threads goes
// through ConnectionSink, a locked queue that the strand drains with gathered writes. A
// server-wide one-second ticker drives header/idle timeouts, WebSocket pings and channel
// ticks (heartbeats, slow clients, token expiry), so an idle connection costs no timer.
#include <strata/net/server.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <asio/bind_executor.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/write.hpp>

#include "net/ai_sdk_stream.h"
#include "net/durable_streams.h"
#include "net/http_parser.h"
#include "net/server_impl.h"
#include "net/stream.h"
#include "net/websocket.h"
#include "net/wire.h"

namespace strata::net {
namespace detail {

using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {
constexpr std::size_t kReadBufferBytes = 4096;
constexpr std::size_t kMaxGather = 64;

std::string_view content_type_for(std::string_view path) {
  auto dot = path.rfind('.');
  std::string_view ext = dot == std::string_view::npos ? "" : path.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json") return "application/json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  return "application/octet-stream";
}
}  // namespace

class Connection;

// The OutputSink of one connection. send() may be called from any thread.
class ConnectionSink final : public OutputSink {
 public:
  ConnectionSink(std::weak_ptr<Connection> connection, std::size_t limit)
      : connection_(std::move(connection)), limit_(limit) {}
  void send(std::string data) override;
  [[nodiscard]] std::size_t queued_bytes() const override { return queued_.load(std::memory_order_relaxed); }
  void close(int code, std::string_view reason) override;

  // Raw bytes (HTTP responses, control frames), not framed.
  void send_raw(std::string data, bool front = false);
  bool websocket = false;  // frame send() data as text messages
  bool held = false;       // queue but do not write yet (SSE response headers pending)
  std::atomic<bool> over_limit{false};  // the queue went over the limit since the last relief

  // Strand side.
  std::vector<std::string> take(std::size_t max);
  void wrote(std::size_t bytes);
  void release_hold();
  void discard();

 private:
  friend class Connection;
  void kick();
  std::weak_ptr<Connection> connection_;
  const std::size_t limit_;
  std::mutex mu_;
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool closing_ = false;
  std::atomic<std::size_t> queued_{0};
};

class Connection final : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ServerCore> core, std::unique_ptr<Stream> stream, std::uint64_t id)
      : core_(std::move(core)),
        stream_(std::move(stream)),
        strand_(asio::make_strand(core_->io->get_executor())),
        id_(id),
        parser_(HttpLimits{core_->options.max_header_bytes, core_->options.handler.max_body_bytes}),
        last_activity_(SteadyClock::now()) {}

  void start() {
    sink_ = std::make_shared<ConnectionSink>(weak_from_this(), core_->options.handler.max_send_queue_bytes);
    // TLS handshakes (or, for plain TCP, nothing) before the first read.
    stream_->start(strand_, [self = shared_from_this()](std::error_code ec) {
      if (ec) return self->finish();
      self->read();
    });
  }

  // Strand: drain the sink.
  void write() {
    // One async_write at a time: respond(), send_close() and posted kicks all call write(),
    // and the completion handler calls it again, so a call during a write waits for that.
    if (socket_closed_ || write_in_flight_) return;
    auto chunks = sink_->take(kMaxGather);
    if (chunks.empty()) {
      if (close_after_write_) finish();
      return;
    }
    auto buffers = std::make_shared<std::vector<std::string>>(std::move(chunks));
    std::vector<asio::const_buffer> gather;
    gather.reserve(buffers->size());
    for (const auto& b : *buffers) gather.emplace_back(asio::buffer(b));
    write_in_flight_ = true;
    stream_->write(strand_, std::move(gather), [self = shared_from_this(), buffers](
                                                       std::error_code ec, std::size_t n) {
                        self->write_in_flight_ = false;
                        self->sink_->wrote(n);
                        if (ec) return self->finish();
                        self->last_activity_ = SteadyClock::now();
                        // Back-pressure relief: once a queue that went over the limit has
                        // drained to half, paused subscriptions resume.
                        if (self->channel_ && self->sink_->over_limit.load(std::memory_order_relaxed) &&
                            self->sink_->queued_bytes() <= self->core_->options.handler.max_send_queue_bytes / 2) {
                          self->sink_->over_limit.store(false, std::memory_order_relaxed);
                          self->channel_->on_writable();
                        }
                        self->write();
                      });
  }

  // Strand: a close was requested through the sink (after queued data is written).
  void close_requested() {
    close_after_write_ = true;
    write();
  }

  // Strand: once a second.
  void tick(SteadyClock::time_point now) {
    if (socket_closed_) return;
    if (mode_ == Mode::kHttp) {
      if (close_after_write_) return;
      if (parser_.started()) {
        // Measured from the request's first byte, so trickling bytes does not extend it.
        if (now - request_started_ > core_->options.header_timeout) {
          respond_error(408, "request not received in time");
        }
      } else if (now - last_activity_ > core_->options.idle_timeout) {
        finish();
      }
      return;
    }
    if (channel_) channel_->on_tick();
    if (mode_ == Mode::kWebSocket) {
      const auto interval = core_->options.websocket_ping_interval;
      if (now - last_pong_ > 2 * interval + std::chrono::seconds(1)) {
        send_close(ws_close::kGoingAway, "ping timeout");
      } else if (now - last_ping_ >= interval) {
        last_ping_ = now;
        std::string frame;
        append_ws_frame(frame, ws_opcode::kPing, "");
        sink_->send_raw(std::move(frame));
      }
    }
  }

  // Strand: graceful shutdown.
  void restart() {
    if (socket_closed_) return;
    if (channel_) {
      channel_->close_for_restart();
    } else if (sink_->queued_bytes() == 0) {
      finish();
    } else {
      close_after_write_ = true;
    }
  }

  void finish() {
    if (socket_closed_) return;
    socket_closed_ = true;
    if (channel_) channel_->close();
    stream_->close();
    core_->forget(id_, mode_ == Mode::kWebSocket, mode_ == Mode::kEventStream);
  }

  const std::shared_ptr<ConnectionSink>& sink() const { return sink_; }
  asio::strand<asio::io_context::executor_type>& strand() { return strand_; }

 private:
  enum class Mode { kHttp, kWebSocket, kEventStream };

  void read() {
    if (socket_closed_) return;
    if (!buffer_) buffer_ = std::make_unique<char[]>(kReadBufferBytes);
    stream_->read_some(
        strand_, asio::buffer(buffer_.get(), kReadBufferBytes),
        [self = shared_from_this()](std::error_code ec, std::size_t n) {
          if (ec) return self->finish();
          self->last_activity_ = SteadyClock::now();
          self->consume(std::string_view(self->buffer_.get(), n));
          if (!self->socket_closed_ && !self->close_after_write_) self->read();
        });
  }

  void consume(std::string_view data) {
    if (mode_ == Mode::kHttp) {
      if (pending_.empty() && !parser_.started()) request_started_ = SteadyClock::now();
      pending_.append(data);
      process_http();
      return;
    }
    // Nothing is expected from an SSE client; reading on notices it leaving.
    if (mode_ == Mode::kEventStream) return;
    consume_websocket(data);
  }

  void consume_websocket(std::string_view data) {
    while (!data.empty() && !socket_closed_) {
      WsEvent event;
      std::size_t used = ws_reader_->feed(data, event);
      data.remove_prefix(used);
      switch (event.kind) {
        case WsEvent::Kind::kNone:
          break;
        case WsEvent::Kind::kText:
          if (channel_) channel_->on_message(event.data);
          break;
        case WsEvent::Kind::kBinary:
          send_close(ws_close::kUnsupportedData, "binary messages are not part of the protocol");
          return;
        case WsEvent::Kind::kPing: {
          std::string frame;
          append_ws_frame(frame, ws_opcode::kPong, event.data);
          sink_->send_raw(std::move(frame));
          break;
        }
        case WsEvent::Kind::kPong:
          last_pong_ = SteadyClock::now();
          break;
        case WsEvent::Kind::kClose:
          send_close(event.close_code == ws_close::kNoStatus ? ws_close::kNormal : event.close_code, "");
          return;
        case WsEvent::Kind::kError:
          core_->protocol_errors.fetch_add(1);
          send_close(event.close_code, event.data);
          return;
      }
      if (event.kind == WsEvent::Kind::kNone) break;
    }
  }

  void send_close(int code, std::string_view reason) {
    if (channel_) channel_->close();
    std::string frame;
    append_ws_frame(frame, ws_opcode::kClose, ws_close_payload(code, reason));
    sink_->send_raw(std::move(frame));
    close_after_write_ = true;
    write();
  }

  void process_http() {
    while (!socket_closed_ && !close_after_write_ && mode_ == Mode::kHttp) {
      std::size_t used = parser_.feed(pending_);
      pending_.erase(0, used);
      if (parser_.state() == HttpRequestParser::State::kNeedMore) break;
      if (parser_.state() == HttpRequestParser::State::kError) {
        core_->protocol_errors.fetch_add(1);
        respond_error(parser_.error_status(), parser_.error_message());
        return;
      }
      keep_alive_ = parser_.keep_alive();
      HttpRequest request = std::move(parser_.request());
      parser_.reset();
      dispatch(request);
      // A pipelined request's header clock starts when the server gets to it, not while it
      // was answering the ones before it.
      request_started_ = SteadyClock::now();
    }
    // Bytes the client sent right after the handshake are WebSocket frames.
    if (mode_ == Mode::kWebSocket && !pending_.empty()) {
      std::string rest = std::move(pending_);
      pending_.clear();
      consume_websocket(rest);
    }
  }

  void respond(const HttpResponse& response) {
    sink_->send_raw(serialize_response(response, keep_alive_));
    if (!keep_alive_) close_after_write_ = true;
    write();
  }

  void respond_error(int status, std::string message) {
    HttpResponse r;
    r.status = status;
    Status s(status == 413 ? StatusCode::kResourceExhausted : StatusCode::kInvalidArgument, std::move(message));
    r.body = error_body(s);
    if (status == 413) r.body = "{\"error\":{\"code\":\"payload_too_large\",\"message\":" + quoted(s.message()) + "}}";
    keep_alive_ = false;
    respond(r);
  }

  static std::string quoted(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
  }

  void dispatch(HttpRequest& request) {
    if (core_->durable_streams && core_->durable_streams->matches(request.target)) {
      return dispatch_route(request, core_->durable_streams->handle(request, sink_));
    }
    if (core_->ai_sdk && core_->ai_sdk->matches(request.target)) {
      return dispatch_route(request, core_->ai_sdk->handle(request, sink_));
    }
    auto& handler = *core_->handler;
    if (handler.is_websocket_path(request)) return upgrade(request);
    if (handler.is_event_stream(request)) return open_event_stream(request);
    if (!core_->options.static_root.empty() && request.method == "GET" &&
        request.target.rfind("/v1/", 0) != 0 && request.target != "/healthz") {
      return serve_static(request);
    }
    respond(handler.handle(request));
  }

  // Durable Streams and AI SDK routes: a complete response, or a live read (long-poll, SSE)
  // that writes its own response and ends the connection.
  void dispatch_route(const HttpRequest& request, RouteOutcome outcome) {
    if (!outcome.channel) {
      if (request.method == "HEAD") outcome.response.body.clear();
      return respond(outcome.response);
    }
    mode_ = Mode::kEventStream;
    keep_alive_ = false;
    channel_ = std::move(outcome.channel);
    core_->event_streams_open.fetch_add(1);
    outcome.start();
    write();
  }

  void upgrade(HttpRequest& request) {
    auto upgrade = request.header("upgrade");
    auto connection = request.header("connection");
    auto version = request.header("sec-websocket-version");
    auto key = request.header("sec-websocket-key");
    std::string decoded;
    auto lower = [](std::string_view s) {
      std::string out(s);
      for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return out;
    };
    if (!upgrade || lower(*upgrade) != "websocket" || !connection ||
        lower(*connection).find("upgrade") == std::string::npos) {
      HttpResponse r = ProtocolHandler::error_response(invalid_argument_error("this path needs a WebSocket upgrade"));
      r.status = 426;
      r.headers.emplace_back("Upgrade", "websocket");
      keep_alive_ = false;
      return respond(r);
    }
    if (!version || *version != "13") {
      HttpResponse r = ProtocolHandler::error_response(invalid_argument_error("Sec-WebSocket-Version must be 13"));
      r.status = 426;
      r.headers.emplace_back("Sec-WebSocket-Version", "13");
      keep_alive_ = false;
      return respond(r);
    }
    if (!key || !base64_decode(*key, decoded) || decoded.size() != 16) {
      keep_alive_ = false;
      return respond(ProtocolHandler::error_response(invalid_argument_error("malformed Sec-WebSocket-Key")));
    }
    auto channel = core_->handler->open_websocket(request, sink_);
    if (!channel.ok()) {
      keep_alive_ = false;
      return respond(ProtocolHandler::error_response(channel.status()));
    }
    std::string response =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " + websocket_accept(*key) + "\r\n\r\n";
    sink_->send_raw(std::move(response), /*front=*/true);
    mode_ = Mode::kWebSocket;
    ws_reader_ = std::make_unique<WsReader>(core_->options.handler.max_body_bytes, /*expect_masked=*/true);
    last_pong_ = last_ping_ = SteadyClock::now();
    sink_->websocket = true;
    channel_ = std::move(*channel);
    core_->websocket_open.fetch_add(1);
    write();
  }

  void open_event_stream(HttpRequest& request) {
    std::string head = "HTTP/1.1 200 OK\r\n";
    for (const auto& [name, value] : ProtocolHandler::event_stream_headers()) head += name + ": " + value + "\r\n";
    head += "Connection: close\r\n\r\n";
    sink_->held = true;
    sink_->send_raw(std::move(head));
    auto channel = core_->handler->open_event_stream(request, sink_);
    if (!channel.ok()) {
      sink_->discard();
      keep_alive_ = false;
      return respond(ProtocolHandler::error_response(channel.status()));
    }
    mode_ = Mode::kEventStream;
    channel_ = std::move(*channel);
    core_->event_streams_open.fetch_add(1);
    sink_->release_hold();
    write();
  }

  void serve_static(const HttpRequest& request) {
    Target target;
    std::string path;
    if (!parse_target(request.target, target) || !percent_decode(target.path, path, false) ||
        path.find("..") != std::string::npos || path.find('\0') != std::string::npos) {
      return respond(ProtocolHandler::error_response(not_found_error("no such file")));
    }
    if (path.back() == '/') path += "index.html";
    std::ifstream in(core_->options.static_root + path, std::ios::binary);
    if (!in) return respond(ProtocolHandler::error_response(not_found_error("no such file")));
    std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    HttpResponse r;
    r.content_type = std::string(content_type_for(path));
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.body = std::move(body);
    respond(r);
  }

  const std::shared_ptr<ServerCore> core_;
  std::unique_ptr<Stream> stream_;
  asio::strand<asio::io_context::executor_type> strand_;
  const std::uint64_t id_;
  std::shared_ptr<ConnectionSink> sink_;
  std::unique_ptr<char[]> buffer_;
  HttpRequestParser parser_;
  std::string pending_;
  Mode mode_ = Mode::kHttp;
  bool keep_alive_ = true;
  bool close_after_write_ = false;
  bool socket_closed_ = false;
  bool write_in_flight_ = false;
  std::unique_ptr<WsReader> ws_reader_;
  std::shared_ptr<Channel> channel_;
  SteadyClock::time_point last_activity_;
  SteadyClock::time_point request_started_{};
  SteadyClock::time_point last_ping_{};
  SteadyClock::time_point last_pong_{};
};

// --- ConnectionSink ------------------------------------------------------------------------

void ConnectionSink::send(std::string data) {
  if (websocket) {
    std::string frame;
    frame.reserve(data.size() + 10);
    append_ws_frame(frame, ws_opcode::kText, data);
    send_raw(std::move(frame));
  } else {
    send_raw(std::move(data));
  }
}

void ConnectionSink::send_raw(std::string data, bool front) {
  {
    std::lock_guard lock(mu_);
    if (closing_) return;
    if (queued_.fetch_add(data.size(), std::memory_order_relaxed) + data.size() > limit_) {
      over_limit.store(true, std::memory_order_relaxed);
    }
    if (front) {
      queue_.push_front(std::move(data));
    } else {
      queue_.push_back(std::move(data));
    }
    if (writing_ || held) return;
    writing_ = true;
  }
  kick();
}

void ConnectionSink::kick() {
  if (auto c = connection_.lock()) {
    asio::post(c->strand(), [c] { c->write(); });
  }
}

void ConnectionSink::close(int code, std::string_view reason) {
  std::string frame;
  if (websocket) append_ws_frame(frame, ws_opcode::kClose, ws_close_payload(code, reason));
  {
    std::lock_guard lock(mu_);
    if (closing_) return;
    if (!frame.empty()) {
      queued_.fetch_add(frame.size(), std::memory_order_relaxed);
      queue_.push_back(std::move(frame));
    }
    closing_ = true;
  }
  if (auto c = connection_.lock()) {
    asio::post(c->strand(), [c] { c->close_requested(); });
  }
}

std::vector<std::string> ConnectionSink::take(std::size_t max) {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  if (held) return out;
  while (!queue_.empty() && out.size() < max) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  writing_ = !out.empty();
  return out;
}

void ConnectionSink::wrote(std::size_t bytes) { queued_.fetch_sub(bytes, std::memory_order_relaxed); }

void ConnectionSink::release_hold() {
  std::lock_guard lock(mu_);
  held = false;
}

void ConnectionSink::discard() {
  std::lock_guard lock(mu_);
  queue_.clear();
  queued_.store(0);
  held = false;
}

// --- ServerCore ------------------------------------------------------------------------------

void ServerCore::forget(std::uint64_t id, bool websocket, bool event_stream) {
  std::lock_guard lock(mu);
  if (connections.erase(id) > 0) {
    connections_open.fetch_sub(1);
    if (websocket) websocket_open.fetch_sub(1);
    if (event_stream) event_streams_open.fetch_sub(1);
  }
  drained.notify_all();
}

void ServerCore::accept() {
  acceptor->async_accept(asio::make_strand(io->get_executor()),
                         [this, self = shared_from_this()](std::error_code ec, tcp::socket socket) {
                           if (ec) {
                             if (stopping.load()) return;
                             // Out of descriptors and similar: keep accepting.
                             return accept();
                           }
                           if (stopping.load()) return;
                           connections_total.fetch_add(1);
                           if (connections_open.load() >= options.max_connections) {
                             connections_refused.fetch_add(1);
                             auto body = serialize_response(
                                 ProtocolHandler::error_response(resource_exhausted_error("too many connections")), false);
                             std::error_code ignored;
                             socket.non_blocking(true, ignored);
                             socket.write_some(asio::buffer(body), ignored);
                             socket.close(ignored);
                             return accept();
                           }
                           std::error_code ignored;
                           socket.set_option(tcp::no_delay(true), ignored);
                           auto id = next_id.fetch_add(1);
                           auto stream = tls ? make_tls_stream(std::move(socket), *tls)
                                             : make_plain_stream(std::move(socket));
                           auto connection = std::make_shared<Connection>(self, std::move(stream), id);
                           {
                             std::lock_guard lock(mu);
                             connections.emplace(id, connection);
                             connections_open.fetch_add(1);
                           }
                           connection->start();
                           accept();
                         });
}

void ServerCore::schedule_tick() {
  ticker->expires_after(std::chrono::seconds(1));
  ticker->async_wait([this, self = shared_from_this()](std::error_code ec) {
    if (ec || stopping.load()) return;
    auto now = SteadyClock::now();
    for (auto& c : live_connections()) {
      asio::post(c->strand(), [c, now] { c->tick(now); });
    }
    schedule_tick();
  });
}

std::vector<std::shared_ptr<Connection>> ServerCore::live_connections() {
  std::lock_guard lock(mu);
  std::vector<std::shared_ptr<Connection>> out;
  out.reserve(connections.size());
  for (auto& [id, weak] : connections) {
    if (auto c = weak.lock()) out.push_back(std::move(c));
  }
  return out;
}

void ServerCore::restart_all() {
  for (auto& c : live_connections()) {
    asio::post(c->strand(), [c] { c->restart(); });
  }
}

void ServerCore::close_all() {
  for (auto& c : live_connections()) {
    asio::post(c->strand(), [c] { c->finish(); });
  }
}

}  // namespace detail
}  // namespace strata::net
