// Durable Streams request parsers (see ds_parse.h).
#include "net/ds_parse.h"

#include <cctype>
#include <charconv>
#include <cstdio>

#include <nlohmann/json.hpp>

#include <strata/session/event.h>

namespace strata::net::detail::ds {

namespace {

constexpr std::uint64_t kMaxSafeInteger = (std::uint64_t{1} << 53) - 1;

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::optional<std::uint64_t> to_u64(std::string_view s) {
  if (!all_digits(s)) return std::nullopt;
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return value;
}

// Reads exactly `n` digits at `pos`.
bool fixed_digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (std::size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

std::string format_offset(StreamOffset offset) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%016llu_%016llu", static_cast<unsigned long long>(offset.epoch),
                static_cast<unsigned long long>(offset.position));
  return buf;
}

std::optional<StreamOffset> parse_offset(std::string_view text) {
  auto sep = text.find('_');
  if (sep == std::string_view::npos) return std::nullopt;
  auto epoch = to_u64(text.substr(0, sep));
  auto position = to_u64(text.substr(sep + 1));
  if (!epoch || !position) return std::nullopt;
  return StreamOffset{*epoch, *position};
}

std::optional<ReadOffset> parse_read_offset(std::string_view text) {
  if (text == "-1") return ReadOffset{ReadOffset::Kind::kStart, {}};
  if (text == "now") return ReadOffset{ReadOffset::Kind::kNow, {}};
  auto at = parse_offset(text);
  if (!at) return std::nullopt;
  return ReadOffset{ReadOffset::Kind::kAt, *at};
}

std::optional<std::uint64_t> parse_strict_uint(std::string_view text) {
  auto v = to_u64(text);
  if (!v || *v > kMaxSafeInteger) return std::nullopt;
  return v;
}

std::optional<std::uint64_t> parse_ttl(std::string_view text) {
  if (text.size() > 1 && text[0] == '0') return std::nullopt;
  return parse_strict_uint(text);
}

std::optional<std::int64_t> parse_expires_at(std::string_view s) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!fixed_digits(s, 0, 4, year) || s.size() < 19 || s[4] != '-' || !fixed_digits(s, 5, 2, month) ||
      s[7] != '-' || !fixed_digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !fixed_digits(s, 11, 2, hour) || s[13] != ':' || !fixed_digits(s, 14, 2, minute) || s[16] != ':' ||
      !fixed_digits(s, 17, 2, second)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return std::nullopt;
  if (day > kDays[month - 1] + (month == 2 && leap(year) ? 1 : 0)) return std::nullopt;
  std::size_t pos = 19;
  std::int64_t millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    int scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (scale > 0) millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9) return std::nullopt;
  }
  std::int64_t zone_minutes = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int zh = 0, zm = 0;
    const bool negative = s[pos] == '-';
    if (!fixed_digits(s, pos + 1, 2, zh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !fixed_digits(s, pos + 4, 2, zm) || zh > 23 || zm > 59) {
      return std::nullopt;
    }
    zone_minutes = (negative ? -1 : 1) * (zh * 60 + zm);
    pos += 6;
  } else {
    return std::nullopt;  // a zone is required: a local time would depend on the server
  }
  if (pos != s.size()) return std::nullopt;
  const std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - zone_minutes * 60;
  return seconds * 1000 + millis;
}

Status parse_producer_headers(const HttpRequest& request, std::optional<ProducerHeaders>& out) {
  out.reset();
  auto id = request.header("producer-id");
  auto epoch = request.header("producer-epoch");
  auto seq = request.header("producer-seq");
  if (!id && !epoch && !seq) return ok_status();
  if (!id || !epoch || !seq) {
    return invalid_argument_error(
        "All producer headers (Producer-Id, Producer-Epoch, Producer-Seq) must be provided together");
  }
  if (id->empty()) return invalid_argument_error("Invalid Producer-Id: must not be empty");
  auto e = parse_strict_uint(*epoch);
  if (!e) return invalid_argument_error("Invalid Producer-Epoch: must be a non-negative integer");
  auto q = parse_strict_uint(*seq);
  if (!q) return invalid_argument_error("Invalid Producer-Seq: must be a non-negative integer");
  out = ProducerHeaders{std::string(*id), *e, *q};
  return ok_status();
}

Status parse_json_values(std::string_view body, bool allow_empty, std::vector<std::string>& values) {
  values.clear();
  // validate_json bounds nesting before nlohmann builds anything.
  if (Status s = session::validate_json(body); !s.ok()) return invalid_argument_error("Invalid JSON");
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return invalid_argument_error("Invalid JSON");
  const auto dump = [](const nlohmann::json& v) {
    return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  if (parsed.is_array()) {
    if (parsed.empty() && !allow_empty) return invalid_argument_error("Empty arrays are not allowed");
    values.reserve(parsed.size());
    for (const auto& v : parsed) values.push_back(dump(v));
  } else {
    values.push_back(dump(parsed));
  }
  return ok_status();
}

std::string media_type(std::string_view content_type) {
  auto semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
  std::string out(t);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool plausible_content_type(std::string_view ct) {
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; };
  std::size_t i = 0;
  while (i < ct.size() && word(ct[i])) ++i;
  if (i == 0 || i >= ct.size() || ct[i] != '/') return false;
  std::size_t j = i + 1;
  while (j < ct.size() && word(ct[j])) ++j;
  return j > i + 1;
}

}  // namespace strata::net::detail::ds
