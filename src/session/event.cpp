// Event helpers and the validation of every name and payload that enters a session.
#include <strata/session/event.h>

#include <cstdint>
#include <string>

namespace strata::session {

std::size_t Event::byte_size() const noexcept {
  // 48 bytes stand for the fixed-size fields and per-event bookkeeping.
  return 48 + type.size() + producer.size() + run_id.size() + parent_run_id.size() +
         message_id.size() + payload.size();
}

bool is_terminal_run_event(std::string_view type) noexcept {
  return type == event_types::kRunCompleted || type == event_types::kRunFailed ||
         type == event_types::kRunCancelled || type == event_types::kRunAgentLost;
}

namespace {

bool is_id_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '~' || c == ':' || c == '@' || c == '/' || c == '-';
}

// Shows a bad value safely in an error message: at most 40 bytes, non-printables escaped.
std::string quote_for_error(std::string_view value) {
  std::string out = "\"";
  const std::size_t shown = value.size() < 40 ? value.size() : 40;
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (shown < value.size()) out += "...";
  out += '"';
  return out;
}

Status check_chars(std::string_view field, std::string_view value, std::size_t max_size) {
  if (value.empty()) return invalid_argument_error(std::string(field) + " is empty");
  if (value.size() > max_size) {
    return invalid_argument_error(std::string(field) + " is longer than " +
                                  std::to_string(max_size) + " bytes");
  }
  for (char c : value) {
    if (!is_id_char(c)) {
      return invalid_argument_error(std::string(field) + " " + quote_for_error(value) +
                                    " may contain only letters, digits and . _ ~ : @ / -");
    }
  }
  return {};
}

}  // namespace

Status validate_session_id(std::string_view id) {
  STRATA_RETURN_IF_ERROR(check_chars("session id", id, 200));
  if (id.front() == '/' || id.back() == '/') {
    return invalid_argument_error("session id " + quote_for_error(id) +
                                  " may not start or end with '/'");
  }
  std::size_t start = 0;
  while (start <= id.size()) {
    const std::size_t slash = id.find('/', start);
    const std::size_t end = slash == std::string_view::npos ? id.size() : slash;
    const std::string_view segment = id.substr(start, end - start);
    if (segment.empty() || segment == "." || segment == "..") {
      return invalid_argument_error("session id " + quote_for_error(id) +
                                    " has an empty, '.' or '..' path segment");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

Status validate_name(std::string_view field, std::string_view value) {
  return check_chars(field, value, 128);
}

Status validate_event_type(std::string_view type) {
  if (type.empty()) return invalid_argument_error("event type is empty");
  if (type.size() > 64) return invalid_argument_error("event type is longer than 64 bytes");
  if (type.front() < 'a' || type.front() > 'z') {
    return invalid_argument_error("event type " + quote_for_error(type) +
                                  " must start with a lowercase letter");
  }
  for (char c : type) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                    c == '-';
    if (!ok) {
      return invalid_argument_error("event type " + quote_for_error(type) +
                                    " may contain only a-z, 0-9 and . _ -");
    }
  }
  return {};
}

// ---- JSON validation -----------------------------------------------------------------------
// An iterative validator: no recursion (hostile nesting cannot overflow the stack), no
// allocation beyond a small container stack, strict RFC 8259 grammar and UTF-8.
namespace {

constexpr int kMaxJsonDepth = 64;

class JsonValidator {
 public:
  explicit JsonValidator(std::string_view text) : s_(text) {}

  Status run() {
    skip_ws();
    if (!value()) return fail();
    skip_ws();
    if (pos_ != s_.size()) {
      error_ = "unexpected data after the JSON value";
      return fail();
    }
    return {};
  }

 private:
  Status fail() const {
    return invalid_argument_error("payload is not valid JSON: " + error_ + " at byte " +
                                  std::to_string(pos_));
  }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool at_end() const { return pos_ >= s_.size(); }

  // Parses one value; containers are handled with an explicit stack.
  bool value() {
    // Stack of open containers: true = object, false = array.
    bool stack[kMaxJsonDepth];
    int depth = 0;
    for (;;) {
      skip_ws();
      if (at_end()) {
        error_ = "unexpected end of input";
        return false;
      }
      const char c = s_[pos_];
      bool opened = false;
      if (c == '{' || c == '[') {
        if (depth == kMaxJsonDepth) {
          error_ = "nesting deeper than " + std::to_string(kMaxJsonDepth);
          return false;
        }
        stack[depth++] = (c == '{');
        ++pos_;
        skip_ws();
        if (!at_end() && s_[pos_] == (c == '{' ? '}' : ']')) {
          ++pos_;
          --depth;
        } else {
          opened = true;
          if (c == '{' && !member_key()) return false;
        }
      } else if (c == '"') {
        if (!string()) return false;
      } else if (c == 't') {
        if (!literal("true")) return false;
      } else if (c == 'f') {
        if (!literal("false")) return false;
      } else if (c == 'n') {
        if (!literal("null")) return false;
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        if (!number()) return false;
      } else {
        error_ = "unexpected character";
        return false;
      }
      if (opened) continue;  // parse the first element / member value
      // After a complete value: close containers or move to the next element.
      for (;;) {
        if (depth == 0) return true;
        skip_ws();
        if (at_end()) {
          error_ = "unexpected end of input";
          return false;
        }
        const bool in_object = stack[depth - 1];
        const char d = s_[pos_];
        if (d == ',') {
          ++pos_;
          if (in_object && !member_key()) return false;
          break;  // parse the next value
        }
        if (d == (in_object ? '}' : ']')) {
          ++pos_;
          --depth;
          continue;
        }
        error_ = in_object ? "expected ',' or '}'" : "expected ',' or ']'";
        return false;
      }
    }
  }

  bool member_key() {
    skip_ws();
    if (at_end() || s_[pos_] != '"') {
      error_ = "expected a string key";
      return false;
    }
    if (!string()) return false;
    skip_ws();
    if (at_end() || s_[pos_] != ':') {
      error_ = "expected ':'";
      return false;
    }
    ++pos_;
    return true;
  }

  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) {
      error_ = "invalid literal";
      return false;
    }
    pos_ += word.size();
    return true;
  }

  bool digits() {
    const std::size_t start = pos_;
    while (!at_end() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  bool number() {
    if (s_[pos_] == '-') ++pos_;
    if (at_end()) {
      error_ = "invalid number";
      return false;
    }
    if (s_[pos_] == '0') {
      ++pos_;
    } else if (!digits()) {
      error_ = "invalid number";
      return false;
    }
    if (!at_end() && s_[pos_] == '.') {
      ++pos_;
      if (!digits()) {
        error_ = "invalid number fraction";
        return false;
      }
    }
    if (!at_end() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (!at_end() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (!digits()) {
        error_ = "invalid number exponent";
        return false;
      }
    }
    return true;
  }

  static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool hex4(unsigned& out) {
    if (pos_ + 4 > s_.size()) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int v = hex_value(s_[pos_ + i]);
      if (v < 0) return false;
      out = out * 16 + static_cast<unsigned>(v);
    }
    pos_ += 4;
    return true;
  }

  bool string() {
    ++pos_;  // opening quote
    while (!at_end()) {
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) {
        error_ = "control character in string";
        return false;
      }
      if (c == '\\') {
        ++pos_;
        if (at_end()) break;
        const char e = s_[pos_++];
        if (e == 'u') {
          unsigned code = 0;
          if (!hex4(code)) {
            error_ = "invalid \\u escape";
            return false;
          }
          if (code >= 0xD800 && code <= 0xDBFF) {  // must be followed by a low surrogate
            unsigned low = 0;
            if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') {
              error_ = "unpaired surrogate";
              return false;
            }
            pos_ += 2;
            if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) {
              error_ = "unpaired surrogate";
              return false;
            }
          } else if (code >= 0xDC00 && code <= 0xDFFF) {
            error_ = "unpaired surrogate";
            return false;
          }
        } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' &&
                   e != 'r' && e != 't') {
          error_ = "invalid escape";
          return false;
        }
        continue;
      }
      if (c < 0x80) {
        ++pos_;
        continue;
      }
      if (!utf8_sequence()) {
        error_ = "invalid UTF-8";
        return false;
      }
    }
    error_ = "unterminated string";
    return false;
  }

  // Validates one multi-byte UTF-8 sequence (no overlongs, no surrogates, <= U+10FFFF).
  bool utf8_sequence() {
    const auto b0 = static_cast<unsigned char>(s_[pos_]);
    int length = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      length = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      length = 3;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      length = 4;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (pos_ + static_cast<std::size_t>(length) > s_.size()) return false;
    for (int i = 1; i < length; ++i) {
      const auto b = static_cast<unsigned char>(s_[pos_ + i]);
      const unsigned min = (i == 1) ? lo : 0x80;
      const unsigned max = (i == 1) ? hi : 0xBF;
      if (b < min || b > max) return false;
    }
    pos_ += static_cast<std::size_t>(length);
    return true;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::string error_;
};

}  // namespace

Status validate_json(std::string_view text) { return JsonValidator(text).run(); }

}  // namespace strata::session
