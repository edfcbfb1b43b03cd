// Pre-tokenization: the regex split of cl100k_base and o200k_base, written out by hand.
//
// cl100k_base:
//   '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*
//   |\s+$|\s*[\r\n]|\s+(?!\S)|\s
// o200k_base:
//   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//   |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//   |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// At each position the alternatives are tried in order with the regex's backtracking
// semantics (leftmost-first), each rewritten as a forward scan. Every character is matched
// by some alternative, so the pieces tile the text. \s is the Unicode White_Space property;
// invalid UTF-8 bytes are characters of no class (see unicode.h).
#pragma once

#include <cstddef>
#include <string_view>

#include <strata/context/tokenizer.h>

namespace strata::context {

// The end (exclusive) of the pre-token piece that starts at text[pos].
// REQUIRES: pos < text.size(). Returns a value in (pos, text.size()].
std::size_t piece_end(std::string_view text, std::size_t pos, Encoding encoding) noexcept;

}  // namespace strata::context
