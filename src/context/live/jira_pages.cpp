// Jira REST responses and the live cursor as data (context/live/jira_pages.h).
#include "context/live/jira_pages.h"

#include <charconv>
#include <ctime>

#include "context/connectors/records.h"

namespace strata::context::detail {

namespace {

std::int64_t int_member(const Json& j, std::string_view key, std::int64_t fallback) {
  auto v = integer(j, key);
  return v ? *v : fallback;
}

bool to_int64(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// The parsed object, or a problem.
std::string parse_object(std::string_view body, Json& out) {
  std::string error;
  auto j = parse_json(body, &error);
  if (!j) return "not JSON (" + error + ")";
  if (!j->is_object()) return std::string("a JSON ") + j->type_name() + ", not an object";
  out = std::move(*j);
  return "";
}

}  // namespace

std::string parse_jira_search_page(std::string_view body, JiraSearchPage& page) {
  page = JiraSearchPage{};
  Json j;
  if (auto problem = parse_object(body, j); !problem.empty()) return problem;
  Json* issues = nullptr;
  if (auto it = j.find("issues"); it != j.end()) issues = &*it;
  if (!issues || !issues->is_array()) return "\"issues\" is " + type_name(issues) + ", not an array";
  page.issues.reserve(issues->size());
  for (auto& i : *issues) page.issues.push_back(std::move(i));
  page.start_at = int_member(j, "startAt", 0);
  page.total = int_member(j, "total", -1);
  page.next_page_token = str(j, "nextPageToken");
  if (const Json* last = member(j, "isLast"); last && last->is_boolean()) page.is_last = last->get<bool>();
  return "";
}

std::string parse_jira_comment_page(std::string_view body, JiraCommentPage& page) {
  page = JiraCommentPage{};
  Json j;
  if (auto problem = parse_object(body, j); !problem.empty()) return problem;
  Json* comments = nullptr;
  if (auto it = j.find("comments"); it != j.end()) comments = &*it;
  if (!comments || !comments->is_array()) return "\"comments\" is " + type_name(comments) + ", not an array";
  page.comments.reserve(comments->size());
  for (auto& c : *comments) page.comments.push_back(std::move(c));
  page.start_at = int_member(j, "startAt", 0);
  page.total = int_member(j, "total", -1);
  return "";
}

std::int64_t jira_time_ms(std::string_view text) {
  const std::int64_t s = parse_iso8601(text);
  if (s < 0) return -1;
  std::int64_t ms = 0;
  const auto t = text.find('T');
  const auto dot = t == std::string_view::npos ? std::string_view::npos : text.find('.', t);
  if (dot != std::string_view::npos) {
    int digits = 0;
    for (std::size_t i = dot + 1; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (digits < 3) ms = ms * 10 + (text[i] - '0');
      ++digits;
    }
    for (int d = digits; d < 3; ++d) ms *= 10;
  }
  return s * 1000 + ms;
}

std::optional<JiraCursor> parse_jira_cursor(std::string_view text) {
  constexpr std::string_view kPrefix = "jira-live:1;";
  if (text.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  text.remove_prefix(kPrefix.size());
  const auto semi = text.find(';');
  if (semi == std::string_view::npos) return std::nullopt;
  JiraCursor c;
  if (!to_int64(text.substr(0, semi), c.high_water_ms) || c.high_water_ms < 0) return std::nullopt;
  std::string_view rest = text.substr(semi + 1);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view entry = rest.substr(0, comma);
    const auto eq = entry.find('=');
    std::int64_t ms = 0;
    if (eq == std::string_view::npos || eq == 0 || !to_int64(entry.substr(eq + 1), ms) || ms < 0) return std::nullopt;
    c.seen[std::string(entry.substr(0, eq))] = ms;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
    if (rest.empty()) return std::nullopt;  // a trailing comma
  }
  return c;
}

std::string format_jira_cursor(const JiraCursor& c) {
  std::string out = "jira-live:1;" + std::to_string(std::max<std::int64_t>(0, c.high_water_ms)) + ";";
  bool first = true;
  for (const auto& [id, ms] : c.seen) {
    // Issue ids are numbers; anything that would break the format is left out (never matched).
    if (id.empty() || id.find_first_of(",;=") != std::string::npos) continue;
    if (!first) out += ',';
    first = false;
    out += id + "=" + std::to_string(ms);
  }
  return out;
}

std::string jql_date(std::int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(std::max<std::int64_t>(0, ms) / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y/%m/%d %H:%M", &tm);
  return buf;
}

std::string jql_quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string base64(std::string_view in) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += abc[(v >> 18) & 63];
    out += abc[(v >> 12) & 63];
    out += abc[(v >> 6) & 63];
    out += abc[v & 63];
  }
  if (i < in.size()) {
    unsigned v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += abc[(v >> 18) & 63];
    out += abc[(v >> 12) & 63];
    out += i + 1 < in.size() ? abc[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace strata::context::detail
