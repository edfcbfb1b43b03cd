// Shared by the fuzz targets: how a failing input is shown.
#pragma once

#include <cstdio>
#include <cstdlib>
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

// Reports a broken property of `input` and aborts (libFuzzer keeps the input as a crash).
[[noreturn]] inline void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "property broken: %s\n", what);
  print_escaped(input);
  std::abort();
}

}  // namespace strata::fuzz
