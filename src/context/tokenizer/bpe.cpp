#include "context/tokenizer/bpe.h"

#include <algorithm>
#include <array>
#include <limits>
#include <cstdint>
#include <utility>

#include "context/tokenizer/pretokenize.h"

namespace strata::context {
namespace {

// Calls emit(rank) for each token of the piece, using the scan on stack arrays.
// REQUIRES: 2 <= piece.size() <= kSmallPieceBytes.
template <typename Emit>
void merge_scan(const RankTable& ranks, std::string_view piece, Emit&& emit) {
  // Parts are piece[start[i], start[i + 1]); pair[i] is the rank of parts i and i + 1 joined.
  std::array<std::uint32_t, kSmallPieceBytes + 1> start;
  std::array<Token, kSmallPieceBytes> pair;
  std::size_t parts = piece.size();
  for (std::size_t i = 0; i <= parts; ++i) start[i] = static_cast<std::uint32_t>(i);
  const auto pair_rank = [&](std::size_t i) {
    return ranks.rank(piece.substr(start[i], start[i + 2] - start[i]));
  };
  for (std::size_t i = 0; i + 1 < parts; ++i) pair[i] = pair_rank(i);
  while (parts > 1) {
    std::size_t best = 0;
    for (std::size_t i = 1; i + 1 < parts; ++i) {
      if (pair[i] < pair[best]) best = i;
    }
    if (pair[best] == kNoRank) break;
    // Join parts best and best + 1: drop boundary best + 1.
    for (std::size_t i = best + 1; i < parts; ++i) start[i] = start[i + 1];
    for (std::size_t i = best + 1; i + 1 < parts - 1; ++i) pair[i] = pair[i + 1];
    --parts;
    if (best + 1 < parts) pair[best] = pair_rank(best);
    if (best > 0) pair[best - 1] = pair_rank(best - 1);
  }
  for (std::size_t i = 0; i < parts; ++i) {
    emit(ranks.rank(piece.substr(start[i], start[i + 1] - start[i])));
  }
}

// The same merge order with a min-heap of candidate pairs and a linked list of parts.
// Index is the type of byte positions within the piece (32 bits unless the piece is huge).
template <typename Index, typename Emit>
void merge_heap_with(const RankTable& ranks, std::string_view piece, Emit&& emit) {
  const Index n = static_cast<Index>(piece.size());
  constexpr Index kDead = static_cast<Index>(-1);
  std::vector<Index> next(n);  // part starting at i ends at next[i]; kDead: not a part start
  std::vector<Index> prev(n);  // start of the part before the one starting at i
  for (Index i = 0; i < n; ++i) {
    next[i] = i + 1;
    prev[i] = i == 0 ? kDead : i - 1;
  }
  // Candidate: parts [left, right) and [right, end) join into a token of rank `rank`.
  struct Candidate {
    Token rank;
    Index left;
    Index right;
    Index end;
  };
  // A min-heap on (rank, left): the leftmost lowest rank pops first.
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  };
  std::vector<Candidate> heap;
  heap.reserve(n);
  const auto push = [&](Index left, Index right, Index end) {
    const Token rank = ranks.rank(piece.substr(left, end - left));
    if (rank == kNoRank) return;
    heap.push_back(Candidate{rank, left, right, end});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (Index i = 0; i + 1 < n; ++i) {
    const Token rank = ranks.rank(piece.substr(i, 2));
    if (rank != kNoRank) heap.push_back(Candidate{rank, i, static_cast<Index>(i + 1),
                                                  static_cast<Index>(i + 2)});
  }
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Candidate top = heap.back();
    heap.pop_back();
    if (next[top.left] != top.right || next[top.right] != top.end) continue;  // stale
    next[top.left] = top.end;
    next[top.right] = kDead;
    if (top.end < n) prev[top.end] = top.left;
    if (prev[top.left] != kDead) push(prev[top.left], top.left, top.end);
    if (top.end < n) push(top.left, top.end, next[top.end]);
  }
  for (Index i = 0; i < n; i = next[i]) emit(ranks.rank(piece.substr(i, next[i] - i)));
}

template <typename Emit>
void merge_heap(const RankTable& ranks, std::string_view piece, Emit&& emit) {
  if (piece.size() < std::numeric_limits<std::uint32_t>::max()) {
    merge_heap_with<std::uint32_t>(ranks, piece, emit);
  } else {
    merge_heap_with<std::size_t>(ranks, piece, emit);
  }
}

template <typename Emit>
void encode_piece(const RankTable& ranks, std::string_view piece, Emit&& emit) {
  if (const Token whole = ranks.rank(piece); whole != kNoRank) {
    emit(whole);
  } else if (piece.size() <= kSmallPieceBytes) {
    merge_scan(ranks, piece, emit);
  } else {
    merge_heap(ranks, piece, emit);
  }
}

class BpeTokenizer final : public Tokenizer {
 public:
  BpeTokenizer(std::string name, Encoding encoding, RankTable ranks)
      : name_(std::move(name)), encoding_(encoding), ranks_(std::move(ranks)) {}

  std::string_view name() const noexcept override { return name_; }
  bool exact() const noexcept override { return true; }

  std::size_t count(std::string_view text) const override {
    std::size_t tokens = 0;
    for (std::size_t pos = 0; pos < text.size();) {
      const std::size_t end = piece_end(text, pos, encoding_);
      tokens += bpe_count_piece(ranks_, text.substr(pos, end - pos));
      pos = end;
    }
    return tokens;
  }

  std::vector<Token> encode(std::string_view text) const override {
    std::vector<Token> tokens;
    tokens.reserve(text.size() / 4 + 1);
    for (std::size_t pos = 0; pos < text.size();) {
      const std::size_t end = piece_end(text, pos, encoding_);
      bpe_encode_piece(ranks_, text.substr(pos, end - pos), tokens);
      pos = end;
    }
    return tokens;
  }

  Result<std::string> decode(const std::vector<Token>& tokens) const override {
    std::string text;
    for (const Token token : tokens) {
      const std::string_view bytes = ranks_.bytes(token);
      if (bytes.empty()) {
        return invalid_argument_error("token id " + std::to_string(token) + " is not in " +
                                      name_);
      }
      text.append(bytes);
    }
    return text;
  }

 private:
  const std::string name_;
  const Encoding encoding_;
  const RankTable ranks_;
};

}  // namespace

void bpe_encode_piece(const RankTable& ranks, std::string_view piece, std::vector<Token>& out) {
  encode_piece(ranks, piece, [&](Token token) { out.push_back(token); });
}

std::size_t bpe_count_piece(const RankTable& ranks, std::string_view piece) {
  std::size_t count = 0;
  encode_piece(ranks, piece, [&](Token) { ++count; });
  return count;
}

void bpe_merge_scan(const RankTable& ranks, std::string_view piece, std::vector<Token>& out) {
  if (piece.size() == 1) {
    out.push_back(ranks.rank(piece));
  } else if (piece.size() <= kSmallPieceBytes) {
    merge_scan(ranks, piece, [&](Token token) { out.push_back(token); });
  } else {
    // The scan works on stack arrays of kSmallPieceBytes; longer pieces use the heap.
    merge_heap(ranks, piece, [&](Token token) { out.push_back(token); });
  }
}

void bpe_merge_heap(const RankTable& ranks, std::string_view piece, std::vector<Token>& out) {
  if (piece.empty()) return;
  merge_heap(ranks, piece, [&](Token token) { out.push_back(token); });
}

std::shared_ptr<const Tokenizer> make_bpe_tokenizer(std::string name, Encoding encoding,
                                                    RankTable ranks) {
  return std::make_shared<const BpeTokenizer>(std::move(name), encoding, std::move(ranks));
}

}  // namespace strata::context
