// The Durable Streams subscription APIs (src/net/ds_subscriptions.h): request parsers with
// malformed and hostile input, the webhook URL policy (private, link-local, metadata, IPv6,
// loopback), the service with fake streams and a fake webhook transport (wakes, signatures,
// callbacks, fencing, tokens, retries, pull-wake leases), and the engine end to end with a
// real loopback webhook receiver.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <strata/session/hub.h>
#include <strata/testing/fake_clock.h>
#include <strata/testing/manual_executor.h>

#include "net/ds_subscriptions.h"
#include "net/durable_streams.h"

using namespace strata;
using namespace strata::net;
using namespace strata::net::detail;
using namespace strata::net::detail::subs;
using nlohmann::json;

namespace {

DurableStreamsSubscriptionOptions policy(bool loopback = false, bool priv = false) {
  DurableStreamsSubscriptionOptions o;
  o.enabled = true;
  o.allow_loopback_webhooks = loopback;
  o.allow_private_webhooks = priv;
  return o;
}

bool url_ok(std::string_view url, const DurableStreamsSubscriptionOptions& p = policy()) {
  WebhookTarget t;
  return check_webhook_url(url, p, t).ok();
}

ds::StreamOffset at(std::uint64_t n) { return ds::StreamOffset{0, n}; }

// Streams with tails the test sets, and pull-wake appends recorded.
struct FakeStreams {
  std::mutex mu;
  std::map<std::string, std::uint64_t> tails;
  std::vector<std::pair<std::string, std::string>> appended;

  StreamAccess access() {
    StreamAccess a;
    a.tail = [this](const std::string& p) -> std::optional<ds::StreamOffset> {
      std::lock_guard lock(mu);
      auto it = tails.find(p);
      if (it == tails.end()) return std::nullopt;
      return at(it->second);
    };
    a.list = [this] {
      std::lock_guard lock(mu);
      std::vector<std::string> out;
      for (const auto& [p, t] : tails) out.push_back(p);
      return out;
    };
    a.append = [this](const std::string& p, const std::string& body) {
      std::lock_guard lock(mu);
      appended.emplace_back(p, body);
      tails[p] += 1;
      return true;
    };
    return a;
  }
  void set(const std::string& p, std::uint64_t tail) {
    std::lock_guard lock(mu);
    tails[p] = tail;
  }
  std::size_t appends() {
    std::lock_guard lock(mu);
    return appended.size();
  }
};

// A webhook transport that records every POST and answers what the test says.
struct FakeWebhook {
  struct Call {
    WebhookTarget target;
    std::string body;
    std::string signature;
  };
  std::mutex mu;
  std::vector<Call> calls;
  int status = 200;
  std::string answer = "{}";

  PostFunction function() {
    return [this](const WebhookTarget& t, const std::string& body,
                  const std::vector<std::pair<std::string, std::string>>& headers) -> Result<PostResult> {
      std::lock_guard lock(mu);
      Call c{t, body, {}};
      for (const auto& [k, v] : headers) {
        if (k == "webhook-signature") c.signature = v;
      }
      calls.push_back(c);
      if (status == 0) return unavailable_error("refused");
      return PostResult{status, answer};
    };
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return calls.size();
  }
  Call last() {
    std::lock_guard lock(mu);
    return calls.back();
  }
  Call at(std::size_t i) {
    std::lock_guard lock(mu);
    return calls.at(i);
  }
  void answer_with(int s, std::string a = "{}") {
    std::lock_guard lock(mu);
    status = s;
    answer = std::move(a);
  }
};

// Waits (real time) until `pred` holds; false after ~3 s.
template <typename Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 300; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

struct Service {
  std::shared_ptr<testing::FakeClock> clock = std::make_shared<testing::FakeClock>();
  FakeStreams streams;
  FakeWebhook hook;
  std::shared_ptr<Subscriptions> subs;
  explicit Service(DurableStreamsSubscriptionOptions o = policy(true)) {
    clock->set_ms(1'800'000'000'000);
    subs = Subscriptions::create(o, "/v1/stream/", clock, streams.access(), hook.function());
  }
  ~Service() { subs->shutdown(); }
  HttpResponse call(std::string method, std::string rest, std::string body = {}, std::string token = {}) {
    HttpRequest r;
    r.method = std::move(method);
    r.target = "/v1/stream/__ds/" + rest;
    r.headers.emplace_back("Host", "127.0.0.1:9");
    if (!token.empty()) r.headers.emplace_back("Authorization", "Bearer " + token);
    r.body = std::move(body);
    return subs->handle(r, rest);
  }
  static json body(const HttpResponse& r) { return json::parse(r.body); }
  static std::string code(const HttpResponse& r) { return json::parse(r.body)["error"]["code"].get<std::string>(); }
  json get(const std::string& id) { return body(call("GET", "subscriptions/" + id)); }
  std::string acked(const std::string& id, const std::string& path) {
    const json sub = get(id);  // kept alive: the loop reads into it
    for (const auto& s : sub["streams"]) {
      if (s["path"] == path) return s["acked_offset"];
    }
    return "none";
  }
};

const char* kWebhookSpec = R"({"type":"webhook","pattern":"events/*","webhook":{"url":"http://127.0.0.1:9/hook"},"lease_ttl_ms":1000})";

}  // namespace

TEST_CASE("subscription spec parser accepts both types and refuses malformed input", "[ds-subs]") {
  Spec s;
  REQUIRE(parse_spec(kWebhookSpec, s).ok());
  CHECK(s.type == Type::kWebhook);
  CHECK(s.pattern == "events/*");
  CHECK(s.webhook_url == "http://127.0.0.1:9/hook");
  CHECK(s.lease_ttl_ms == 1000);
  REQUIRE(parse_spec(R"({"type":"pull-wake","streams":["b","a","a"],"wake_stream":"wake/p"})", s).ok());
  CHECK(s.type == Type::kPullWake);
  CHECK(s.streams == std::vector<std::string>{"a", "b"});
  CHECK(s.lease_ttl_ms == 30000);

  const std::vector<std::string> bad = {
      "",
      "{",
      "[]",
      "\"webhook\"",
      "{\"type\":\"webhook\",\"pattern\":\"a/*\"}",                                          // no url
      "{\"type\":\"carrier-pigeon\",\"pattern\":\"a\"}",                                     // unknown type
      "{\"type\":7,\"pattern\":\"a\"}",                                                      // type not a string
      "{\"pattern\":\"a\",\"webhook\":{\"url\":\"http://x/\"}}",                             // no type
      "{\"type\":\"pull-wake\",\"pattern\":\"a\"}",                                          // no wake_stream
      "{\"type\":\"pull-wake\",\"pattern\":\"a\",\"wake_stream\":\"../x\"}",                 // bad wake stream
      "{\"type\":\"webhook\",\"webhook\":{\"url\":\"http://x/\"}}",                          // no pattern/streams
      "{\"type\":\"webhook\",\"pattern\":\"/abs\",\"webhook\":{\"url\":\"http://x/\"}}",     // bad pattern
      "{\"type\":\"webhook\",\"pattern\":\"a//b\",\"webhook\":{\"url\":\"http://x/\"}}",     // empty segment
      "{\"type\":\"webhook\",\"pattern\":\"a/**x\",\"webhook\":{\"url\":\"http://x/\"}}",    // bad **
      "{\"type\":\"webhook\",\"pattern\":\"__ds/*\",\"webhook\":{\"url\":\"http://x/\"}}",   // reserved
      "{\"type\":\"webhook\",\"streams\":[1],\"webhook\":{\"url\":\"http://x/\"}}",          // non-string path
      "{\"type\":\"webhook\",\"streams\":\"a\",\"webhook\":{\"url\":\"http://x/\"}}",        // not a list
      "{\"type\":\"webhook\",\"pattern\":\"a\",\"webhook\":{\"url\":5}}",                    // url not a string
      "{\"type\":\"webhook\",\"pattern\":\"a\",\"webhook\":\"http://x/\"}",                  // webhook not object
      "{\"type\":\"webhook\",\"pattern\":\"a\",\"webhook\":{\"url\":\"http://x/\"},\"lease_ttl_ms\":999}",
      "{\"type\":\"webhook\",\"pattern\":\"a\",\"webhook\":{\"url\":\"http://x/\"},\"lease_ttl_ms\":600001}",
      "{\"type\":\"webhook\",\"pattern\":\"a\",\"webhook\":{\"url\":\"http://x/\"},\"lease_ttl_ms\":-5}",
      "{\"type\":\"webhook\",\"pattern\":\"a\",\"webhook\":{\"url\":\"http://x/\"},\"lease_ttl_ms\":1500.5}",
      "{\"type\":\"webhook\",\"pattern\":\"a\",\"webhook\":{\"url\":\"http://x/\"},\"lease_ttl_ms\":\"2000\"}",
      "{\"type\":\"webhook\",\"pattern\":\"a\",\"webhook\":{\"url\":\"http://x/\"},\"description\":[]}",
      "{\"type\":\"webhook\",\"pattern\":\"a\",\"webhook\":{\"url\":\"http://x/\"},\"wake_stream\":\"w\"}",
  };
  for (const auto& b : bad) {
    INFO(b);
    Status st = parse_spec(b, s);
    CHECK(st.code() == StatusCode::kInvalidArgument);
    CHECK_FALSE(st.message().empty());
  }
  // Hostile: deep nesting, an oversized body, an oversized description.
  CHECK_FALSE(parse_spec(std::string(100000, '[') + std::string(100000, ']'), s).ok());
  CHECK_FALSE(parse_spec("{\"type\":\"webhook\",\"x\":" + std::string(5000, '[') + std::string(5000, ']') + "}", s).ok());
  CHECK_FALSE(parse_spec("{\"type\":\"webhook\",\"pattern\":\"a\",\"webhook\":{\"url\":\"http://x/\"},\"description\":\"" +
                             std::string(2000, 'd') + "\"}",
                         s)
                  .ok());
  std::string many = "{\"type\":\"webhook\",\"webhook\":{\"url\":\"http://x/\"},\"streams\":[";
  for (int i = 0; i < 1001; ++i) many += (i ? ",\"s" : "\"s") + std::to_string(i) + "\"";
  CHECK_FALSE(parse_spec(many + "]}", s).ok());
}

TEST_CASE("ack, claim and stream-list parsers", "[ds-subs]") {
  AckRequest a;
  REQUIRE(parse_ack_request(R"({"wake_id":"w","generation":3,"acks":[{"stream":"a","offset":"0000000000000000_0000000000000002"},{"path":"b","offset":"0_1"}],"done":true})", a).ok());
  CHECK(a.wake_id == "w");
  CHECK(a.generation == 3u);
  REQUIRE(a.acks.size() == 2);
  CHECK(a.acks[1].stream == "b");
  CHECK(a.acks[0].offset == at(2));
  CHECK(a.done);
  REQUIRE(parse_ack_request("", a).ok());
  CHECK_FALSE(a.generation);
  for (std::string b : {R"({"acks":[{"stream":"a","offset":"-1"}]})", R"({"acks":[{"stream":"a","offset":"x"}]})",
                        R"({"acks":[{"offset":"0_1"}]})", R"({"acks":{"stream":"a"}})", R"({"acks":[5]})",
                        R"({"generation":-1})", R"({"generation":"1"})", R"({"generation":1.5})", R"({"done":"yes"})",
                        R"({"wake_id":7})", "[1]", "{\"a\":"}) {
    INFO(b);
    CHECK(parse_ack_request(b, a).code() == StatusCode::kInvalidArgument);
  }
  std::string worker;
  REQUIRE(parse_claim_request(R"({"worker":"w-1"})", worker).ok());
  CHECK(worker == "w-1");
  CHECK_FALSE(parse_claim_request("{}", worker).ok());
  CHECK_FALSE(parse_claim_request(R"({"worker":""})", worker).ok());
  CHECK_FALSE(parse_claim_request(R"({"worker":")" + std::string(300, 'w') + "\"}", worker).ok());
  CHECK_FALSE(parse_claim_request("", worker).ok());
  std::vector<std::string> paths;
  REQUIRE(parse_stream_list(R"({"streams":["x/y"]})", paths).ok());
  CHECK(paths == std::vector<std::string>{"x/y"});
  CHECK_FALSE(parse_stream_list(R"({"streams":[]})", paths).ok());
  CHECK_FALSE(parse_stream_list(R"({"streams":["/x"]})", paths).ok());
  CHECK_FALSE(parse_stream_list(R"({"streams":["a/../b"]})", paths).ok());
  CHECK_FALSE(parse_stream_list(R"({})", paths).ok());
}

TEST_CASE("ids, paths and globs", "[ds-subs]") {
  CHECK(valid_id("sub-1_a.b"));
  CHECK_FALSE(valid_id(""));
  CHECK_FALSE(valid_id(".."));
  CHECK_FALSE(valid_id("a/b"));
  CHECK_FALSE(valid_id(std::string(129, 'a')));
  CHECK(valid_stream_path("events/a"));
  CHECK_FALSE(valid_stream_path("__ds/x"));
  CHECK_FALSE(valid_stream_path("a\nb"));
  CHECK(glob_match("events/*", "events/a"));
  CHECK_FALSE(glob_match("events/*", "events/a/b"));
  CHECK_FALSE(glob_match("events/*", "other/a"));
  CHECK(glob_match("events/**", "events/a/b/c"));
  CHECK(glob_match("events/**", "events"));
  CHECK(glob_match("**/x", "a/b/x"));
  CHECK(glob_match("e*s/a*c", "events/abc"));
  CHECK_FALSE(glob_match("e*s/a*c", "events/abd"));
  // Pathological patterns stay cheap.
  CHECK_FALSE(glob_match(std::string(200, '*') + "b", std::string(1000, 'a')));
}

TEST_CASE("webhook URL policy refuses private, link-local, metadata and odd forms", "[ds-subs]") {
  for (const char* url : {"http://10.0.0.1/hook", "http://172.16.0.1/", "http://172.31.255.255/", "http://192.168.1.1/",
                          "http://100.64.0.1/", "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0/",
                          "http://[::]/", "http://[fe80::1]/", "http://[fc00::1]/", "http://[fd12::1]/",
                          "http://[::ffff:10.0.0.1]/", "http://[::ffff:169.254.169.254]/", "http://[ff02::1]/",
                          "http://224.0.0.1/", "http://255.255.255.255/", "http://[64:ff9b::a9fe:a9fe]/",
                          "http://metadata.google.internal/", "http://2130706433/", "http://0x7f000001/",
                          "http://127.1/", "http://user:pw@example.com/", "https://example.com/", "ftp://example.com/",
                          "example.com", "http://", "http://:80/", "http://example.com:0/", "http://example.com:99999/",
                          "http://example.com:x/", "http://[::1/", "http://[fe80::1%25eth0]/", "http://exa mple.com/",
                          "http://example.com/\r\nX: y"}) {
    INFO(url);
    CHECK_FALSE(url_ok(url));
  }
  // Loopback only when allowed; link-local never.
  for (const char* url : {"http://127.0.0.1:8080/webhook", "http://localhost/", "http://[::1]:9/", "http://127.9.9.9/",
                          "http://[::ffff:127.0.0.1]/", "http://a.localhost/"}) {
    INFO(url);
    CHECK_FALSE(url_ok(url));
    CHECK(url_ok(url, policy(true)));
  }
  CHECK_FALSE(url_ok("http://169.254.169.254/", policy(true, true)));
  CHECK_FALSE(url_ok("http://[fe80::1]/", policy(true, true)));
  CHECK(url_ok("http://10.0.0.1/", policy(false, true)));
  CHECK(url_ok("http://8.8.8.8/hook"));
  CHECK(url_ok("http://[2001:4860:4860::8888]:8080/x"));
  CHECK(url_ok("http://hooks.example.com/path?q=1"));
  WebhookTarget t;
  REQUIRE(check_webhook_url("HTTP://Hooks.Example.com:8080?x=1#frag", policy(), t).ok());
  CHECK(t.host == "hooks.example.com");
  CHECK(t.port == 8080);
  CHECK(t.path_and_query == "/?x=1");
  REQUIRE(check_webhook_url("http://[2001:db8::1]/a", policy(), t).ok());
  CHECK(t.host == "2001:db8::1");
  CHECK(t.host_is_ip);
  // Resolved addresses are checked with the same policy.
  CHECK_FALSE(check_webhook_address("169.254.169.254", policy(true, true)).ok());
  CHECK_FALSE(check_webhook_address("10.1.2.3", policy()).ok());
  CHECK(check_webhook_address("93.184.216.34", policy()).ok());
  CHECK_FALSE(check_webhook_address("not-an-ip", policy()).ok());
}

TEST_CASE("base64url round trip", "[ds-subs]") {
  for (std::string s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar",
                                                std::string("\xff\xfe\x00\x01", 4)}) {
    CHECK(base64url_decode(base64url(s)) == s);
  }
  CHECK(base64url("\xfb\xff") == "-_8");
  CHECK_FALSE(base64url_decode("a"));
  CHECK_FALSE(base64url_decode("ab+/"));
}

TEST_CASE("subscriptions: create, re-confirm, conflict, read, delete", "[ds-subs]") {
  Service svc;
  svc.streams.set("events/old", 4);
  auto created = svc.call("PUT", "subscriptions/s1", kWebhookSpec);
  REQUIRE(created.status == 201);
  auto b = Service::body(created);
  CHECK(b["id"] == "s1");
  CHECK(b["type"] == "webhook");
  CHECK_FALSE(b.contains("webhook_secret"));
  CHECK(b["webhook"]["url"] == "http://127.0.0.1:9/hook");
  CHECK(b["webhook"]["signing"]["alg"] == "ed25519");
  const std::string kid = b["webhook"]["signing"]["kid"];
  CHECK(kid.substr(0, 3) == "ds_");
  CHECK(b["webhook"]["signing"]["jwks_url"] == "http://127.0.0.1:9/v1/stream/__ds/jwks.json");
  // An existing matching stream is linked at its tail: nothing pending.
  REQUIRE(b["streams"].size() == 1);
  CHECK(b["streams"][0]["acked_offset"] == ds::format_offset(at(4)));
  CHECK(b["streams"][0]["has_pending"] == false);
  CHECK(b["streams"][0]["link_type"] == "glob");

  CHECK(svc.call("PUT", "subscriptions/s1", kWebhookSpec).status == 200);
  auto conflict = svc.call("PUT", "subscriptions/s1",
                           R"({"type":"webhook","pattern":"other/*","webhook":{"url":"http://127.0.0.1:9/hook"}})");
  CHECK(conflict.status == 409);
  CHECK(Service::code(conflict) == "SUBSCRIPTION_ALREADY_EXISTS");

  auto jwks = svc.call("GET", "jwks.json");
  CHECK(jwks.status == 200);
  CHECK(jwks.content_type == "application/jwk-set+json");
  auto keys = json::parse(jwks.body)["keys"];
  REQUIRE(keys.size() == 1);
  CHECK(keys[0]["kid"] == kid);
  CHECK(keys[0]["kty"] == "OKP");
  CHECK(keys[0]["crv"] == "Ed25519");
  CHECK(keys[0]["alg"] == "EdDSA");
  CHECK_FALSE(keys[0].contains("d"));  // never the private part

  CHECK(svc.call("DELETE", "subscriptions/s1").status == 204);
  auto gone = svc.call("GET", "subscriptions/s1");
  CHECK(gone.status == 404);
  CHECK(Service::code(gone) == "SUBSCRIPTION_NOT_FOUND");
  CHECK(svc.call("DELETE", "subscriptions/s1").status == 404);

  // Failure paths of the routes.
  CHECK(Service::code(svc.call("PUT", "subscriptions/s2", "{not json")) == "INVALID_REQUEST");
  CHECK(Service::code(svc.call("PUT", "subscriptions/s2", R"({"type":"fax","pattern":"a"})")) == "INVALID_REQUEST");
  auto unsafe = svc.call("PUT", "subscriptions/s2",
                         R"({"type":"webhook","pattern":"a/*","webhook":{"url":"http://10.0.0.1/hook"}})");
  CHECK(unsafe.status == 400);
  CHECK(Service::code(unsafe) == "WEBHOOK_URL_REJECTED");
  CHECK(svc.call("PUT", "subscriptions/bad%2Fid", kWebhookSpec).status == 400);
  CHECK(svc.call("PUT", "subscriptions/%zz", kWebhookSpec).status == 400);
  CHECK(svc.call("POST", "subscriptions/nope/claim", R"({"worker":"w"})").status == 404);
  CHECK(svc.call("GET", "elsewhere").status == 404);
  CHECK(svc.call("PATCH", "subscriptions/s2").status == 405);
  CHECK(svc.call("POST", "jwks.json").status == 405);
}

TEST_CASE("subscriptions: capacity limits", "[ds-subs]") {
  auto o = policy(true);
  o.max_subscriptions = 1;
  Service svc(o);
  CHECK(svc.call("PUT", "subscriptions/a", kWebhookSpec).status == 201);
  auto full = svc.call("PUT", "subscriptions/b", kWebhookSpec);
  CHECK(full.status == 503);
  CHECK(Service::code(full) == "CAPACITY_EXCEEDED");
}

TEST_CASE("subscriptions: explicit streams are linked and unlinked", "[ds-subs]") {
  Service svc;
  REQUIRE(svc.call("PUT", "subscriptions/m",
                   R"({"type":"webhook","streams":["manual/a"],"webhook":{"url":"http://127.0.0.1:9/h"}})")
              .status == 201);
  CHECK(svc.call("POST", "subscriptions/m/streams", R"({"streams":["manual/b"]})").status == 204);
  auto with_b = svc.get("m");
  CHECK(with_b["streams"].size() == 2);
  CHECK(svc.call("DELETE", "subscriptions/m/streams/manual%2Fb").status == 204);
  auto after = svc.get("m");
  REQUIRE(after["streams"].size() == 1);
  CHECK(after["streams"][0]["path"] == "manual/a");
  CHECK(after["streams"][0]["link_type"] == "explicit");
  CHECK(svc.call("POST", "subscriptions/m/streams", R"({"streams":[]})").status == 400);
  CHECK(svc.call("POST", "subscriptions/m/streams", "[[[").status == 400);
  CHECK(svc.call("DELETE", "subscriptions/m/streams/..").status == 400);
}

TEST_CASE("webhook: a write wakes, the notification is signed, a synchronous done acks", "[ds-subs]") {
  Service svc;
  svc.hook.answer_with(200, R"({"done":true})");
  REQUIRE(svc.call("PUT", "subscriptions/w", kWebhookSpec).status == 201);
  svc.streams.set("events/a", 1);
  svc.subs->on_stream_written("events/a");
  svc.subs->on_stream_written("unrelated/x");
  REQUIRE(eventually([&] { return svc.acked("w", "events/a") == ds::format_offset(at(1)); }));
  REQUIRE(svc.hook.count() == 1);
  auto call = svc.hook.last();
  CHECK(call.target.host == "127.0.0.1");
  CHECK(call.target.port == 9);
  CHECK(call.target.path_and_query == "/hook");
  auto n = json::parse(call.body);
  CHECK(n["subscription_id"] == "w");
  CHECK(n["generation"] == 1);
  CHECK(n["callback_url"] == "http://127.0.0.1:9/v1/stream/__ds/subscriptions/w/callback");
  CHECK_FALSE(n["callback_token"].get<std::string>().empty());
  REQUIRE(n["streams"].size() == 1);
  CHECK(n["streams"][0]["path"] == "events/a");
  CHECK(n["streams"][0]["has_pending"] == true);
  CHECK(n["streams"][0]["tail_offset"] == ds::format_offset(at(1)));

  const std::string jwks = svc.subs->jwks();
  CHECK(verify_signature(jwks, call.signature, call.body));
  CHECK_FALSE(verify_signature(jwks, call.signature, call.body + " "));  // body changed
  std::string forged = call.signature;
  forged[forged.size() - 3] = forged[forged.size() - 3] == 'A' ? 'B' : 'A';
  CHECK_FALSE(verify_signature(jwks, forged, call.body));
  CHECK_FALSE(verify_signature(jwks, "t=1,kid=ds_other,ed25519=AAAA", call.body));
  CHECK_FALSE(verify_signature("{}", call.signature, call.body));
  // Another service's key does not verify this one's signatures.
  Service other;
  CHECK_FALSE(verify_signature(other.subs->jwks(), call.signature, call.body));
}

TEST_CASE("webhook callback: acks, fences stale wakes, refuses bad tokens and offsets", "[ds-subs]") {
  Service svc;
  REQUIRE(svc.call("PUT", "subscriptions/c", kWebhookSpec).status == 201);
  svc.streams.set("events/a", 3);
  svc.subs->on_stream_written("events/a");
  REQUIRE(eventually([&] { return svc.hook.count() == 1; }));
  auto n = json::parse(svc.hook.last().body);
  const std::string token = n["callback_token"];
  const std::string wake = n["wake_id"];
  const auto ack = [&](std::string offset, bool done, std::uint64_t gen = 1, std::string stream = "events/a") {
    return json{{"wake_id", wake},
                {"generation", gen},
                {"acks", json::array({json{{"stream", stream}, {"offset", offset}}})},
                {"done", done}}
        .dump();
  };
  // Bad tokens.
  auto none = svc.call("POST", "subscriptions/c/callback", ack(ds::format_offset(at(1)), false));
  CHECK(none.status == 401);
  CHECK(Service::code(none) == "TOKEN_INVALID");
  std::string tampered = token;
  tampered[0] = tampered[0] == '1' ? '2' : '1';  // another generation, same MAC
  CHECK(Service::code(svc.call("POST", "subscriptions/c/callback", ack(ds::format_offset(at(1)), false), tampered)) ==
        "TOKEN_INVALID");
  CHECK(Service::code(svc.call("POST", "subscriptions/c/callback", ack(ds::format_offset(at(1)), false), "garbage")) ==
        "TOKEN_INVALID");
  // Stale generation in the body.
  auto stale_gen = svc.call("POST", "subscriptions/c/callback", ack(ds::format_offset(at(1)), false, 7), token);
  CHECK(stale_gen.status == 409);
  CHECK(Service::code(stale_gen) == "FENCED");
  // Offsets: beyond the tail, unknown stream, bad JSON.
  auto beyond = svc.call("POST", "subscriptions/c/callback", ack(ds::format_offset(at(9)), false), token);
  CHECK(beyond.status == 409);
  CHECK(Service::code(beyond) == "INVALID_OFFSET");
  CHECK(Service::code(svc.call("POST", "subscriptions/c/callback",
                               ack(ds::format_offset(at(1)), false, 1, "events/zzz"), token)) == "INVALID_OFFSET");
  CHECK(svc.call("POST", "subscriptions/c/callback", "{\"acks\":", token).status == 400);
  // A partial ack keeps the wake; regressing is refused; done ends it.
  auto partial = svc.call("POST", "subscriptions/c/callback", ack(ds::format_offset(at(2)), false), token);
  REQUIRE(partial.status == 200);
  CHECK(svc.acked("c", "events/a") == ds::format_offset(at(2)));
  CHECK(Service::code(svc.call("POST", "subscriptions/c/callback", ack(ds::format_offset(at(1)), false), token)) ==
        "INVALID_OFFSET");
  auto done = svc.call("POST", "subscriptions/c/callback", ack(ds::format_offset(at(3)), true), token);
  REQUIRE(done.status == 200);
  CHECK(Service::body(done) == json{{"ok", true}, {"next_wake", false}});
  auto again = svc.call("POST", "subscriptions/c/callback", ack(ds::format_offset(at(3)), true), token);
  CHECK(again.status == 409);
  CHECK(Service::code(again) == "FENCED");
  // Pull-wake routes on a webhook subscription are refused.
  CHECK(svc.call("POST", "subscriptions/c/claim", R"({"worker":"w"})").status == 400);

  // A token past its lifetime is expired.
  svc.streams.set("events/a", 4);
  svc.subs->on_stream_written("events/a");
  REQUIRE(eventually([&] { return svc.hook.count() == 2; }));
  auto n2 = json::parse(svc.hook.last().body);
  CHECK(n2["generation"] == 2);
  svc.clock->advance(std::chrono::hours(2));
  auto expired = svc.call("POST", "subscriptions/c/callback",
                          json{{"wake_id", n2["wake_id"]}, {"generation", 2}, {"done", true}}.dump(),
                          n2["callback_token"].get<std::string>());
  CHECK(expired.status == 401);
  CHECK(Service::code(expired) == "TOKEN_EXPIRED");
}

TEST_CASE("webhook: an unacked wake's lease expires and the next wake is delivered", "[ds-subs]") {
  Service svc;
  REQUIRE(svc.call("PUT", "subscriptions/l", kWebhookSpec).status == 201);
  svc.streams.set("events/a", 1);
  svc.subs->on_stream_written("events/a");
  REQUIRE(eventually([&] { return svc.hook.count() == 1; }));
  svc.clock->advance(std::chrono::milliseconds(1500));
  svc.subs->tick();
  REQUIRE(eventually([&] { return svc.hook.count() == 2; }));
  auto first = json::parse(svc.hook.at(0).body);
  auto second = json::parse(svc.hook.last().body);
  CHECK(second["generation"] == 2);
  // The first wake's token is fenced now.
  auto late = svc.call("POST", "subscriptions/l/callback",
                       json{{"wake_id", first["wake_id"]}, {"generation", 1}, {"done", true}}.dump(),
                       first["callback_token"].get<std::string>());
  CHECK(late.status == 409);
  CHECK(Service::code(late) == "FENCED");
}

TEST_CASE("webhook: failed deliveries are retried with backoff and given up", "[ds-subs]") {
  auto o = policy(true);
  o.webhook_max_attempts = 3;
  Service svc(o);
  svc.hook.answer_with(500);
  REQUIRE(svc.call("PUT", "subscriptions/r", kWebhookSpec).status == 201);
  svc.streams.set("events/a", 1);
  svc.subs->on_stream_written("events/a");
  REQUIRE(eventually([&] { return svc.hook.count() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  CHECK(svc.hook.count() == 1);  // backoff: nothing before the fake clock moves
  svc.clock->advance(std::chrono::milliseconds(1000));
  REQUIRE(eventually([&] { return svc.hook.count() == 2; }));
  svc.hook.answer_with(0);  // connection refused
  svc.clock->advance(std::chrono::milliseconds(2000));
  REQUIRE(eventually([&] { return svc.get("r")["status"] == "failed"; }));
  CHECK(svc.hook.count() == 3);
  // A new write starts over.
  svc.hook.answer_with(200);
  svc.streams.set("events/a", 2);
  svc.subs->on_stream_written("events/a");
  REQUIRE(eventually([&] { return svc.hook.count() == 4; }));
  CHECK(eventually([&] { return svc.get("r")["status"] == "active"; }));
}

TEST_CASE("pull-wake: wake events, claim, ALREADY_CLAIMED, ack, release, lease expiry", "[ds-subs]") {
  Service svc;
  svc.streams.set("wake/pool", 0);
  REQUIRE(svc.call("PUT", "subscriptions/p",
                   R"({"type":"pull-wake","pattern":"**","wake_stream":"wake/pool","lease_ttl_ms":1000})")
              .status == 201);
  auto nothing = svc.call("POST", "subscriptions/p/claim", R"({"worker":"w1"})");
  CHECK(nothing.status == 409);
  CHECK(Service::code(nothing) == "NO_PENDING_WORK");
  CHECK(svc.call("POST", "subscriptions/p/claim", R"({"worker":""})").status == 400);
  CHECK(svc.call("POST", "subscriptions/p/callback", "{}").status == 400);

  svc.streams.set("events/a", 2);
  svc.subs->on_stream_written("events/a");
  REQUIRE(svc.streams.appends() == 1);
  auto event = json::parse(svc.streams.appended[0].second);
  CHECK(svc.streams.appended[0].first == "wake/pool");
  CHECK(event["subscription_id"] == "p");
  CHECK(event["type"] == "wake");
  CHECK(event["stream"] == "events/a");
  // The wake stream itself is never linked (its own events would wake it forever).
  svc.subs->on_stream_written("wake/pool");
  CHECK(svc.streams.appends() == 1);

  auto claim = svc.call("POST", "subscriptions/p/claim", R"({"worker":"w1"})");
  REQUIRE(claim.status == 200);
  auto c = Service::body(claim);
  CHECK(c["generation"] == 1);
  CHECK(c["streams"][0]["tail_offset"] == ds::format_offset(at(2)));
  auto busy = svc.call("POST", "subscriptions/p/claim", R"({"worker":"w2"})");
  CHECK(busy.status == 409);
  CHECK(Service::code(busy) == "ALREADY_CLAIMED");
  CHECK(Service::body(busy)["error"]["current_holder"] == "w1");
  const std::string token = c["token"];
  const auto body = [&](const json& claimed, bool done) {
    return json{{"wake_id", claimed["wake_id"]},
                {"generation", claimed["generation"]},
                {"acks", json::array({json{{"stream", "events/a"}, {"offset", claimed["streams"][0]["tail_offset"]}}})},
                {"done", done}}
        .dump();
  };
  CHECK(Service::code(svc.call("POST", "subscriptions/p/ack", body(c, true), "nope")) == "TOKEN_INVALID");
  auto ack = svc.call("POST", "subscriptions/p/ack", body(c, true), token);
  REQUIRE(ack.status == 200);
  CHECK(Service::body(ack) == json{{"ok", true}, {"next_wake", false}});
  CHECK(svc.acked("p", "events/a") == ds::format_offset(at(2)));
  CHECK(Service::code(svc.call("POST", "subscriptions/p/ack", body(c, true), token)) == "FENCED");

  // Second round: claim, release (204), the wake is offered again.
  svc.streams.set("events/a", 3);
  svc.subs->on_stream_written("events/a");
  CHECK(svc.streams.appends() == 2);
  auto claim2 = Service::body(svc.call("POST", "subscriptions/p/claim", R"({"worker":"w1"})"));
  CHECK(claim2["generation"] == 2);
  auto rel = svc.call("POST", "subscriptions/p/release",
                      json{{"wake_id", claim2["wake_id"]}, {"generation", claim2["generation"]}}.dump(),
                      claim2["token"].get<std::string>());
  CHECK(rel.status == 204);
  CHECK(svc.streams.appends() == 3);  // still pending: a new wake event

  // Lease expiry: w1 claims and goes quiet; after lease_ttl_ms w2 can claim and w1 is fenced.
  auto claim3 = Service::body(svc.call("POST", "subscriptions/p/claim", R"({"worker":"w1"})"));
  CHECK(svc.call("POST", "subscriptions/p/claim", R"({"worker":"w2"})").status == 409);
  svc.clock->advance(std::chrono::milliseconds(1001));
  auto claim4 = svc.call("POST", "subscriptions/p/claim", R"({"worker":"w2"})");
  REQUIRE(claim4.status == 200);
  CHECK(Service::body(claim4)["generation"].get<int>() > claim3["generation"].get<int>());
  auto late = svc.call("POST", "subscriptions/p/ack", body(claim3, true), claim3["token"].get<std::string>());
  CHECK(late.status == 409);
  CHECK(Service::code(late) == "FENCED");
}

namespace {

// A one-shot HTTP receiver on 127.0.0.1: accepts connections, records each request's body and
// webhook-signature, answers `answer`.
class Receiver {
 public:
  explicit Receiver(std::string answer) : answer_(std::move(answer)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~Receiver() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::uint16_t port() const { return port_; }
  std::vector<std::pair<std::string, std::string>> requests() {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  void serve() {
    while (!stop_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string buf;
      char chunk[4096];
      std::size_t need = std::string::npos;
      while (true) {
        auto end = buf.find("\r\n\r\n");
        if (end != std::string::npos && need == std::string::npos) {
          auto cl = buf.find("Content-Length: ");
          need = end + 4 + (cl == std::string::npos ? 0 : std::stoul(buf.substr(cl + 16)));
        }
        if (need != std::string::npos && buf.size() >= need) break;
        ssize_t n = ::recv(c, chunk, sizeof chunk, 0);
        if (n <= 0) break;
        buf.append(chunk, static_cast<std::size_t>(n));
      }
      std::string sig;
      if (auto p = buf.find("webhook-signature: "); p != std::string::npos) sig = buf.substr(p + 19, buf.find("\r\n", p) - p - 19);
      {
        std::lock_guard lock(mu_);
        got_.emplace_back(buf.substr(std::min(buf.size(), buf.find("\r\n\r\n") + 4)), sig);
      }
      std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                         std::to_string(answer_.size()) + "\r\nConnection: close\r\n\r\n" + answer_;
      ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }
  std::string answer_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> got_;
};

struct Engine {
  std::shared_ptr<testing::ManualExecutor> executor = std::make_shared<testing::ManualExecutor>();
  std::shared_ptr<Clock> clock = system_clock();
  std::unique_ptr<session::Hub> hub;
  std::shared_ptr<DurableStreams> ds;
  explicit Engine(bool enabled) {
    session::HubOptions o;
    o.store = session::open_memory_store();
    o.executor = executor;
    o.maintenance_interval = std::chrono::milliseconds(0);
    hub = session::Hub::open(o).value();
    DurableStreamsOptions d;
    d.prefix = "/v1/stream/";
    d.subscriptions = policy(true);
    d.subscriptions.enabled = enabled;
    ds = DurableStreams::create(*hub, d, clock).value();
  }
  ~Engine() { ds->shutdown(); }
  HttpResponse call(std::string method, std::string target, std::string body = {}) {
    HttpRequest r{std::move(method), std::move(target), {{"Host", "127.0.0.1:1"}, {"Content-Type", "application/json"}},
                  std::move(body)};
    return ds->handle(r, nullptr).response;
  }
};

}  // namespace

TEST_CASE("engine: __ds is reserved, and a real webhook POST reaches a loopback receiver", "[ds-subs]") {
  {
    Engine off(false);
    CHECK(off.call("GET", "/v1/stream/__ds/jwks.json").status == 404);
    CHECK(off.call("PUT", "/v1/stream/__ds/subscriptions/x", kWebhookSpec).status == 404);
    CHECK(off.call("PUT", "/v1/stream/__ds/anything", "[]").status == 404);
  }
  Receiver receiver(R"({"done":true})");
  Engine e(true);
  const std::string url = "http://127.0.0.1:" + std::to_string(receiver.port()) + "/webhook";
  auto created = e.call("PUT", "/v1/stream/__ds/subscriptions/e1",
                        json{{"type", "webhook"}, {"pattern", "events/*"}, {"webhook", {{"url", url}}}}.dump());
  REQUIRE(created.status == 201);
  REQUIRE(e.call("PUT", "/v1/stream/events/one", R"({"event":"created"})").status == 201);
  REQUIRE(eventually([&] { return !receiver.requests().empty(); }));
  auto [body, sig] = receiver.requests().front();
  const std::string jwks = e.call("GET", "/v1/stream/__ds/jwks.json").body;
  CHECK(verify_signature(jwks, sig, body));
  auto n = json::parse(body);
  CHECK(n["subscription_id"] == "e1");
  CHECK(n["streams"][0]["path"] == "events/one");
  // The synchronous {"done":true} acked the snapshot.
  CHECK(eventually([&] {
    auto s = json::parse(e.call("GET", "/v1/stream/__ds/subscriptions/e1").body);
    return s["streams"][0]["acked_offset"] == s["streams"][0]["tail_offset"];
  }));

  // Pull-wake through the engine: the wake event lands in a real JSON stream.
  REQUIRE(e.call("PUT", "/v1/stream/wake/pool", "[]").status == 201);
  REQUIRE(e.call("PUT", "/v1/stream/__ds/subscriptions/p1",
                 R"({"type":"pull-wake","pattern":"jobs/*","wake_stream":"wake/pool"})")
              .status == 201);
  REQUIRE(e.call("PUT", "/v1/stream/jobs/1", R"({"job":1})").status == 201);
  auto events = json::parse(e.call("GET", "/v1/stream/wake/pool?offset=-1").body);
  REQUIRE(events.size() == 1);
  CHECK(events[0]["subscription_id"] == "p1");
  // A deleted stream is unlinked.
  CHECK(e.call("DELETE", "/v1/stream/jobs/1").status / 100 == 2);
  CHECK(json::parse(e.call("GET", "/v1/stream/__ds/subscriptions/p1").body)["streams"].empty());
}
