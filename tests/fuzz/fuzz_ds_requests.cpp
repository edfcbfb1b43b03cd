// fuzz_ds_requests — the Durable Streams protocol (docs/durable-streams.md): its parsers
// (offsets, TTL, Expires-At, producer headers, JSON-mode bodies) and the engine behind
// /v1/stream/, against a real hub (memory store, manual executor, fake clock) that already
// holds a strata session.
//
// Input: records separated by 0x00, each "METHOD target\nName: value\n...\n\nbody". Live
// reads (long-poll, SSE) are started, ticked and closed; the fake clock moves 700 ms per
// record so TTLs and long-poll timeouts expire.
//
// Checks: no crash, hang or sanitizer report; every complete response has a status the
// protocol uses; a Stream-Next-Offset header always parses back; a parsed offset formats to
// text that parses to the same offset.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <strata/session/hub.h>
#include <strata/testing/fake_clock.h>
#include <strata/testing/manual_executor.h>

#include "fuzz_util.h"
#include "net/ds_parse.h"
#include "net/durable_streams.h"

namespace {

using namespace strata;
namespace ds = strata::net::detail::ds;

class Sink final : public net::OutputSink {
 public:
  void send(std::string data) override {
    std::lock_guard lock(mu);
    bytes += data.size();
  }
  std::size_t queued_bytes() const override { return 0; }
  void close(int, std::string_view) override {}
  std::mutex mu;
  std::size_t bytes = 0;
};

struct World {
  std::shared_ptr<testing::ManualExecutor> executor = std::make_shared<testing::ManualExecutor>();
  std::shared_ptr<testing::FakeClock> clock = std::make_shared<testing::FakeClock>();
  std::unique_ptr<session::Hub> hub;
  std::shared_ptr<net::detail::DurableStreams> engine;
  World() {
    session::HubOptions o;
    o.store = session::open_memory_store();
    o.executor = executor;
    o.clock = clock;
    o.maintenance_interval = std::chrono::milliseconds(0);
    hub = session::Hub::open(o).value();
    (void)hub->append("chat-1", {.type = "user.message", .payload = R"({"text":"hi"})"}, {.producer = "seed"});
    net::DurableStreamsOptions d;
    d.prefix = "/v1/stream/";
    d.long_poll_timeout = std::chrono::milliseconds(1000);
    engine = net::detail::DurableStreams::create(*hub, d, clock).value();
  }
  ~World() { engine->shutdown(); }
};

void fail(std::string_view input, const char* why) {
  std::fprintf(stderr, "fuzz_ds_requests: %s\n", why);
  strata::fuzz::print_escaped(input);
  std::abort();
}

bool protocol_status(int s) {
  for (int ok : {200, 201, 204, 304, 400, 403, 404, 405, 409, 410, 413, 500, 503}) {
    if (s == ok) return true;
  }
  return false;
}

void check_parsers(std::string_view text) {
  if (auto o = ds::parse_offset(text)) {
    auto again = ds::parse_offset(ds::format_offset(*o));
    if (!again || !(*again == *o)) fail(text, "offset does not round-trip");
  }
  (void)ds::parse_read_offset(text);
  (void)ds::parse_ttl(text);
  (void)ds::parse_strict_uint(text);
  (void)ds::parse_expires_at(text);
  std::vector<std::string> values;
  if (ds::parse_json_values(text, true, values).ok()) {
    for (const auto& v : values) {
      std::vector<std::string> again;
      if (!ds::parse_json_values(v, true, again).ok()) fail(v, "a re-serialized JSON value does not parse");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::unique_ptr<World> world;
  static std::size_t inputs = 0;
  if (!world || ++inputs % 2000 == 0) {
    world.reset();
    world = std::make_unique<World>();
  }
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::shared_ptr<net::Channel>> live;
  std::size_t records = 0;
  while (!input.empty() && records++ < 16) {
    auto end = input.find('\0');
    std::string_view record = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view{} : input.substr(end + 1);
    check_parsers(record);
    net::HttpRequest request;
    auto space = record.find(' ');
    auto newline = record.find('\n');
    if (space == std::string_view::npos || newline == std::string_view::npos || newline < space) continue;
    request.method = std::string(record.substr(0, space));
    request.target = std::string(record.substr(space + 1, newline - space - 1));
    std::string_view rest = record.substr(newline + 1);
    while (!rest.empty()) {
      auto eol = rest.find('\n');
      std::string_view line = rest.substr(0, eol);
      rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
      if (line.empty()) break;
      auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      request.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    request.body = std::string(rest);
    if (!world->engine->matches(request.target)) continue;
    auto sink = std::make_shared<Sink>();
    auto outcome = world->engine->handle(request, sink);
    if (outcome.channel) {
      outcome.start();
      live.push_back(outcome.channel);
    } else {
      if (!protocol_status(outcome.response.status)) fail(record, "unexpected status");
      for (const auto& [name, value] : outcome.response.headers) {
        if (name == "Stream-Next-Offset" && !ds::parse_offset(value)) fail(record, "unparseable Stream-Next-Offset");
      }
    }
    world->executor->run_all();
    world->clock->advance(std::chrono::milliseconds(700));
    for (auto& c : live) c->on_tick();
  }
  world->executor->run_all();
  for (auto& c : live) c->close();
  world->executor->run_all();
  return 0;
}
