// Language-aware chunking: the definitions (classes, functions, methods) of a source file and
// the top-level blocks between them, with their line spans and signatures.
//
// Heuristic, not a parser: it must never crash or loop on any input (fuzzed), and it must
// find the definitions of ordinary code. Python is chunked by indentation; C, C++, Java,
// JavaScript/TypeScript, Go and Rust by braces after comments and strings are blanked out.
#pragma once

#include <string_view>
#include <vector>

#include <strata/context/document.h>

namespace strata::context::detail {

// Chunks of `content` for `language` (language_for_path()). Definitions come in source order
// (a class before its methods); top-level gaps with code become kBlock chunks; a file with no
// definitions is one kFile chunk. Every chunk satisfies 1 <= start_line <= signature_end_line
// <= end_line <= number of lines. Empty content gives no chunks.
std::vector<Chunk> chunk_source(std::string_view content, std::string_view language);

// Implementation parts (one per language family).
std::vector<Chunk> chunk_python(std::string_view content);
std::vector<Chunk> chunk_braces(std::string_view content, std::string_view language);

// Number of lines of `content` (a final line without '\n' counts; "" has 0).
int count_lines(std::string_view content) noexcept;

}  // namespace strata::context::detail
