// The Durable Streams protocol: its request parsers (bad, oversized and hostile input) and the
// engine behind /v1/stream/ driven directly, with a fake clock for TTLs. The official
// conformance suite runs against the real server in tests/interop/durable_streams/.
#include <catch2/catch.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <strata/session/hub.h>
#include <strata/testing/fake_clock.h>
#include <strata/testing/manual_executor.h>

#include "net/ds_parse.h"
#include "net/durable_streams.h"

using namespace strata;
using namespace strata::net;
using namespace strata::net::detail;

namespace {

class Sink final : public OutputSink {
 public:
  void send(std::string data) override {
    std::lock_guard lock(mu);
    out += data;
  }
  std::size_t queued_bytes() const override { return 0; }
  void close(int, std::string_view) override {
    std::lock_guard lock(mu);
    closed = true;
  }
  std::string text() {
    std::lock_guard lock(mu);
    return out;
  }
  std::mutex mu;
  std::string out;
  bool closed = false;
};

struct World {
  std::shared_ptr<testing::ManualExecutor> executor = std::make_shared<testing::ManualExecutor>();
  std::shared_ptr<testing::FakeClock> clock = std::make_shared<testing::FakeClock>();
  std::unique_ptr<session::Hub> hub;
  std::shared_ptr<DurableStreams> ds;
  World() {
    clock->set_ms(1'800'000'000'000);
    session::HubOptions o;
    o.store = session::open_memory_store();
    o.executor = executor;
    o.clock = clock;
    o.maintenance_interval = std::chrono::milliseconds(0);
    hub = session::Hub::open(o).value();
    DurableStreamsOptions d;
    d.prefix = "/v1/stream/";
    d.long_poll_timeout = std::chrono::milliseconds(3000);
    ds = DurableStreams::create(*hub, d, clock).value();
  }
  ~World() { ds->shutdown(); }
  HttpResponse call(std::string method, std::string target, std::vector<std::pair<std::string, std::string>> headers = {},
                    std::string body = {}) {
    HttpRequest r{std::move(method), std::move(target), std::move(headers), std::move(body)};
    auto out = ds->handle(r, std::make_shared<Sink>());
    REQUIRE_FALSE(out.channel);
    return out.response;
  }
};

std::string header(const HttpResponse& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return v;
    }
  }
  return "";
}

}  // namespace

TEST_CASE("ds parse: offsets accept only digits_digits that fit 64 bits", "[net][ds]") {
  auto o = ds::parse_offset("0000000000000000_0000000000000042");
  REQUIRE(o);
  CHECK(o->position == 42);
  CHECK(ds::format_offset(*o) == "0000000000000000_0000000000000042");
  for (const char* bad : {"", "_", "1_", "_1", "1", "1_2_3", "-1_2", "1_-2", " 1_2", "1_2 ", "a_1", "1_0x2",
                          "99999999999999999999_1", "1_18446744073709551616", "1__2", "../etc_1"}) {
    INFO(bad);
    CHECK_FALSE(ds::parse_offset(bad));
  }
  CHECK(ds::parse_read_offset("-1")->kind == ds::ReadOffset::Kind::kStart);
  CHECK(ds::parse_read_offset("now")->kind == ds::ReadOffset::Kind::kNow);
  CHECK_FALSE(ds::parse_read_offset("NOW"));
  CHECK_FALSE(ds::parse_read_offset("-2"));
  CHECK(ds::parse_offset(std::string(100000, '1') + "_1") == std::nullopt);
}

TEST_CASE("ds parse: strict integers, TTL and Expires-At", "[net][ds]") {
  CHECK(ds::parse_strict_uint("0") == 0u);
  CHECK(ds::parse_strict_uint("9007199254740991") == 9007199254740991u);
  for (const char* bad : {"", "-1", "+1", "1.0", "1e3", " 1", "1 ", "0x10", "9007199254740992", "abc"}) {
    INFO(bad);
    CHECK_FALSE(ds::parse_strict_uint(bad));
  }
  CHECK(ds::parse_ttl("0") == 0u);
  CHECK(ds::parse_ttl("3600") == 3600u);
  CHECK_FALSE(ds::parse_ttl("01"));
  CHECK_FALSE(ds::parse_ttl("1.5"));
  CHECK(ds::parse_expires_at("1970-01-01T00:00:01Z") == 1000);
  CHECK(ds::parse_expires_at("2024-10-09T00:00:00.000Z") == 1728432000000);
  CHECK(ds::parse_expires_at("2024-10-09T02:00:00+02:00") == 1728432000000);
  CHECK(ds::parse_expires_at("2024-02-29T00:00:00Z"));
  for (const char* bad : {"", "not-a-timestamp", "2024-10-09", "2024-10-09T00:00:00", "2023-02-29T00:00:00Z",
                          "2024-13-01T00:00:00Z", "2024-10-09T24:00:00Z", "2024-10-09T00:00:00+2:00",
                          "2024-10-09T00:00:00Zjunk", "2024-10-09T00:00:00.Z", "2024-10-09T00:00:00.1234567890Z"}) {
    INFO(bad);
    CHECK_FALSE(ds::parse_expires_at(bad));
  }
}

TEST_CASE("ds parse: producer headers are all or nothing and strictly numeric", "[net][ds]") {
  auto parse = [](std::vector<std::pair<std::string, std::string>> headers) {
    HttpRequest r;
    r.headers = std::move(headers);
    std::optional<ds::ProducerHeaders> out;
    Status s = ds::parse_producer_headers(r, out);
    return std::make_pair(s, out);
  };
  auto none = parse({});
  CHECK(none.first.ok());
  CHECK_FALSE(none.second);
  auto all = parse({{"Producer-Id", "p"}, {"producer-epoch", "2"}, {"PRODUCER-SEQ", "7"}});
  REQUIRE(all.first.ok());
  CHECK(all.second->id == "p");
  CHECK(all.second->epoch == 2);
  CHECK(all.second->seq == 7);
  CHECK_FALSE(parse({{"Producer-Id", "p"}}).first.ok());
  CHECK_FALSE(parse({{"Producer-Id", "p"}, {"Producer-Epoch", "0"}}).first.ok());
  CHECK_FALSE(parse({{"Producer-Id", ""}, {"Producer-Epoch", "0"}, {"Producer-Seq", "0"}}).first.ok());
  CHECK_FALSE(parse({{"Producer-Id", "p"}, {"Producer-Epoch", "1abc"}, {"Producer-Seq", "0"}}).first.ok());
  CHECK_FALSE(parse({{"Producer-Id", "p"}, {"Producer-Epoch", "0"}, {"Producer-Seq", "-1"}}).first.ok());
  CHECK_FALSE(parse({{"Producer-Id", "p"}, {"Producer-Epoch", "0"}, {"Producer-Seq", "1e3"}}).first.ok());
}

TEST_CASE("ds parse: JSON-mode bodies", "[net][ds]") {
  std::vector<std::string> v;
  REQUIRE(ds::parse_json_values(R"([ {"a": 1}, 2, "x" ])", false, v).ok());
  CHECK(v == std::vector<std::string>{R"({"a":1})", "2", R"("x")"});
  REQUIRE(ds::parse_json_values(R"({"b" : [1, 2]})", false, v).ok());
  CHECK(v == std::vector<std::string>{R"({"b":[1,2]})"});
  CHECK_FALSE(ds::parse_json_values("[]", false, v).ok());
  REQUIRE(ds::parse_json_values("[]", true, v).ok());
  CHECK(v.empty());
  for (const char* bad : {"", "{", "[1,]", "{'a':1}", "nul", "[1] [2]", "\xff"}) {
    INFO(bad);
    CHECK_FALSE(ds::parse_json_values(bad, true, v).ok());
  }
  // Hostile nesting is refused before a document is built.
  CHECK_FALSE(ds::parse_json_values(std::string(100000, '[') + std::string(100000, ']'), true, v).ok());
  CHECK(ds::media_type(" Application/JSON ; charset=utf-8") == "application/json");
  CHECK(ds::plausible_content_type("text/plain"));
  CHECK_FALSE(ds::plausible_content_type("text"));
  CHECK_FALSE(ds::plausible_content_type("/plain"));
  CHECK_FALSE(ds::plausible_content_type(""));
}

TEST_CASE("ds engine: create, append, read, idempotent create and conflicts", "[net][ds]") {
  World w;
  auto r = w.call("PUT", "/v1/stream/a", {{"Content-Type", "text/plain"}}, "hello ");
  CHECK(r.status == 201);
  CHECK(header(r, "Stream-Next-Offset") == "0000000000000000_0000000000000001");
  CHECK(w.call("PUT", "/v1/stream/a", {{"Content-Type", "text/plain"}}).status == 200);
  CHECK(w.call("PUT", "/v1/stream/a", {{"Content-Type", "application/json"}}).status == 409);
  CHECK(w.call("POST", "/v1/stream/a", {{"Content-Type", "text/plain"}}, "world").status == 204);
  CHECK(w.call("POST", "/v1/stream/a", {{"Content-Type", "application/json"}}, "1").status == 409);
  CHECK(w.call("POST", "/v1/stream/a", {{"Content-Type", "text/plain"}}, "").status == 400);
  CHECK(w.call("POST", "/v1/stream/a", {}, "x").status == 400);
  CHECK(w.call("POST", "/v1/stream/missing", {{"Content-Type", "text/plain"}}, "x").status == 404);
  r = w.call("GET", "/v1/stream/a");
  CHECK(r.status == 200);
  CHECK(r.body == "hello world");
  CHECK(header(r, "Stream-Up-To-Date") == "true");
  auto mid = w.call("GET", "/v1/stream/a?offset=0000000000000000_0000000000000001");
  CHECK(mid.body == "world");
  auto etag = header(r, "ETag");
  CHECK(w.call("GET", "/v1/stream/a", {{"If-None-Match", etag}}).status == 304);
  for (const char* bad : {"?offset=", "?offset=abc", "?offset=1_2&offset=1_2", "?offset=-1&live=sse&offset=x"}) {
    INFO(bad);
    CHECK(w.call("GET", std::string("/v1/stream/a") + bad).status == 400);
  }
  CHECK(w.call("GET", "/v1/stream/a?live=long-poll").status == 400);
  CHECK(w.call("PATCH", "/v1/stream/a").status == 405);
  CHECK(w.call("DELETE", "/v1/stream/a").status == 204);
  CHECK(w.call("GET", "/v1/stream/a").status == 404);
  CHECK(w.call("DELETE", "/v1/stream/a").status == 404);
}

TEST_CASE("ds engine: idempotent producers fence, dedupe and report gaps", "[net][ds]") {
  World w;
  REQUIRE(w.call("PUT", "/v1/stream/p", {{"Content-Type", "text/plain"}}).status == 201);
  auto post = [&](std::string epoch, std::string seq, std::string body = "x") {
    return w.call("POST", "/v1/stream/p",
                  {{"Content-Type", "text/plain"}, {"Producer-Id", "w"}, {"Producer-Epoch", epoch}, {"Producer-Seq", seq}},
                  body);
  };
  CHECK(post("0", "0").status == 200);
  CHECK(post("0", "0").status == 204);  // retry: duplicate, nothing written
  auto gap = post("0", "5");
  CHECK(gap.status == 409);
  CHECK(header(gap, "Producer-Expected-Seq") == "1");
  CHECK(post("1", "3").status == 400);  // a new epoch starts at 0
  CHECK(post("1", "0").status == 200);
  auto stale = post("0", "1");
  CHECK(stale.status == 403);
  CHECK(header(stale, "Producer-Epoch") == "1");
  CHECK(w.call("GET", "/v1/stream/p").body == "xx");
  CHECK(w.call("POST", "/v1/stream/p", {{"Content-Type", "text/plain"}, {"Producer-Id", "w"}}, "x").status == 400);
}

TEST_CASE("ds engine: JSON mode, closure and TTL with a fake clock", "[net][ds]") {
  World w;
  REQUIRE(w.call("PUT", "/v1/stream/j", {{"Content-Type", "application/json"}, {"Stream-TTL", "2"}}, "[1,2]").status == 201);
  CHECK(w.call("POST", "/v1/stream/j", {{"Content-Type", "application/json"}}, "[]").status == 400);
  CHECK(w.call("POST", "/v1/stream/j", {{"Content-Type", "application/json"}}, "{bad").status == 400);
  CHECK(w.call("POST", "/v1/stream/j", {{"Content-Type", "application/json"}}, R"({"k": "v"})").status == 204);
  CHECK(w.call("GET", "/v1/stream/j").body == R"([1,2,{"k":"v"}])");
  CHECK(w.call("POST", "/v1/stream/j", {{"Stream-Closed", "true"}}).status == 204);
  auto closed = w.call("POST", "/v1/stream/j", {{"Content-Type", "application/json"}}, "3");
  CHECK(closed.status == 409);
  CHECK(header(closed, "Stream-Closed") == "true");
  CHECK(w.call("PUT", "/v1/stream/t", {{"Stream-TTL", "1"}, {"Stream-Expires-At", "2030-01-01T00:00:00Z"}}).status == 400);
  CHECK(w.call("PUT", "/v1/stream/t", {{"Stream-TTL", "-1"}}).status == 400);
  CHECK(w.call("PUT", "/v1/stream/t", {{"Stream-Expires-At", "tomorrow"}}).status == 400);
  w.clock->advance(std::chrono::milliseconds(1500));
  CHECK(w.call("HEAD", "/v1/stream/j").status == 200);  // HEAD does not extend the TTL
  w.clock->advance(std::chrono::milliseconds(600));
  CHECK(w.call("HEAD", "/v1/stream/j").status == 404);
}

TEST_CASE("ds engine: forks read through their source and pin it when deleted", "[net][ds]") {
  World w;
  REQUIRE(w.call("PUT", "/v1/stream/src", {{"Content-Type", "text/plain"}}, "ab").status == 201);
  REQUIRE(w.call("POST", "/v1/stream/src", {{"Content-Type", "text/plain"}}, "cd").status == 204);
  auto fork = w.call("PUT", "/v1/stream/fork",
                     {{"Stream-Forked-From", "/v1/stream/src"}, {"Stream-Fork-Offset", "0000000000000000_0000000000000001"}});
  REQUIRE(fork.status == 201);
  CHECK(fork.content_type == "text/plain");
  CHECK(w.call("POST", "/v1/stream/fork", {{"Content-Type", "text/plain"}}, "XY").status == 204);
  CHECK(w.call("GET", "/v1/stream/fork").body == "abXY");
  CHECK(w.call("DELETE", "/v1/stream/src").status == 204);
  CHECK(w.call("GET", "/v1/stream/src").status == 410);
  CHECK(w.call("GET", "/v1/stream/fork").body == "abXY");
  CHECK(w.call("PUT", "/v1/stream/bad", {{"Stream-Forked-From", "/v1/stream/none"}}).status == 404);
  CHECK(w.call("PUT", "/v1/stream/bad2", {{"Stream-Forked-From", "/v1/stream/fork"},
                                           {"Stream-Fork-Offset", "0000000000000000_0000000000000099"}})
            .status == 400);
  CHECK(w.call("DELETE", "/v1/stream/fork").status == 204);
  CHECK(w.call("GET", "/v1/stream/src").status == 404);  // the soft-deleted source went with it
}

TEST_CASE("ds engine: long-poll waits for data, SSE pairs data with control events", "[net][ds]") {
  World w;
  REQUIRE(w.call("PUT", "/v1/stream/l", {{"Content-Type", "text/plain"}}, "a").status == 201);
  auto sink = std::make_shared<Sink>();
  HttpRequest lp{"GET", "/v1/stream/l?offset=now&live=long-poll", {}, {}};
  auto out = w.ds->handle(lp, sink);
  REQUIRE(out.channel);
  out.start();
  CHECK(sink->text().empty());
  CHECK(w.call("POST", "/v1/stream/l", {{"Content-Type", "text/plain"}}, "b").status == 204);
  CHECK(sink->text().find("HTTP/1.1 200") == 0);
  CHECK(sink->text().substr(sink->text().size() - 1) == "b");
  CHECK(sink->closed);

  auto idle = std::make_shared<Sink>();
  HttpRequest lp2{"GET", "/v1/stream/l?offset=now&live=long-poll", {}, {}};
  auto waiting = w.ds->handle(lp2, idle);
  waiting.start();
  waiting.channel->on_tick();
  CHECK_FALSE(idle->closed);
  w.clock->advance(std::chrono::milliseconds(3001));
  waiting.channel->on_tick();
  CHECK(idle->text().find("HTTP/1.1 204") == 0);
  CHECK(idle->closed);

  auto sse_sink = std::make_shared<Sink>();
  HttpRequest sse{"GET", "/v1/stream/l?offset=-1&live=sse", {}, {}};
  auto s = w.ds->handle(sse, sse_sink);
  REQUIRE(s.channel);
  s.start();
  const std::string text = sse_sink->text();
  CHECK(text.find("Content-Type: text/event-stream") != std::string::npos);
  CHECK(text.find("event: data\ndata:a\n\nevent: control\n") != std::string::npos);
  CHECK(text.find("event: data\ndata:b\n\nevent: control\n") != std::string::npos);
  CHECK(w.call("POST", "/v1/stream/l", {{"Stream-Closed", "true"}}).status == 204);
  CHECK(sse_sink->text().find("\"streamClosed\":true") != std::string::npos);
  CHECK(sse_sink->closed);
}

TEST_CASE("ds engine: a strata session is served as a JSON stream of its events", "[net][ds]") {
  World w;
  REQUIRE(w.hub->append("chat-1", {.type = "user.message", .payload = R"({"text":"hi"})"}, {.producer = "u"}).ok());
  auto r = w.call("GET", "/v1/stream/chat-1");
  REQUIRE(r.status == 200);
  CHECK(r.content_type == "application/json");
  CHECK(r.body.find("\"user.message\"") != std::string::npos);
  CHECK(header(r, "Stream-Next-Offset") == "0000000000000000_0000000000000001");
  auto p = w.call("POST", "/v1/stream/chat-1", {{"Content-Type", "application/json"}},
                  R"({"type":"app.note","payload":{"n":1}})");
  CHECK(p.status == 204);
  CHECK(header(p, "Stream-Next-Offset") == "0000000000000000_0000000000000002");
  CHECK(w.call("POST", "/v1/stream/chat-1", {{"Content-Type", "application/json"}}, "[1]").status == 400);
  auto after = w.call("GET", "/v1/stream/chat-1?offset=0000000000000000_0000000000000001");
  CHECK(after.body.find("\"app.note\"") != std::string::npos);
  CHECK(after.body.find("\"user.message\"") == std::string::npos);
  CHECK(w.call("POST", "/v1/stream/chat-1", {{"Stream-Closed", "true"}}).status == 400);
  CHECK(w.call("GET", "/v1/stream/no-such-session").status == 404);
}

TEST_CASE("ds engine: with auth, tokens must grant the stream", "[net][ds]") {
  auto executor = std::make_shared<testing::ManualExecutor>();
  session::HubOptions o;
  o.store = session::open_memory_store();
  o.executor = executor;
  o.maintenance_interval = std::chrono::milliseconds(0);
  auto hub = session::Hub::open(o).value();
  TokenOptions keys;
  keys.hs256_key = std::string(32, 'k');
  DurableStreamsOptions d;
  d.prefix = "/v1/stream/";
  auto engine = DurableStreams::create(*hub, d, nullptr, keys).value();
  Capability cap;
  cap.subject = "t";
  cap.grants.push_back({{"team/*"}, {Operation::kSubscribe, Operation::kAppend}});
  cap.expires_at = 4102444800;
  const std::string bearer = "Bearer " + sign_token(cap, keys).value();
  auto call = [&](std::string method, std::string target, std::vector<std::pair<std::string, std::string>> headers) {
    HttpRequest r{std::move(method), std::move(target), std::move(headers), {}};
    return engine->handle(r, std::make_shared<Sink>()).response;
  };
  CHECK(call("PUT", "/v1/stream/team/a", {}).status == 401);
  CHECK(call("PUT", "/v1/stream/team/a", {{"Authorization", "Bearer nope"}}).status == 401);
  CHECK(call("PUT", "/v1/stream/team/a", {{"Authorization", bearer}}).status == 201);
  CHECK(call("GET", "/v1/stream/team/a", {{"Authorization", bearer}}).status == 200);
  // Outside the grant: the same 403 whether or not the stream exists.
  CHECK(call("GET", "/v1/stream/other", {{"Authorization", bearer}}).status == 403);
  CHECK(call("PUT", "/v1/stream/other", {{"Authorization", bearer}}).status == 403);
  CHECK(call("PUT", "/v1/stream/team/fork", {{"Authorization", bearer}, {"Stream-Forked-From", "/v1/stream/other"}}).status == 403);
  engine->shutdown();
}

TEST_CASE("ds engine: streams created over DS share a memory cap", "[net][ds]") {
  auto executor = std::make_shared<testing::ManualExecutor>();
  session::HubOptions o;
  o.store = session::open_memory_store();
  o.executor = executor;
  o.maintenance_interval = std::chrono::milliseconds(0);
  auto hub = session::Hub::open(o).value();
  DurableStreamsOptions d;
  d.prefix = "/v1/stream/";
  d.max_memory_bytes = 10;
  auto engine = DurableStreams::create(*hub, d, nullptr).value();
  auto call = [&](std::string method, std::string target, std::string body) {
    HttpRequest r{std::move(method), std::move(target), {{"Content-Type", "text/plain"}}, std::move(body)};
    return engine->handle(r, std::make_shared<Sink>()).response.status;
  };
  CHECK(call("PUT", "/v1/stream/a", "123456") == 201);
  CHECK(call("POST", "/v1/stream/a", "12345") == 503);
  CHECK(call("PUT", "/v1/stream/b", "12345") == 503);
  CHECK(call("POST", "/v1/stream/a", "1234") == 204);
  CHECK(call("DELETE", "/v1/stream/a", "") == 204);  // frees its bytes
  CHECK(call("PUT", "/v1/stream/b", "1234567890") == 201);
  // A session served as a stream: PUT is an idempotent create, not a second stream.
  REQUIRE(hub->append("s1", {.type = "app.note"}, {.producer = "p"}).ok());
  HttpRequest put{"PUT", "/v1/stream/s1", {{"Content-Type", "application/json"}}, {}};
  CHECK(engine->handle(put, std::make_shared<Sink>()).response.status == 200);
  engine->shutdown();
}
