// RFC 6455 framing for strata's server and client: a bounded incremental reader that
// reassembles fragmented messages and validates everything the RFC requires of a peer
// (masking, reserved bits, opcodes, control-frame rules, close codes, UTF-8 of text), and
// the frame encoder. The reader never throws; the first violation ends the stream with the
// close code the RFC prescribes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace strata::net::detail {

namespace ws_opcode {
inline constexpr std::uint8_t kContinuation = 0x0;
inline constexpr std::uint8_t kText = 0x1;
inline constexpr std::uint8_t kBinary = 0x2;
inline constexpr std::uint8_t kClose = 0x8;
inline constexpr std::uint8_t kPing = 0x9;
inline constexpr std::uint8_t kPong = 0xA;
}  // namespace ws_opcode

namespace ws_close {
inline constexpr int kNormal = 1000;
inline constexpr int kGoingAway = 1001;
inline constexpr int kProtocolError = 1002;
inline constexpr int kUnsupportedData = 1003;
inline constexpr int kNoStatus = 1005;
inline constexpr int kInvalidPayload = 1007;
inline constexpr int kPolicy = 1008;
inline constexpr int kTooBig = 1009;
inline constexpr int kInternal = 1011;
inline constexpr int kServiceRestart = 1012;
inline constexpr int kTryAgainLater = 1013;
inline constexpr int kTokenExpired = 4401;
}  // namespace ws_close

// What the reader produced from the bytes fed so far.
struct WsEvent {
  enum class Kind { kNone, kText, kBinary, kPing, kPong, kClose, kError };
  Kind kind = Kind::kNone;
  std::string data;     // message, ping/pong payload, or close reason / error message
  int close_code = 0;   // kClose: the peer's code (1005 if none); kError: the code to send
};

class WsReader {
 public:
  // `expect_masked`: a server requires masked frames (RFC 6455 5.1); a client forbids them.
  WsReader(std::size_t max_message_bytes, bool expect_masked)
      : max_message_(max_message_bytes), expect_masked_(expect_masked) {}

  // Consumes bytes until one event is complete; returns the number consumed. When `event`
  // is kNone everything was consumed and more is needed. After kError or kClose the reader
  // consumes nothing more.
  std::size_t feed(std::string_view data, WsEvent& event);
  [[nodiscard]] bool finished() const noexcept { return finished_; }

 private:
  std::size_t fail(WsEvent& event, int code, std::string message, std::size_t used);

  std::size_t max_message_;
  bool expect_masked_;
  bool finished_ = false;
  // Frame header in progress.
  unsigned char header_[14] = {};
  std::size_t header_have_ = 0;
  std::size_t header_need_ = 2;
  bool in_payload_ = false;
  std::uint8_t opcode_ = 0;
  bool fin_ = false;
  bool masked_ = false;
  unsigned char mask_[4] = {};
  std::uint64_t payload_left_ = 0;
  std::uint64_t payload_pos_ = 0;  // for unmasking
  std::string control_;            // control frame payload
  // Data message in progress (possibly fragmented).
  bool in_message_ = false;
  std::uint8_t message_opcode_ = 0;
  std::string message_;
  std::size_t utf8_checked_ = 0;   // prefix of message_ known valid (complete sequences)
};

// Appends one frame. `mask` != 0 masks it with that key (clients must).
void append_ws_frame(std::string& out, std::uint8_t opcode, std::string_view payload,
                     std::uint32_t mask = 0, bool fin = true);
// A close frame's payload: the code and a reason (truncated to fit 123 bytes, on a UTF-8
// boundary).
std::string ws_close_payload(int code, std::string_view reason);
// True for codes a peer may send in a close frame (RFC 6455 7.4).
bool ws_valid_close_code(int code) noexcept;

// Sec-WebSocket-Accept for a Sec-WebSocket-Key.
std::string websocket_accept(std::string_view key);

// Validates UTF-8 (RFC 3629: no overlongs, surrogates or code points above U+10FFFF).
// Returns the length of the longest valid prefix that ends on a character boundary, and sets
// `incomplete` when the rest is only a truncated but so-far valid sequence.
std::size_t utf8_valid_prefix(std::string_view s, bool& incomplete) noexcept;
inline bool is_valid_utf8(std::string_view s) noexcept {
  bool incomplete = false;
  return utf8_valid_prefix(s, incomplete) == s.size();
}

// Base64 (RFC 4648). url=true: the URL-safe alphabet without padding (JWT).
std::string base64_encode(std::string_view data, bool url = false);
// false on characters outside the alphabet or bad length/padding.
bool base64_decode(std::string_view text, std::string& out, bool url = false);

}  // namespace strata::net::detail
