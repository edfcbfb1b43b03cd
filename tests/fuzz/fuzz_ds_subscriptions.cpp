// fuzz_ds_subscriptions — the Durable Streams subscription APIs (src/net/ds_subscriptions.h):
// their pure parsers (subscription spec, ack / claim / stream-list bodies, the webhook URL
// policy, glob patterns, base64url, webhook-signature verification) and the service's routes,
// against fake streams, a fake webhook transport and a fake clock.
//
// Input: the first byte picks the target; the rest is its input. For the service (selector
// 'S'), records separated by 0x00, each "METHOD rest\nbody" (rest as after <prefix>__ds/);
// a record starting with 'W' writes to the stream named by the rest of it.
//
// Checks: no crash, hang or sanitizer report; parsers either succeed with values that satisfy
// their contracts or fail with kInvalidArgument; every route answers a status the APIs use,
// with a JSON body when it is an error; base64url round-trips.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include <strata/testing/fake_clock.h>

#include "fuzz_util.h"
#include "net/ds_subscriptions.h"

namespace {

using namespace strata;
using namespace strata::net;
using namespace strata::net::detail::subs;

using strata::fuzz::fail;

void check_status(const Status& s, std::string_view input) {
  if (!s.ok() && s.code() != StatusCode::kInvalidArgument) fail("parser failed with a code other than kInvalidArgument", input);
}

struct World {
  std::shared_ptr<testing::FakeClock> clock = std::make_shared<testing::FakeClock>();
  std::mutex mu;
  std::map<std::string, std::uint64_t> tails;
  std::shared_ptr<Subscriptions> subs;
  World() {
    clock->set_ms(1'800'000'000'000);
    DurableStreamsSubscriptionOptions o;
    o.enabled = true;
    o.allow_loopback_webhooks = true;
    o.max_subscriptions = 64;
    o.max_streams_per_subscription = 64;
    StreamAccess a;
    a.tail = [this](const std::string& p) -> std::optional<detail::ds::StreamOffset> {
      std::lock_guard lock(mu);
      auto it = tails.find(p);
      if (it == tails.end()) return std::nullopt;
      return detail::ds::StreamOffset{0, it->second};
    };
    a.list = [this] {
      std::lock_guard lock(mu);
      std::vector<std::string> out;
      for (const auto& [p, t] : tails) out.push_back(p);
      return out;
    };
    a.append = [this](const std::string& p, const std::string&) {
      std::lock_guard lock(mu);
      if (tails.size() < 256) tails[p] += 1;
      return true;
    };
    PostFunction post = [](const WebhookTarget&, const std::string& body,
                           const std::vector<std::pair<std::string, std::string>>&) -> Result<PostResult> {
      // Answer "done" for every other notification, fail the rest.
      if (body.size() % 2 == 0) return PostResult{200, R"({"done":true})"};
      return unavailable_error("refused");
    };
    subs = Subscriptions::create(o, "/v1/stream/", clock, a, post);
  }
};

void run_service(std::string_view data) {
  static World* world = new World();  // one delivery thread for the whole run
  std::size_t start = 0;
  int records = 0;
  while (start <= data.size() && records++ < 64) {
    auto end = data.find('\0', start);
    std::string_view rec = data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    start = end == std::string_view::npos ? data.size() + 1 : end + 1;
    if (!rec.empty() && rec.front() == 'W') {
      std::string path(rec.substr(1));
      if (valid_stream_path(path)) {
        {
          std::lock_guard lock(world->mu);
          if (world->tails.size() < 256 || world->tails.count(path)) world->tails[path] += 1;
        }
        world->subs->on_stream_written(path);
      }
      continue;
    }
    auto nl = rec.find('\n');
    std::string_view line = rec.substr(0, nl);
    auto sp = line.find(' ');
    HttpRequest r;
    r.method = std::string(line.substr(0, sp));
    std::string rest = sp == std::string_view::npos ? std::string() : std::string(line.substr(sp + 1));
    r.target = "/v1/stream/__ds/" + rest;
    r.headers.emplace_back("Host", "127.0.0.1:1");
    if (nl != std::string_view::npos) {
      std::string_view body = rec.substr(nl + 1);
      // "Bearer <token>" first line of the body, when it starts with "B:".
      if (body.substr(0, 2) == "B:") {
        auto nl2 = body.find('\n');
        r.headers.emplace_back("Authorization", "Bearer " + std::string(body.substr(2, nl2 - 2)));
        body = nl2 == std::string_view::npos ? std::string_view() : body.substr(nl2 + 1);
      }
      r.body = std::string(body);
    }
    HttpResponse out = world->subs->handle(r, rest);
    static constexpr int kStatuses[] = {200, 201, 204, 400, 401, 404, 405, 409, 503};
    bool known = false;
    for (int s : kStatuses) known = known || s == out.status;
    if (!known) fail("unexpected status", data);
    if (out.status >= 400 && (out.body.empty() || out.body.front() != '{')) fail("error without a JSON body", data);
    world->clock->advance(std::chrono::milliseconds(400));
    world->subs->tick();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view all(reinterpret_cast<const char*>(bytes), size);
  const char selector = all.front();
  const std::string_view data = all.substr(1);
  switch (selector % 8) {
    case 0: {
      Spec s;
      Status st = parse_spec(data, s);
      check_status(st, all);
      if (st.ok()) {
        if (s.lease_ttl_ms < 1000 || s.lease_ttl_ms > 600000) fail("lease out of range accepted", all);
        if (s.pattern.empty() && s.streams.empty()) fail("spec without streams accepted", all);
        for (const auto& p : s.streams) {
          if (!valid_stream_path(p)) fail("invalid stream path accepted", all);
        }
      }
      break;
    }
    case 1: {
      AckRequest a;
      check_status(parse_ack_request(data, a), all);
      std::string worker;
      check_status(parse_claim_request(data, worker), all);
      std::vector<std::string> paths;
      check_status(parse_stream_list(data, paths), all);
      break;
    }
    case 2: {
      DurableStreamsSubscriptionOptions p;
      WebhookTarget t;
      Status st = check_webhook_url(data, p, t);
      check_status(st, all);
      if (st.ok() && (t.host.empty() || t.path_and_query.empty() || t.path_and_query.front() != '/')) {
        fail("accepted URL without host or path", all);
      }
      if (st.ok() && t.host_is_ip && !check_webhook_address(t.host, p).ok()) fail("policy disagrees with itself", all);
      break;
    }
    case 3: {
      const auto nul = data.find('\0');
      const std::string_view pattern = data.substr(0, nul);
      const std::string_view path = nul == std::string_view::npos ? std::string_view() : data.substr(nul + 1);
      (void)glob_match(pattern.substr(0, 256), path.substr(0, 1024));
      if (valid_stream_path(path) && !glob_match(path, path) && path.find('*') == std::string_view::npos) {
        fail("a literal path does not match itself", all);
      }
      break;
    }
    case 4: {
      if (base64url_decode(base64url(data)) != std::string(data)) fail("base64url round trip", all);
      (void)base64url_decode(data);
      break;
    }
    case 5: {
      const auto nul = data.find('\0');
      (void)verify_signature(data.substr(0, nul), nul == std::string_view::npos ? "" : data.substr(nul + 1), "body");
      break;
    }
    default:
      run_service(data);
      break;
  }
  return 0;
}
