// fuzz_git_log — parse_git_log() and analyze_task() on arbitrary bytes.
//
// Checks: no crash; every parsed commit has a 40- or 64-hex-digit hash and no empty path;
// task analysis never yields empty terms, identifiers, imports or class names, and its
// class-name lists are sorted and unique.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "context/git.h"
#include "context/query.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t malformed = 0;
  const auto commits = strata::context::detail::parse_git_log(input, &malformed);
  for (const auto& c : commits) {
    bool hex = c.hash.size() == 40 || c.hash.size() == 64;
    for (char ch : c.hash) hex = hex && ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'));
    bool paths_ok = true;
    for (const auto& p : c.paths) paths_ok = paths_ok && !p.empty();
    if (!hex || !paths_ok) {
      std::fprintf(stderr, "bad commit record\n");
      strata::fuzz::print_escaped(input);
      std::abort();
    }
  }
  const auto task = strata::context::detail::analyze_task(input);
  for (const auto& t : task.terms) {
    if (t.term.empty()) std::abort();
  }
  for (const auto& t : task.identifiers) {
    if (t.term.empty()) std::abort();
  }
  // Imports, class names: never empty, and sorted without duplicates.
  for (const auto& m : task.imported_modules) {
    if (m.empty()) std::abort();
  }
  for (const auto& [m, n] : task.imported_names) {
    if (m.empty() || n.empty()) std::abort();
  }
  for (const auto* v : {&task.class_words, &task.title_caps}) {
    for (std::size_t i = 0; i < v->size(); ++i) {
      if ((*v)[i].empty() || (i > 0 && !((*v)[i - 1] < (*v)[i]))) std::abort();
    }
  }
  return 0;
}
