// Decoding what the Redis store keeps in Redis (stream entries, session metadata, producer
// state, leased entries) into strata's types. Pure functions with no hiredis in sight, so the
// fuzzer drives them directly. Anything that is not exactly what the store writes — foreign
// keys, corrupted values — is kDataLoss, never a crash.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <strata/session/store.h>

#include "producer_rules.h"

namespace strata::session::redis {

// One field/value pair of a stream entry or a hash, as Redis returned it.
struct FieldView {
  std::string_view name;
  std::string_view value;
};

// The value of meta's "format" field this version writes.
inline constexpr std::string_view kFormat = "1";

// Strict, canonical decimal parsing: digits only (a '-' first for the signed form), no
// leading '+' or zeros, no "-0", no spaces, no overflow. std::nullopt otherwise.
std::optional<std::uint64_t> parse_u64(std::string_view text);
std::optional<std::int64_t> parse_i64(std::string_view text);

// "<offset>-0" -> offset (>= 1).
Result<Offset> parse_entry_id(std::string_view id);
// offset -> "<offset>-0".
std::string entry_id(Offset offset);

// A stream entry written by the append script. Fields: t (type), p (producer), d (payload),
// ts (timestamp), e (producer epoch), q (producer sequence, empty if none), r (run id),
// pr (parent run id), m (message id); the last four may be empty or absent.
Result<Event> decode_event(std::string_view id, std::span<const FieldView> fields);

// The :meta hash (HGETALL) of `session`.
Result<SessionInfo> decode_meta(std::string_view session, std::span<const FieldView> fields);

// "ttl,max_events,max_bytes,compact".
std::string encode_retention(const RetentionPolicy& policy);
Result<RetentionPolicy> decode_retention(std::string_view text);

// A :producers hash value: "epoch,last_seq,last_first,last_last" (last_seq empty if none).
Result<detail::ProducerState> decode_producer(std::string_view text);

// A :leased:<kind> hash value: "<expires_ms>:<value>".
std::string encode_leased(const LeasedEntry& entry);
Result<LeasedEntry> decode_leased(std::string_view key, std::string_view value);

}  // namespace strata::session::redis
