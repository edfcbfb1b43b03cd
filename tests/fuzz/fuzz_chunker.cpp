// fuzz_chunker — chunk_source() on arbitrary bytes for every language.
//
// Checks: no crash, no hang, and every chunk lies inside the file with
// 1 <= start_line <= signature_end_line <= end_line <= lines; definitions come in source order.
// The first byte picks the language.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "context/chunker.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static constexpr std::string_view kLanguages[] = {"python", "c", "cpp", "javascript", "typescript",
                                                    "go", "rust", "java", ""};
  const std::string_view lang = kLanguages[data[0] % (sizeof kLanguages / sizeof *kLanguages)];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto chunks = strata::context::detail::chunk_source(text, lang);
  const int lines = strata::context::detail::count_lines(text);
  int last_start = 0;
  for (const auto& c : chunks) {
    if (c.start_line < 1 || c.start_line > c.signature_end_line || c.signature_end_line > c.end_line ||
        c.end_line > lines || c.start_line < last_start) {
      std::fprintf(stderr, "bad chunk %d..%d..%d of %d lines (%.*s)\n", c.start_line, c.signature_end_line,
                   c.end_line, lines, static_cast<int>(lang.size()), lang.data());
      strata::fuzz::print_escaped(text);
      std::abort();
    }
    last_start = c.start_line;
  }
  if (lines > 0 && chunks.empty()) {
    std::fprintf(stderr, "no chunks for non-empty input\n");
    std::abort();
  }
  return 0;
}
