// .gitignore semantics: the patterns of one ignore file, matched against paths relative to
// the directory that holds it. Follows gitignore(5): blank lines and '#' comments are
// skipped, '\' escapes a leading '#' or '!' and trailing spaces, '!' re-includes, a trailing
// '/' matches directories only, a pattern with a '/' elsewhere is anchored to the file's
// directory (otherwise it matches a name at any depth), '*' and '?' and '[...]' never match
// '/', "**/" matches any number of directories, "/**" everything inside.
//
// The walker keeps one matcher per directory level and asks them deepest first; the first
// matcher with a verdict decides (later lines of a file win over earlier ones). A directory
// that is ignored is not entered, so nothing under it can be re-included (as in git).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::context::detail {

class GitignoreMatcher {
 public:
  // Parses the text of an ignore file. Lines longer than 4096 bytes are ignored.
  void add_patterns(std::string_view text);
  // true = ignored, false = explicitly re-included by a '!' pattern, nullopt = no pattern
  // matched. `relative` is '/'-separated, relative to this file's directory, no leading '/'.
  [[nodiscard]] std::optional<bool> match(std::string_view relative, bool is_dir) const;
  [[nodiscard]] bool empty() const noexcept { return rules_.empty(); }

 private:
  enum class Op : std::uint8_t { kLiteral, kAny, kClass, kStar, kGlobstar, kDirs };
  struct Token {
    Op op = Op::kLiteral;
    char c = 0;
    bool negated = false;            // kClass
    std::vector<std::pair<unsigned char, unsigned char>> ranges;  // kClass
  };
  struct Rule {
    std::vector<Token> tokens;
    bool negate = false;
    bool dir_only = false;
    bool anchored = false;  // matched against the whole relative path, else the last name
  };
  static bool match_tokens(const std::vector<Token>& tokens, std::string_view text);
  static std::optional<Rule> parse_line(std::string_view line);

  std::vector<Rule> rules_;
};

}  // namespace strata::context::detail
