#include "context/gitignore.h"

namespace strata::context::detail {

std::optional<GitignoreMatcher::Rule> GitignoreMatcher::parse_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // Trailing spaces are dropped unless escaped with '\'.
  while (!line.empty() && line.back() == ' ') {
    if (line.size() >= 2 && line[line.size() - 2] == '\\') break;
    line.remove_suffix(1);
  }
  if (line.empty() || line.front() == '#') return std::nullopt;
  Rule rule;
  if (line.front() == '!') {
    rule.negate = true;
    line.remove_prefix(1);
  }
  if (!line.empty() && line.back() == '/') {
    rule.dir_only = true;
    while (!line.empty() && line.back() == '/') line.remove_suffix(1);
  }
  if (line.empty()) return std::nullopt;
  // A slash at the start or in the middle anchors the pattern.
  if (line.find('/') != std::string_view::npos) {
    rule.anchored = true;
    if (line.front() == '/') line.remove_prefix(1);
  }
  if (line.empty()) return std::nullopt;

  std::size_t i = 0;
  const std::size_t n = line.size();
  auto at_segment_start = [&](std::size_t k) { return k == 0 || line[k - 1] == '/'; };
  while (i < n) {
    const char c = line[i];
    if (c == '*') {
      std::size_t j = i;
      while (j < n && line[j] == '*') ++j;
      const bool double_star = j - i >= 2;
      const bool segment_end = j == n || line[j] == '/';
      if (double_star && at_segment_start(i) && segment_end) {
        if (j < n) {
          rule.tokens.push_back({Op::kDirs, 0, false, {}});  // "**/": zero or more dirs
          i = j + 1;
        } else {
          rule.tokens.push_back({Op::kGlobstar, 0, false, {}});  // trailing "**"
          i = j;
        }
        rule.anchored = true;
      } else {
        rule.tokens.push_back({Op::kStar, 0, false, {}});
        i = j;
      }
      continue;
    }
    if (c == '?') {
      rule.tokens.push_back({Op::kAny, 0, false, {}});
      ++i;
      continue;
    }
    if (c == '[') {
      // Find the closing ']' (a ']' right after '[' or '[!' is a member).
      std::size_t j = i + 1;
      Token t{Op::kClass, 0, false, {}};
      if (j < n && (line[j] == '!' || line[j] == '^')) {
        t.negated = true;
        ++j;
      }
      const std::size_t first = j;
      bool closed = false;
      while (j < n) {
        if (line[j] == ']' && j > first) {
          closed = true;
          break;
        }
        unsigned char lo = static_cast<unsigned char>(line[j]);
        if (lo == '\\' && j + 1 < n) lo = static_cast<unsigned char>(line[++j]);
        unsigned char hi = lo;
        if (j + 2 < n && line[j + 1] == '-' && line[j + 2] != ']') {
          hi = static_cast<unsigned char>(line[j + 2]);
          if (hi == '\\' && j + 3 < n) {
            hi = static_cast<unsigned char>(line[j + 3]);
            ++j;
          }
          j += 2;
        }
        t.ranges.emplace_back(lo, hi);
        ++j;
      }
      if (closed) {
        rule.tokens.push_back(std::move(t));
        i = j + 1;
        continue;
      }
      // An unclosed '[' is a literal.
      rule.tokens.push_back({Op::kLiteral, '[', false, {}});
      ++i;
      continue;
    }
    if (c == '\\' && i + 1 < n) {
      rule.tokens.push_back({Op::kLiteral, line[i + 1], false, {}});
      i += 2;
      continue;
    }
    rule.tokens.push_back({Op::kLiteral, c, false, {}});
    ++i;
  }
  return rule;
}

void GitignoreMatcher::add_patterns(std::string_view text) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = text.substr(start, nl - start);
    if (line.size() <= 4096) {
      if (auto rule = parse_line(line)) rules_.push_back(std::move(*rule));
    }
    start = nl + 1;
  }
}

bool GitignoreMatcher::match_tokens(const std::vector<Token>& tokens, std::string_view text) {
  // Set of reachable text positions after each token: O(tokens * length), no backtracking.
  const std::size_t n = text.size();
  std::vector<char> cur(n + 1, 0);
  std::vector<char> next(n + 1, 0);
  cur[0] = 1;
  for (const Token& t : tokens) {
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (std::size_t p = 0; p <= n; ++p) {
      if (!cur[p]) continue;
      switch (t.op) {
        case Op::kLiteral:
          if (p < n && text[p] == t.c) next[p + 1] = 1;
          break;
        case Op::kAny:
          if (p < n && text[p] != '/') next[p + 1] = 1;
          break;
        case Op::kClass:
          if (p < n && text[p] != '/') {
            const auto ch = static_cast<unsigned char>(text[p]);
            bool in = false;
            for (auto [lo, hi] : t.ranges) {
              if (ch >= lo && ch <= hi) {
                in = true;
                break;
              }
            }
            if (in != t.negated) next[p + 1] = 1;
          }
          break;
        case Op::kStar: {
          std::size_t q = p;
          next[q] = 1;
          while (q < n && text[q] != '/') next[++q] = 1;
          break;
        }
        case Op::kGlobstar:
          for (std::size_t q = p; q <= n; ++q) next[q] = 1;
          break;
        case Op::kDirs:
          next[p] = 1;
          for (std::size_t q = p + 1; q <= n; ++q) {
            if (text[q - 1] == '/') next[q] = 1;
          }
          break;
      }
    }
    for (std::size_t p = 0; p <= n; ++p) any = any || next[p];
    if (!any) return false;
    cur.swap(next);
  }
  return cur[n] != 0;
}

std::optional<bool> GitignoreMatcher::match(std::string_view relative, bool is_dir) const {
  const auto slash = relative.rfind('/');
  const std::string_view name =
      slash == std::string_view::npos ? relative : relative.substr(slash + 1);
  for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) {
    if (it->dir_only && !is_dir) continue;
    if (match_tokens(it->tokens, it->anchored ? relative : name)) return !it->negate;
  }
  return std::nullopt;
}

}  // namespace strata::context::detail
