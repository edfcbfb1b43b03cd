#include "redis_codec.h"

#include <charconv>

namespace strata::session::redis {
namespace {

Status corrupt(std::string what) {
  return data_loss_error("redis store: " + what + " (not written by this store, or damaged)");
}

std::string shown(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::string out;
  for (char c : text.substr(0, kMax)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > kMax) out += "...";
  return out;
}

}  // namespace

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  // Canonical only, as Redis and the store write numbers: no leading zeros.
  if (text.empty() || text.size() > 20 || (text.size() > 1 && text[0] == '0')) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> parse_i64(std::string_view text) {
  const std::string_view digits = text.starts_with('-') ? text.substr(1) : text;
  if (digits.empty() || text.size() > 20 || (digits.size() > 1 && digits[0] == '0') ||
      (text.starts_with('-') && digits == "0")) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Result<Offset> parse_entry_id(std::string_view id) {
  const auto dash = id.find('-');
  if (dash == std::string_view::npos || id.substr(dash + 1) != "0") {
    return corrupt("stream entry id '" + shown(id) + "'");
  }
  auto offset = parse_u64(id.substr(0, dash));
  if (!offset || *offset == 0) return corrupt("stream entry id '" + shown(id) + "'");
  return *offset;
}

std::string entry_id(Offset offset) { return std::to_string(offset) + "-0"; }

Result<Event> decode_event(std::string_view id, std::span<const FieldView> fields) {
  auto offset = parse_entry_id(id);
  if (!offset.ok()) return offset.status();
  Event e;
  e.offset = *offset;
  bool have_type = false, have_producer = false, have_payload = false, have_ts = false,
       have_epoch = false;
  for (const auto& f : fields) {
    const auto& n = f.name;
    if (n == "t") {
      e.type = f.value;
      have_type = !f.value.empty();
    } else if (n == "p") {
      e.producer = f.value;
      have_producer = true;
    } else if (n == "d") {
      e.payload = f.value;
      have_payload = true;
    } else if (n == "ts") {
      auto ts = parse_i64(f.value);
      if (!ts) return corrupt("event " + shown(id) + ": timestamp '" + shown(f.value) + "'");
      e.timestamp_ms = *ts;
      have_ts = true;
    } else if (n == "e" || n == "q") {
      if (!parse_u64(f.value) && !(n == "q" && f.value.empty())) {  // q: empty = unsequenced
        return corrupt("event " + shown(id) + ": producer " + std::string(n) + " '" +
                       shown(f.value) + "'");
      }
      have_epoch = have_epoch || n == "e";
    } else if (n == "r") {
      e.run_id = f.value;
    } else if (n == "pr") {
      e.parent_run_id = f.value;
    } else if (n == "m") {
      e.message_id = f.value;
    } else {
      return corrupt("event " + shown(id) + ": unknown field '" + shown(n) + "'");
    }
  }
  if (!have_type || !have_producer || !have_payload || !have_ts || !have_epoch) {
    return corrupt("event " + shown(id) + ": a required field is missing");
  }
  return e;
}

std::string encode_retention(const RetentionPolicy& p) {
  return std::to_string(p.ttl.count()) + "," + std::to_string(p.max_events) + "," +
         std::to_string(p.max_bytes) + "," + (p.compact_completed_messages ? "1" : "0");
}

Result<RetentionPolicy> decode_retention(std::string_view text) {
  std::string_view parts[4];
  std::string_view rest = text;
  for (int i = 0; i < 4; ++i) {
    const auto comma = rest.find(',');
    if ((comma == std::string_view::npos) != (i == 3)) {
      return corrupt("retention '" + shown(text) + "'");
    }
    parts[i] = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  auto ttl = parse_i64(parts[0]);
  auto max_events = parse_u64(parts[1]);
  auto max_bytes = parse_u64(parts[2]);
  if (!ttl || *ttl < 0 || !max_events || !max_bytes || (parts[3] != "0" && parts[3] != "1")) {
    return corrupt("retention '" + shown(text) + "'");
  }
  RetentionPolicy p;
  p.ttl = std::chrono::milliseconds(*ttl);
  p.max_events = *max_events;
  p.max_bytes = *max_bytes;
  p.compact_completed_messages = parts[3] == "1";
  return p;
}

Result<SessionInfo> decode_meta(std::string_view session, std::span<const FieldView> fields) {
  SessionInfo info;
  info.id = std::string(session);
  std::string_view format, retention;
  bool have_epoch = false, have_head = false, have_trimmed = false, have_count = false,
       have_bytes = false, have_created = false;
  auto number = [&](const FieldView& f, std::uint64_t& out, bool& have) -> Status {
    auto v = parse_u64(f.value);
    if (!v) return corrupt("session " + shown(session) + ": meta field " + std::string(f.name));
    out = *v;
    have = true;
    return {};
  };
  for (const auto& f : fields) {
    if (f.name == "format") {
      format = f.value;
    } else if (f.name == "epoch") {
      info.epoch = f.value;
      have_epoch = !f.value.empty();
    } else if (f.name == "head") {
      STRATA_RETURN_IF_ERROR(number(f, info.head, have_head));
    } else if (f.name == "trimmed") {
      STRATA_RETURN_IF_ERROR(number(f, info.trimmed_through, have_trimmed));
    } else if (f.name == "count") {
      STRATA_RETURN_IF_ERROR(number(f, info.event_count, have_count));
    } else if (f.name == "bytes") {
      STRATA_RETURN_IF_ERROR(number(f, info.bytes, have_bytes));
    } else if (f.name == "created") {
      auto v = parse_i64(f.value);
      if (!v) return corrupt("session " + shown(session) + ": meta field created");
      info.created_ms = *v;
      have_created = true;
    } else if (f.name == "retention") {
      retention = f.value;
    }
  }
  if (format != kFormat) {
    return corrupt("session " + shown(session) + ": meta format '" + shown(format) + "'");
  }
  if (!have_epoch || !have_head || !have_trimmed || !have_count || !have_bytes || !have_created) {
    return corrupt("session " + shown(session) + ": a meta field is missing");
  }
  if (info.trimmed_through > info.head) {
    return corrupt("session " + shown(session) + ": trimmed_through beyond the head");
  }
  auto policy = decode_retention(retention);
  if (!policy.ok()) return policy.status();
  info.retention = *policy;
  return info;
}

Result<detail::ProducerState> decode_producer(std::string_view text) {
  std::string_view parts[4];
  std::string_view rest = text;
  for (int i = 0; i < 4; ++i) {
    const auto comma = rest.find(',');
    if ((comma == std::string_view::npos) != (i == 3)) {
      return corrupt("producer state '" + shown(text) + "'");
    }
    parts[i] = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  detail::ProducerState state;
  auto epoch = parse_u64(parts[0]);
  auto first = parse_u64(parts[2]);
  auto last = parse_u64(parts[3]);
  if (!epoch || !first || !last) return corrupt("producer state '" + shown(text) + "'");
  state.epoch = *epoch;
  state.last_first = *first;
  state.last_last = *last;
  if (!parts[1].empty()) {
    auto seq = parse_u64(parts[1]);
    if (!seq) return corrupt("producer state '" + shown(text) + "'");
    state.last_seq = *seq;
  }
  return state;
}

std::string encode_leased(const LeasedEntry& entry) {
  return std::to_string(entry.expires_ms) + ":" + entry.value;
}

Result<LeasedEntry> decode_leased(std::string_view key, std::string_view value) {
  const auto colon = value.find(':');
  auto expires = colon == std::string_view::npos ? std::nullopt : parse_i64(value.substr(0, colon));
  if (!expires) return corrupt("leased entry " + shown(key) + ": '" + shown(value) + "'");
  return LeasedEntry{std::string(key), std::string(value.substr(colon + 1)), *expires};
}

}  // namespace strata::session::redis
