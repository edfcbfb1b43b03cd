// An incremental, bounded HTTP/1.1 request parser (RFC 9112), for strata's own server and
// its fuzz target. Strict where leniency causes request smuggling: no obs-fold, no
// Transfer-Encoding (chunked request bodies are refused), one Content-Length.
#pragma once

#include <cstddef>
#include <string>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <strata/net/handler.h>

namespace strata::net::detail {

struct HttpLimits {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_body_bytes = 1 << 20;
};

class HttpRequestParser {
 public:
  enum class State { kNeedMore, kComplete, kError };

  explicit HttpRequestParser(HttpLimits limits) : limits_(limits) {}

  // Consumes bytes of the current request; returns how many it used (the rest belongs to the
  // next request). Call again with more data while state() is kNeedMore.
  std::size_t feed(std::string_view data);
  [[nodiscard]] State state() const noexcept { return state_; }
  // kError: the HTTP status to answer with (400, 411, 413, 431, 505) and why.
  [[nodiscard]] int error_status() const noexcept { return error_status_; }
  [[nodiscard]] const std::string& error_message() const noexcept { return error_message_; }
  // kComplete: the request; also whether the connection stays open after the response.
  [[nodiscard]] HttpRequest& request() noexcept { return request_; }
  [[nodiscard]] bool keep_alive() const noexcept { return keep_alive_; }
  // True once any byte of a request has arrived (for header timeouts).
  [[nodiscard]] bool started() const noexcept { return !head_.empty() || state_ != State::kNeedMore; }
  // Ready for the next request.
  void reset();

 private:
  bool parse_head();
  void fail(int status, std::string message);

  HttpLimits limits_;
  State state_ = State::kNeedMore;
  bool in_body_ = false;
  std::string head_;
  std::size_t scanned_ = 0;
  std::size_t body_length_ = 0;
  bool keep_alive_ = true;
  HttpRequest request_;
  int error_status_ = 0;
  std::string error_message_;
};

// Splits "/a/b?x=1&y=%2F" into its path and decoded query parameters.
struct Target {
  std::string path{};  // still percent-encoded
  std::vector<std::pair<std::string, std::string>> query{};
  [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const;
};
// false for malformed percent-encoding.
bool parse_target(std::string_view target, Target& out);
// Decodes %XX escapes (and, in query strings, '+' as space). false on a bad escape.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);

// "Bad Request" for 400, ...
std::string_view reason_phrase(int status) noexcept;
// The status line, headers and body of a response, ready to write.
std::string serialize_response(const HttpResponse& response, bool keep_alive);

}  // namespace strata::net::detail
