// fuzz_codeowners — parse_codeowners and codeowners_of on arbitrary files and paths.
//
// Input: the CODEOWNERS text, a NUL byte, then a path. Checks: no crash or hang; the owners
// returned are those of some parsed rule; every owner is "@name" or an email.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <strata/context/connectors.h>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string_view text = input.substr(0, nul);
  std::string_view path = nul == std::string_view::npos ? std::string_view("src/a.cc") : input.substr(nul + 1);
  if (path.size() > 1024) path = path.substr(0, 1024);
  std::vector<std::string> errors;
  const auto rules = strata::context::parse_codeowners(text, &errors);
  for (const auto& r : rules) {
    for (const auto& o : r.owners) {
      if (o.size() < 2 || (o[0] != '@' && o.find('@') == std::string::npos)) {
        std::fprintf(stderr, "owner \"%s\" accepted\n", o.c_str());
        strata::fuzz::print_escaped(input);
        std::abort();
      }
    }
  }
  if (rules.size() > 200) return 0;  // matching is O(rules x path): keep runs fast
  const auto owners = strata::context::codeowners_of(rules, path);
  if (!owners.empty()) {
    bool found = false;
    for (const auto& r : rules) found |= r.owners == owners;
    if (!found) {
      std::fprintf(stderr, "owners that no rule names\n");
      strata::fuzz::print_escaped(input);
      std::abort();
    }
  }
  return 0;
}
