// fuzz_gitignore — GitignoreMatcher on arbitrary pattern files and paths.
//
// Input: pattern text, a NUL byte, then a path. Checks: no crash or hang (matching is
// O(pattern x path), no backtracking), and last-match-wins: appending the line "*" (which
// matches every name) makes any non-empty file path ignored, and appending "!*" after that
// re-includes it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "context/gitignore.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string_view patterns = input.substr(0, nul);
  std::string_view path = nul == std::string_view::npos ? std::string_view("a/b.txt") : input.substr(nul + 1);
  if (path.size() > 4096) path = path.substr(0, 4096);
  strata::context::detail::GitignoreMatcher m;
  m.add_patterns(patterns);
  (void)m.match(path, false);
  (void)m.match(path, true);

  // The last segment must be non-empty for "*" to match it.
  const std::size_t slash = path.rfind('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  if (name.empty() || path.front() == '/' || path.find('\n') != std::string_view::npos) return 0;
  strata::context::detail::GitignoreMatcher all = m;
  all.add_patterns("\n*\n");
  if (all.match(path, false) != std::optional<bool>(true)) {
    std::fprintf(stderr, "'*' appended did not ignore the path\n");
    strata::fuzz::print_escaped(input);
    std::abort();
  }
  all.add_patterns("\n!*\n");
  if (all.match(path, false) != std::optional<bool>(false)) {
    std::fprintf(stderr, "'!*' appended did not re-include the path\n");
    strata::fuzz::print_escaped(input);
    std::abort();
  }
  return 0;
}
