// strata/context/packet.h — a token-budgeted research packet for a coding agent.
//
// A Packet is what ContextEngine::pack() returns: the most relevant spans (or signatures, or
// whole small files) for a task, each cited as path:start-end@commit, measured with a
// Tokenizer so that the rendering in the requested format never exceeds the budget.
//
// Thread safety: a value. Distinct objects: safe. Shared objects: const access only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <strata/context/document.h>

namespace strata::context {

enum class PacketFormat : std::uint8_t { kMarkdown = 0, kJson = 1 };

enum class ItemForm : std::uint8_t {
  kSpan = 0,        // the lines of one chunk (function, method, class, block)
  kSignature = 1,   // a chunk elided to its signature, for lack of space
  kFile = 2,        // a whole (small) file
};
std::string_view to_string(ItemForm form) noexcept;

struct PacketItem {
  std::string path{};
  std::string commit{};  // the commit the index reflected for this file ("" outside git)
  int start_line = 1;
  int end_line = 1;
  ChunkKind kind = ChunkKind::kBlock;
  std::string symbol{};  // qualified name of the chunk, if any
  ItemForm form = ItemForm::kSpan;
  std::string text{};    // the cited lines (signatures: the header and a marker line)
  double score = 0;
  std::vector<std::string> why{};  // the signals that chose it
  std::size_t tokens = 0;        // tokens of this item's rendering, as measured while packing

  // "path:start-end@commit" (commit abbreviated to 12 hex digits; "@" part omitted when
  // there is no commit).
  [[nodiscard]] std::string citation() const;
};

struct Packet {
  std::string task{};
  std::size_t budget = 0;
  PacketFormat format = PacketFormat::kMarkdown;
  std::string tokenizer{};      // Tokenizer::name()
  bool exact_counts = false;  // Tokenizer::exact(): false = counts are estimates
  std::string index_commit{};   // the commit the index reflects
  std::vector<PacketItem> items{};
  // Files that ranked but did not fit, best first (path only).
  std::vector<std::string> omitted{};
  // Tokens of the rendering in `format` (0 for an empty rendering), measured by the tokenizer.
  std::size_t used_tokens = 0;
  // False when even the packet's header did not fit (a tiny budget): renders as "".
  bool header = true;

  // The packet as Markdown: a header (task, budget, tokenizer, commit), then each item as a
  // citation line and a fenced code block. "" when `header` is false.
  [[nodiscard]] std::string to_markdown() const;
  // The packet as one JSON object. "" when `header` is false.
  [[nodiscard]] std::string to_json() const;
  // to_markdown() or to_json(), by `format`.
  [[nodiscard]] std::string render() const;
};

}  // namespace strata::context
