// Parsing `.tiktoken` rank files: one "base64(token bytes) SP rank" per line.
#pragma once

#include <cstddef>
#include <string_view>

#include <strata/context/tokenizer.h>
#include <strata/status.h>

#include "context/tokenizer/rank_table.h"

namespace strata::context {

// Rank files larger than this are refused (o200k_base is 3.6 MB).
inline constexpr std::size_t kMaxRankFileBytes = std::size_t{256} << 20;
// Longest token accepted (the real vocabularies stay far below).
inline constexpr std::size_t kMaxTokenBytes = 1024;
// Ranks must be below this.
inline constexpr Token kMaxRank = Token{1} << 24;

// The number of tokens of the rank file of `encoding` (cl100k_base: 100256).
std::size_t expected_token_count(Encoding encoding) noexcept;
std::string_view encoding_name(Encoding encoding) noexcept;

// Parses the content of a rank file into a RankTable. Blank lines are skipped; a trailing
// "\r" is ignored. Errors (kDataLoss, naming the line): a line without exactly one space,
// invalid base64, a rank that is not a decimal number below kMaxRank, a token longer than
// kMaxTokenBytes, and everything RankTable::build refuses. kInvalidArgument: content larger
// than kMaxRankFileBytes, or (when expected_tokens != 0) a token count other than
// expected_tokens — checked before the tokens' consistency.
Result<RankTable> parse_tiktoken(std::string_view content, std::size_t expected_tokens,
                                 std::string_view what);

}  // namespace strata::context
