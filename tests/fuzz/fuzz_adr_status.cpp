// fuzz_adr_status — adr_status (ADR status lines and sections) on arbitrary Markdown.
//
// Checks: no crash or hang; the status is one of the known words or ""; a superseding ADR
// number is only reported with the status "superseded".
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
  int by = -1;
  const std::string s = strata::context::adr_status(input, &by);
  const bool known = s.empty() || s == "proposed" || s == "accepted" || s == "rejected" || s == "deprecated" ||
                     s == "superseded";
  if (!known || by < 0 || (by > 0 && s != "superseded")) {
    std::fprintf(stderr, "status \"%s\" by %d\n", s.c_str(), by);
    strata::fuzz::print_escaped(input);
    std::abort();
  }
  return 0;
}
