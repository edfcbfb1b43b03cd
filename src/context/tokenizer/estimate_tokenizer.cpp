// The estimate tokenizer: an upper bound on cl100k_base / o200k_base token counts that needs
// no rank file.
//
// Every BPE token covers at least one byte, so a token count is the number of token *starts*.
// The estimate walks the text once, splits it into runs of one character class, and charges
// each run an upper bound on the tokens that can start inside it:
//
//   non-ASCII byte                  1 per byte (a token is at least one byte: a hard bound)
//   ASCII letters                   the run is cut at every case change ("getHTTPValue" ->
//                                   get|HTTP|Value, which o200k's pattern also does in part);
//                                   each part of m letters costs ceil(m / 2). A single space
//                                   right before the run counts as one of its letters (" the"
//                                   is one token in both encodings).
//   ASCII digits                    ceil(m / 3) (both patterns cut numbers into groups of at
//                                   most three digits, and every 1-3 digit string is a token
//                                   in both vocabularies: exact)
//   ASCII whitespace                1 + (number of changes of whitespace character inside the
//                                   run) + floor(m / 4), after giving a final space to a
//                                   following letter run; nothing if only that space remains
//   other ASCII (punctuation ...)   1 per character
//
// Why it does not undercount: bytes outside ASCII are charged their maximum. For letters the
// bound assumes that BPE never leaves more than one token per two letters of one case, which
// holds for words, identifiers and hex/base64 data in both encodings (the vocabularies hold
// most pairs of ASCII letters of one case - all but 177 of 1,352 in cl100k_base, 97 in
// o200k_base, rare ones like "qx" - and most longer fragments of English and code). Whitespace runs are mostly single tokens (runs of spaces, "\n" + indentation), and
// the charge grows with their length and their mix. The bound is checked in
// tests/context/tokenizer_estimate_golden_test.cpp against the real tokenizers, file by file
// and line by line, on strata's own sources, docs and the golden-vector texts (prose in 40
// languages, emoji, random ASCII), and on random Unicode. It is an empirical bound: text
// built to defeat it (e.g. long runs of letter pairs that are not tokens) could exceed it.
// In exchange it overcounts: about 2.5x on source code and English prose.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <strata/context/tokenizer.h>

#include "context/tokenizer/estimate.h"

namespace strata::context {
namespace {

enum class CharClass : unsigned char { kLower, kUpper, kDigit, kSpace, kOther, kNonAscii };

constexpr CharClass classify(unsigned char c) noexcept {
  if (c >= 'a' && c <= 'z') return CharClass::kLower;
  if (c >= 'A' && c <= 'Z') return CharClass::kUpper;
  if (c >= '0' && c <= '9') return CharClass::kDigit;
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
    return CharClass::kSpace;
  }
  if (c < 0x80) return CharClass::kOther;
  return CharClass::kNonAscii;
}

constexpr bool is_letter(CharClass c) noexcept {
  return c == CharClass::kLower || c == CharClass::kUpper;
}

constexpr std::size_t ceil_div(std::size_t a, std::size_t b) noexcept { return (a + b - 1) / b; }

class EstimateTokenizer final : public Tokenizer {
 public:
  std::string_view name() const noexcept override { return "estimate"; }
  bool exact() const noexcept override { return false; }
  std::size_t count(std::string_view text) const override { return estimate_token_count(text); }
  std::vector<Token> encode(std::string_view) const override { return {}; }
  Result<std::string> decode(const std::vector<Token>& tokens) const override {
    if (tokens.empty()) return std::string();
    return invalid_argument_error("the estimate tokenizer has no token ids to decode");
  }
};

}  // namespace

std::size_t estimate_token_count(std::string_view text) noexcept {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const std::size_t n = text.size();
  std::size_t tokens = 0;
  std::size_t i = 0;
  while (i < n) {
    const CharClass cls = classify(byte(i));
    if (cls == CharClass::kNonAscii) {
      ++tokens;
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    if (is_letter(cls)) {
      // Parts of one case; a space just before the run was left to it by the whitespace rule.
      std::size_t part = (i > 0 && text[i - 1] == ' ') ? 2 : 1;
      CharClass previous = cls;
      for (; j < n; ++j) {
        const CharClass next = classify(byte(j));
        if (!is_letter(next)) break;
        if (next != previous) {
          tokens += ceil_div(part, 2);
          part = 0;
        }
        ++part;
        previous = next;
      }
      tokens += ceil_div(part, 2);
      i = j;
      continue;
    }
    while (j < n && classify(byte(j)) == cls) ++j;
    std::size_t length = j - i;
    switch (cls) {
      case CharClass::kDigit:
        tokens += ceil_div(length, 3);
        break;
      case CharClass::kSpace: {
        std::size_t changes = 0;
        for (std::size_t k = i + 1; k < j; ++k) changes += text[k] != text[k - 1] ? 1 : 0;
        if (j < n && is_letter(classify(byte(j))) && text[j - 1] == ' ') --length;
        if (length > 0) tokens += 1 + changes + length / 4;
        break;
      }
      default:  // kOther
        tokens += length;
        break;
    }
    i = j;
  }
  return tokens;
}

std::shared_ptr<const Tokenizer> estimate_tokenizer() {
  static const std::shared_ptr<const Tokenizer> tokenizer =
      std::make_shared<const EstimateTokenizer>();
  return tokenizer;
}

}  // namespace strata::context
