// fuzz_websocket_frames — the RFC 6455 frame reader on arbitrary bytes, as server (masked
// frames expected) and as client, fed in pieces of fuzzer-chosen sizes.
//
// Checks: no crash or sanitizer report; the events do not depend on how the bytes were split;
// every text message is valid UTF-8 and within the message limit; an error carries one of
// the close codes 1002, 1007 or 1009; nothing is produced after a close or an error; and a
// message re-encoded by append_ws_frame reads back identically.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "net/websocket.h"

namespace {

using namespace strata::net::detail;

struct Seen {
  WsEvent::Kind kind;
  std::string data;
  int code;
  bool operator==(const Seen&) const = default;
};

void fail(std::string_view input, const char* why) {
  std::fprintf(stderr, "fuzz_websocket_frames: %s\n", why);
  strata::fuzz::print_escaped(input);
  std::abort();
}

std::vector<Seen> run(std::string_view data, std::size_t piece, bool server, std::string_view input) {
  WsReader reader(2048, server);
  std::vector<Seen> out;
  while (!data.empty()) {
    std::string_view chunk = data.substr(0, piece);
    WsEvent e;
    std::size_t used = reader.feed(chunk, e);
    if (used > chunk.size()) fail(input, "consumed more than given");
    data.remove_prefix(used);
    if (e.kind != WsEvent::Kind::kNone) {
      if (!out.empty() && (out.back().kind == WsEvent::Kind::kClose || out.back().kind == WsEvent::Kind::kError)) {
        fail(input, "event after close or error");
      }
      if (e.kind == WsEvent::Kind::kText && (!is_valid_utf8(e.data) || e.data.size() > 2048)) {
        fail(input, "invalid text message delivered");
      }
      if (e.kind == WsEvent::Kind::kError && e.close_code != 1002 && e.close_code != 1007 && e.close_code != 1009) {
        fail(input, "unexpected close code");
      }
      out.push_back({e.kind, e.data, e.close_code});
    } else if (used == 0) {
      break;  // finished
    }
    if (reader.finished()) break;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  bool server = (data[0] & 1) != 0;
  std::size_t piece = 1 + data[1] % 32;
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  auto whole = run(input, input.size() + 1, server, input);
  auto split = run(input, piece, server, input);
  // Error messages may differ in wording only if the codes match; compare kinds/data/codes.
  if (whole != split) fail(input, "events depend on how the bytes were split");
  for (const auto& seen : whole) {
    if (seen.kind != WsEvent::Kind::kText && seen.kind != WsEvent::Kind::kBinary) continue;
    std::string frame;
    append_ws_frame(frame, seen.kind == WsEvent::Kind::kText ? ws_opcode::kText : ws_opcode::kBinary, seen.data,
                    server ? 0x01020304u : 0u);
    WsReader again(2048, server);
    WsEvent e;
    again.feed(frame, e);
    if (e.kind != seen.kind || e.data != seen.data) fail(input, "re-encoded message does not read back");
  }
  return 0;
}
