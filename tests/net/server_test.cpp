// The server over real loopback sockets: HTTP, SSE and WebSocket flows, auth, hostile input,
// slow clients and graceful shutdown.
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include <nlohmann/json.hpp>

#include <strata/net/asio_server.h>
#include <strata/net/server.h>

#include <asio/executor_work_guard.hpp>
#include <strata/session/hub.h>

#include "net/net_test_util.h"

using namespace strata;
using namespace strata::net;
using nlohmann::json;
using test::RawClient;
using WsKind = net::detail::WsEvent::Kind;

namespace {

const std::string kKey = "server-test-key-0123456789abcdef0123456789";

struct ServerFixture {
  std::unique_ptr<session::Hub> hub;
  std::unique_ptr<Server> server;

  explicit ServerFixture(ServerOptions options = {}) {
    session::HubOptions hub_options;
    hub_options.store = session::open_memory_store();
    hub_options.maintenance_interval = std::chrono::milliseconds(0);
    hub_options.delivery_threads = 2;
    hub = session::Hub::open(hub_options).value();
    server = Server::start(*hub, std::move(options)).value();
  }
  ~ServerFixture() {
    server.reset();
    hub.reset();
  }
  std::uint16_t port() const { return server->port(); }

  void append_n(const std::string& session, int n, std::size_t payload_bytes = 8) {
    std::vector<session::EventDraft> drafts;
    for (int i = 0; i < n; ++i) {
      session::EventDraft d;
      d.type = "app.tick";
      d.payload = "{\"i\":" + std::to_string(i) + ",\"pad\":\"" + std::string(payload_bytes, 'x') + "\"}";
      drafts.push_back(std::move(d));
      if (drafts.size() == 500) {
        REQUIRE(hub->append_batch(session, std::move(drafts), {.producer = "writer"}).ok());
        drafts.clear();
      }
    }
    if (!drafts.empty()) REQUIRE(hub->append_batch(session, std::move(drafts), {.producer = "writer"}).ok());
  }
};

std::string token_for(std::vector<Grant> grants, std::int64_t ttl = 300) {
  Capability cap;
  cap.subject = "tester";
  cap.grants = std::move(grants);
  cap.expires_at = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count() + ttl;
  TokenOptions o;
  o.hs256_key = kKey;
  return sign_token(cap, o).value();
}

ServerOptions auth_options() {
  ServerOptions o;
  TokenOptions t;
  t.hs256_key = kKey;
  o.handler.auth = t;
  return o;
}

// Reads SSE events ("id: N") until `count` ids were seen; returns them.
std::vector<std::uint64_t> sse_ids(RawClient& c, std::size_t count) {
  std::vector<std::uint64_t> ids;
  c.read_until([&](const std::string& b) {
    ids.clear();
    std::size_t pos = 0;
    while ((pos = b.find("\nid: ", pos)) != std::string::npos) {
      pos += 5;
      ids.push_back(std::stoull(b.substr(pos, b.find('\n', pos) - pos)));
    }
    return ids.size() >= count;
  });
  return ids;
}

json ws_json(RawClient& c) {
  auto text = c.ws_read_text();
  if (!text) return json();
  return json::parse(*text);
}

}  // namespace

TEST_CASE("server: health, append, history, info and snapshot over HTTP", "[net][server]") {
  ServerFixture f;
  RawClient c(f.port());
  REQUIRE(c.connected());
  auto health = c.request("GET", "/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(json::parse(health->body)["status"] == "ok");

  auto appended = c.request("POST", "/v1/sessions/team%2Fchat/events",
                            R"({"events":[{"type":"user.message","payload":{"text":"hi"}},{"type":"app.note"}],"producer":"web"})");
  REQUIRE(appended);
  REQUIRE(appended->status == 200);
  auto ack = json::parse(appended->body);
  CHECK(ack["first"] == 1);
  CHECK(ack["last"] == 2);
  CHECK(ack["duplicate"] == false);

  // A single event without the "events" wrapper, idempotent by producer sequence.
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto r = c.request("POST", "/v1/sessions/team%2Fchat/events",
                       R"({"type":"user.message","payload":{"text":"again"},"producer":"tab-1","seq":0})");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(json::parse(r->body)["first"] == 3);
    CHECK(json::parse(r->body)["duplicate"] == (attempt == 1));
  }

  auto history = c.request("GET", "/v1/sessions/team%2Fchat/events?after=1&limit=10");
  REQUIRE(history);
  REQUIRE(history->status == 200);
  auto page = json::parse(history->body);
  REQUIRE(page["events"].size() == 2);
  CHECK(page["events"][0]["offset"] == 2);
  CHECK(page["events"][1]["payload"]["text"] == "again");
  CHECK(page["events"][1]["producer"] == "tab-1");
  CHECK(page["head"] == 3);
  CHECK(page["next"] == 3);

  auto info = c.request("GET", "/v1/sessions/team%2Fchat");
  REQUIRE(info);
  CHECK(json::parse(info->body)["head"] == 3);
  auto snapshot = c.request("GET", "/v1/sessions/team%2Fchat/snapshot");
  REQUIRE(snapshot);
  CHECK(json::parse(snapshot->body)["next_offset"] == 3);
}

TEST_CASE("server: HTTP errors carry the documented status and code", "[net][server]") {
  ServerFixture f;
  RawClient c(f.port());
  struct Case {
    std::string method, target, body;
    int status;
    std::string code;
  };
  std::vector<Case> cases = {
      {"GET", "/nope", "", 404, "not_found"},
      {"GET", "/v1/sessions/missing", "", 404, "not_found"},
      {"GET", "/v1/sessions/missing/events", "", 404, "not_found"},
      {"GET", "/v1/sessions/bad%20id/events", "", 400, "invalid_argument"},
      {"GET", "/v1/sessions/%zz/events", "", 400, "invalid_argument"},
      {"POST", "/v1/sessions/s/events", "{not json", 400, "invalid_argument"},
      {"POST", "/v1/sessions/s/events", "[1,2]", 400, "invalid_argument"},
      {"POST", "/v1/sessions/s/events", R"({"events":[]})", 400, "invalid_argument"},
      {"POST", "/v1/sessions/s/events", R"({"type":"BAD TYPE"})", 400, "invalid_argument"},
      {"POST", "/v1/sessions/s/events", R"({"type":"a.b","seq":-1})", 400, "invalid_argument"},
      {"DELETE", "/v1/sessions/s/events", "", 405, "invalid_argument"},
      {"POST", "/v1/sessions/s/cancel", R"({"run_id":"nope"})", 404, "not_found"},
      {"POST", "/v1/sessions/s/steer", R"({"run_id":"nope"})", 400, "invalid_argument"},
      {"POST", "/v1/sessions/s/presence", R"({"action":"dance"})", 400, "invalid_argument"},
      {"GET", "/v1/sessions/s/events?limit=0", "", 400, "invalid_argument"},
  };
  REQUIRE(f.hub->create("s").ok());
  for (const auto& c2 : cases) {
    INFO(c2.method << " " << c2.target << " " << c2.body);
    auto r = c.request(c2.method, c2.target, c2.body);
    REQUIRE(r);
    CHECK(r->status == c2.status);
    auto body = json::parse(r->body);
    CHECK(body["error"]["code"] == c2.code);
    CHECK_FALSE(body["error"]["message"].get<std::string>().empty());
  }
  // Appending past the head is refused for reads beyond it.
  auto r = c.request("GET", "/v1/sessions/s/events?stream=sse&from=99");
  REQUIRE(r);
  CHECK(r->status == 416);
}

TEST_CASE("server: SSE streams history then live, and resumes from Last-Event-ID", "[net][server][sse]") {
  ServerFixture f;
  f.append_n("chat", 3);
  {
    RawClient c(f.port());
    c.send("GET /v1/sessions/chat/events HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n\r\n");
    REQUIRE(c.read_until([](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; }));
    CHECK(c.buffer().rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(c.buffer().find("Content-Type: text/event-stream") != std::string::npos);
    CHECK(sse_ids(c, 3) == std::vector<std::uint64_t>{1, 2, 3});
    CHECK(c.buffer().find("retry: 1000") < c.buffer().find("\nid: 1"));
    CHECK(c.buffer().find("event: app.tick\ndata: {\"offset\":1,") != std::string::npos);
    f.append_n("chat", 2);
    CHECK(sse_ids(c, 5) == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
  }
  RawClient again(f.port());
  again.send("GET /v1/sessions/chat/events?from=0 HTTP/1.1\r\nHost: t\r\nAccept: text/event-stream\r\n"
             "Last-Event-ID: 3\r\n\r\n");
  CHECK(sse_ids(again, 2) == std::vector<std::uint64_t>{4, 5});

  auto epoch = f.hub->info("chat")->epoch;
  RawClient wrong_epoch(f.port());
  auto r = wrong_epoch.request("GET", "/v1/sessions/chat/events?stream=sse&from=2&epoch=0000");
  REQUIRE(r);
  CHECK(r->status == 410);
  CHECK(json::parse(r->body)["error"]["code"] == "data_loss");
  RawClient right_epoch(f.port());
  right_epoch.send("GET /v1/sessions/chat/events?stream=sse&from=4&epoch=" + epoch + " HTTP/1.1\r\n\r\n");
  CHECK(sse_ids(right_epoch, 1) == std::vector<std::uint64_t>{5});
  RawClient bad_id(f.port());
  auto bad = bad_id.request("GET", "/v1/sessions/chat/events?stream=sse", "", "Last-Event-ID: abc\r\n");
  REQUIRE(bad);
  CHECK(bad->status == 400);
}

TEST_CASE("server: WebSocket subscribe, multiplex, append, unsubscribe and ping", "[net][server][websocket]") {
  ServerFixture f;
  f.append_n("a", 2);
  RawClient c(f.port());
  REQUIRE(c.websocket_handshake() == 101);
  c.ws_send(R"({"op":"ping","id":"p1"})");
  auto pong = ws_json(c);
  CHECK(pong["op"] == "pong");
  CHECK(pong["id"] == "p1");

  c.ws_send(R"({"op":"subscribe","id":"s1","session":"a","from":0})");
  auto subscribed = ws_json(c);
  CHECK(subscribed["op"] == "subscribed");
  CHECK(subscribed["id"] == "s1");
  CHECK(subscribed["epoch"] == f.hub->info("a")->epoch);
  for (int offset = 1; offset <= 2; ++offset) {
    auto e = ws_json(c);
    CHECK(e["op"] == "event");
    CHECK(e["session"] == "a");
    CHECK(e["event"]["offset"] == offset);
  }
  c.ws_send(R"({"op":"subscribe","id":"s2","session":"b"})");
  auto missing = ws_json(c);
  CHECK(missing["op"] == "error");
  CHECK(missing["code"] == "not_found");
  REQUIRE(f.hub->create("b").ok());
  c.ws_send(R"({"op":"subscribe","id":"s3","session":"b"})");
  CHECK(ws_json(c)["op"] == "subscribed");

  c.ws_send(R"({"op":"append","id":"w1","session":"b","producer":"tab","seq":0,"events":[{"type":"user.message","payload":{"text":"yo"}}]})");
  // The ack and the event may come in either order.
  json ack, event;
  for (int i = 0; i < 2; ++i) {
    auto m = ws_json(c);
    (m["op"] == "ack" ? ack : event) = m;
  }
  CHECK(ack["id"] == "w1");
  CHECK(ack["first"] == 1);
  CHECK(event["session"] == "b");
  CHECK(event["event"]["payload"]["text"] == "yo");
  c.ws_send(R"({"op":"append","id":"w2","session":"b","producer":"tab","seq":0,"events":[{"type":"user.message","payload":{"text":"yo"}}]})");
  auto dup = ws_json(c);
  CHECK(dup["op"] == "ack");
  CHECK(dup["duplicate"] == true);

  c.ws_send(R"({"op":"unsubscribe","id":"u","session":"a"})");
  CHECK(ws_json(c)["op"] == "unsubscribed");
  f.append_n("a", 1);
  f.append_n("b", 1);
  auto next = ws_json(c);
  CHECK(next["session"] == "b");  // nothing more from "a"

  // Bad requests get errors; the connection stays usable.
  for (std::string bad : {"not json", "[]", R"({"op":42})", R"({"op":"dance","session":"a"})",
                          R"({"op":"subscribe","session":"bad id"})", R"({"op":"subscribe","session":"a","from":-3})",
                          R"({"op":"append","session":"a","events":[]})", R"({"id":{"x":1},"op":"ping"})"}) {
    INFO(bad);
    c.ws_send(bad);
    auto e = ws_json(c);
    CHECK(e["op"] == "error");
    CHECK(e["code"] == "invalid_argument");
  }
  c.ws_send(R"({"op":"ping"})");
  CHECK(ws_json(c)["op"] == "pong");
}

TEST_CASE("server: cancel, steer, presence and snapshot over WebSocket reach the run", "[net][server][websocket]") {
  ServerFixture f;
  std::promise<std::string> steered;
  auto steered_future = steered.get_future();
  session::RunOptions run_options;
  run_options.agent = "assistant";
  run_options.on_steer = [&](const std::string& input) { steered.set_value(input); };
  auto run = f.hub->start_run("chat", std::move(run_options)).value();
  auto message = run->begin_message().value();
  REQUIRE(run->delta(message, "Hello").ok());

  RawClient c(f.port());
  REQUIRE(c.websocket_handshake() == 101);
  c.ws_send(R"({"op":"snapshot","id":"snap","session":"chat"})");
  auto snap = ws_json(c);
  CHECK(snap["op"] == "snapshot");
  CHECK(snap["snapshot"]["messages"][0]["text"] == "Hello");
  CHECK(snap["snapshot"]["runs"][0]["state"] == "running");

  c.ws_send(R"({"op":"presence","id":"j","session":"chat","action":"join","client_id":"tab-1","device":"laptop"})");
  CHECK(ws_json(c)["op"] == "ack");
  c.ws_send(R"({"op":"presence","id":"l","session":"chat","action":"list"})");
  auto list = ws_json(c);
  REQUIRE(list["presence"].size() == 1);
  CHECK(list["presence"][0]["client_id"] == "tab-1");

  c.ws_send(R"({"op":"steer","id":"st","session":"chat","run_id":")" + run->id() + R"(","input":{"text":"shorter"}})");
  CHECK(ws_json(c)["op"] == "ack");
  REQUIRE(steered_future.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(json::parse(steered_future.get())["text"] == "shorter");

  c.ws_send(R"({"op":"cancel","id":"c","session":"chat","run_id":")" + run->id() + R"(","reason":"stop pressed"})");
  auto cancelled = ws_json(c);
  CHECK(cancelled["op"] == "ack");
  CHECK(cancelled["offset"].get<std::uint64_t>() > 0);
  for (int i = 0; i < 100 && !run->cancelled(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(run->cancelled());
  CHECK(run->delta(message, "more").status().code() == StatusCode::kCancelled);
  c.ws_send(R"({"op":"cancel","id":"c2","session":"chat","run_id":")" + run->id() + R"("})");
  auto again = ws_json(c);
  CHECK(again["op"] == "error");
  CHECK(again["code"] == "failed_precondition");
}

TEST_CASE("server: without the right capability a client learns nothing", "[net][server][auth]") {
  ServerFixture f(auth_options());
  REQUIRE(f.hub->create("secret").ok());
  f.append_n("secret", 2);
  const std::string reader = token_for({{{"chat-*"}, {Operation::kSubscribe, Operation::kHistory}}});
  RawClient c(f.port());

  auto no_token = c.request("GET", "/v1/sessions/chat-1/events");
  REQUIRE(no_token);
  CHECK(no_token->status == 401);
  CHECK(c.request("GET", "/healthz")->status == 200);  // health needs no token
  auto garbage = c.request("GET", "/v1/sessions/chat-1/events", "", "Authorization: Bearer x.y.z\r\n");
  CHECK(garbage->status == 401);
  auto expired = c.request("GET", "/v1/sessions/chat-1/events", "",
                           "Authorization: Bearer " + token_for({{{"*"}, {Operation::kHistory}}}, -10) + "\r\n");
  CHECK(expired->status == 401);

  const std::string bearer = "Authorization: Bearer " + reader + "\r\n";
  // An existing and a missing session the token does not cover answer identically.
  auto existing = c.request("GET", "/v1/sessions/secret/events", "", bearer);
  auto missing = c.request("GET", "/v1/sessions/no-such-session/events", "", bearer);
  REQUIRE(existing);
  REQUIRE(missing);
  CHECK(existing->status == 403);
  CHECK(existing->status == missing->status);
  CHECK(existing->body == missing->body);
  for (std::string target : {"/v1/sessions/secret", "/v1/sessions/secret/snapshot", "/v1/sessions/secret/presence"}) {
    auto a = c.request("GET", target, "", bearer);
    CHECK(a->status == 403);
  }
  // Covered session: reads work, writes need their own grant.
  REQUIRE(f.hub->create("chat-1").ok());
  CHECK(c.request("GET", "/v1/sessions/chat-1/events", "", bearer)->status == 200);
  CHECK(c.request("GET", "/v1/sessions/chat-1/events?access_token=" + reader)->status == 200);
  CHECK(c.request("POST", "/v1/sessions/chat-1/events", R"({"type":"a.b"})", bearer)->status == 403);
  CHECK(c.request("POST", "/v1/sessions/chat-1/cancel", "{}", bearer)->status == 403);

  RawClient ws_no_token(f.port());
  CHECK(ws_no_token.websocket_handshake() == 401);
  RawClient ws(f.port());
  REQUIRE(ws.websocket_handshake("/v1/ws?access_token=" + reader) == 101);
  ws.ws_send(R"({"op":"subscribe","id":"x","session":"secret"})");
  auto denied = ws_json(ws);
  ws.ws_send(R"({"op":"subscribe","id":"x","session":"nothing-here"})");
  auto denied_missing = ws_json(ws);
  CHECK(denied["code"] == "permission_denied");
  CHECK(denied == denied_missing);
  ws.ws_send(R"({"op":"append","id":"y","session":"chat-1","events":[{"type":"a.b"}]})");
  CHECK(ws_json(ws)["code"] == "permission_denied");
  ws.ws_send(R"({"op":"subscribe","id":"z","session":"chat-1"})");
  CHECK(ws_json(ws)["op"] == "subscribed");
}

TEST_CASE("server: hostile HTTP input gets a clear error and others keep being served", "[net][server][hostile]") {
  ServerOptions options;
  options.header_timeout = std::chrono::milliseconds(1500);
  ServerFixture f(options);
  RawClient bystander(f.port());

  RawClient garbage(f.port());
  garbage.send("\x16\x03\x01 not http at all\r\n\r\n");
  auto r1 = garbage.read_response();
  REQUIRE(r1);
  CHECK(r1->status == 400);
  CHECK(garbage.wait_closed());

  RawClient huge(f.port());
  huge.send("GET / HTTP/1.1\r\nX-Big: " + std::string(40000, 'a') + "\r\n\r\n");
  auto r2 = huge.read_response();
  REQUIRE(r2);
  CHECK(r2->status == 431);

  RawClient big_body(f.port());
  big_body.send("POST /v1/sessions/s/events HTTP/1.1\r\nContent-Length: 5000000\r\n\r\n");
  auto r3 = big_body.read_response();
  REQUIRE(r3);
  CHECK(r3->status == 413);

  RawClient chunked(f.port());
  chunked.send("POST /v1/sessions/s/events HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  CHECK(chunked.read_response()->status == 411);

  // Slowloris: a byte at a time never completes the headers; the server gives up.
  RawClient slow(f.port());
  auto started = std::chrono::steady_clock::now();
  slow.send("GET /healthz HTTP/1.1\r\n");
  bool closed = false;
  for (int i = 0; i < 40 && !closed; ++i) {
    slow.send("X");
    closed = slow.read_until([](const std::string& b) { return b.find("408") != std::string::npos; },
                             std::chrono::milliseconds(100));
  }
  CHECK(closed);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(4));

  auto health = bystander.request("GET", "/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);
  CHECK(f.server->stats().protocol_errors >= 3);
}

TEST_CASE("server: hostile WebSocket input is closed with the RFC's codes", "[net][server][hostile]") {
  ServerOptions options;
  options.handler.max_body_bytes = 64 * 1024;
  ServerFixture f(options);
  auto expect_close = [&](const std::function<void(RawClient&)>& misbehave, int code) {
    RawClient c(f.port());
    REQUIRE(c.websocket_handshake() == 101);
    misbehave(c);
    std::optional<net::detail::WsEvent> e;
    do {
      e = c.ws_read();
    } while (e && e->kind != WsKind::kClose);
    REQUIRE(e);
    CHECK(e->close_code == code);
    CHECK(c.wait_closed());
  };
  expect_close([](RawClient& c) {
    std::string frame;
    net::detail::append_ws_frame(frame, net::detail::ws_opcode::kText, "{}", 0);  // unmasked
    c.send(frame);
  }, 1002);
  expect_close([](RawClient& c) { c.ws_send(std::string(100000, 'a')); }, 1009);
  expect_close([](RawClient& c) { c.ws_send("{\"op\":\"\xff\"}"); }, 1007);
  expect_close([](RawClient& c) { c.ws_send("abc", net::detail::ws_opcode::kBinary); }, 1003);
  expect_close([](RawClient& c) { c.ws_send(net::detail::ws_close_payload(1000, "bye"), net::detail::ws_opcode::kClose); }, 1000);

  // Bad handshakes.
  RawClient no_key(f.port());
  no_key.send("GET /v1/ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n");
  CHECK(no_key.read_response()->status == 400);
  RawClient old_version(f.port());
  old_version.send("GET /v1/ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
  CHECK(old_version.read_response()->status == 426);
  RawClient plain(f.port());
  CHECK(plain.request("GET", "/v1/ws")->status == 426);

  RawClient fine(f.port());
  REQUIRE(fine.websocket_handshake() == 101);
  fine.ws_send(R"({"op":"ping"})");
  CHECK(ws_json(fine)["op"] == "pong");
}

TEST_CASE("server: a client that stops reading costs bounded memory and resumes losing nothing",
          "[net][server][slow]") {
  ServerOptions options;
  options.handler.max_send_queue_bytes = 128 * 1024;
  ServerFixture f(options);
  REQUIRE(f.hub->create("firehose").ok());
  RawClient slow(f.port());
  slow.set_receive_buffer(64 * 1024);
  REQUIRE(slow.websocket_handshake() == 101);
  slow.ws_send(R"({"op":"subscribe","session":"firehose"})");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  constexpr int kEvents = 6000;
  f.append_n("firehose", kEvents, 1000);  // ~6 MB of events while the client reads nothing
  f.hub->flush();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  // Now read everything: offsets 1..kEvents, each once, in order.
  std::uint64_t expected = 1;
  bool in_order = true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (expected <= kEvents && std::chrono::steady_clock::now() < deadline) {
    auto text = slow.ws_read_text(std::chrono::milliseconds(5000));
    if (!text) break;
    auto m = json::parse(*text);
    if (m["op"] != "event") continue;
    std::uint64_t offset = m["event"]["offset"];
    if (offset != expected) in_order = false;
    expected = offset + 1;
  }
  CHECK(in_order);
  CHECK(expected == kEvents + 1);
  // The back-pressure path really ran: subscriptions paused and resumed from the store.
  auto stats = f.server->stats();
  CHECK(stats.subscriptions_paused > 0);
  CHECK(stats.subscriptions_resumed == stats.subscriptions_paused);
}

TEST_CASE("server: graceful shutdown tells WebSocket and SSE clients to resume", "[net][server]") {
  ServerFixture f;
  f.append_n("s", 1);
  RawClient ws(f.port());
  REQUIRE(ws.websocket_handshake() == 101);
  ws.ws_send(R"({"op":"subscribe","session":"s"})");
  CHECK(ws_json(ws)["op"] == "subscribed");
  CHECK(ws_json(ws)["op"] == "event");
  RawClient sse(f.port());
  sse.send("GET /v1/sessions/s/events?stream=sse HTTP/1.1\r\n\r\n");
  CHECK(sse_ids(sse, 1) == std::vector<std::uint64_t>{1});

  f.server->shutdown();
  std::optional<net::detail::WsEvent> e;
  do {
    e = ws.ws_read();
  } while (e && e->kind != WsKind::kClose);
  REQUIRE(e);
  CHECK(e->close_code == 1012);
  CHECK(sse.read_until([](const std::string& b) { return b.find("event: strata.closed") != std::string::npos; }));
  CHECK(sse.buffer().find("\"unavailable\"") != std::string::npos);
  CHECK(sse.wait_closed());
  RawClient late(f.port());
  CHECK_FALSE(late.request("GET", "/healthz"));
}

TEST_CASE("server: connections beyond the limit are refused, others unaffected", "[net][server]") {
  ServerOptions options;
  options.max_connections = 2;
  ServerFixture f(options);
  RawClient a(f.port());
  RawClient b(f.port());
  REQUIRE(a.request("GET", "/healthz"));
  REQUIRE(b.request("GET", "/healthz"));
  RawClient c(f.port());
  auto refused = c.read_response();
  REQUIRE(refused);
  CHECK(refused->status == 429);
  CHECK(a.request("GET", "/healthz")->status == 200);
  CHECK(f.server->stats().connections_refused == 1);
}

TEST_CASE("server: bind failures and bad options are clear errors", "[net][server]") {
  ServerFixture f;
  ServerOptions same_port;
  same_port.port = f.port();
  auto clash = Server::start(*f.hub, same_port);
  REQUIRE_FALSE(clash.ok());
  CHECK(clash.status().code() == StatusCode::kUnavailable);
  CHECK(clash.status().message().find(std::to_string(f.port())) != std::string::npos);
  ServerOptions bad_host;
  bad_host.host = "not an address";
  CHECK(Server::start(*f.hub, bad_host).status().code() == StatusCode::kInvalidArgument);
  ServerOptions short_key;
  short_key.handler.auth = TokenOptions{};
  CHECK(Server::start(*f.hub, short_key).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("server: runs on a host's io_context and shuts down from outside it", "[net][server]") {
  session::HubOptions hub_options;
  hub_options.store = session::open_memory_store();
  hub_options.maintenance_interval = std::chrono::milliseconds(0);
  auto hub = session::Hub::open(hub_options).value();
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread host([&] { io.run(); });
  auto server = start_server(io, *hub, {}).value();
  {
    RawClient c(server->port());
    auto r = c.request("GET", "/healthz");
    REQUIRE(r);
    CHECK(r->status == 200);
    RawClient ws(server->port());
    REQUIRE(ws.websocket_handshake() == 101);
    server->shutdown();
    std::optional<net::detail::WsEvent> e;
    do {
      e = ws.ws_read();
    } while (e && e->kind != WsKind::kClose);
    REQUIRE(e);
    CHECK(e->close_code == 1012);
  }
  server.reset();
  guard.reset();
  io.stop();
  host.join();
}
