#include <catch2/catch.hpp>

#include <string>

#include <strata/session/event.h>

using namespace strata::session;
using strata::StatusCode;

TEST_CASE("session ids: accepted and rejected forms", "[session][validation]") {
  for (const char* good : {"a", "chat-42", "org/user/chat.1", "A_b~c:d@e", "x/y"}) {
    INFO(good);
    CHECK(validate_session_id(good).ok());
  }
  const std::string too_long(201, 'a');
  for (const std::string& bad :
       {std::string(), too_long, std::string("/lead"), std::string("trail/"),
        std::string("a//b"), std::string("a/../b"), std::string("a/./b"), std::string(".."),
        std::string("sp ace"), std::string("quote\""), std::string("nul\0x", 5),
        std::string("brace{tag}"), std::string("\xff\xfe")}) {
    auto s = validate_session_id(bad);
    INFO(bad);
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK_FALSE(s.message().empty());
  }
  CHECK(validate_session_id(std::string(200, 'z')).ok());
  // Error messages never echo raw control bytes.
  auto s = validate_session_id(std::string("bad\x01\n", 5));
  CHECK(s.message().find('\n') == std::string::npos);
  CHECK(s.message().find("\\x01") != std::string::npos);
}

TEST_CASE("event types and names", "[session][validation]") {
  CHECK(validate_event_type("message.delta").ok());
  CHECK(validate_event_type("tool-call_2").ok());
  CHECK(validate_event_type("").code() == StatusCode::kInvalidArgument);
  CHECK(validate_event_type("Upper").code() == StatusCode::kInvalidArgument);
  CHECK(validate_event_type("1abc").code() == StatusCode::kInvalidArgument);
  CHECK(validate_event_type("a b").code() == StatusCode::kInvalidArgument);
  CHECK(validate_event_type(std::string(65, 'a')).code() == StatusCode::kInvalidArgument);
  CHECK(validate_name("producer", "agent/sub-1").ok());
  CHECK(validate_name("producer", std::string(129, 'a')).code() == StatusCode::kInvalidArgument);
  CHECK(validate_name("producer", "").message().find("producer") != std::string::npos);
}

TEST_CASE("JSON payload validation follows RFC 8259", "[session][validation][json]") {
  for (const char* good :
       {"{}", "[]", "0", "-0.5e+10", "\"x\"", "true", "false", "null", " { \"a\" : [1, 2, {\"b\": null}] } ",
        "\"\\u00e9\\ud83d\\ude00\"", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", "[[[[]]]]", "1E5", "{\"a\":\"\\/\"}"}) {
    INFO(good);
    CHECK(validate_json(good).ok());
  }
  for (const char* bad :
       {"", " ", "{", "}", "[1,]", "{\"a\":}", "{\"a\" 1}", "{a:1}", "01", "1.", ".5", "-", "+1",
        "1e", "tru", "nul", "\"unterminated", "\"bad \\x escape\"", "\"\\u12\"", "\"\\ud800\"",
        "\"\\udc00\"", "[1] [2]", "{\"a\":1,}", "'single'", "NaN", "\"tab\there\"",
        "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\""}) {
    INFO(bad);
    auto s = validate_json(bad);
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.message().find("payload is not valid JSON") != std::string::npos);
  }
}

TEST_CASE("hostile JSON nesting is refused without recursion", "[session][validation][json]") {
  std::string ok_depth = std::string(64, '[') + std::string(64, ']');
  CHECK(validate_json(ok_depth).ok());
  std::string too_deep = std::string(65, '[') + std::string(65, ']');
  CHECK(validate_json(too_deep).code() == StatusCode::kInvalidArgument);
  std::string huge(1000000, '[');  // would overflow a recursive parser
  CHECK(validate_json(huge).code() == StatusCode::kInvalidArgument);
  std::string objects;
  for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
  CHECK(validate_json(objects).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("terminal run events", "[session][validation]") {
  CHECK(is_terminal_run_event(event_types::kRunCompleted));
  CHECK(is_terminal_run_event(event_types::kRunFailed));
  CHECK(is_terminal_run_event(event_types::kRunCancelled));
  CHECK(is_terminal_run_event(event_types::kRunAgentLost));
  CHECK_FALSE(is_terminal_run_event(event_types::kRunStarted));
  CHECK_FALSE(is_terminal_run_event(event_types::kRunSteer));
}
