// fuzz_slack_cursor — the live Slack connector's cursor (src/context/live/slack_cursor.h) on
// arbitrary bytes: the whole input as a cursor, and its two halves (split at the first
// newline) as ts for the order.
//
// Checks: no crash or hang; a cursor that parses formats back to a cursor that parses to the
// same marks, and formatting is stable; a refusal is kInvalidArgument; the ts order is
// irreflexive and asymmetric, and "" comes before every valid ts.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "context/live/slack_cursor.h"
#include "fuzz_util.h"

using namespace strata::context::detail;

using strata::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  auto cursor = parse_slack_cursor(input);
  if (!cursor.ok()) {
    if (cursor.status().code() != strata::StatusCode::kInvalidArgument) fail("a refusal that is not kInvalidArgument", input);
  } else {
    if (!cursor->fallback.empty() && (!cursor->marks.empty() || !slack_ts_valid(cursor->fallback))) {
      fail("an old-style cursor with marks, or an invalid ts", input);
    }
    const std::string text = format_slack_cursor(*cursor);
    auto again = parse_slack_cursor(text);
    if (!again.ok()) fail("a formatted cursor does not parse", input);
    if (again->marks != cursor->marks || !again->fallback.empty()) fail("a formatted cursor lost or changed a mark", input);
    if (format_slack_cursor(*again) != text) fail("formatting is not stable", input);
  }
  const auto newline = input.find('\n');
  const std::string_view a = input.substr(0, newline);
  const std::string_view b = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  if (slack_ts_less(a, a) || slack_ts_less(b, b)) fail("a ts before itself", input);
  if (slack_ts_less(a, b) && slack_ts_less(b, a)) fail("two ts each before the other", input);
  if (slack_ts_valid(a) && !slack_ts_less("", a)) fail("\"\" not before a valid ts", input);
  return 0;
}
