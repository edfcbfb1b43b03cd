#include "context/tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <memory>

namespace strata::context::unicode {
namespace {

UnicodeClass search_ranges(char32_t code_point) noexcept {
  const ClassRange* end = kClassRanges + kClassRangeCount;
  const ClassRange* it = std::upper_bound(
      kClassRanges, end, code_point,
      [](char32_t cp, const ClassRange& range) { return cp < range.first; });
  if (it == kClassRanges) return UnicodeClass::kOther;
  --it;
  return code_point <= it->last ? it->cls : UnicodeClass::kOther;
}

// Flags of every BMP code point, built once (64 K entries).
const std::array<std::uint16_t, 0x10000>& bmp_flags() {
  static const std::unique_ptr<std::array<std::uint16_t, 0x10000>> table = [] {
    auto built = std::make_unique<std::array<std::uint16_t, 0x10000>>();
    for (char32_t cp = 0; cp < 0x10000; ++cp) (*built)[cp] = flags_of(cp);
    return built;
  }();
  return *table;
}

}  // namespace

UnicodeClass class_of(char32_t code_point) noexcept { return search_ranges(code_point); }

bool is_white_space(char32_t cp) noexcept {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::uint16_t flags_of(char32_t cp) noexcept {
  if (cp < 0x80) return ascii_flags(cp);
  const UnicodeClass cls = class_of(cp);
  std::uint16_t flags = 0;
  switch (cls) {
    case UnicodeClass::kUppercaseLetter:
    case UnicodeClass::kTitlecaseLetter:
      flags = kLetter | kUpperish;
      break;
    case UnicodeClass::kLowercaseLetter:
      flags = kLetter | kLowerish;
      break;
    case UnicodeClass::kModifierLetter:
    case UnicodeClass::kOtherLetter:
      flags = kLetter | kUpperish | kLowerish;
      break;
    case UnicodeClass::kMark:
      flags = kUpperish | kLowerish | kPrefix | kPunctuation;
      break;
    case UnicodeClass::kNumber:
      flags = kNumber;
      break;
    case UnicodeClass::kOther:
      flags = kPrefix;
      if (is_white_space(cp)) {
        flags |= kSpace;
      } else {
        flags |= kPunctuation;
      }
      break;
  }
  return flags;
}

DecodedChar decode_non_ascii(std::string_view text, std::size_t pos) noexcept {
  const auto at = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = at(pos);
  const std::size_t left = text.size() - pos;
  const auto continuation = [&](std::size_t i) { return (at(pos + i) & 0xC0) == 0x80; };
  const DecodedChar invalid{kInvalidFlags, 1};
  char32_t cp = 0;
  std::uint8_t length = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    if (left < 2 || !continuation(1)) return invalid;
    cp = (char32_t{lead} & 0x1F) << 6 | (at(pos + 1) & 0x3F);
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    if (left < 3 || !continuation(1) || !continuation(2)) return invalid;
    cp = (char32_t{lead} & 0x0F) << 12 | char32_t{at(pos + 1) & 0x3Fu} << 6 |
         (at(pos + 2) & 0x3F);
    if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) return invalid;  // overlong, surrogate
    length = 3;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    if (left < 4 || !continuation(1) || !continuation(2) || !continuation(3)) return invalid;
    cp = (char32_t{lead} & 0x07) << 18 | char32_t{at(pos + 1) & 0x3Fu} << 12 |
         char32_t{at(pos + 2) & 0x3Fu} << 6 | (at(pos + 3) & 0x3F);
    if (cp < 0x10000 || cp > 0x10FFFF) return invalid;
    length = 4;
  } else {
    return invalid;
  }
  const std::uint16_t flags = cp < 0x10000 ? bmp_flags()[cp] : flags_of(cp);
  return {flags, length};
}

}  // namespace strata::context::unicode
