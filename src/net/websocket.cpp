#include "net/websocket.h"

#include <algorithm>
#include <cstring>

#include <openssl/evp.h>

namespace strata::net::detail {

std::size_t WsReader::fail(WsEvent& event, int code, std::string message, std::size_t used) {
  finished_ = true;
  event.kind = WsEvent::Kind::kError;
  event.close_code = code;
  event.data = std::move(message);
  return used;
}

std::size_t WsReader::feed(std::string_view data, WsEvent& event) {
  event = WsEvent{};
  if (finished_) return 0;
  std::size_t used = 0;
  while (used < data.size()) {
    if (!in_payload_) {
      while (header_have_ < header_need_ && used < data.size()) {
        header_[header_have_++] = static_cast<unsigned char>(data[used++]);
      }
      if (header_have_ < header_need_) return used;
      const unsigned char b0 = header_[0];
      const unsigned char b1 = header_[1];
      const bool masked = (b1 & 0x80) != 0;
      const unsigned len7 = b1 & 0x7f;
      const std::size_t need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (masked ? 4 : 0);
      if (header_need_ < need) {
        header_need_ = need;
        continue;
      }
      if ((b0 & 0x70) != 0) return fail(event, ws_close::kProtocolError, "reserved bits set", used);
      const std::uint8_t opcode = b0 & 0x0f;
      const bool fin = (b0 & 0x80) != 0;
      if (masked != expect_masked_) {
        return fail(event, ws_close::kProtocolError,
                    expect_masked_ ? "client frames must be masked" : "server frames must not be masked",
                    used);
      }
      std::uint64_t length = len7;
      std::size_t pos = 2;
      if (len7 == 126) {
        length = (std::uint64_t{header_[2]} << 8) | header_[3];
        pos = 4;
        if (length < 126) return fail(event, ws_close::kProtocolError, "non-minimal length", used);
      } else if (len7 == 127) {
        length = 0;
        for (int i = 0; i < 8; ++i) length = (length << 8) | header_[2 + i];
        pos = 10;
        if (length >> 63) return fail(event, ws_close::kProtocolError, "length has top bit set", used);
        if (length < 65536) return fail(event, ws_close::kProtocolError, "non-minimal length", used);
      }
      if (masked) std::memcpy(mask_, header_ + pos, 4);
      header_have_ = 0;
      header_need_ = 2;

      const bool control = (opcode & 0x08) != 0;
      if (control) {
        if (opcode != ws_opcode::kClose && opcode != ws_opcode::kPing && opcode != ws_opcode::kPong) {
          return fail(event, ws_close::kProtocolError, "unknown control opcode", used);
        }
        if (!fin) return fail(event, ws_close::kProtocolError, "fragmented control frame", used);
        if (length > 125) return fail(event, ws_close::kProtocolError, "control frame over 125 bytes", used);
        control_.clear();
      } else if (opcode == ws_opcode::kContinuation) {
        if (!in_message_) return fail(event, ws_close::kProtocolError, "continuation without a message", used);
      } else if (opcode == ws_opcode::kText || opcode == ws_opcode::kBinary) {
        if (in_message_) return fail(event, ws_close::kProtocolError, "new message inside a fragmented one", used);
        in_message_ = true;
        message_opcode_ = opcode;
        message_.clear();
        utf8_checked_ = 0;
      } else {
        return fail(event, ws_close::kProtocolError, "reserved opcode", used);
      }
      if (!control && length > max_message_ - std::min(max_message_, message_.size())) {
        return fail(event, ws_close::kTooBig,
                    "message exceeds " + std::to_string(max_message_) + " bytes", used);
      }
      opcode_ = opcode;
      fin_ = fin;
      masked_ = masked;
      payload_left_ = length;
      payload_pos_ = 0;
      in_payload_ = true;
      if (!control) message_.reserve(message_.size() + static_cast<std::size_t>(length));
    }

    const bool control = (opcode_ & 0x08) != 0;
    std::string& dest = control ? control_ : message_;
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(payload_left_, data.size() - used));
    const std::size_t start = dest.size();
    dest.append(data.substr(used, take));
    if (masked_) {
      for (std::size_t i = 0; i < take; ++i) dest[start + i] ^= static_cast<char>(mask_[(payload_pos_ + i) & 3]);
    }
    payload_pos_ += take;
    payload_left_ -= take;
    used += take;
    if (!control && message_opcode_ == ws_opcode::kText) {
      bool incomplete = false;
      std::string_view rest(message_.data() + utf8_checked_, message_.size() - utf8_checked_);
      utf8_checked_ += utf8_valid_prefix(rest, incomplete);
      if (utf8_checked_ != message_.size() && !incomplete) {
        return fail(event, ws_close::kInvalidPayload, "text message is not valid UTF-8", used);
      }
    }
    if (payload_left_ > 0) return used;
    in_payload_ = false;

    if (control) {
      if (opcode_ == ws_opcode::kPing) {
        event.kind = WsEvent::Kind::kPing;
        event.data = std::move(control_);
        return used;
      }
      if (opcode_ == ws_opcode::kPong) {
        event.kind = WsEvent::Kind::kPong;
        event.data = std::move(control_);
        return used;
      }
      // Close.
      if (control_.size() == 1) return fail(event, ws_close::kProtocolError, "close payload of 1 byte", used);
      int code = ws_close::kNoStatus;
      std::string reason;
      if (control_.size() >= 2) {
        code = (static_cast<unsigned char>(control_[0]) << 8) | static_cast<unsigned char>(control_[1]);
        if (!ws_valid_close_code(code)) return fail(event, ws_close::kProtocolError, "invalid close code", used);
        reason = control_.substr(2);
        if (!is_valid_utf8(reason)) return fail(event, ws_close::kInvalidPayload, "close reason is not UTF-8", used);
      }
      finished_ = true;
      event.kind = WsEvent::Kind::kClose;
      event.close_code = code;
      event.data = std::move(reason);
      return used;
    }
    if (fin_) {
      if (message_opcode_ == ws_opcode::kText && utf8_checked_ != message_.size()) {
        return fail(event, ws_close::kInvalidPayload, "text message is not valid UTF-8", used);
      }
      in_message_ = false;
      event.kind = message_opcode_ == ws_opcode::kText ? WsEvent::Kind::kText : WsEvent::Kind::kBinary;
      event.data = std::move(message_);
      message_.clear();
      return used;
    }
  }
  return used;
}

void append_ws_frame(std::string& out, std::uint8_t opcode, std::string_view payload,
                     std::uint32_t mask, bool fin) {
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | opcode));
  const unsigned char mask_bit = mask != 0 ? 0x80 : 0;
  const std::size_t n = payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xffff) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>((n >> 8) & 0xff));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      out.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> shift) & 0xff));
    }
  }
  if (mask == 0) {
    out.append(payload);
    return;
  }
  unsigned char key[4] = {static_cast<unsigned char>(mask >> 24), static_cast<unsigned char>(mask >> 16),
                          static_cast<unsigned char>(mask >> 8), static_cast<unsigned char>(mask)};
  out.append(reinterpret_cast<const char*>(key), 4);
  const std::size_t start = out.size();
  out.append(payload);
  for (std::size_t i = 0; i < n; ++i) out[start + i] ^= static_cast<char>(key[i & 3]);
}

std::string ws_close_payload(int code, std::string_view reason) {
  std::string out;
  out.push_back(static_cast<char>((code >> 8) & 0xff));
  out.push_back(static_cast<char>(code & 0xff));
  if (reason.size() > 123) {
    bool incomplete = false;
    reason = reason.substr(0, utf8_valid_prefix(reason.substr(0, 123), incomplete));
  }
  out.append(reason);
  return out;
}

bool ws_valid_close_code(int code) noexcept {
  if (code >= 3000 && code <= 4999) return true;
  switch (code) {
    case 1000: case 1001: case 1002: case 1003: case 1007: case 1008:
    case 1009: case 1010: case 1011: case 1012: case 1013: case 1014:
      return true;
    default:
      return false;
  }
}

std::string websocket_accept(std::string_view key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input(key);
  input += kGuid;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha1(), nullptr);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

std::size_t utf8_valid_prefix(std::string_view s, bool& incomplete) noexcept {
  incomplete = false;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      std::uint64_t chunk;
      std::memcpy(&chunk, p + i, 8);
      if (chunk & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    for (std::size_t k = 1; k < len; ++k) {
      if (i + k >= n) {
        incomplete = true;
        return i;
      }
      const unsigned char b = p[i + k];
      if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return i;
    }
    i += len;
  }
  return i;
}

namespace {
constexpr char kStd[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
}  // namespace

std::string base64_encode(std::string_view data, bool url) {
  const char* alphabet = url ? kUrl : kStd;
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  const std::size_t rest = data.size() - i;
  if (rest > 0) {
    std::uint32_t v = p[i] << 16;
    if (rest == 2) v |= p[i + 1] << 8;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (rest == 2) out.push_back(alphabet[(v >> 6) & 63]);
    if (!url) out.append(rest == 1 ? "==" : "=");
  }
  return out;
}

bool base64_decode(std::string_view text, std::string& out, bool url) {
  out.clear();
  if (!url) {
    if (text.size() % 4 != 0) return false;
    if (!text.empty() && text.back() == '=') text.remove_suffix(1);
    if (!text.empty() && text.back() == '=') text.remove_suffix(1);
  }
  if (text.size() % 4 == 1) return false;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : text) {
    int v;
    if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
    else if (ch == (url ? '-' : '+')) v = 62;
    else if (ch == (url ? '_' : '/')) v = 63;
    else return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero (canonical encoding).
  return (acc & ((1u << bits) - 1)) == 0;
}

}  // namespace strata::net::detail
