// Shared by the fuzz targets: how a failing input is shown.
#pragma once

#include <cstdio>
#include <string_view>

namespace strata::fuzz {

// Writes `bytes` to stderr as a C string literal (printable ASCII as is, the rest \xNN).
inline void print_escaped(std::string_view bytes) {
  std::fprintf(stderr, "  input (%zu bytes): \"", bytes.size());
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      std::fputc(c, stderr);
    } else {
      std::fprintf(stderr, "\\x%02x", c);
    }
  }
  std::fprintf(stderr, "\"\n");
}

}  // namespace strata::fuzz
