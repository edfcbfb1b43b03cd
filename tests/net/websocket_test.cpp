#include <catch2/catch.hpp>

#include "net/websocket.h"

using namespace strata::net::detail;

namespace {

std::string frame(std::uint8_t opcode, std::string_view payload, bool fin = true,
                  std::uint32_t mask = 0x11223344) {
  std::string out;
  append_ws_frame(out, opcode, payload, mask, fin);
  return out;
}

// Feeds everything; returns the events produced.
std::vector<WsEvent> read_all(WsReader& reader, std::string_view data) {
  std::vector<WsEvent> out;
  while (true) {
    WsEvent e;
    std::size_t used = reader.feed(data, e);
    data.remove_prefix(used);
    if (e.kind != WsEvent::Kind::kNone) out.push_back(e);
    if (e.kind == WsEvent::Kind::kNone || reader.finished()) break;
  }
  return out;
}

}  // namespace

TEST_CASE("websocket: accept key from RFC 6455 section 1.3", "[net][websocket]") {
  CHECK(websocket_accept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("websocket: frames of every length class round-trip, masked, fed in pieces", "[net][websocket]") {
  for (std::size_t size : {0u, 1u, 125u, 126u, 65535u, 65536u, 200000u}) {
    std::string payload(size, 'x');
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<char>('a' + i % 26);
    std::string bytes = frame(ws_opcode::kText, payload);
    WsReader reader(1 << 20, true);
    std::vector<WsEvent> events;
    for (std::size_t pos = 0; pos < bytes.size();) {
      std::size_t piece = std::min<std::size_t>(7, bytes.size() - pos);
      std::string_view chunk(bytes.data() + pos, piece);
      while (!chunk.empty()) {
        WsEvent e;
        std::size_t used = reader.feed(chunk, e);
        chunk.remove_prefix(used);
        pos += used;
        if (e.kind != WsEvent::Kind::kNone) events.push_back(e);
        if (used == 0) break;
      }
      if (bytes.size() - pos == 0) break;
    }
    INFO(size);
    REQUIRE(events.size() == 1);
    CHECK(events[0].kind == WsEvent::Kind::kText);
    CHECK(events[0].data == payload);
  }
}

TEST_CASE("websocket: fragmented messages with interleaved control frames", "[net][websocket]") {
  std::string bytes = frame(ws_opcode::kText, "Hel", false) + frame(ws_opcode::kPing, "p") +
                      frame(ws_opcode::kContinuation, "lo ", false) +
                      frame(ws_opcode::kContinuation, "\xE2\x82", false) +  // € split across frames
                      frame(ws_opcode::kContinuation, "\xAC", true);
  WsReader reader(1024, true);
  auto events = read_all(reader, bytes);
  REQUIRE(events.size() == 2);
  CHECK(events[0].kind == WsEvent::Kind::kPing);
  CHECK(events[0].data == "p");
  CHECK(events[1].kind == WsEvent::Kind::kText);
  CHECK(events[1].data == "Hello \xE2\x82\xAC");
}

TEST_CASE("websocket: protocol violations end the stream with the RFC's close code", "[net][websocket]") {
  struct Case {
    std::string name;
    std::string bytes;
    bool masked_side;
    int code;
  };
  std::string unmasked;
  append_ws_frame(unmasked, ws_opcode::kText, "hi", 0);
  std::string reserved_bits = frame(ws_opcode::kText, "hi");
  reserved_bits[0] = static_cast<char>(reserved_bits[0] | 0x40);
  std::string non_minimal = {static_cast<char>(0x81), static_cast<char>(0x80 | 126), 0, 5, 1, 2, 3, 4};
  std::vector<Case> cases = {
      {"unmasked client frame", unmasked, true, ws_close::kProtocolError},
      {"masked server frame", frame(ws_opcode::kText, "hi"), false, ws_close::kProtocolError},
      {"reserved bits", reserved_bits, true, ws_close::kProtocolError},
      {"reserved opcode", frame(0x3, "x"), true, ws_close::kProtocolError},
      {"unknown control opcode", frame(0xB, "x"), true, ws_close::kProtocolError},
      {"fragmented ping", frame(ws_opcode::kPing, "x", false), true, ws_close::kProtocolError},
      {"long ping", frame(ws_opcode::kPing, std::string(126, 'x')), true, ws_close::kProtocolError},
      {"continuation first", frame(ws_opcode::kContinuation, "x"), true, ws_close::kProtocolError},
      {"new message mid-fragment", frame(ws_opcode::kText, "a", false) + frame(ws_opcode::kText, "b"), true,
       ws_close::kProtocolError},
      {"non-minimal length", non_minimal, true, ws_close::kProtocolError},
      {"invalid UTF-8", frame(ws_opcode::kText, "\xC0\xAF"), true, ws_close::kInvalidPayload},
      {"surrogate", frame(ws_opcode::kText, "\xED\xA0\x80"), true, ws_close::kInvalidPayload},
      {"truncated UTF-8 at message end", frame(ws_opcode::kText, "ab\xE2\x82"), true, ws_close::kInvalidPayload},
      {"too big", frame(ws_opcode::kText, std::string(2000, 'a')), true, ws_close::kTooBig},
      {"too big across fragments", frame(ws_opcode::kBinary, std::string(600, 'a'), false) +
                                       frame(ws_opcode::kContinuation, std::string(600, 'a')),
       true, ws_close::kTooBig},
      {"close with 1 byte", frame(ws_opcode::kClose, "x"), true, ws_close::kProtocolError},
      {"close with code 1005", frame(ws_opcode::kClose, ws_close_payload(1005, "")), true, ws_close::kProtocolError},
      {"close with code 999", frame(ws_opcode::kClose, std::string("\x03\xE7", 2)), true, ws_close::kProtocolError},
      {"close reason not UTF-8", frame(ws_opcode::kClose, ws_close_payload(1000, "\xFF")), true,
       ws_close::kInvalidPayload},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    WsReader reader(1024, c.masked_side);
    auto events = read_all(reader, c.bytes);
    REQUIRE_FALSE(events.empty());
    CHECK(events.back().kind == WsEvent::Kind::kError);
    CHECK(events.back().close_code == c.code);
    CHECK(reader.finished());
  }
}

TEST_CASE("websocket: invalid UTF-8 is caught before the message completes", "[net][websocket]") {
  WsReader reader(1 << 20, true);
  auto events = read_all(reader, frame(ws_opcode::kText, "ok \xFF", false));
  REQUIRE(events.size() == 1);
  CHECK(events[0].close_code == ws_close::kInvalidPayload);
}

TEST_CASE("websocket: close frames report code and reason", "[net][websocket]") {
  WsReader reader(1024, true);
  auto events = read_all(reader, frame(ws_opcode::kClose, ws_close_payload(4401, "token expired")));
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == WsEvent::Kind::kClose);
  CHECK(events[0].close_code == 4401);
  CHECK(events[0].data == "token expired");
  WsReader empty(1024, true);
  auto e2 = read_all(empty, frame(ws_opcode::kClose, ""));
  REQUIRE(e2.size() == 1);
  CHECK(e2[0].close_code == ws_close::kNoStatus);
  // Reasons are cut on a character boundary to fit a control frame.
  std::string long_reason;
  for (int i = 0; i < 100; ++i) long_reason += "\xE2\x82\xAC";
  auto payload = ws_close_payload(1000, long_reason);
  CHECK(payload.size() <= 125);
  CHECK(is_valid_utf8(payload.substr(2)));
}

TEST_CASE("utf8 validation follows RFC 3629", "[net][websocket]") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ascii text that is longer than eight bytes"));
  CHECK(is_valid_utf8("\xF0\x9F\x98\x80 \xE2\x82\xAC \xC3\xA9"));
  CHECK_FALSE(is_valid_utf8("\xC1\xBF"));          // overlong
  CHECK_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong
  CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));
  CHECK_FALSE(is_valid_utf8("\x80"));
  bool incomplete = false;
  CHECK(utf8_valid_prefix("ab\xF0\x9F\x98", incomplete) == 2);
  CHECK(incomplete);
  CHECK(utf8_valid_prefix("ab\xF0\x41", incomplete) == 2);
  CHECK_FALSE(incomplete);
}

TEST_CASE("base64 encodes and decodes both alphabets strictly", "[net][websocket]") {
  std::string out;
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\xfd"}) {
    CHECK(base64_decode(base64_encode(s), out));
    CHECK(out == s);
    CHECK(base64_decode(base64_encode(s, true), out, true));
    CHECK(out == s);
  }
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("\xfb\xff", true) == "-_8");
  CHECK_FALSE(base64_decode("Zm8", out));       // std needs padding
  CHECK_FALSE(base64_decode("Zm9=v", out));
  CHECK_FALSE(base64_decode("Z!==", out));
  CHECK(base64_decode("Zm8", out, true));  // url: unpadded is fine
  CHECK(out == "fo");
  CHECK_FALSE(base64_decode("Zm+9", out, true));           // '+' is not url-safe
  CHECK_FALSE(base64_decode("Zn==", out));                 // non-zero leftover bits
}
