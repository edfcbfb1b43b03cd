#include "context/tokenizer/pretokenize.h"

#include <cstdint>

#include "context/tokenizer/unicode.h"

namespace strata::context {
namespace {

using unicode::char_at;
using unicode::DecodedChar;

// Reads characters forward from a position; past the end every test is false.
class Scanner {
 public:
  explicit Scanner(std::string_view text) noexcept : text_(text) {}

  [[nodiscard]] std::size_t size() const noexcept { return text_.size(); }
  [[nodiscard]] DecodedChar at(std::size_t pos) const noexcept {
    if (pos >= text_.size()) return {0, 0};
    return char_at(text_, pos);
  }
  [[nodiscard]] bool is(std::size_t pos, std::uint16_t flags) const noexcept {
    return (at(pos).flags & flags) != 0;
  }
  // The end of the longest run of characters with any of `flags` starting at pos.
  [[nodiscard]] std::size_t run(std::size_t pos, std::uint16_t flags) const noexcept {
    while (pos < text_.size()) {
      const DecodedChar c = char_at(text_, pos);
      if ((c.flags & flags) == 0) break;
      pos += c.length;
    }
    return pos;
  }
  // '(?i:s|t|re|ve|m|ll|d)' at pos: its length, or 0.
  [[nodiscard]] std::size_t contraction(std::size_t pos) const noexcept {
    if (pos + 1 >= text_.size() || text_[pos] != '\'') return 0;
    const auto lower = [&](std::size_t i) -> char {
      const char c = text_[i];
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    const char first = lower(pos + 1);
    if (first == 's' || first == 'd' || first == 'm' || first == 't') return 2;
    if (pos + 2 >= text_.size()) return 0;
    const char second = lower(pos + 2);
    if ((first == 'l' && second == 'l') || (first == 'v' && second == 'e') ||
        (first == 'r' && second == 'e')) {
      return 3;
    }
    return 0;
  }

 private:
  std::string_view text_;
};

// \p{N}{1,3} at pos: its end, or pos.
std::size_t numbers(const Scanner& s, std::size_t pos) noexcept {
  std::size_t end = pos;
  for (int i = 0; i < 3; ++i) {
    const DecodedChar c = s.at(end);
    if ((c.flags & unicode::kNumber) == 0) break;
    end += c.length;
  }
  return end;
}

// ' ?[^\s\p{L}\p{N}]+' followed by the trailing set: its end, or pos.
std::size_t punctuation(const Scanner& s, std::size_t pos, std::uint16_t trailing) noexcept {
  std::size_t start = pos;
  if (s.is(pos, unicode::kAsciiSpace) && s.is(pos + 1, unicode::kPunctuation)) {
    start = pos + 1;
  } else if (!s.is(pos, unicode::kPunctuation)) {
    return pos;
  }
  return s.run(s.run(start, unicode::kPunctuation), trailing);
}

struct WhitespaceRun {
  std::size_t end = 0;           // end of the \s+ run
  std::size_t last_start = 0;    // start of its last character
  std::size_t after_newline = 0; // end of its last [\r\n], or 0 if it has none
  std::size_t chars = 0;
};

WhitespaceRun whitespace_run(const Scanner& s, std::size_t pos) noexcept {
  WhitespaceRun run;
  std::size_t p = pos;
  while (p < s.size()) {
    const DecodedChar c = s.at(p);
    if ((c.flags & unicode::kSpace) == 0) break;
    run.last_start = p;
    p += c.length;
    if ((c.flags & unicode::kNewline) != 0) run.after_newline = p;
    ++run.chars;
  }
  run.end = p;
  return run;
}

std::size_t cl100k_piece_end(const Scanner& s, std::size_t pos) noexcept {
  // '(?i:[sdmt]|ll|ve|re)
  if (const std::size_t n = s.contraction(pos); n != 0) return pos + n;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  const DecodedChar first = s.at(pos);
  if ((first.flags & unicode::kLetter) != 0) return s.run(pos, unicode::kLetter);
  if ((first.flags & unicode::kPrefix) != 0 && s.is(pos + first.length, unicode::kLetter)) {
    return s.run(pos + first.length, unicode::kLetter);
  }
  // \p{N}{1,3}
  if (const std::size_t end = numbers(s, pos); end != pos) return end;
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  if (const std::size_t end = punctuation(s, pos, unicode::kNewline); end != pos) return end;
  // Only white space is left here.
  const WhitespaceRun run = whitespace_run(s, pos);
  if (run.chars == 0) return pos + first.length;  // unreachable: every class is covered
  if (run.end == s.size()) return run.end;        // \s+$
  if (run.after_newline != 0) return run.after_newline;  // \s*[\r\n]
  if (run.chars >= 2) return run.last_start;             // \s+(?!\S)
  return run.end;                                        // \s
}

// [^\r\n\p{L}\p{N}]?[Upperish]*[Lowerish]+ at start (after the optional prefix): its end, or
// 0. The backtracking of [Upperish]* gives back characters until [Lowerish]+ can match.
std::size_t o200k_lower_word(const Scanner& s, std::size_t start) noexcept {
  std::size_t p = start;
  std::size_t last_lowerish_end = 0;  // end of the last character in the run that is Lowerish
  while (p < s.size()) {
    const DecodedChar c = s.at(p);
    if ((c.flags & unicode::kUpperish) == 0) break;
    p += c.length;
    if ((c.flags & unicode::kLowerish) != 0) last_lowerish_end = p;
  }
  if (s.is(p, unicode::kLowerish)) return s.run(p, unicode::kLowerish);
  return last_lowerish_end;
}

// [Upperish]+[Lowerish]* at start: its end, or 0.
std::size_t o200k_upper_word(const Scanner& s, std::size_t start) noexcept {
  const std::size_t end = s.run(start, unicode::kUpperish);
  if (end == start) return 0;
  return s.run(end, unicode::kLowerish);
}

std::size_t o200k_piece_end(const Scanner& s, std::size_t pos) noexcept {
  const DecodedChar first = s.at(pos);
  const bool has_prefix = (first.flags & unicode::kPrefix) != 0;
  const auto with_contraction = [&](std::size_t end) { return end + s.contraction(end); };
  for (auto word : {o200k_lower_word, o200k_upper_word}) {
    if (has_prefix) {
      if (const std::size_t end = word(s, pos + first.length); end != 0) {
        return with_contraction(end);
      }
    }
    if (const std::size_t end = word(s, pos); end != 0) return with_contraction(end);
  }
  // \p{N}{1,3}
  if (const std::size_t end = numbers(s, pos); end != pos) return end;
  // ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
  if (const std::size_t end = punctuation(s, pos, unicode::kNewline | unicode::kSlash);
      end != pos) {
    return end;
  }
  const WhitespaceRun run = whitespace_run(s, pos);
  if (run.chars == 0) return pos + first.length;  // unreachable: every class is covered
  if (run.after_newline != 0) return run.after_newline;      // \s*[\r\n]+
  if (run.end == s.size()) return run.end;                   // \s+(?!\S) at the end
  if (run.chars >= 2) return run.last_start;                 // \s+(?!\S)
  return run.end;                                            // \s+
}

}  // namespace

std::size_t piece_end(std::string_view text, std::size_t pos, Encoding encoding) noexcept {
  const Scanner scanner(text);
  return encoding == Encoding::kO200kBase ? o200k_piece_end(scanner, pos)
                                          : cl100k_piece_end(scanner, pos);
}

}  // namespace strata::context
