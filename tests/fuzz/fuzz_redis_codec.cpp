// fuzz_redis_codec — the Redis store's decoding of what it reads back from Redis (stream
// entries, session metadata, producer state, leased entries, retention), on arbitrary bytes:
// data in Redis may be foreign or damaged, and must give DATA_LOSS, never a crash.
//
// Input: the first byte picks the decoder; the rest is split at '\n' into an entry id or key
// followed by field/value pairs (for the hash and stream decoders) or taken whole.
//
// Checks: no crash or sanitizer report; every failure is DATA_LOSS with a printable message;
// what decodes is sane (meta: trimmed_through <= head; entry: offset >= 1 and the id
// re-encodes to the same text); retention and leased values round-trip through their
// encoders.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "session/redis_codec.h"

namespace {

using namespace strata;
using namespace strata::session;

using strata::fuzz::fail;

void check_error(const Status& s, std::string_view input) {
  if (s.ok()) return;
  if (s.code() != StatusCode::kDataLoss) fail("a decode failure is not DATA_LOSS", input);
  for (unsigned char c : s.message()) {
    if (c < 0x20 || c >= 0x7f) fail("an error message holds unprintable bytes", input);
  }
}

std::vector<std::string_view> split(std::string_view text) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) return out;
    text.remove_prefix(nl + 1);
  }
}

std::vector<redis::FieldView> pairs(const std::vector<std::string_view>& parts, std::size_t from) {
  std::vector<redis::FieldView> out;
  for (std::size_t i = from; i + 1 < parts.size(); i += 2) out.push_back({parts[i], parts[i + 1]});
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view body = input.substr(1);
  const auto parts = split(body);
  switch (static_cast<unsigned char>(input[0]) % 6) {
    case 0: {
      auto e = redis::decode_event(parts[0], pairs(parts, 1));
      check_error(e.status(), input);
      if (e.ok()) {
        if (e->offset == 0) fail("an entry decoded to offset 0", input);
        if (redis::entry_id(e->offset) != parts[0]) fail("an entry id does not re-encode", input);
      }
      break;
    }
    case 1: {
      auto info = redis::decode_meta(parts[0], pairs(parts, 1));
      check_error(info.status(), input);
      if (info.ok() && info->trimmed_through > info->head) fail("trimmed beyond head", input);
      if (info.ok() && info->epoch.empty()) fail("an empty epoch decoded", input);
      break;
    }
    case 2: {
      auto state = redis::decode_producer(body);
      check_error(state.status(), input);
      break;
    }
    case 3: {
      auto entry = redis::decode_leased(parts[0], parts.size() > 1 ? parts[1] : std::string_view());
      check_error(entry.status(), input);
      if (entry.ok()) {
        auto again = redis::decode_leased(entry->key, redis::encode_leased(*entry));
        if (!again.ok() || !(*again == *entry)) fail("a leased entry does not round-trip", input);
      }
      break;
    }
    case 4: {
      auto policy = redis::decode_retention(body);
      check_error(policy.status(), input);
      if (policy.ok()) {
        auto again = redis::decode_retention(redis::encode_retention(*policy));
        if (!again.ok() || !(*again == *policy)) fail("retention does not round-trip", input);
      }
      break;
    }
    default: {
      auto offset = redis::parse_entry_id(body);
      check_error(offset.status(), input);
      if (offset.ok() && redis::entry_id(*offset) != body) fail("an id does not re-encode", input);
      break;
    }
  }
  return 0;
}
