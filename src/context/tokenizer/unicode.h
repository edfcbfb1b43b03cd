// Unicode character classes for the pre-tokenization patterns, and UTF-8 decoding that
// never fails.
//
// Invalid UTF-8: every byte that does not start a well-formed sequence (stray continuation
// bytes, truncated or overlong sequences, surrogates, code points above U+10FFFF) is decoded
// as a character of its own, one byte long, of class kInvalid: not a letter, number, mark or
// white space. Such bytes behave like punctuation in the patterns and are then encoded by
// their single-byte tokens, so decode(encode(x)) == x for any bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strata::context::unicode {

// General categories the patterns name. Everything else (and unassigned code points) is
// kOther.
enum class UnicodeClass : std::uint8_t {
  kOther = 0,
  kUppercaseLetter,   // Lu
  kLowercaseLetter,   // Ll
  kTitlecaseLetter,   // Lt
  kModifierLetter,    // Lm
  kOtherLetter,       // Lo
  kMark,              // Mn, Mc, Me
  kNumber,            // Nd, Nl, No
};

struct ClassRange {
  char32_t first;
  char32_t last;
  UnicodeClass cls;
};

// Generated tables (unicode_tables.cpp).
extern const char kUnicodeVersion[];
extern const ClassRange kClassRanges[];
extern const std::size_t kClassRangeCount;

// The general-category class of a code point (binary search; O(1) within the BMP).
UnicodeClass class_of(char32_t code_point) noexcept;

// The Unicode White_Space property (what \s means in the tiktoken patterns).
bool is_white_space(char32_t code_point) noexcept;

// Flags of one decoded character, as the patterns test them.
enum CharFlags : std::uint16_t {
  kLetter = 1 << 0,         // \p{L}
  kNumber = 1 << 1,         // \p{N}
  kSpace = 1 << 2,          // \s
  kNewline = 1 << 3,        // [\r\n]
  kUpperish = 1 << 4,       // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
  kLowerish = 1 << 5,       // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
  kPrefix = 1 << 6,         // [^\r\n\p{L}\p{N}]
  kPunctuation = 1 << 7,    // [^\s\p{L}\p{N}]
  kSlash = 1 << 8,          // '/'
  kAsciiSpace = 1 << 9,     // ' ' (U+0020)
};

struct DecodedChar {
  std::uint16_t flags;
  std::uint8_t length;  // bytes, 1..4
};

// Flags of a code point (not for invalid bytes).
std::uint16_t flags_of(char32_t code_point) noexcept;

// Flags of the invalid-byte character.
inline constexpr std::uint16_t kInvalidFlags = kPrefix | kPunctuation;

constexpr std::uint16_t ascii_flags(char32_t c) noexcept {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  const bool number = c >= '0' && c <= '9';
  const bool space = c == ' ' || (c >= '\t' && c <= '\r');
  std::uint16_t flags = 0;
  if (letter) flags |= kLetter;
  if (c >= 'A' && c <= 'Z') flags |= kUpperish;
  if (c >= 'a' && c <= 'z') flags |= kLowerish;
  if (number) flags |= kNumber;
  if (space) flags |= kSpace;
  if (c == '\r' || c == '\n') flags |= kNewline;
  if (!letter && !number && c != '\r' && c != '\n') flags |= kPrefix;
  if (!letter && !number && !space) flags |= kPunctuation;
  if (c == '/') flags |= kSlash;
  if (c == ' ') flags |= kAsciiSpace;
  return flags;
}

inline constexpr std::array<std::uint16_t, 128> kAsciiFlags = [] {
  std::array<std::uint16_t, 128> table{};
  for (char32_t c = 0; c < 128; ++c) table[c] = ascii_flags(c);
  return table;
}();

// The character starting at text[pos]. REQUIRES: pos < text.size().
DecodedChar decode_non_ascii(std::string_view text, std::size_t pos) noexcept;

inline DecodedChar char_at(std::string_view text, std::size_t pos) noexcept {
  const auto byte = static_cast<unsigned char>(text[pos]);
  if (byte < 0x80) return {kAsciiFlags[byte], 1};
  return decode_non_ascii(text, pos);
}

}  // namespace strata::context::unicode
