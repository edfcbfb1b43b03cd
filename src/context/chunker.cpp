#include "context/chunker.h"

#include <algorithm>

namespace strata::context::detail {

int count_lines(std::string_view content) noexcept {
  if (content.empty()) return 0;
  int n = static_cast<int>(std::count(content.begin(), content.end(), '\n'));
  if (content.back() != '\n') ++n;
  return n;
}

namespace {

// Lines [first, last] that hold something other than whitespace.
bool has_code(std::string_view content, const std::vector<std::size_t>& starts, int first,
              int last) {
  for (int line = first; line <= last; ++line) {
    const std::size_t b = starts[static_cast<std::size_t>(line - 1)];
    const std::size_t e = static_cast<std::size_t>(line) < starts.size()
                              ? starts[static_cast<std::size_t>(line)]
                              : content.size();
    for (std::size_t i = b; i < e; ++i) {
      const char c = content[i];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return true;
    }
  }
  return false;
}

}  // namespace

std::vector<Chunk> chunk_source(std::string_view content, std::string_view language) {
  const int lines = count_lines(content);
  if (lines == 0) return {};
  std::vector<Chunk> defs;
  if (language == "python") {
    defs = chunk_python(content);
  } else if (!language.empty()) {
    defs = chunk_braces(content, language);
  }
  // Clamp (defensive: the chunkers already keep spans inside the file).
  for (Chunk& c : defs) {
    c.start_line = std::clamp(c.start_line, 1, lines);
    c.end_line = std::clamp(c.end_line, c.start_line, lines);
    c.signature_end_line = std::clamp(c.signature_end_line, c.start_line, c.end_line);
  }
  if (defs.empty()) {
    Chunk whole;
    whole.kind = ChunkKind::kFile;
    whole.start_line = 1;
    whole.end_line = lines;
    whole.signature_end_line = 1;
    return {whole};
  }
  std::vector<std::size_t> starts{0};
  for (std::size_t i = 0; i < content.size(); ++i) {
    if (content[i] == '\n' && i + 1 < content.size()) starts.push_back(i + 1);
  }
  // Top-level gaps become blocks (a definition nested in another is not a gap boundary).
  std::vector<Chunk> out;
  out.reserve(defs.size() * 2);
  int covered = 0;  // last line covered by a top-level definition
  auto add_block = [&](int first, int last) {
    if (first > last || !has_code(content, starts, first, last)) return;
    Chunk b;
    b.kind = ChunkKind::kBlock;
    b.start_line = first;
    b.end_line = last;
    b.signature_end_line = first;
    out.push_back(b);
  };
  for (const Chunk& d : defs) {
    if (d.start_line > covered) {
      add_block(covered + 1, d.start_line - 1);
    }
    out.push_back(d);
    covered = std::max(covered, d.end_line);
  }
  add_block(covered + 1, lines);
  return out;
}

}  // namespace strata::context::detail
