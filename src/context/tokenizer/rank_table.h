// The ranks of a byte-level BPE vocabulary: token bytes -> rank (= token id) and back.
//
// Thread safety: immutable after build(); safe for concurrent reads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <strata/context/tokenizer.h>
#include <strata/status.h>

namespace strata::context {

inline constexpr Token kNoRank = std::numeric_limits<Token>::max();

// One token of a rank file: its bytes are blob[offset, offset + length).
struct RankEntry {
  std::uint32_t offset = 0;
  std::uint32_t length = 0;
  Token rank = 0;
  std::size_t line = 0;  // 1-based line in the rank file, for messages; 0 if none
};

class RankTable {
 public:
  // Builds the table. Errors (kDataLoss): an empty token, two tokens with one rank or with the
  // same bytes, ranks that are not exactly 0..N-1, a byte value with no single-byte token
  // (byte-level BPE needs all 256). Messages name the rank file lines involved.
  static Result<RankTable> build(std::string blob, std::vector<RankEntry> entries);

  // The rank of `bytes`, or kNoRank.
  [[nodiscard]] Token rank(std::string_view bytes) const noexcept {
    if (bytes.size() == 1) return byte_rank_[static_cast<unsigned char>(bytes[0])];
    return lookup(bytes);
  }
  // The bytes of token `rank`; empty if there is no such token.
  [[nodiscard]] std::string_view bytes(Token rank) const noexcept {
    if (rank >= by_rank_.size()) return {};
    const Slot& slot = by_rank_[rank];
    return std::string_view(blob_).substr(slot.offset, slot.length);
  }
  [[nodiscard]] std::size_t size() const noexcept { return by_rank_.size(); }

 private:
  struct Slot {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;  // 0: empty slot
    Token rank = kNoRank;
  };

  [[nodiscard]] Token lookup(std::string_view bytes) const noexcept;
  static std::uint64_t hash(std::string_view bytes) noexcept;

  std::string blob_;
  std::vector<Slot> slots_;    // open addressing, linear probing; size is a power of two
  std::uint64_t mask_ = 0;
  std::vector<Slot> by_rank_;  // index = rank
  Token byte_rank_[256] = {};
};

}  // namespace strata::context
