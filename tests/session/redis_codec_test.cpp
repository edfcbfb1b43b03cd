// The Redis store's decoders (src/session/redis_codec.h) on well-formed, malformed, oversized
// and hostile values: everything that is not exactly what the store writes is DATA_LOSS.
#include <catch2/catch.hpp>

#include "session/redis_codec.h"

using namespace strata;
using namespace strata::session;
using redis::FieldView;

namespace {

std::vector<FieldView> good_entry() {
  return {{"t", "message.delta"}, {"p", "agent"}, {"d", "{\"text\":\"hi\"}"}, {"ts", "1767225600000"},
          {"e", "18446744073709551615"}, {"q", "3"}, {"r", "r1"}, {"pr", "r0"}, {"m", "m1"}};
}

std::vector<FieldView> good_meta() {
  return {{"format", "1"}, {"epoch", "0123456789abcdef0123456789abcdef"}, {"head", "10"},
          {"trimmed", "4"}, {"count", "6"}, {"bytes", "400"}, {"created", "-5"},
          {"retention", "3600000,10,1000,0"}};
}

}  // namespace

TEST_CASE("redis codec: entries decode every field", "[redis][codec]") {
  auto e = redis::decode_event("12-0", good_entry());
  REQUIRE(e.ok());
  CHECK(e->offset == 12);
  CHECK(e->type == "message.delta");
  CHECK(e->producer == "agent");
  CHECK(e->payload == "{\"text\":\"hi\"}");
  CHECK(e->timestamp_ms == 1767225600000);
  CHECK(e->run_id == "r1");
  CHECK(e->parent_run_id == "r0");
  CHECK(e->message_id == "m1");
  std::vector<FieldView> minimal = {{"t", "x"}, {"p", ""}, {"d", ""}, {"ts", "0"}, {"e", "0"}};
  CHECK(redis::decode_event("1-0", minimal).ok());
  minimal.push_back({"q", ""});  // unsequenced, as the append script writes it
  minimal.push_back({"r", ""});
  CHECK(redis::decode_event("1-0", minimal).ok());
}

TEST_CASE("redis codec: malformed entries are DATA_LOSS", "[redis][codec][bad-input]") {
  for (std::string_view id : {"", "0-0", "1-1", "1", "-0", "a-0", "1-0-0", " 1-0", "+1-0",
                              "18446744073709551616-0", "99999999999999999999999-0", "01-0", "00-0"}) {
    INFO(id);
    CHECK(redis::decode_event(id, good_entry()).status().code() == StatusCode::kDataLoss);
  }
  for (std::string_view drop : {"t", "p", "d", "ts", "e"}) {
    INFO(drop);
    std::vector<FieldView> fields;
    for (const auto& f : good_entry()) if (f.name != drop) fields.push_back(f);
    CHECK(redis::decode_event("1-0", fields).status().code() == StatusCode::kDataLoss);
  }
  auto with = [](std::string_view name, std::string_view value) {
    auto fields = good_entry();
    for (auto& f : fields) if (f.name == name) f.value = value;
    return fields;
  };
  CHECK(redis::decode_event("1-0", with("ts", "soon")).status().code() == StatusCode::kDataLoss);
  CHECK(redis::decode_event("1-0", with("ts", "1e3")).status().code() == StatusCode::kDataLoss);
  CHECK(redis::decode_event("1-0", with("e", "-1")).status().code() == StatusCode::kDataLoss);
  CHECK(redis::decode_event("1-0", with("q", "18446744073709551616")).status().code() == StatusCode::kDataLoss);
  CHECK(redis::decode_event("1-0", with("t", "")).status().code() == StatusCode::kDataLoss);
  auto extra = good_entry();
  extra.push_back({"zz", "1"});
  CHECK(redis::decode_event("1-0", extra).status().code() == StatusCode::kDataLoss);
  // Hostile bytes in an error message are never copied raw.
  const std::string hostile = std::string("\x01\x1b[31m\xff", 6) + std::string(10000, 'x');
  const Status bad = redis::decode_event(hostile, good_entry()).status();
  REQUIRE(bad.code() == StatusCode::kDataLoss);
  CHECK(bad.message().size() < 300);
  for (unsigned char c : bad.message()) CHECK((c >= 0x20 && c < 0x7f));
  // Oversized values are carried as they are (the store bounds what it writes).
  auto big = with("d", std::string_view(hostile));
  CHECK(redis::decode_event("1-0", big).ok());
}

TEST_CASE("redis codec: session metadata", "[redis][codec][bad-input]") {
  auto info = redis::decode_meta("chat", good_meta());
  REQUIRE(info.ok());
  CHECK(info->id == "chat");
  CHECK(info->head == 10);
  CHECK(info->trimmed_through == 4);
  CHECK(info->event_count == 6);
  CHECK(info->bytes == 400);
  CHECK(info->created_ms == -5);
  CHECK(info->retention.ttl == std::chrono::hours(1));
  CHECK(info->retention.max_events == 10);
  CHECK_FALSE(info->retention.compact_completed_messages);

  auto with = [](std::string_view name, std::string_view value) {
    auto fields = good_meta();
    for (auto& f : fields) if (f.name == name) f.value = value;
    return fields;
  };
  for (auto [name, value] : std::vector<std::pair<std::string_view, std::string_view>>{
           {"format", "2"}, {"format", ""}, {"epoch", ""}, {"head", "x"}, {"head", "-1"},
           {"trimmed", "11"}, {"count", "1.5"}, {"bytes", ""}, {"created", "now"},
           {"retention", ""}, {"retention", "1,2,3"}, {"retention", "1,2,3,4"},
           {"retention", "-1,0,0,1"}, {"retention", "0,0,0,1,"}, {"retention", "0,,0,1"}}) {
    INFO(name << "=" << value);
    CHECK(redis::decode_meta("chat", with(name, value)).status().code() == StatusCode::kDataLoss);
  }
  CHECK(redis::decode_meta("chat", {}).status().code() == StatusCode::kDataLoss);
  RetentionPolicy p;
  p.ttl = std::chrono::milliseconds(5);
  p.max_bytes = 7;
  CHECK(redis::decode_retention(redis::encode_retention(p)).value() == p);
}

TEST_CASE("redis codec: producer state and leased entries", "[redis][codec][bad-input]") {
  auto state = redis::decode_producer("3,7,10,12").value();
  CHECK(state.epoch == 3);
  CHECK(state.last_seq == std::optional<std::uint64_t>(7));
  CHECK(state.last_first == 10);
  CHECK(state.last_last == 12);
  CHECK_FALSE(redis::decode_producer("3,,0,0").value().last_seq.has_value());
  for (std::string_view bad : {"", "garbage", "1,2,3", "1,2,3,4,5", "a,1,2,3", "1,x,2,3", ",1,2,3",
                               "1,1,2,", "-1,1,2,3"}) {
    INFO(bad);
    CHECK(redis::decode_producer(bad).status().code() == StatusCode::kDataLoss);
  }
  LeasedEntry entry{"c1", "{\"a\":\":\"}", 99};
  CHECK(redis::decode_leased("c1", redis::encode_leased(entry)).value() == entry);
  CHECK(redis::decode_leased("c1", "-5:").value().expires_ms == -5);
  CHECK(redis::decode_leased("c1", "0:x").value().expires_ms == 0);
  for (std::string_view bad : {"", "no-expiry", ":{}", "x:{}", "1e5:{}", "-0:{}", "007:{}", "-:{}"}) {
    INFO(bad);
    CHECK(redis::decode_leased("c1", bad).status().code() == StatusCode::kDataLoss);
  }
}
