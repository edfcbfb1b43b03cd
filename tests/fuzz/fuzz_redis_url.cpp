// fuzz_redis_url — parse_redis_url on arbitrary bytes (a URL comes from a command line or a
// configuration file).
//
// Checks: no crash or sanitizer report; every failure is kInvalidArgument with a printable
// message; what parses is usable: a unix socket path is
// absolute, otherwise the port is in 1..65535, and the key prefix holds no hash-tag braces.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include <strata/session/redis_store.h>

#include "fuzz_util.h"

using strata::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto parsed = strata::session::parse_redis_url(input);
  if (!parsed.ok()) {
    const strata::Status status = parsed.status();
    if (status.code() != strata::StatusCode::kInvalidArgument) {
      fail("a parse failure is not INVALID_ARGUMENT", input);
    }
    for (unsigned char c : status.message()) {
      if (c < 0x20 || c >= 0x7f) fail("an error message holds unprintable bytes", input);
    }
    return 0;
  }
  const auto& o = *parsed;
  if (!o.unix_socket.empty()) {
    if (o.unix_socket.front() != '/') fail("a relative unix socket path was accepted", input);
  } else if (o.port < 1 || o.port > 65535) {
    fail("a port out of range was accepted", input);
  }
  if (o.key_prefix.find_first_of("{}") != std::string::npos) fail("braces in key_prefix", input);
  if (o.database < 0) fail("a negative database was accepted", input);
  return 0;
}
