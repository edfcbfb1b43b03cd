#include "context/tokenizer/rank_table.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>

namespace strata::context {
namespace {

std::string line_ref(std::size_t line) {
  return line == 0 ? std::string("entry") : "line " + std::to_string(line);
}

}  // namespace

std::uint64_t RankTable::hash(std::string_view bytes) noexcept {
  // FNV-1a over 8-byte words, then a final mix: tokens are short, lookups are hot.
  std::uint64_t h = 0xcbf29ce484222325ULL ^ bytes.size();
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    h = (h ^ word) * 0x100000001b3ULL;
  }
  std::uint64_t tail = 0;
  if (i < bytes.size()) std::memcpy(&tail, bytes.data() + i, bytes.size() - i);
  h = (h ^ tail) * 0x100000001b3ULL;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ULL;
  h ^= h >> 32;
  return h;
}

Token RankTable::lookup(std::string_view bytes) const noexcept {
  if (slots_.empty()) return kNoRank;
  for (std::uint64_t i = hash(bytes) & mask_;; i = (i + 1) & mask_) {
    const Slot& slot = slots_[i];
    if (slot.length == 0) return kNoRank;
    if (slot.length == bytes.size() &&
        std::memcmp(blob_.data() + slot.offset, bytes.data(), bytes.size()) == 0) {
      return slot.rank;
    }
  }
}

Result<RankTable> RankTable::build(std::string blob, std::vector<RankEntry> entries) {
  if (entries.empty()) return data_loss_error("rank file has no tokens");
  std::sort(entries.begin(), entries.end(),
            [](const RankEntry& a, const RankEntry& b) { return a.rank < b.rank; });
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const RankEntry& entry = entries[i];
    if (entry.length == 0) return data_loss_error(line_ref(entry.line) + ": empty token");
    if (i > 0 && entries[i - 1].rank == entry.rank) {
      return data_loss_error(line_ref(entry.line) + ": rank " + std::to_string(entry.rank) +
                             " is also the rank of " + line_ref(entries[i - 1].line));
    }
    if (entry.rank != i) {
      return data_loss_error(line_ref(entry.line) + ": ranks must be 0.." +
                             std::to_string(entries.size() - 1) + " without gaps; rank " +
                             std::to_string(i) + " is missing");
    }
  }

  RankTable table;
  table.blob_ = std::move(blob);
  std::size_t capacity = 16;
  while (capacity < entries.size() * 2) capacity *= 2;
  table.slots_.assign(capacity, Slot{});
  table.mask_ = capacity - 1;
  table.by_rank_.resize(entries.size());
  std::vector<std::size_t> slot_line(capacity, 0);
  std::fill(std::begin(table.byte_rank_), std::end(table.byte_rank_), kNoRank);
  for (const RankEntry& entry : entries) {
    const std::string_view bytes =
        std::string_view(table.blob_).substr(entry.offset, entry.length);
    std::uint64_t i = hash(bytes) & table.mask_;
    for (;; i = (i + 1) & table.mask_) {
      const Slot& slot = table.slots_[i];
      if (slot.length == 0) break;
      if (slot.length == bytes.size() &&
          std::memcmp(table.blob_.data() + slot.offset, bytes.data(), bytes.size()) == 0) {
        return data_loss_error(line_ref(entry.line) + ": token is also the token of " +
                               line_ref(slot_line[i]));
      }
    }
    table.slots_[i] = Slot{entry.offset, entry.length, entry.rank};
    slot_line[i] = entry.line;
    table.by_rank_[entry.rank] = Slot{entry.offset, entry.length, entry.rank};
    if (entry.length == 1) table.byte_rank_[static_cast<unsigned char>(bytes[0])] = entry.rank;
  }
  for (int byte = 0; byte < 256; ++byte) {
    if (table.byte_rank_[byte] == kNoRank) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02X", byte);
      return data_loss_error(std::string("rank file has no token for the single byte ") + hex +
                             " (byte-level BPE needs all 256)");
    }
  }
  return table;
}

}  // namespace strata::context
