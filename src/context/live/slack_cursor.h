// The live Slack connector's cursor as data (slack_cursor.cpp): one high-water mark per
// conversation, so a conversation read early in a scan is not judged by the newest message of
// one read later. Callable on bytes, so tests and fuzz_slack_cursor drive it directly.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include <strata/status.h>

namespace strata::context::detail {

// A Slack message ts as this cursor stores it: 1-20 digits, optionally '.' and 1-9 digits
// ("1700000000.000100").
bool slack_ts_valid(std::string_view ts);
// Numeric order of two ts (whole seconds, then the fraction; leading zeros of the seconds and
// trailing zeros of the fraction do not count). Total on any strings; "" is before every ts.
bool slack_ts_less(std::string_view a, std::string_view b);
// A conversation id the cursor can hold: 1-255 printable ASCII characters, no space (Slack's
// are like "C024BE91L").
bool slack_conversation_id_valid(std::string_view id);

struct SlackCursor {
  // Conversation id -> its high-water mark: every message of that conversation (thread replies
  // included) with a ts at or before the mark was offered by an earlier scan.
  std::map<std::string, std::string> marks{};
  // The mark of a conversation not in `marks`: "" (read it from the start), or the ts of an
  // old single-ts cursor, which stood for every conversation.
  std::string fallback{};
};

// Cursors longer than this are refused (about 40 bytes per conversation: room for hundreds
// of thousands).
inline constexpr std::size_t kMaxSlackCursorBytes = std::size_t{16} << 20;

// "" -> no marks; a bare ts (the cursor of earlier versions) -> `fallback`;
// {"v":2,"channels":{"<id>":"<ts>",...}} -> `marks`. Anything else (not JSON, another version,
// extra members, an id or ts that is not valid, over kMaxSlackCursorBytes) is
// kInvalidArgument with the reason.
Result<SlackCursor> parse_slack_cursor(std::string_view text);
// {"v":2,"channels":{...}} with the ids in order. `fallback` is not written; entries the
// parser would refuse are left out (their conversation is then read from the start: more
// requests, nothing lost).
std::string format_slack_cursor(const SlackCursor& cursor);

}  // namespace strata::context::detail
