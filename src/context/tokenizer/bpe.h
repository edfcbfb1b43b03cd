// Byte-level BPE: merging the bytes of one pre-token piece by rank, and the Tokenizer that
// pre-tokenizes and merges.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <strata/context/tokenizer.h>

#include "context/tokenizer/rank_table.h"

namespace strata::context {

// Pieces up to this many bytes merge with the quadratic scan on the stack; longer ones with a
// heap (O(n log n)), so one huge piece (a megabyte of letters) stays fast.
inline constexpr std::size_t kSmallPieceBytes = 64;

// Appends the tokens of `piece` (which must not be empty) to `out`: repeatedly merge the
// adjacent pair of parts whose concatenation has the lowest rank (leftmost on ties) until no
// pair is a token. A piece that is itself a token is that one token. REQUIRES: every single
// byte has a rank (RankTable::build guarantees it).
void bpe_encode_piece(const RankTable& ranks, std::string_view piece, std::vector<Token>& out);
// The number of tokens bpe_encode_piece would append.
std::size_t bpe_count_piece(const RankTable& ranks, std::string_view piece);

// The two merge algorithms, exposed so that tests and the fuzzer can check they agree.
void bpe_merge_scan(const RankTable& ranks, std::string_view piece, std::vector<Token>& out);
void bpe_merge_heap(const RankTable& ranks, std::string_view piece, std::vector<Token>& out);

// A BPE tokenizer over `ranks` with the pre-tokenization pattern of `encoding`.
std::shared_ptr<const Tokenizer> make_bpe_tokenizer(std::string name, Encoding encoding,
                                                    RankTable ranks);

}  // namespace strata::context
