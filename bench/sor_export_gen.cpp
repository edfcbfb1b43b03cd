// strata_sor_export_gen — writes a synthetic Slack workspace export and GitHub REST API dump
// in the real formats (bench/sor_export.h).
//
//   strata_sor_export_gen <dir> [--messages N] [--pulls N] [--vocabulary N]
//
// Defaults: 1,000,000 messages, 100,000 pull requests, and text of 32 words drawn uniformly;
// --vocabulary N draws it from N words by Zipf's law instead (sor_export.h, Words).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sor_export.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: strata_sor_export_gen <dir> [--messages N] [--pulls N] [--vocabulary N]\n");
    return 2;
  }
  strata::bench::ExportSize size;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--messages") size.messages = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--pulls") size.pulls = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--vocabulary") size.vocabulary = std::strtoull(argv[i + 1], nullptr, 10);
  }
  const std::size_t records = strata::bench::write_synthetic_export(argv[1], size);
  std::printf("wrote %zu records (%zu messages, %zu pull requests, %zu reviews) under %s\n", records, size.messages,
              size.pulls, size.pulls * size.reviews_per_pull, argv[1]);
  return 0;
}
