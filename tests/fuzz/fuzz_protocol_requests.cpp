// fuzz_protocol_requests — the protocol handlers (docs/protocol.md) behind the wire: plain
// HTTP requests and WebSocket messages with arbitrary targets, bodies and JSON, against a
// real hub (memory store) with a few sessions, a running run and auth enabled.
//
// Input: a sequence of records separated by 0x00. The first byte of a record picks what it
// is: 'H' an HTTP request ("METHOD target\nbody"), 'W' a WebSocket message on one channel
// that lives for the whole input, 'S' an SSE open ("target"). The second byte picks the
// token: none, a reader of "chat-*", or an admin of "*".
//
// Checks: no crash, hang or sanitizer report; every HTTP response has a status in the
// documented set and a JSON body; every WebSocket reply is valid JSON; without a token
// nothing but /healthz succeeds; with the reader token nothing outside chat-* succeeds and
// nothing is written anywhere.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <strata/net/handler.h>
#include <strata/session/hub.h>
#include <strata/testing/manual_executor.h>

#include "fuzz_util.h"

namespace {

using namespace strata;

const std::string kKey = "fuzz-protocol-key-0123456789abcdef0123456789";

class Sink final : public net::OutputSink {
 public:
  void send(std::string data) override {
    std::lock_guard lock(mu);
    out.push_back(std::move(data));
  }
  std::size_t queued_bytes() const override { return 0; }
  void close(int, std::string_view) override { closed = true; }
  std::mutex mu;
  std::vector<std::string> out;
  bool closed = false;
};

struct World {
  std::shared_ptr<testing::ManualExecutor> executor = std::make_shared<testing::ManualExecutor>();
  std::unique_ptr<session::Hub> hub;
  std::shared_ptr<net::ProtocolHandler> handler;
  std::string reader_token;
  std::string admin_token;
  std::unique_ptr<session::Run> run;
  ~World() { run.reset(); }
  World() {
    session::HubOptions o;
    o.store = session::open_memory_store();
    o.executor = executor;
    o.maintenance_interval = std::chrono::milliseconds(0);
    hub = session::Hub::open(o).value();
    net::HandlerOptions h;
    net::TokenOptions t;
    t.hs256_key = kKey;
    h.auth = t;
    h.max_body_bytes = 4096;
    handler = net::ProtocolHandler::create(*hub, h).value();
    auto sign = [&](std::vector<net::Grant> grants) {
      net::Capability c;
      c.subject = "fuzzer";
      c.grants = std::move(grants);
      c.expires_at = 4102444800;  // 2100
      return net::sign_token(c, t).value();
    };
    using net::Operation;
    reader_token = sign({{{"chat-*"}, {Operation::kSubscribe, Operation::kHistory}}});
    (void)hub->append("chat-1", {.type = "user.message", .payload = R"({"text":"hi"})"}, {.producer = "seed"});
    run = hub->start_run("chat-1", {.agent = "agent", .run_id = "run-1"}).value();
    (void)hub->append("secret", {.type = "app.note"}, {.producer = "seed"});
    admin_token = sign({{{"*"}, {Operation::kSubscribe, Operation::kHistory, Operation::kAppend,
                                 Operation::kCancel, Operation::kSteer, Operation::kPresence}}});
  }
};

void fail(std::string_view input, const char* why) {
  std::fprintf(stderr, "fuzz_protocol_requests: %s\n", why);
  strata::fuzz::print_escaped(input);
  std::abort();
}

bool documented_status(int s) {
  for (int ok : {200, 400, 401, 403, 404, 405, 409, 410, 413, 416, 429, 500, 501, 503, 504}) {
    if (s == ok) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // One hub for many inputs (state accumulates, as in a server), renewed now and then so
  // memory stays bounded.
  static std::unique_ptr<World> world;
  static std::size_t inputs = 0;
  if (!world || ++inputs % 2000 == 0) {
    world.reset();
    world = std::make_unique<World>();
  }
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::shared_ptr<net::Channel>> channels;
  std::vector<std::shared_ptr<Sink>> sinks;
  std::shared_ptr<net::Channel> ws;
  std::shared_ptr<Sink> ws_sink = std::make_shared<Sink>();
  int ws_token = -1;

  std::size_t records = 0;
  while (!input.empty() && records++ < 16) {
    auto end = input.find('\0');
    std::string_view record = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view{} : input.substr(end + 1);
    if (record.size() < 2) continue;
    const char kind = record[0];
    const int token_kind = static_cast<unsigned char>(record[1]) % 3;
    record.remove_prefix(2);
    net::HttpRequest request;
    if (token_kind == 1) request.headers.emplace_back("Authorization", "Bearer " + world->reader_token);
    if (token_kind == 2) request.headers.emplace_back("Authorization", "Bearer " + world->admin_token);
    if (kind == 'H') {
      auto space = record.find(' ');
      auto newline = record.find('\n');
      request.method = std::string(record.substr(0, space));
      request.target = space == std::string_view::npos ? "/" : std::string(record.substr(space + 1, newline - space - 1));
      if (newline != std::string_view::npos) request.body = std::string(record.substr(newline + 1));
      auto before = world->hub->info("chat-1");
      auto response = world->handler->handle(request);
      if (!documented_status(response.status)) fail(record, "undocumented status");
      if (nlohmann::json::parse(response.body, nullptr, false).is_discarded()) fail(record, "response body is not JSON");
      if (response.status == 200 && token_kind == 0 && request.target.rfind("/healthz", 0) != 0) {
        fail(record, "a request without a token succeeded");
      }
      if (token_kind == 1 && response.status == 200 && (request.method == "POST")) fail(record, "a reader wrote");
      auto after = world->hub->info("chat-1");
      if (token_kind == 1 && before.ok() && after.ok() && before->head != after->head) fail(record, "a reader appended");
    } else if (kind == 'W') {
      if (!ws || ws_token != token_kind) {
        request.method = "GET";
        request.target = "/v1/ws";
        auto opened = world->handler->open_websocket(request, ws_sink);
        if (!opened.ok()) {
          if (token_kind != 0) fail(record, "a valid token could not open a WebSocket");
          continue;
        }
        if (ws) ws->close();
        ws = *opened;
        ws_token = token_kind;
      }
      ws->on_message(record);
      ws->on_tick();
    } else if (kind == 'S') {
      request.method = "GET";
      request.target = std::string(record);
      auto sink = std::make_shared<Sink>();
      auto opened = world->handler->open_event_stream(request, sink);
      if (opened.ok()) {
        if (token_kind == 0) fail(record, "an SSE stream opened without a token");
        channels.push_back(*opened);
        sinks.push_back(sink);
      }
    }
    world->executor->run_all();
  }
  world->executor->run_all();
  for (auto& c : channels) c->close();
  if (ws) ws->close();
  world->executor->run_all();
  std::lock_guard lock(ws_sink->mu);
  for (const auto& m : ws_sink->out) {
    if (nlohmann::json::parse(m, nullptr, false).is_discarded()) fail(m, "WebSocket reply is not JSON");
  }
  return 0;
}
