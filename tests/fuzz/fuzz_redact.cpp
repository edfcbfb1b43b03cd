// fuzz_redact — secret redaction on arbitrary text.
//
// Checks: no crash or hang; line breaks are kept (line numbers do not move); the count equals
// the kinds' counts; the output holds the n new markers (earlier markers inside a redacted
// span, e.g. after a private key header without an end line, may be swallowed); no PEM
// private key header survives; the one-pass pre-scan gives the full search's result.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "context/redact.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string text = input;
  std::map<std::string, std::size_t> kinds;
  const std::size_t n = strata::context::detail::redact_secrets(text, &kinds);
  {
    // The one-pass pre-scan may only skip text the full search finds nothing in.
    std::string full = input;
    std::map<std::string, std::size_t> full_kinds;
    const std::size_t full_n = strata::context::detail::redact_secrets_exhaustive(full, &full_kinds);
    if (full_n != n || full != text || full_kinds != kinds ||
        (full_n != 0 && !strata::context::detail::may_contain_secret(input))) {
      std::fprintf(stderr, "the pre-scan changed the redaction (%zu vs %zu)\n", n, full_n);
      strata::fuzz::print_escaped(input);
      std::abort();
    }
  }
  auto count = [](const std::string& s, std::string_view what) {
    std::size_t c = 0;
    for (std::size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++c;
    return c;
  };
  std::size_t total = 0;
  for (const auto& [k, v] : kinds) total += v;
  const std::size_t markers = count(text, "[REDACTED:");
  if (count(text, "\n") != count(input, "\n") || total != n || markers < n ||
      markers > count(input, "[REDACTED:") + n) {
    std::fprintf(stderr, "redaction moved lines or miscounted (%zu)\n", n);
    strata::fuzz::print_escaped(input);
    std::abort();
  }
  if (text.find("PRIVATE KEY-----\n") != std::string::npos && text.find("-----BEGIN ") != std::string::npos &&
      text.find("-----BEGIN ") + 80 > text.find("PRIVATE KEY-----\n")) {
    // A header that is still there must not have been a private key header.
    const std::size_t b = text.find("-----BEGIN ");
    const std::size_t e = text.find("-----", b + 11);
    // Only a header the input held as such counts: redacting a token inside an over-long
    // "-----BEGIN ... PRIVATE KEY-----" line (not a PEM header: over 80 bytes) shortens it,
    // and a header holding a redaction marker is no PEM header either.
    const std::string header = e == std::string::npos ? std::string() : text.substr(b, e - b + 5);
    if (e != std::string::npos && e - b <= 80 && header.find("PRIVATE KEY") != std::string::npos &&
        header.find("[REDACTED:") == std::string::npos && input.find(header) != std::string::npos) {
      std::fprintf(stderr, "a private key header survived\n");
      strata::fuzz::print_escaped(input);
      std::abort();
    }
  }
  return 0;
}
