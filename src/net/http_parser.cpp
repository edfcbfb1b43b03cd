#include "net/http_parser.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace strata::net::detail {
namespace {

bool is_token_char(unsigned char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != 0;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]);
    auto y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x = static_cast<unsigned char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<unsigned char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = trim_ows(list.substr(0, comma));
    if (iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

void HttpRequestParser::reset() {
  state_ = State::kNeedMore;
  in_body_ = false;
  head_.clear();
  scanned_ = 0;
  body_length_ = 0;
  keep_alive_ = true;
  request_ = HttpRequest{};
  error_status_ = 0;
  error_message_.clear();
}

void HttpRequestParser::fail(int status, std::string message) {
  state_ = State::kError;
  error_status_ = status;
  error_message_ = std::move(message);
  keep_alive_ = false;
}

std::size_t HttpRequestParser::feed(std::string_view data) {
  if (state_ != State::kNeedMore) return 0;
  std::size_t used = 0;
  if (!in_body_) {
    // Leading empty lines before a request line are allowed (RFC 9112 2.2).
    while (head_.empty() && used < data.size() && (data[used] == '\r' || data[used] == '\n')) {
      ++used;
    }
    std::size_t room = limits_.max_header_bytes - std::min(limits_.max_header_bytes, head_.size());
    std::size_t take = std::min(room + 4, data.size() - used);
    head_.append(data.substr(used, take));
    auto end = head_.find("\r\n\r\n", scanned_ > 3 ? scanned_ - 3 : 0);
    if (end == std::string::npos) {
      // Over the limit only once no terminator could still start within it, so the outcome
      // does not depend on how the bytes arrive (found by fuzz_http_request).
      if (head_.size() > limits_.max_header_bytes + 3) {
        fail(431, "request line and headers exceed " + std::to_string(limits_.max_header_bytes) +
                      " bytes");
        return used + take;
      }
      scanned_ = head_.size();
      return used + take;
    }
    std::size_t head_end = end + 4;
    if (end > limits_.max_header_bytes) {
      fail(431, "request line and headers exceed " + std::to_string(limits_.max_header_bytes) +
                    " bytes");
      return used + take;
    }
    // Bytes after the head belong to the body or the next request.
    std::size_t extra = head_.size() - head_end;
    used += take - extra;
    head_.resize(end);
    if (!parse_head()) return used;
    in_body_ = true;
    request_.body.reserve(body_length_);
  }
  std::size_t want = body_length_ - request_.body.size();
  std::size_t take = std::min(want, data.size() - used);
  request_.body.append(data.substr(used, take));
  used += take;
  if (request_.body.size() == body_length_) state_ = State::kComplete;
  return used;
}

bool HttpRequestParser::parse_head() {
  std::string_view head = head_;
  auto line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  head = line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);

  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      line.find(' ', sp2 + 1) != std::string_view::npos) {
    fail(400, "malformed request line");
    return false;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), [](char c) {
        return is_token_char(static_cast<unsigned char>(c));
      })) {
    fail(400, "malformed request method");
    return false;
  }
  if (target.empty() || target.front() != '/' ||
      !std::all_of(target.begin(), target.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return u > 0x20 && u < 0x7f;
      })) {
    fail(400, "malformed request target (origin-form expected)");
    return false;
  }
  if (version == "HTTP/1.1") {
    keep_alive_ = true;
  } else if (version == "HTTP/1.0") {
    keep_alive_ = false;
  } else if (version.substr(0, 5) == "HTTP/") {
    fail(505, "only HTTP/1.0 and HTTP/1.1 are supported");
    return false;
  } else {
    fail(400, "malformed HTTP version");
    return false;
  }
  request_.method.assign(method);
  request_.target.assign(target);

  std::optional<std::size_t> content_length;
  while (!head.empty()) {
    auto end = head.find("\r\n");
    std::string_view field = head.substr(0, end);
    head = end == std::string_view::npos ? std::string_view{} : head.substr(end + 2);
    if (field.empty()) continue;
    if (field.front() == ' ' || field.front() == '\t') {
      fail(400, "obsolete header line folding is not accepted");
      return false;
    }
    auto colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      fail(400, "malformed header field");
      return false;
    }
    std::string_view name = field.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(),
                     [](char c) { return is_token_char(static_cast<unsigned char>(c)); })) {
      fail(400, "malformed header name");
      return false;
    }
    std::string_view value = trim_ows(field.substr(colon + 1));
    for (char c : value) {
      auto u = static_cast<unsigned char>(c);
      if (u == 0 || u == '\r' || u == '\n' || (u < 0x20 && u != '\t') || u == 0x7f) {
        fail(400, "control character in header value");
        return false;
      }
    }
    if (iequals(name, "content-length")) {
      std::size_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || value.empty()) {
        fail(400, "malformed Content-Length");
        return false;
      }
      if (content_length && *content_length != n) {
        fail(400, "conflicting Content-Length headers");
        return false;
      }
      content_length = n;
    } else if (iequals(name, "transfer-encoding")) {
      fail(411, "chunked request bodies are not accepted; send Content-Length");
      return false;
    } else if (iequals(name, "connection")) {
      if (has_token(value, "close")) keep_alive_ = false;
      if (has_token(value, "keep-alive")) keep_alive_ = true;
    }
    if (request_.headers.size() >= 100) {
      fail(431, "more than 100 header fields");
      return false;
    }
    request_.headers.emplace_back(std::string(name), std::string(value));
  }
  body_length_ = content_length.value_or(0);
  if (body_length_ > limits_.max_body_bytes) {
    fail(413, "request body of " + std::to_string(body_length_) + " bytes exceeds the limit of " +
                  std::to_string(limits_.max_body_bytes));
    return false;
  }
  if (body_length_ == 0) state_ = State::kComplete;
  return true;
}

std::optional<std::string_view> Target::param(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

bool parse_target(std::string_view target, Target& out) {
  auto q = target.find('?');
  out.path.assign(target.substr(0, q));
  out.query.clear();
  if (q == std::string_view::npos) return true;
  std::string_view rest = target.substr(q + 1);
  auto hash = rest.find('#');
  rest = rest.substr(0, hash);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (item.empty()) continue;
    auto eq = item.find('=');
    std::string key;
    std::string value;
    if (!percent_decode(item.substr(0, eq), key, true)) return false;
    if (eq != std::string_view::npos && !percent_decode(item.substr(eq + 1), value, true)) {
      return false;
    }
    if (out.query.size() >= 64) return false;
    out.query.emplace_back(std::move(key), std::move(value));
  }
  return true;
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 416: return "Range Not Satisfiable";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
  }
}

std::string serialize_response(const HttpResponse& response, bool keep_alive) {
  std::string out;
  out.reserve(128 + response.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += reason_phrase(response.status);
  out += "\r\n";
  if (!response.content_type.empty()) {
    out += "Content-Type: ";
    out += response.content_type;
    out += "\r\n";
  }
  for (const auto& [name, value] : response.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "Content-Length: ";
  out += std::to_string(response.body.size());
  out += "\r\n";
  out += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  out += response.body;
  return out;
}

}  // namespace strata::net::detail
