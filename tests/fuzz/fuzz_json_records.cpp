// fuzz_json_records — split_json_array (the record splitter of the system-of-record
// connectors) against nlohmann_json as the reference.
//
// Checks: records are delivered in order as non-empty, non-overlapping slices of the input;
// when the whole input parses as a JSON array, splitting succeeds with one record per element
// and each record parses to that element.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "context/connectors/records.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> records;
  const char* last_end = input.data();
  const strata::Status s = strata::context::detail::split_json_array(input, [&](std::string_view r, std::size_t i) {
    if (r.empty() || i != records.size() || r.data() < last_end || r.data() + r.size() > input.data() + input.size()) {
      std::fprintf(stderr, "record %zu is empty, out of order or outside the input\n", i);
      strata::fuzz::print_escaped(input);
      std::abort();
    }
    last_end = r.data() + r.size();
    records.push_back(r);
  });
  nlohmann::json whole = nlohmann::json::parse(input.begin(), input.end(), nullptr, false);
  if (whole.is_discarded() || !whole.is_array()) return 0;
  if (!s.ok() || records.size() != whole.size()) {
    std::fprintf(stderr, "a valid array of %zu elements split into %zu records (%s)\n", whole.size(), records.size(),
                 s.message().c_str());
    strata::fuzz::print_escaped(input);
    std::abort();
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    auto e = nlohmann::json::parse(records[i].begin(), records[i].end(), nullptr, false);
    if (e.is_discarded() || e != whole[i]) {
      std::fprintf(stderr, "record %zu does not parse to element %zu\n", i, i);
      strata::fuzz::print_escaped(input);
      std::abort();
    }
  }
  return 0;
}
