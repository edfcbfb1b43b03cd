// Parsers for the Durable Streams HTTP protocol's request inputs (docs/durable-streams.md):
// offsets, strict integers, TTL / Expires-At, producer headers and JSON-mode bodies. Pure
// functions with no I/O, so the unit tests and the fuzz target (tests/fuzz/fuzz_ds_request.cpp)
// drive them directly.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <strata/net/handler.h>
#include <strata/status.h>

namespace strata::net::detail::ds {

// A stream position. Wire form: "<16 digits>_<16 digits>" (read sequence, then position),
// compared lexicographically by clients, so both parts are zero-padded.
struct StreamOffset {
  std::uint64_t epoch = 0;     // strata: always 0 for streams created over DS
  std::uint64_t position = 0;  // message sequence (DS streams) or event offset (sessions)
  friend bool operator==(const StreamOffset&, const StreamOffset&) = default;
  friend auto operator<=>(const StreamOffset&, const StreamOffset&) = default;
};
[[nodiscard]] std::string format_offset(StreamOffset offset);
// Accepts exactly "\d+_\d+" with each part fitting 64 bits. Leading zeros allowed.
[[nodiscard]] std::optional<StreamOffset> parse_offset(std::string_view text);

// A read's `offset` parameter: "-1" (start), "now" (tail) or an offset.
struct ReadOffset {
  enum class Kind { kStart, kNow, kAt } kind = Kind::kStart;
  StreamOffset at{};
};
[[nodiscard]] std::optional<ReadOffset> parse_read_offset(std::string_view text);

// "^\d+$" whose value is at most 2^53-1 (what a JavaScript client can send exactly).
[[nodiscard]] std::optional<std::uint64_t> parse_strict_uint(std::string_view text);
// Stream-TTL: "0" or a decimal without leading zeros, sign, dot or spaces.
[[nodiscard]] std::optional<std::uint64_t> parse_ttl(std::string_view text);
// Stream-Expires-At: RFC 3339 / ISO 8601 date-time, "YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)",
// to milliseconds since the Unix epoch.
[[nodiscard]] std::optional<std::int64_t> parse_expires_at(std::string_view text);

// Producer-Id / Producer-Epoch / Producer-Seq: all three or none. kInvalidArgument with the
// protocol's wording when partial, empty or not a non-negative integer.
struct ProducerHeaders {
  std::string id{};
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
};
Status parse_producer_headers(const HttpRequest& request, std::optional<ProducerHeaders>& out);

// A JSON-mode body: one JSON value, or an array whose elements are the values. Each value
// comes back compactly re-serialized. An empty array is kInvalidArgument unless
// `allow_empty` (stream creation). Malformed or too deeply nested JSON: kInvalidArgument.
Status parse_json_values(std::string_view body, bool allow_empty, std::vector<std::string>& values);

// The media type of a Content-Type value, lowercased, without parameters.
[[nodiscard]] std::string media_type(std::string_view content_type);
// True for "type/subtype" made of word characters and '-', as the protocol requires.
[[nodiscard]] bool plausible_content_type(std::string_view content_type);

}  // namespace strata::net::detail::ds
