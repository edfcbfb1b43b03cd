// The live Slack cursor (context/live/slack_cursor.h).
#include "context/live/slack_cursor.h"

#include "context/connectors/json_util.h"

namespace strata::context::detail {

namespace {

bool all_digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The text for an error message: at most `limit` bytes, control and non-ASCII bytes escaped.
std::string excerpt(std::string_view text, std::size_t limit = 40) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

Status bad_cursor(std::string_view text, const std::string& why) {
  return invalid_argument_error("the Slack live cursor \"" + excerpt(text) + "\" is not valid: " + why +
                                " (expected a message ts or {\"v\":2,\"channels\":{...}})");
}

}  // namespace

bool slack_ts_valid(std::string_view ts) {
  const auto dot = ts.find('.');
  const std::string_view whole = ts.substr(0, dot);
  if (whole.empty() || whole.size() > 20 || !all_digits(whole)) return false;
  if (dot == std::string_view::npos) return true;
  const std::string_view fraction = ts.substr(dot + 1);
  return !fraction.empty() && fraction.size() <= 9 && all_digits(fraction);
}

bool slack_ts_less(std::string_view a, std::string_view b) {
  auto split = [](std::string_view ts, std::string_view& whole, std::string_view& fraction) {
    const auto dot = ts.find('.');
    whole = ts.substr(0, dot);
    fraction = dot == std::string_view::npos ? std::string_view() : ts.substr(dot + 1);
    while (!whole.empty() && whole.front() == '0') whole.remove_prefix(1);
    while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  };
  if (a.empty() || b.empty()) return a.empty() && !b.empty();
  std::string_view wa, fa, wb, fb;
  split(a, wa, fa);
  split(b, wb, fb);
  if (wa.size() != wb.size()) return wa.size() < wb.size();
  if (wa != wb) return wa < wb;
  return fa < fb;
}

bool slack_conversation_id_valid(std::string_view id) {
  if (id.empty() || id.size() > 255) return false;
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

Result<SlackCursor> parse_slack_cursor(std::string_view text) {
  SlackCursor cursor;
  if (text.empty()) return cursor;
  if (text.size() > kMaxSlackCursorBytes) {
    return bad_cursor(text, std::to_string(text.size()) + " bytes, over the limit of " +
                                std::to_string(kMaxSlackCursorBytes));
  }
  if (text.front() != '{') {
    if (!slack_ts_valid(text)) return bad_cursor(text, "neither a ts nor a JSON object");
    cursor.fallback = std::string(text);
    return cursor;
  }
  std::string error;
  auto j = parse_json(text, &error);
  if (!j) return bad_cursor(text, "not JSON (" + excerpt(error, 160) + ")");
  if (!j->is_object()) return bad_cursor(text, "not a JSON object");
  const auto version = j->find("v");
  if (version == j->end() || !version->is_number_integer()) return bad_cursor(text, "no integer \"v\"");
  if (version->get<std::int64_t>() != 2) {
    return bad_cursor(text, "version " + version->dump() + " is not supported (this version reads 2)");
  }
  const auto channels = j->find("channels");
  if (channels == j->end() || !channels->is_object()) return bad_cursor(text, "no \"channels\" object");
  if (j->size() != 2) return bad_cursor(text, "members other than \"v\" and \"channels\"");
  for (auto it = channels->begin(); it != channels->end(); ++it) {
    if (!slack_conversation_id_valid(it.key())) {
      return bad_cursor(text, "the conversation id \"" + excerpt(it.key()) + "\" is not valid");
    }
    if (!it->is_string() || !slack_ts_valid(it->get_ref<const std::string&>())) {
      return bad_cursor(text, "the mark of " + it.key() + " is not a ts");
    }
    cursor.marks.emplace(it.key(), it->get<std::string>());
  }
  return cursor;
}

std::string format_slack_cursor(const SlackCursor& cursor) {
  std::string out = R"({"v":2,"channels":{)";
  bool first = true;
  for (const auto& [id, ts] : cursor.marks) {
    if (!slack_conversation_id_valid(id) || !slack_ts_valid(ts)) continue;
    if (!first) out += ',';
    first = false;
    out += Json(id).dump();  // printable ASCII: only '"' and '\' are escaped
    out += ':';
    out += Json(ts).dump();
  }
  out += "}}";
  return out;
}

}  // namespace strata::context::detail
