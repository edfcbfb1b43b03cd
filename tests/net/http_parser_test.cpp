#include <catch2/catch.hpp>

#include "net/http_parser.h"

using namespace strata::net;
using namespace strata::net::detail;

namespace {

HttpRequestParser::State parse_all(HttpRequestParser& p, std::string_view data, std::size_t* used = nullptr) {
  std::size_t n = p.feed(data);
  if (used) *used = n;
  return p.state();
}

}  // namespace

TEST_CASE("http parser: a request with headers and body, fed whole or byte by byte", "[net][http]") {
  const std::string raw =
      "POST /v1/sessions/a%2Fb/events?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
      "X-Thing:  spaced value \t\r\n\r\nhello";
  for (bool bytewise : {false, true}) {
    HttpRequestParser p({});
    if (bytewise) {
      for (char c : raw) {
        REQUIRE(p.state() == HttpRequestParser::State::kNeedMore);
        REQUIRE(p.feed(std::string_view(&c, 1)) == 1);
      }
    } else {
      REQUIRE(p.feed(raw) == raw.size());
    }
    REQUIRE(p.state() == HttpRequestParser::State::kComplete);
    CHECK(p.request().method == "POST");
    CHECK(p.request().target == "/v1/sessions/a%2Fb/events?x=1");
    CHECK(p.request().body == "hello");
    CHECK(p.request().header("x-thing").value() == "spaced value");
    CHECK(p.request().header("HOST").value() == "h");
    CHECK_FALSE(p.request().header("missing").has_value());
    CHECK(p.keep_alive());
  }
}

TEST_CASE("http parser: pipelined requests leave the next request's bytes unconsumed", "[net][http]") {
  std::string raw = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.0\r\n\r\n";
  HttpRequestParser p({});
  std::size_t used = 0;
  REQUIRE(parse_all(p, raw, &used) == HttpRequestParser::State::kComplete);
  CHECK(p.request().target == "/a");
  raw.erase(0, used);
  p.reset();
  REQUIRE(parse_all(p, raw, &used) == HttpRequestParser::State::kComplete);
  CHECK(p.request().target == "/b");
  CHECK_FALSE(p.keep_alive());  // HTTP/1.0 closes by default
  CHECK(used == raw.size());
}

TEST_CASE("http parser: refuses malformed and oversized requests with the right status", "[net][http]") {
  struct Case {
    std::string raw;
    int status;
  };
  std::vector<Case> cases = {
      {"GET\r\n\r\n", 400},
      {"GET / HTTP/1.1 extra\r\n\r\n", 400},
      {"GET relative HTTP/1.1\r\n\r\n", 400},
      {"G@T / HTTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"GET / FTP/1.1\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n: empty-name\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nA: b\x01c\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411},
      {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", 413},
      {"GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n", 431},
  };
  for (const auto& c : cases) {
    HttpRequestParser p({});
    p.feed(c.raw);
    INFO(c.raw.substr(0, 80));
    REQUIRE(p.state() == HttpRequestParser::State::kError);
    CHECK(p.error_status() == c.status);
    CHECK_FALSE(p.error_message().empty());
    CHECK_FALSE(p.keep_alive());
    CHECK(p.feed("more") == 0);  // a failed parser consumes nothing more
  }
}

TEST_CASE("http parser: an endless header stream stops at the limit without buffering it all", "[net][http]") {
  HttpRequestParser p({.max_header_bytes = 1024, .max_body_bytes = 10});
  std::string chunk = "X-A: " + std::string(100, 'b') + "\r\n";
  std::size_t fed = 0;
  p.feed("GET / HTTP/1.1\r\n");
  while (p.state() == HttpRequestParser::State::kNeedMore && fed < 1 << 20) {
    p.feed(chunk);
    fed += chunk.size();
  }
  CHECK(p.state() == HttpRequestParser::State::kError);
  CHECK(p.error_status() == 431);
  CHECK(fed < 4096);
}

TEST_CASE("http parser: too many header fields", "[net][http]") {
  std::string raw = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 120; ++i) raw += "A" + std::to_string(i) + ": x\r\n";
  raw += "\r\n";
  HttpRequestParser p({});
  p.feed(raw);
  CHECK(p.state() == HttpRequestParser::State::kError);
  CHECK(p.error_status() == 431);
}

TEST_CASE("http parser: connection tokens", "[net][http]") {
  HttpRequestParser p({});
  p.feed("GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n");
  REQUIRE(p.state() == HttpRequestParser::State::kComplete);
  CHECK_FALSE(p.keep_alive());
  HttpRequestParser q({});
  q.feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  CHECK(q.keep_alive());
}

TEST_CASE("targets: path and decoded query parameters", "[net][http]") {
  Target t;
  REQUIRE(parse_target("/v1/x?from=3&epoch=ab%20c&flag&plus=a+b", t));
  CHECK(t.path == "/v1/x");
  CHECK(t.param("from").value() == "3");
  CHECK(t.param("epoch").value() == "ab c");
  CHECK(t.param("flag").value() == "");
  CHECK(t.param("plus").value() == "a b");
  CHECK_FALSE(t.param("nope"));
  CHECK_FALSE(parse_target("/x?a=%zz", t));
  CHECK_FALSE(parse_target("/x?a=%4", t));
  std::string out;
  CHECK(percent_decode("team%2Fchat", out, false));
  CHECK(out == "team/chat");
  CHECK_FALSE(percent_decode("%", out, false));
}

TEST_CASE("responses serialize with length and connection headers", "[net][http]") {
  HttpResponse r;
  r.status = 404;
  r.body = "{}";
  r.headers.emplace_back("X-Y", "z");
  std::string s = serialize_response(r, false);
  CHECK(s.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
  CHECK(s.find("Content-Length: 2\r\n") != std::string::npos);
  CHECK(s.find("X-Y: z\r\n") != std::string::npos);
  CHECK(s.find("Connection: close\r\n\r\n{}") != std::string::npos);
}

TEST_CASE("http parser: a head ending right at the limit is accepted however it is split", "[net][http]") {
  // Request line + one header whose terminator starts exactly at the 1024-byte limit.
  std::string head = "GET / HTTP/1.1\r\nX-Pad: ";
  head += std::string(1024 - head.size(), 'a');
  head += "\r\n\r\n";
  for (std::size_t piece : {head.size(), std::size_t{1}, std::size_t{7}, std::size_t{1023}}) {
    HttpRequestParser p({.max_header_bytes = 1024, .max_body_bytes = 10});
    for (std::size_t pos = 0; pos < head.size(); pos += piece) p.feed(std::string_view(head).substr(pos, piece));
    INFO(piece);
    CHECK(p.state() == HttpRequestParser::State::kComplete);
  }
  HttpRequestParser over({.max_header_bytes = 1024, .max_body_bytes = 10});
  over.feed("GET / HTTP/1.1\r\nX-Pad: " + std::string(1100, 'a'));
  CHECK(over.state() == HttpRequestParser::State::kError);
  CHECK(over.error_status() == 431);
}
