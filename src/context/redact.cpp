#include "context/redact.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace strata::context::detail {

namespace {

bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool upper_or_digit(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool b64url(char c) { return alnum(c) || c == '-' || c == '_'; }
bool token_char(char c) { return alnum(c) || c == '-' || c == '_' || c == '+' || c == '/' || c == '=' || c == '.'; }

struct Span {
  std::size_t begin, end;
  const char* kind;
};

// Length of the run of chars satisfying `pred` from `pos`.
template <class Pred>
std::size_t run(std::string_view t, std::size_t pos, Pred pred) {
  std::size_t n = 0;
  while (pos + n < t.size() && pred(t[pos + n])) ++n;
  return n;
}

bool starts_word(std::string_view t, std::size_t pos) { return pos == 0 || !b64url(t[pos - 1]); }

struct Prefix {
  std::string_view prefix;
  const char* kind;
  std::size_t min_len;  // of the part after the prefix
  bool (*pred)(char);
};

const Prefix kPrefixes[] = {
    {"AKIA", "aws_access_key", 16, upper_or_digit},
    {"ASIA", "aws_access_key", 16, upper_or_digit},
    {"ghp_", "github_token", 30, alnum},
    {"gho_", "github_token", 30, alnum},
    {"ghu_", "github_token", 30, alnum},
    {"ghs_", "github_token", 30, alnum},
    {"ghr_", "github_token", 30, alnum},
    {"github_pat_", "github_token", 22, b64url},
    {"xoxb-", "slack_token", 10, b64url},
    {"xoxp-", "slack_token", 10, b64url},
    {"xoxa-", "slack_token", 10, b64url},
    {"xoxr-", "slack_token", 10, b64url},
    {"xoxs-", "slack_token", 10, b64url},
    {"xapp-", "slack_token", 10, b64url},
    {"https://hooks.slack.com/services/", "slack_webhook", 20, token_char},
    {"AIza", "google_api_key", 35, b64url},
    {"sk_live_", "stripe_key", 16, alnum},
    {"rk_live_", "stripe_key", 16, alnum},
    {"sk-", "openai_key", 32, b64url},
    {"glpat-", "gitlab_token", 20, b64url},
    {"npm_", "npm_token", 36, alnum},
};

const std::string_view kSecretNames[] = {"api_key", "apikey", "api-key", "secret_key", "secret", "access_token",
                                         "auth_token", "token", "password", "passwd", "client_secret",
                                         "private_key", "access_key"};

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

void find_spans(std::string_view t, std::vector<Span>& out) {
  // PEM private keys: the whole block.
  for (std::size_t pos = t.find("-----BEGIN "); pos != std::string_view::npos; pos = t.find("-----BEGIN ", pos + 1)) {
    const std::size_t head_end = t.find("-----", pos + 11);
    if (head_end == std::string_view::npos || head_end - pos > 80) continue;
    if (t.substr(pos, head_end - pos).find("PRIVATE KEY") == std::string_view::npos) continue;
    std::size_t end = t.find("-----END ", head_end + 5);
    if (end != std::string_view::npos) {
      const std::size_t close = t.find("-----", end + 9);
      end = close == std::string_view::npos ? t.size() : close + 5;
    } else {
      end = t.size();  // a truncated key: everything after the header
    }
    out.push_back({pos, end, "private_key"});
    pos = end - 1;
  }
  // Prefixed tokens.
  for (const auto& p : kPrefixes) {
    for (std::size_t pos = t.find(p.prefix); pos != std::string_view::npos; pos = t.find(p.prefix, pos + 1)) {
      if (!starts_word(t, pos) && p.prefix.front() != 'h') continue;
      const std::size_t n = run(t, pos + p.prefix.size(), p.pred);
      if (n < p.min_len) continue;
      // A token is not followed by more word characters of another kind (e.g. "AKIA..." in a longer word).
      const std::size_t end = pos + p.prefix.size() + n;
      if (p.pred == upper_or_digit && end < t.size() && alnum(t[end])) continue;
      out.push_back({pos, end, p.kind});
      pos = end - 1;
    }
  }
  // JSON Web Tokens: eyJ<header>.eyJ<payload>.<signature>
  for (std::size_t pos = t.find("eyJ"); pos != std::string_view::npos; pos = t.find("eyJ", pos + 1)) {
    if (!starts_word(t, pos)) continue;
    const std::size_t a = run(t, pos, b64url);
    if (a < 10 || pos + a >= t.size() || t[pos + a] != '.') continue;
    const std::size_t p2 = pos + a + 1;
    if (t.substr(p2, 3) != "eyJ") continue;
    const std::size_t b = run(t, p2, b64url);
    if (b < 10 || p2 + b >= t.size() || t[p2 + b] != '.') continue;
    const std::size_t c = run(t, p2 + b + 1, b64url);
    if (c < 10) continue;
    out.push_back({pos, p2 + b + 1 + c, "jwt"});
    pos = p2 + b + c;
  }
  // name = "value" / name: value, where the value looks like a key (long, letters and digits).
  std::string low(t.size(), ' ');
  for (std::size_t i = 0; i < t.size(); ++i) low[i] = lower(t[i]);
  for (auto name : kSecretNames) {
    for (std::size_t pos = low.find(name); pos != std::string::npos; pos = low.find(name, pos + 1)) {
      std::size_t i = pos + name.size();
      // The name may end an identifier ("DB_PASSWORD", "githubToken" is not matched: case).
      if (i < low.size() && (alnum(low[i]) || low[i] == '_')) continue;
      while (i < low.size() && (low[i] == '"' || low[i] == '\'')) ++i;
      while (i < low.size() && (low[i] == ' ' || low[i] == '\t')) ++i;
      if (i >= low.size() || (low[i] != '=' && low[i] != ':')) continue;
      ++i;
      if (i < low.size() && low[i] == '=') ++i;  // "=="
      while (i < low.size() && (low[i] == ' ' || low[i] == '\t')) ++i;
      while (i < low.size() && (low[i] == '"' || low[i] == '\'')) ++i;
      const std::size_t n = run(t, i, token_char);
      if (n < 16 || n > 512) continue;
      bool digit = false, letter = false;
      for (std::size_t k = i; k < i + n; ++k) {
        digit |= t[k] >= '0' && t[k] <= '9';
        letter |= (t[k] >= 'a' && t[k] <= 'z') || (t[k] >= 'A' && t[k] <= 'Z');
      }
      if (!digit || !letter) continue;
      out.push_back({i, i + n, "assigned_secret"});
    }
  }
}

bool at(std::string_view t, std::size_t pos, std::string_view what) { return t.substr(pos, what.size()) == what; }

// `what` (lowercase) at `pos`, ignoring the case of `t`.
bool at_nocase(std::string_view t, std::size_t pos, std::string_view what) {
  if (t.size() - pos < what.size()) return false;
  for (std::size_t k = 0; k < what.size(); ++k) {
    if (lower(t[pos + k]) != what[k]) return false;
  }
  return true;
}

// The byte pairs any detector of find_spans can start with: the first two bytes of every
// prefix below, of every secret name in any case, and '=' or ':' followed by anything. A
// position whose pair is not here cannot start a match, so may_contain_secret() looks at
// ~3 % of the positions of prose instead of all of them.
struct PairSet {
  std::array<std::uint64_t, 1024> bits{};
  constexpr void add(unsigned char a, unsigned char b) {
    const unsigned i = static_cast<unsigned>(a) << 8 | b;
    bits[i >> 6] |= std::uint64_t{1} << (i & 63);
  }
  constexpr void add_any_case(char a, char b) {
    for (char x : {a, static_cast<char>(a - 32)}) {
      for (char y : {b, static_cast<char>(b - 32)}) add(static_cast<unsigned char>(x), static_cast<unsigned char>(y));
    }
  }
  [[nodiscard]] constexpr bool has(unsigned char a, unsigned char b) const {
    const unsigned i = static_cast<unsigned>(a) << 8 | b;
    return (bits[i >> 6] >> (i & 63)) & 1;
  }
};

constexpr PairSet make_secret_starts() {
  PairSet s;
  for (const char* p : {"--", "AK", "AS", "AI", "gh", "gi", "gl", "xo", "xa", "ht", "sk", "rk", "np", "ey"}) {
    s.add(static_cast<unsigned char>(p[0]), static_cast<unsigned char>(p[1]));
  }
  s.add_any_case('k', 'e');  // key
  s.add_any_case('s', 'e');  // secret
  s.add_any_case('t', 'o');  // token
  s.add_any_case('p', 'a');  // passw
  for (unsigned b = 0; b < 256; ++b) {
    s.add('=', static_cast<unsigned char>(b));
    s.add(':', static_cast<unsigned char>(b));
  }
  return s;
}

constexpr PairSet kSecretStarts = make_secret_starts();

}  // namespace

bool may_contain_secret(std::string_view t) {
  // One pass for what every detector of find_spans needs: its prefix ("-----BEGIN ", a
  // token prefix, "eyJ"), or for an assignment a '=' or ':' and a secret name — each name
  // holds "key", "secret", "token" or "passw" (case-insensitive).
  bool assign = false, name = false;
  const std::size_t n = t.size();
  if (n == 0) return false;
  // The last byte starts no pair: only an assignment can begin there.
  if (t[n - 1] == '=' || t[n - 1] == ':') assign = true;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    if (!kSecretStarts.has(static_cast<unsigned char>(t[i]), static_cast<unsigned char>(t[i + 1]))) continue;
    const char c = t[i];
    switch (c) {
      case '-':
        if (at(t, i, "-----BEGIN ")) return true;
        break;
      case 'A':
        if (at(t, i, "AKIA") || at(t, i, "ASIA") || at(t, i, "AIza")) return true;
        break;
      case 'g':
        if (i + 3 < n && t[i + 1] == 'h' && t[i + 3] == '_' &&
            (t[i + 2] == 'p' || t[i + 2] == 'o' || t[i + 2] == 'u' || t[i + 2] == 's' || t[i + 2] == 'r')) {
          return true;
        }
        if (at(t, i, "github_pat_") || at(t, i, "glpat-")) return true;
        break;
      case 'x':
        if (i + 4 < n && at(t, i, "xox") && t[i + 4] == '-' &&
            (t[i + 3] == 'b' || t[i + 3] == 'p' || t[i + 3] == 'a' || t[i + 3] == 'r' || t[i + 3] == 's')) {
          return true;
        }
        if (at(t, i, "xapp-")) return true;
        break;
      case 'h':
        if (at(t, i, "https://hooks.slack.com/services/")) return true;
        break;
      case 's':
        if (at(t, i, "sk-") || at(t, i, "sk_live_")) return true;
        break;
      case 'r':
        if (at(t, i, "rk_live_")) return true;
        break;
      case 'n':
        if (at(t, i, "npm_")) return true;
        break;
      case 'e':
        if (at(t, i, "eyJ")) return true;
        break;
      case '=':
      case ':':
        assign = true;
        break;
      default:
        break;
    }
    if (!name) {
      switch (lower(c)) {
        case 'k': name = at_nocase(t, i, "key"); break;
        case 's': name = at_nocase(t, i, "secret"); break;
        case 't': name = at_nocase(t, i, "token"); break;
        case 'p': name = at_nocase(t, i, "passw"); break;
        default: break;
      }
    }
    if (assign && name) return true;
  }
  return false;
}

std::size_t redact_secrets(std::string& text, std::map<std::string, std::size_t>* by_kind) {
  if (!may_contain_secret(text)) return 0;  // most text: one pass instead of ~40
  return redact_secrets_exhaustive(text, by_kind);
}

std::size_t redact_secrets_exhaustive(std::string& text, std::map<std::string, std::size_t>* by_kind) {
  std::vector<Span> spans;
  find_spans(text, spans);
  if (spans.empty()) return 0;
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
  });
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0, count = 0;
  for (const auto& s : spans) {
    if (s.begin < at) {
      // Overlaps the span just redacted: that redaction grows to cover this one's end too
      // (dropping it would leave its tail — a private key's body — in the clear).
      for (std::size_t i = at; i < s.end; ++i) {
        if (text[i] == '\n') out += '\n';
      }
      at = std::max(at, s.end);
      continue;
    }
    out.append(text, at, s.begin - at);
    out += "[REDACTED:";
    out += s.kind;
    out += ']';
    for (std::size_t i = s.begin; i < s.end; ++i) {
      if (text[i] == '\n') out += '\n';
    }
    at = s.end;
    ++count;
    if (by_kind) ++(*by_kind)[s.kind];
  }
  out.append(text, at, std::string::npos);
  text = std::move(out);
  return count;
}

}  // namespace strata::context::detail
